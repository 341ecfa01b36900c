"""Static vocabularies for the synthetic world: countries, email providers, names, and
the word lists the prompt generators fill their templates from.

The lists themselves are data (``data/geo.json``, ``data/names.json``,
``data/vocab.json``, ``data/filler.json``). They are deliberately long: the benign
prompt space has to be large enough that two unrelated users practically never produce
the same text unless the world *intends* them to (viral templates, homework, SDK
samples).
"""

from __future__ import annotations

from .resources import load

_geo = load("geo")
_names = load("names")
_filler = load("filler")

# (iso2, weight, utc offset hours, language, country-specific email providers)
COUNTRIES: list[tuple[str, float, int, str, tuple[str, ...]]] = [
    (iso, weight, tz, lang, tuple(mail)) for iso, weight, tz, lang, mail in _geo["countries"]
]
# country -> mobile-carrier region
REGION_OF: dict[str, str] = {
    iso: region for region, members in _geo["regions"].items() for iso in members
}
PHONE_CC: dict[str, str] = _geo["phone_cc"]
# Global free-mail providers and their (benign) popularity.
FREE_MAIL: list[tuple[str, float]] = [(domain, weight) for domain, weight in _geo["free_mail"]]
TLDS: list[str] = _geo["tlds"]

SYLLABLES: list[str] = _names["syllables"]
SURNAMES: list[str] = _names["surnames"]
WORDS_BIZ: list[str] = _names["words_biz"]
WORDS_BIZ2: list[str] = _names["words_biz2"]
INDUSTRIES: list[str] = _names["industries"]
PRODUCT_WORDS: list[str] = _names["product_words"]
UNI_NAMES: list[str] = _names["uni_names"]
UNI_DOMAIN_SUFFIX: dict[str, str] = _names["uni_domain_suffix"]
COURSES: list[str] = _names["courses"]

# slot name -> the words a ``{slot}`` in a template is filled from
V: dict[str, list[str]] = load("vocab")

FILLER_NOUNS: list[str] = _filler["nouns"]
FILLER_VERBS: list[str] = _filler["verbs"]
FILLER_ADJ: list[str] = _filler["adjectives"]
FILLER_ADV: list[str] = _filler["adverbs"]
FILLER_TAIL: list[str] = _filler["tails"]
CODE_IDENT: list[str] = _filler["code_ident"]
CODE_FUNC: list[str] = _filler["code_func"]
