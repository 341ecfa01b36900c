"""Prompt overlap: normalisation, MinHash/LSH template families, intent features.

Raw prompt text is used in memory only. What leaves this module is template ids,
counts and, per template, one short example in its *masked* form (numbers, URLs,
code, quotes and e-mail addresses replaced by placeholders), never a prompt log.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linker.prompts.intent import IntentFlags, IntentModel, IntentModelError, load_model
from linker.prompts.lsh import lsh_families
from linker.prompts.masking import fill_hashes, mask, readable
from linker.prompts.numbering import KeyNumbering
from linker.prompts.skeleton import (
    ShingleWindows,
    minhash_rows,
    shingle_hashes,
    skeleton_signatures,
    text_hashes,
)
from linker.prompts.threads import n_threads, thread_map
from linker.prompts.variety import family_variety
from linker.settings import PromptSettings


@dataclass
class PromptAnalysis:
    """Result of the prompt stage.

    - ``memberships``: (account_id, kind="prompt_template", value=template id, n_obs,
      first_ts, last_ts, strength), identifiers for the linkage graph: every use of a
      family that links at least two accounts; uses below ``min_repeats`` or
      ``min_share`` have strength 0 and link nobody;
    - ``account_features``: per account_id: n_prompts, n_templates, top_template,
      top_share, top_variety (the account's most-sent family when it is a member),
      family, family_share, family_variety, family_resample, family_intent (the linking
      family it sends most at any volume, its share, the family's distinct texts per
      prompt, how much it is an extraction instruction its senders re-send, in [0, 1],
      and the share of the family's own prompts with distillation intent), intent
      (share of the account's prompts with distillation intent);
    - ``templates``: per template id: n_prompts, n_accounts, n_variants, variety,
      intent_rate, resample, example;
    - ``examples``: template id -> masked example.
    """

    memberships: pd.DataFrame
    account_features: pd.DataFrame
    templates: pd.DataFrame
    examples: dict[str, str]


def signatures(texts: list[str] | pa.Array, settings: PromptSettings) -> np.ndarray:
    """MinHash signatures (rensa) of masked texts over their whole text, as an
    (n, num_perm) array.

    Tokens are word bigrams (``shingle`` = 2; a text of one word is that word), hashed
    without building Python strings (:func:`linker.prompts.skeleton.shingle_hashes`) and
    handed to rensa as one flat buffer with row offsets.
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, type=pa.string())
    return minhash_rows(*shingle_hashes(arr, settings.shingle), settings)


def intent_flags(
    texts: pd.Series, threshold: float | None = None, model: IntentModel | None = None
) -> pd.DataFrame:
    """Distillation intent of each text, by the learned model (``linker.prompts.intent``;
    the shipped one when ``model`` is None): ``score`` (probability) and ``any`` (the
    score reaches ``threshold``, the model's own when None), indexed like ``texts``.
    Raises :class:`~linker.prompts.intent.IntentModelError` when no model can be read."""
    model = model or load_model()
    scores = model.scores(pa.array(texts.astype(str).to_numpy(), type=pa.string()))
    cut = model.threshold if threshold is None else threshold
    return pd.DataFrame({"score": scores, "any": scores >= cut}, index=texts.index)


def intent_model_for(settings: PromptSettings) -> IntentModel:
    """The shipped intent model, checked against the one ``settings`` name (so run.json
    records the model that ran). Raises :class:`IntentModelError` when they differ."""
    model = load_model()
    if model.digest != settings.intent_model:
        raise IntentModelError(
            f"the settings name intent model {settings.intent_model}, the shipped one is "
            f"{model.digest} (retrain with scripts/train_intent.py and update PromptSettings)"
        )
    return model


def _arrow_text(values: pd.Index) -> pa.Array:
    """Distinct texts as a pyarrow string array (without a Python string each when
    they are pyarrow-backed already)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arr = pa.array(values.array)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.cast(pa.string())
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


#: distinct texts fingerprinted at a time (bounds the stage's transient memory)
SIGNATURE_SLICE = 16_384


class FamilyMerge(Protocol):
    """A second stage that may join LSH families before memberships are formed (the
    semantic stage, ``linker.prompts.semantic.FamilyMerger``)."""

    #: masked characters kept per distinct text for it (0: none); masked only, never raw
    text_chars: int

    def __call__(
        self,
        family_of_text: np.ndarray,
        pairs: pd.DataFrame,
        texts: pa.ChunkedArray,
        hashes: np.ndarray,
    ) -> np.ndarray:
        """New family label of each distinct masked text, given its LSH family, the
        (account, norm) pairs, each text's first ``text_chars`` masked characters and
        its content hash."""
        ...


class PromptAccumulator:
    """The prompt stage over a stream of batches, with memory that does not grow with
    the number of prompts.

    Feed batches of (account_id, ts, text) to :meth:`add`, then call :meth:`finish`.
    Raw text lives only as long as its batch. What is kept across batches:

    - per distinct *masked* text: its 64-bit hash, MinHash signature (uint32) and the
      first ``example_chars`` of its masked form, about 400 bytes;
    - per distinct (account, masked text): prompt count, intent count, first and last
      time, about 40 bytes, compacted whenever the pending rows double (the intent
      count is the prompt count when the masked text has intent, 0 otherwise).
    - with a ``merge`` stage only (``sybil-linker link --semantic``): the first
      ``merge.text_chars`` characters of each distinct text's masked form, for it.

    So memory is bounded by the number of distinct masked texts and (account, text)
    pairs, never by prompt volume: a campaign sending one template a million times,
    or a million accounts sending the SDK sample, costs one text. Family detection
    (LSH over all signatures) runs once in :meth:`finish`.
    """

    def __init__(
        self,
        settings: PromptSettings | None = None,
        merge: FamilyMerge | None = None,
        intent_workers: int | None = None,
    ) -> None:
        self.settings = settings or PromptSettings()
        #: joins LSH families in :meth:`finish`; when set, the first ``merge.text_chars``
        #: masked characters of each distinct text are kept for it as well
        self.merge = merge
        self._representatives: list[pa.Array] = []
        self._norm_of_hash = KeyNumbering()
        self._hashes: list[np.ndarray] = []
        self._sigs: list[np.ndarray] = []
        #: the first and last shingles of each distinct text, for its template skeleton
        self._windows = (
            ShingleWindows(self.settings.skeleton_window) if self.settings.skeleton else None
        )
        #: distinct texts fingerprinted by their skeleton in the last :meth:`finish`
        self.n_skeletons = 0
        self._examples: list[pa.Array] = []
        self._account_of_id: dict[str, int] = {}
        self._pairs: list[pd.DataFrame] = []
        #: intent flag of each distinct masked text (by its first raw text), in norm
        #: order; scored alongside the rest (:class:`IntentFlags`), read in finish
        self._intent = IntentFlags(
            intent_model_for(self.settings), self.settings.intent_threshold, intent_workers
        )
        #: (fill hash, norm, account) per raw text with a placeholder and sender
        #: (:func:`linker.prompts.masking.fill_hashes`); :meth:`_compact` keeps a row
        #: per fill, -1 if shared
        self._fills: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending = 0
        self._compacted = 0
        self.n_prompts = 0
        self._finished = False

    @property
    def n_texts(self) -> int:
        """Distinct masked texts seen so far."""
        return len(self._norm_of_hash)

    def add(self, batch: pd.DataFrame) -> None:
        """Fold one batch of prompts (account_id, ts, text) into the state."""
        if self._finished:
            raise RuntimeError("this PromptAccumulator is finished: start a new one")
        if batch.empty:
            return
        self.n_prompts += len(batch)
        raw_codes, raw_unique = pd.factorize(batch["text"].astype(str))
        raw = _arrow_text(raw_unique)
        masked = mask(raw)
        hashes = text_hashes(masked)
        start = len(self._norm_of_hash)
        norm_of_raw = self._norm_of_hash.number(hashes)
        at, fill = fill_hashes(raw, masked)
        fresh_norm, first_raw = np.unique(norm_of_raw[norm_of_raw >= start], return_index=True)
        if len(fresh_norm):
            fresh_raw = np.flatnonzero(norm_of_raw >= start)[first_raw]
            texts = masked.take(pa.array(fresh_raw))
            # intent once per distinct masked text, scored on its first raw text
            self._intent.submit(raw.take(pa.array(fresh_raw)))
            self._hashes.append(hashes[fresh_raw])
            # in slices, a thread's worth at a time: rensa hands signatures back as
            # Python lists, which would cost ~2 kB per text at once
            step = SIGNATURE_SLICE * n_threads()
            for i in range(0, len(texts), step):
                starts = range(i, min(i + step, len(texts)), SIGNATURE_SLICE)
                for tokens, n_tokens, sig in thread_map(partial(self._fingerprint, texts), starts):
                    self._sigs.append(sig)
                    if self._windows is not None:
                        self._windows.add(tokens, n_tokens)
            self._examples.append(pc.utf8_slice_codeunits(texts, 0, self.settings.example_chars))
            if self.merge is not None and self.merge.text_chars > 0:
                self._representatives.append(
                    pc.utf8_slice_codeunits(texts, 0, self.merge.text_chars)
                )
        accounts = self._account_of_id
        acc_codes, acc_unique = pd.factorize(batch["account_id"].astype(str))
        acc_of_code = np.fromiter(
            (accounts.setdefault(a, len(accounts)) for a in acc_unique), np.int64, len(acc_unique)
        )
        frame = pd.DataFrame(
            {
                "account": acc_of_code[acc_codes],
                "norm": norm_of_raw[raw_codes],
                "n": 1,
                "first_ts": batch["ts"].array,
                "last_ts": batch["ts"].array,
            }
        )
        self._pairs.append(_fold_pairs(frame))
        if len(at):  # the batch's distinct (fill, account) pairs
            of_raw = np.full(len(raw_unique), -1, np.int64)
            of_raw[at] = np.arange(len(at))
            key = of_raw[raw_codes] * len(acc_of_code) + acc_codes
            f, a = np.divmod(np.unique(key[of_raw[raw_codes] >= 0]), len(acc_of_code))
            self._fills.append((fill[f], norm_of_raw[at][f], acc_of_code[a]))
        self._pending += len(self._pairs[-1])
        if self._pending > max(2 * self._compacted, 1_000_000):
            self._compact()

    def _fingerprint(
        self, texts: pa.Array, start: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shingles and MinHash signatures of ``SIGNATURE_SLICE`` texts from ``start``."""
        tokens, n_tokens = shingle_hashes(
            texts.slice(start, SIGNATURE_SLICE), self.settings.shingle
        )
        return tokens, n_tokens, minhash_rows(tokens, n_tokens, self.settings).astype(np.uint32)

    def _compact(self) -> None:
        self._pairs = [_fold_pairs(pd.concat(self._pairs, ignore_index=True))]
        self._compacted = self._pending = len(self._pairs[0])
        if self._fills:
            fill, norm, acct = (np.concatenate(parts) for parts in zip(*self._fills, strict=True))
            order = np.lexsort((acct, fill))
            fill, norm, acct = fill[order], norm[order], acct[order]
            starts = np.flatnonzero(np.r_[True, fill[1:] != fill[:-1]])
            first = np.repeat(acct[starts], np.diff(np.r_[starts, len(fill)]))
            shared = np.maximum.reduceat((acct != first) | (acct < 0), starts)
            self._fills = [(fill[starts], norm[starts], np.where(shared, -1, acct[starts]))]

    def _fills_per_norm(self) -> np.ndarray:
        """Distinct fills of each masked text that at least two accounts sent, at least
        one: a template run over one data set by many accounts has many; strangers
        filling a popular template with their own data, or pasting one text, have one."""
        out = np.ones(len(self._norm_of_hash), np.int64)
        if self._fills:
            _, norm, acct = self._fills[0]
            out = np.maximum(out, np.bincount(norm[acct < 0], minlength=len(out)))
        return out

    def close(self) -> None:
        """Stop intent scoring's worker process, if one runs (:meth:`finish` does)."""
        self._intent.close()

    def finish(self) -> PromptAnalysis:
        """Template families, memberships and features of everything added."""
        if self._finished:
            raise RuntimeError("this PromptAccumulator is finished: start a new one")
        self._finished = True
        intent_of_norm = self._intent.collect()
        self._compact()
        settings = self.settings
        # the batches' signatures and windows give way to what is made of them: at a
        # million accounts they are gigabytes (the accumulator is finished once)
        parts, self._sigs = self._sigs, []
        sig = np.concatenate(parts) if parts else np.zeros((0, settings.num_perm), np.uint32)
        del parts
        skeleton = None
        if self._windows is not None:
            windows, self._windows = self._windows, None
            sig, skeleton = skeleton_signatures(sig, windows, settings, SIGNATURE_SLICE)
            self.n_skeletons = int(skeleton.sum())
            del windows
        family_of_norm = lsh_families(sig, settings, skeleton)
        hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.uint64)
        examples = pa.chunked_array(self._examples, type=pa.string())
        account_ids = np.asarray(list(self._account_of_id), dtype=object)
        pairs = self._pairs[0] if self._pairs else _fold_pairs(_EMPTY_PAIRS)
        # a flag belongs to the masked text: a pair's intent count is its prompt count or 0
        norm = pairs["norm"].to_numpy()
        pairs.insert(3, "intent", pairs["n"].to_numpy(np.int64) * intent_of_norm[norm])
        if self.merge is not None:
            texts = pa.chunked_array(self._representatives, type=pa.string())
            family_of_norm = self.merge(family_of_norm, pairs, texts, hashes)
        fills = self._fills_per_norm()
        return _summarise(pairs, family_of_norm, hashes, examples, account_ids, settings, fills)


_EMPTY_PAIRS = pd.DataFrame(
    {
        "account": pd.Series(dtype=np.int64),
        "norm": pd.Series(dtype=np.int64),
        "n": pd.Series(dtype=np.int64),
        "first_ts": pd.Series(dtype="datetime64[ns, UTC]"),
        "last_ts": pd.Series(dtype="datetime64[ns, UTC]"),
    }
)


def _fold_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, norm): prompt count, first and last time."""
    return (
        frame.groupby(["account", "norm"], sort=False)
        .agg(
            n=("n", "sum"),
            first_ts=("first_ts", "min"),
            last_ts=("last_ts", "max"),
        )
        .reset_index()
    )


def _summarise(
    pairs: pd.DataFrame,
    family_of_norm: np.ndarray,
    hashes: np.ndarray,
    examples: pa.ChunkedArray,
    account_ids: np.ndarray,
    settings: PromptSettings,
    fills: np.ndarray | None = None,
) -> PromptAnalysis:
    """The stage's result from the folded (account, masked text) pairs; ``fills``: the
    distinct fills of each masked text (one each when None)."""
    norm = pairs["norm"].to_numpy()
    frame = pairs.assign(family=family_of_norm[norm] if len(norm) else norm)
    # a family is named by its member text with the smallest content hash: stable across
    # runs and batch orders, and naming no raw prompt
    order = np.lexsort((hashes, family_of_norm)) if len(hashes) else np.zeros(0, np.int64)
    fam_sorted = family_of_norm[order]
    head = order[np.r_[True, fam_sorted[1:] != fam_sorted[:-1]]] if len(order) else order
    fam_head = pd.Series(head, index=family_of_norm[head])
    per_pair = (
        frame.groupby(["account", "family"], sort=False)
        .agg(n_obs=("n", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max"))
        .reset_index()
    )
    fam_stats = frame.groupby("family").agg(
        n_prompts=("n", "sum"),
        n_accounts=("account", "nunique"),
        n_intent=("intent", "sum"),
    )
    # distinct texts, told apart by their fills (200 titles in one template: 200 texts)
    per_norm = np.ones(len(family_of_norm)) if fills is None else fills.astype(float)
    sent = np.unique(norm)
    variants = pd.Series(per_norm[sent]).groupby(family_of_norm[sent]).sum()
    fam_stats.insert(2, "n_variants", variants.reindex(fam_stats.index).astype(np.int64))
    fam_stats["variety"] = family_variety(frame, per_norm).reindex(fam_stats.index)
    # re-sampling: an instruction that asks for distillation output, re-sent by each of
    # its senders to sample many answers ("generate ten riddles"), harvests however few
    # its distinct texts. The share of the family's own prompts with intent (the
    # senders' other prompts aside: a pasted question or an SDK sample has little),
    # times how far each sender repeats it (a popular prompt pasted once or twice
    # does not count)
    fam_stats["intent_rate"] = fam_stats.pop("n_intent") / fam_stats["n_prompts"]
    sends = fam_stats["n_prompts"] / fam_stats["n_accounts"]
    fam_stats["resample"] = fam_stats["intent_rate"] * (
        (sends - 1) / (settings.resample_full_sends - 1)
    ).clip(0, 1)
    acc_prompts = frame.groupby("account")["n"].sum()
    per_pair["share"] = per_pair["n_obs"] / per_pair["account"].map(acc_prompts)
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
    fam_accounts = repeated.groupby("family")["account"].nunique()
    linking = fam_accounts[fam_accounts >= 2].index
    head_of_linking = fam_head.reindex(linking).to_numpy()
    ids = pd.Series(
        [f"pt_{int(h):016x}"[:13] for h in hashes[head_of_linking]], index=linking, dtype=object
    )
    # every use of a linking family is kept: the repeated ones link (strength > 0), the
    # others (a family sent once or twice, or a small part of the account's traffic)
    # link nobody but show the account's part in a cluster's families (linker.risk)
    members = per_pair[per_pair["family"].isin(linking)]
    links = pd.Index(repeated.index).get_indexer(members.index) >= 0
    memberships = pd.DataFrame(
        {
            "account_id": account_ids[members["account"].to_numpy()],
            "kind": "prompt_template",
            "value": ids.reindex(members["family"]).to_numpy(),
            "n_obs": members["n_obs"].to_numpy(np.int64),
            "first_ts": members["first_ts"].array,
            "last_ts": members["last_ts"].array,
            "strength": np.where(links, members["strength"].to_numpy(float), 0.0),
        }
    )
    top = per_pair.sort_values(["account", "n_obs"], ascending=[True, False])
    top = top.drop_duplicates("account").set_index("account")
    g = frame.groupby("account")
    feats = pd.DataFrame(
        {
            "n_prompts": acc_prompts,
            "n_templates": g["family"].nunique(),
            "intent": g["intent"].sum() / acc_prompts,
        }
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
        ["account", "n_obs"], ascending=[True, False]
    )
    part = part.drop_duplicates("account").set_index("account")
    feats["family"] = pd.Series(ids.reindex(part["family"]).to_numpy(), index=part.index)
    feats["family_share"] = part["share"].reindex(feats.index).fillna(0.0)
    feats["family_variety"] = part["family"].map(fam_stats["variety"]).reindex(feats.index)
    feats["family_resample"] = part["family"].map(fam_stats["resample"]).reindex(feats.index)
    feats["family_intent"] = part["family"].map(fam_stats["intent_rate"]).reindex(feats.index)
    feats.index = pd.Index(account_ids[feats.index.to_numpy()], name="account_id")
    feats = feats.sort_index()
    templates = fam_stats.reindex(linking).assign(template_id=ids.to_numpy())
    example_texts = examples.take(pa.array(head_of_linking, type=pa.int64())).to_pylist()
    examples_of = {
        tid: readable(text)[: settings.example_chars]
        for tid, text in zip(ids.to_numpy(), example_texts, strict=True)
    }
    templates["example"] = templates["template_id"].map(examples_of)
    return PromptAnalysis(memberships, feats, templates.reset_index(drop=True), examples_of)


def analyse(
    prompts: pd.DataFrame,
    settings: PromptSettings | None = None,
    batch_rows: int = 500_000,
    merge: FamilyMerge | None = None,
) -> PromptAnalysis:
    """Template families, linkage memberships and intent features of ``prompts``
    (account_id, ts, text), in batches of ``batch_rows``, with LSH families joined by
    ``merge`` when given. Returns a :class:`PromptAnalysis`; equal to feeding the same
    rows to a :class:`PromptAccumulator` in any batch size."""
    acc = PromptAccumulator(settings, merge)
    try:
        for start in range(0, len(prompts), batch_rows):
            acc.add(prompts.iloc[start : start + batch_rows])
        return acc.finish()
    finally:
        acc.close()
