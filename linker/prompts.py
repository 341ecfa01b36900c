"""Prompt overlap: normalisation, MinHash/LSH template families, intent features.

Raw prompt text is used in memory only. What leaves this module is template ids,
counts and, per template, one short example in its *masked* form (numbers, URLs,
code, quotes and e-mail addresses replaced by placeholders), never a prompt log.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import rensa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# order matters: code and URLs before numbers, so their digits do not become <num>.
# RE2 syntax (pyarrow.compute); placeholders are plain words so that the punctuation
# fold (Unicode classes, so non-Latin scripts survive) leaves them alone.
_MASKS: tuple[tuple[str, str], ...] = (
    (r"```[\s\S]*?```", " xcodex "),
    (r"`[^`]*`", " xcodex "),
    (r"https?://\S+|www\.\S+", " xurlx "),
    (r"\S+@\S+\.\w+", " xemailx "),
    (r"\"[^\"]{1,200}\"|“[^”]{1,200}”|'[^']{3,200}'", " xqx "),
    (r"\d+(?:[.,:/-]\d+)*", " xnumx "),
    (r"[\p{P}\p{S}]+", " "),
    (r"\s+", " "),
)
_PLACEHOLDERS = {
    "xcodex": "<code>",
    "xurlx": "<url>",
    "xemailx": "<email>",
    "xqx": "<q>",
    "xnumx": "<num>",
}

#: Shapes of prompts that harvest a model for training, as published distillation
#: reports describe them: reasoning traces, grading (the model as a reward model),
#: censorship-safe rewrites, training-data generation and agentic tool use.
INTENT_PATTERNS: dict[str, str] = {
    "reasoning": r"step[- ]by[- ]step|chain[- ]of[- ]thought"
    r"|(?:line|chain|trace) of (?:reasoning|thought|logic)"
    r"|reasoning (?:steps|trace|process|behind|you)|thinking (?:trace|process)"
    r"|internal (?:reasoning|logic|monologue)|show (?:your|all) (?:work|reasoning|thinking|steps)"
    r"|worked solution|explain (?:each|every) (?:step|reasoning)|each step follows"
    r"|think (?:out loud|aloud)",
    "grading": r"\brubric\b|reward model|grade (?:the|this|these|each)"
    r"|(?:score|rate|rank|evaluate|judge) (?:the|this|these|two|each) (?:\w+ )?"
    r"(?:response|answer|reply|completion|output)s?|candidate (?:answer|response)s"
    r"|(?:on|using) a \d+ ?(?:-|to) ?\d+ scale|scale of \d+ ?(?:-|to) ?\d+",
    "rewrite": r"politically sensitive|censor|content review|safe for publication"
    r"|(?:avoid|remove|strip|soften)\w* .{0,40}(?:sensitive|controversial)"
    r"|rewrite (?:the|this) (?:answer|response)",
    "data": r"training (?:examples|data|pairs)|question[- ]answer pairs|synthetic (?:data|examples)"
    r"|generate \d+ (?:\w+ )?(?:questions|examples|problems)",
    "agentic": r"\bagent\b|tool[_ ]?(?:use|calls?)|function[_ ]call|call the tools?"
    r"|available tools|tools available",
}


@dataclass(frozen=True)
class PromptSettings:
    """Parameters of the prompt stage."""

    num_perm: int = 64
    bands: int = 16
    #: estimated Jaccard at or above which two masked prompts are one template family
    threshold: float = 0.5
    shingle: int = 2
    #: an account is a member of a template family when it sent at least this many
    #: of its prompts (one pasted homework question links nobody)
    min_repeats: int = 3
    #: ... and when the family is at least this share of the account's prompts
    min_share: float = 0.25
    #: families whose distinct texts per prompt reach this count in full; one text
    #: repeated verbatim (variety ~0) links by its repetition only weakly
    full_variety: float = 0.3
    seed: int = 11
    example_chars: int = 80

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


@dataclass
class PromptAnalysis:
    """Result of the prompt stage.

    - ``memberships``: (account_id, kind="prompt_template", value=template id, n_obs,
      first_ts, last_ts), identifiers for the linkage graph;
    - ``account_features``: per account_id: n_prompts, n_templates, top_template,
      top_share, top_variety (the account's most-sent family when it is a member),
      family, family_share (the linking family it sends most at any volume, and its
      share), intent (share of prompts with distillation intent);
    - ``templates``: per template id: n_prompts, n_accounts, n_variants, example;
    - ``examples``: template id -> masked example.
    """

    memberships: pd.DataFrame
    account_features: pd.DataFrame
    templates: pd.DataFrame
    examples: dict[str, str]


def _mask(texts: pa.Array) -> pa.Array:
    out = pc.utf8_lower(texts)
    for pattern, repl in _MASKS:
        out = pc.replace_substring_regex(out, pattern, repl)
    return pc.utf8_trim_whitespace(out)


def readable(masked: str) -> str:
    """A masked text with its placeholders shown as ``<num>``, ``<url>``, ..."""
    return " ".join(_PLACEHOLDERS.get(w, w) for w in masked.split(" "))


def normalise_prompts(texts: pd.Series) -> pd.Series:
    """Lower-case, mask numbers/URLs/code/quotes/e-mails, fold punctuation and spaces.
    Returns the readable masked form (placeholders as ``<num>`` etc.)."""
    masked = _mask(pa.array(texts.astype(str).to_numpy(), type=pa.string()))
    return pd.Series([readable(t) for t in masked.to_pylist()], index=texts.index)


def signatures(texts: list[str] | pa.Array, settings: PromptSettings) -> np.ndarray:
    """MinHash signatures (rensa) of masked texts, as an (n, num_perm) array.

    Tokens are word bigrams (``shingle`` = 2; a text of one word is that word), hashed
    without building Python strings: word hashes from pandas, bigram hashes combined
    in numpy, handed to rensa as one flat buffer with row offsets.
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, type=pa.string())
    words = pc.utf8_split_whitespace(arr)
    lengths = pc.list_value_length(words).fill_null(0).to_numpy(zero_copy_only=False)
    flat = words.flatten().to_numpy(zero_copy_only=False)
    hw = pd.util.hash_array(flat.astype(object)).astype(np.uint64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    k = settings.shingle
    n_tokens = np.maximum(lengths - (k - 1), 1)
    doc = np.repeat(np.arange(len(lengths)), n_tokens)
    pos = np.arange(n_tokens.sum()) - np.repeat(np.cumsum(n_tokens) - n_tokens, n_tokens)
    idx = starts[doc] + pos
    short = lengths[doc] < k
    tokens = np.zeros(len(idx), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            take = np.where(short, np.minimum(idx, len(hw) - 1), idx + j)
            part = hw[np.clip(take, 0, max(len(hw) - 1, 0))] if len(hw) else tokens
            valid = ~short | (j < lengths[doc])
            tokens = tokens * np.uint64(0x9E3779B97F4A7C15) + np.where(valid, part, 0)
    offsets = np.r_[0, np.cumsum(n_tokens)].astype(np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        tokens, offsets, num_perm=settings.num_perm, seed=settings.seed
    )
    return np.asarray(matrix.to_rows(), dtype=np.int64).reshape(len(lengths), settings.num_perm)


def lsh_families(sig: np.ndarray, settings: PromptSettings) -> np.ndarray:
    """Family label of each signature row: LSH banding proposes pairs, pairs whose
    estimated Jaccard reaches ``threshold`` are joined, families are the connected
    components. Vectorised per band."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows = settings.num_perm // settings.bands
    mult = np.random.default_rng(0).integers(1, 2**61, size=rows, dtype=np.int64) | 1
    src, dst = [np.arange(n)], [np.arange(n)]
    for band in range(settings.bands):
        block = sig[:, band * rows : (band + 1) * rows]
        with np.errstate(over="ignore"):
            key = (block * mult).sum(axis=1)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        head = first[inverse]
        cand = np.flatnonzero(head != np.arange(n))
        if len(cand) == 0:
            continue
        sim = (sig[cand] == sig[head[cand]]).mean(axis=1)
        ok = cand[sim >= settings.threshold]
        src.append(ok)
        dst.append(head[ok])
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def intent_flags(texts: pd.Series) -> pd.DataFrame:
    """One boolean column per distillation-intent pattern, and ``any``."""
    low = pc.utf8_lower(pa.array(texts.astype(str).to_numpy(), type=pa.string()))
    flags = pd.DataFrame(
        {
            k: pc.match_substring_regex(low, p).to_numpy(zero_copy_only=False)
            for k, p in INTENT_PATTERNS.items()
        },
        index=texts.index,
    )
    flags["any"] = flags.any(axis=1)
    return flags


def _template_ids(family_text: pd.Series) -> pd.Series:
    return family_text.map(lambda t: "pt_" + hashlib.sha1(t.encode()).hexdigest()[:10])


def analyse(prompts: pd.DataFrame, settings: PromptSettings | None = None) -> PromptAnalysis:
    """Template families, linkage memberships and intent features of ``prompts``
    (account_id, ts, text). Returns a :class:`PromptAnalysis`."""
    settings = settings or PromptSettings()
    # every text is normalised, hashed and checked for intent once, however often sent
    raw_codes, raw_unique = pd.factorize(prompts["text"].astype(str))
    masked = _mask(pa.array(np.asarray(raw_unique, dtype=object), type=pa.string()))
    norm_codes_of_raw, uniques = pd.factorize(masked.to_numpy(zero_copy_only=False))
    codes = norm_codes_of_raw[raw_codes]
    family_of_unique = lsh_families(
        signatures(pa.array(np.asarray(uniques, dtype=object), type=pa.string()), settings),
        settings,
    )
    family = family_of_unique[codes]
    frame = pd.DataFrame(
        {
            "account_id": prompts["account_id"].to_numpy(),
            "ts": prompts["ts"].to_numpy(),
            "family": family,
            "norm": codes,
        }
    )
    intents = intent_flags(pd.Series(np.asarray(raw_unique, dtype=object)))
    frame["intent"] = intents["any"].to_numpy()[raw_codes]
    fam_text = pd.Series(np.asarray(uniques, dtype=object)).groupby(family_of_unique).min()
    per_pair = (
        frame.groupby(["account_id", "family"], sort=False)
        .agg(n_obs=("ts", "size"), first_ts=("ts", "min"), last_ts=("ts", "max"))
        .reset_index()
    )
    fam_stats = frame.groupby("family").agg(
        n_prompts=("ts", "size"),
        n_accounts=("account_id", "nunique"),
        n_variants=("norm", "nunique"),
    )
    fam_stats["variety"] = fam_stats["n_variants"] / fam_stats["n_prompts"]
    per_pair["share"] = per_pair["n_obs"] / per_pair["account_id"].map(
        frame["account_id"].value_counts()
    )
    # strength: how much of the account's traffic the family is (a campaign account sends
    # mostly one family; a developer sends the SDK sample among much else), scaled down
    # for families of one text pasted verbatim (a homework question, a quick-start sample)
    variety = per_pair["family"].map(fam_stats["variety"]).to_numpy()
    per_pair["strength"] = np.sqrt(per_pair["share"]) * np.minimum(
        1.0, variety / settings.full_variety
    )
    repeated = per_pair[
        (per_pair["n_obs"] >= settings.min_repeats) & (per_pair["share"] >= settings.min_share)
    ]
    fam_accounts = repeated.groupby("family")["account_id"].nunique()
    linking = fam_accounts[fam_accounts >= 2].index
    ids = _template_ids(fam_text.reindex(linking))
    members = repeated[repeated["family"].isin(linking)]
    memberships = pd.DataFrame(
        {
            "account_id": members["account_id"].to_numpy(),
            "kind": "prompt_template",
            "value": ids.reindex(members["family"]).to_numpy(),
            "n_obs": members["n_obs"].to_numpy(np.int64),
            "first_ts": members["first_ts"].to_numpy(),
            "last_ts": members["last_ts"].to_numpy(),
            "strength": members["strength"].to_numpy(float),
        }
    )
    top = per_pair.sort_values(["account_id", "n_obs"], ascending=[True, False])
    top = top.drop_duplicates("account_id").set_index("account_id")
    g = frame.groupby("account_id")
    feats = pd.DataFrame(
        {"n_prompts": g.size(), "n_templates": g["family"].nunique(), "intent": g["intent"].mean()}
    )
    feats["top_share"] = top["n_obs"] / feats["n_prompts"]
    top_id = ids.reindex(top["family"]).to_numpy()
    feats["top_template"] = pd.Series(top_id, index=top.index).where(
        (top["n_obs"] >= settings.min_repeats) & (top["share"] >= settings.min_share)
    )
    feats["top_variety"] = top["family"].map(fam_stats["variety"])
    # participation at any volume: the linking family the account sends most, and its
    # share of the account's prompts (a low-volume campaign account sends it once or twice)
    part = per_pair[per_pair["family"].isin(linking)].sort_values(
        ["account_id", "n_obs"], ascending=[True, False]
    )
    part = part.drop_duplicates("account_id").set_index("account_id")
    feats["family"] = pd.Series(ids.reindex(part["family"]).to_numpy(), index=part.index)
    feats["family_share"] = part["share"].reindex(feats.index).fillna(0.0)
    templates = fam_stats.reindex(linking).assign(template_id=ids.to_numpy())
    examples = {
        tid: readable(text)[: settings.example_chars]
        for tid, text in zip(ids.to_numpy(), fam_text.reindex(linking).to_numpy(), strict=True)
    }
    templates["example"] = templates["template_id"].map(examples)
    return PromptAnalysis(memberships, feats, templates.reset_index(drop=True), examples)
