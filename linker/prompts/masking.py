"""Masking: prompt text in the form families are found on.

Lower-cased; numbers, URLs, code, quotes and e-mail addresses replaced by placeholder
words; punctuation, symbols and spacing folded (Unicode classes, so non-Latin scripts
survive). Plus the hash of what fills a masked text's placeholders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linker.prompts.skeleton import text_hashes
from linker.prompts.threads import cuts, thread_map

# order matters: code and URLs before numbers, so their digits do not become <num>.
# RE2 syntax (pyarrow.compute); placeholders are plain words so that the punctuation
# fold (Unicode classes, so non-Latin scripts survive) leaves them alone.
MASKS: tuple[tuple[str, str], ...] = (
    (r"```[\s\S]*?```", " xcodex "),
    (r"`[^`]*`", " xcodex "),
    (r"https?://\S+|www\.\S+", " xurlx "),
    (r"\S+@\S+\.\w+", " xemailx "),
    (r"\"[^\"]{1,200}\"|“[^”]{1,200}”|'[^']{3,200}'", " xqx "),
    (r"\d+(?:[.,:/-]\d+)*", " xnumx "),
    # punctuation and symbols fold to a space and spaces collapse: every run of them
    # becomes one space. Written to match only the runs that change (those with a
    # punctuation mark or symbol, of two characters or more, or a tab or newline), not
    # each single space between two words, which costs as much and changes nothing
    (r"[\p{P}\p{S}\s]*[\p{P}\p{S}][\p{P}\p{S}\s]*|\s\s+|[\t\n\f\r]", " "),
)
_PLACEHOLDERS = {
    "xcodex": "<code>",
    "xurlx": "<url>",
    "xemailx": "<email>",
    "xqx": "<q>",
    "xnumx": "<num>",
}


#: a masked text holding a placeholder: its raw texts may differ in what fills it
_SLOT = r"\bx(?:code|url|email|q|num)x\b"


#: texts masked per thread at least (a smaller input is masked in one piece)
MASK_PIECE = 20_000


def mask(texts: pa.Array, masks: tuple[tuple[str, str], ...] = MASKS) -> pa.Array:
    """``texts`` in masked form (the module docstring), one piece per thread."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    pieces = cuts(len(texts), MASK_PIECE)
    if len(pieces) == 1:
        return _mask(texts, masks)
    done = thread_map(lambda cut: _mask(texts.slice(cut[0], cut[1] - cut[0]), masks), pieces)
    return pa.concat_arrays(done)


def _mask(texts: pa.Array, masks: tuple[tuple[str, str], ...]) -> pa.Array:
    out = pc.utf8_lower(texts)
    for pattern, repl in masks:
        out = pc.replace_substring_regex(out, pattern, repl)
    return pc.utf8_trim_whitespace(out)


def fill_hashes(raw: pa.Array, masked: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the texts whose masked form holds a placeholder, and a hash of each
    such raw text with case, punctuation and spacing folded but nothing masked: two
    instances of one template that differ only in a quoted title or a number are one
    masked text and two fills (a lower-cased or re-punctuated paste is the same fill)."""
    at = np.flatnonzero(pc.match_substring_regex(masked, _SLOT).to_numpy(zero_copy_only=False))
    if not len(at):
        return at, np.zeros(0, np.uint64)
    return at, text_hashes(mask(raw.take(pa.array(at)), MASKS[-1:]))


def readable(masked: str) -> str:
    """A masked text with its placeholders shown as ``<num>``, ``<url>``, ..."""
    return " ".join(_PLACEHOLDERS.get(w, w) for w in masked.split(" "))


def normalise_prompts(texts: pd.Series) -> pd.Series:
    """Lower-case, mask numbers/URLs/code/quotes/e-mails, fold punctuation and spaces.
    Returns the readable masked form (placeholders as ``<num>`` etc.)."""
    masked = mask(pa.array(texts.astype(str).to_numpy(), type=pa.string()))
    return pd.Series([readable(t) for t in masked.to_pylist()], index=texts.index)
