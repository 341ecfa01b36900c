"""World family (b): a generated world re-texted with real prompts.

:func:`retext_world` copies a world written by ``synth.write_world`` and replaces the
``text`` of every prompts row with text from the real corpora beside the repository
(:mod:`benchmarks.families.corpora`), keeping each row's account and timestamp, so the
generator's volumes and timing stay and only its wording goes. Who sends what is decided
by the labels and groups, never by the generator's text:

- a campaign draws 1-3 of the T0 templates (one fixed template filled with ~200 inputs
  per file; popular ones are drawn by several campaigns, like a public toolkit), and
  about a third also an airoboros instructor prompt and/or self-instruct seed tasks;
  each of its accounts sends a tier-dependent share of template rows and real user
  prompts as cover;
- a benign account sends its own real user prompts (Arena, self-instruct's user tasks),
  a quarter of them mostly in one of MultiJail's nine other languages; students of a
  campus share a few homework prompts (pasted verbatim or lightly edited), developers
  the SDK's two or three sample prompts right after signup, viral accounts one or two
  popular FLAN templates with their own fillers.

Every random draw comes from a generator keyed by the seed and the account, campaign,
campus or group it is about, so an account's text does not depend on the others.

The linker is measured on these worlds next to the originals by
``python -m benchmarks.families.family_b`` (:mod:`benchmarks.families.family_b`).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .corpora import LANGUAGE_NAMES, LANGUAGES, PLACEHOLDER, Corpora, fill, load_corpora

TABLES = ("accounts", "signals", "ip_info", "labels", "prompts")
FORMATS = ("parquet", "csv", "jsonl")


def _default_template_share() -> dict[str, tuple[float, float]]:
    return {"hydra": (0.3, 0.7), "default": (0.6, 0.95)}


@dataclass(frozen=True)
class RetextSettings:
    """Every number that decides how a world is re-texted (recorded in the summary)."""

    #: share of benign units (a household, a company, otherwise an account) that write
    #: mostly in another language, and that language's share of their own prompts
    language_share: float = 0.25
    language_rows: tuple[float, float] = (0.6, 1.0)
    #: per tier, the range a campaign account's share of template rows is drawn from
    template_share: dict[str, tuple[float, float]] = field(default_factory=_default_template_share)
    templates_per_campaign: tuple[int, int] = (1, 3)
    #: T0 files with fewer filled instances are left out (one holds only 8: a campaign
    #: would send each thousands of times, which no real tool does)
    min_template_instances: int = 50
    #: share of campaigns that also use an airoboros instructor and/or seed tasks
    extra_source_share: float = 1 / 3
    #: Zipf exponent of the T0 templates' popularity among campaigns (shared toolkits)
    toolkit_popularity: float = 0.7
    homework_per_campus: tuple[int, int] = (3, 5)
    homework_sends: tuple[int, int] = (2, 4)
    homework_edit_share: float = 0.4
    sdk_samples: tuple[int, int] = (2, 3)
    sdk_sends: tuple[int, int] = (2, 6)
    viral_templates: int = 10
    #: a viral template has at least this many words outside its placeholders
    viral_min_words: int = 5
    viral_second_share: float = 0.4
    viral_sends: tuple[int, int] = (1, 3)


@dataclass(frozen=True)
class CampaignPlan:
    """The real sources one campaign sends and their weights among its template rows."""

    t0: tuple[str, ...]
    airoboros: str | None
    seed_tasks: bool
    weights: tuple[float, ...]

    @property
    def sources(self) -> list[tuple[str, str]]:
        """(source kind, name) of each source, in the order of ``weights``."""
        out = [("campaign_t0", name) for name in self.t0]
        if self.airoboros:
            out.append(("campaign_airoboros", self.airoboros))
        if self.seed_tasks:
            out.append(("campaign_seed_task", "self_instruct_seed_tasks"))
        return out


def keyed_rng(seed: int, *key: object) -> np.random.Generator:
    """A generator for ``seed`` and one entity (``"account", account_id`` ...)."""
    digest = hashlib.blake2b("\x1f".join(map(str, key)).encode(), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


def _between(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _draw(rng: np.random.Generator, pool: tuple[str, ...], k: int) -> list[str]:
    """``k`` texts of ``pool``, none repeated until the pool is used up."""
    if k <= 0:
        return []
    reps = -(-k // len(pool))
    idx = np.concatenate([rng.permutation(len(pool)) for _ in range(reps)])[:k]
    return [pool[i] for i in idx]


def _value(rng: np.random.Generator, name: str, c: Corpora) -> str:
    """A seeded filler for one ``{placeholder}``, chosen by the kind its name asks for."""
    low = name.lower()
    if re.search(r"count|size|threshold|skip|num", low):
        return str(int(rng.integers(3, 51)))
    if "year" in low:
        return str(int(rng.integers(2020, 2028)))
    if low.startswith("lang"):
        code = "en" if rng.random() < 0.7 else str(rng.choice(LANGUAGES))
        return LANGUAGE_NAMES[code]
    if "topic" in low:
        return ", ".join(rng.choice(c.topics, _between(rng, (1, 3)), replace=False))
    if "option" in low:
        return "\n".join(f"- {s}" for s in _draw(rng, c.snippets, _between(rng, (2, 4))))
    return str(c.snippets[int(rng.integers(len(c.snippets)))])


def _fill(rng: np.random.Generator, template: str, c: Corpora) -> str:
    return fill(template, lambda name: _value(rng, name, c))


def _edit(rng: np.random.Generator, text: str) -> str:
    """A light edit of a pasted prompt: case, one word dropped or swapped, or the end."""
    words = text.split(" ")
    op = int(rng.integers(4))
    if op == 1 and len(words) > 3:
        del words[int(rng.integers(len(words)))]
        return " ".join(words)
    if op == 2 and len(words) > 2:
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)
    if op == 3:
        return text.rstrip().rstrip(".?!:") + " "
    return text.lower()


def _literal_words(template: str) -> int:
    return len(PLACEHOLDER.sub(" ", template).split())


@dataclass
class _AccountTexts:
    """The texts of one account, filled position by position."""

    n: int
    texts: list[str | None] = field(init=False)
    sources: list[str | None] = field(init=False)
    details: list[str | None] = field(init=False)

    def __post_init__(self) -> None:
        self.texts, self.sources, self.details = [None] * self.n, [None] * self.n, [None] * self.n

    def put(self, pos: int, text: str, source: str, detail: str | None = None) -> None:
        self.texts[pos], self.sources[pos], self.details[pos] = text, source, detail

    def free(self) -> list[int]:
        return [i for i, t in enumerate(self.texts) if t is None]


class Retexter:
    """Decides every account's texts from the labels; :meth:`account` is one account."""

    def __init__(self, corpora: Corpora, labels: pd.DataFrame, seed: int, settings: RetextSettings):
        self.c, self.seed, self.s = corpora, seed, settings
        # account_id -> its labels; an account without labels is treated as a solo user
        records = labels.astype(object).where(labels.notna(), None).to_dict("records")
        self.labels = {str(r["account_id"]): r for r in records}
        sdk = keyed_rng(seed, "sdk")
        k = _between(sdk, settings.sdk_samples)
        self.sdk = tuple(str(t) for t in sdk.choice(corpora.short_tasks, k, replace=False))
        self.english = tuple(t for t in corpora.english if t not in self.sdk)
        eligible = sorted(
            n for n, t in corpora.flan.items() if _literal_words(t) >= settings.viral_min_words
        )
        vr = keyed_rng(seed, "viral")
        picks = vr.choice(len(eligible), min(settings.viral_templates, len(eligible)), False)
        self.viral = tuple(eligible[i] for i in picks)
        names = [n for n, t in corpora.t0.items() if len(t) >= settings.min_template_instances]
        order = keyed_rng(seed, "toolkits").permutation(len(names))
        pop = 1.0 / np.arange(1, len(names) + 1) ** settings.toolkit_popularity
        self.toolkit = ([names[i] for i in order], pop / pop.sum())
        self.campaigns: dict[str, CampaignPlan] = {}
        self.campuses: dict[str, tuple[str, ...]] = {}

    # -- plans shared by a group ------------------------------------------------------

    def campaign(self, cid: str) -> CampaignPlan:
        """The campaign's sources: 1-3 T0 templates, sometimes airoboros / seed tasks."""
        if cid not in self.campaigns:
            rng, (names, pop) = keyed_rng(self.seed, "campaign", cid), self.toolkit
            k = _between(rng, self.s.templates_per_campaign)
            t0 = tuple(sorted(names[i] for i in rng.choice(len(names), k, False, p=pop)))
            extra = int(rng.integers(3)) if rng.random() < self.s.extra_source_share else -1
            airoboros = str(rng.choice(sorted(self.c.airoboros))) if extra in (0, 2) else None
            n = len(t0) + (airoboros is not None) + (extra in (1, 2))
            weights = tuple(float(w) for w in rng.dirichlet(np.full(n, 2.0)))
            self.campaigns[cid] = CampaignPlan(t0, airoboros, extra in (1, 2), weights)
        return self.campaigns[cid]

    def campus(self, gid: str) -> tuple[str, ...]:
        """The few homework prompts the students of one campus share."""
        if gid not in self.campuses:
            rng = keyed_rng(self.seed, "campus", gid)
            self.campuses[gid] = tuple(
                _draw(rng, self.english, _between(rng, self.s.homework_per_campus))
            )
        return self.campuses[gid]

    def language(self, aid: str, group: str, gid: str | None) -> str | None:
        """The other language an account writes in (households and companies share one)."""
        unit = gid if group in ("household", "company") and gid else aid
        rng = keyed_rng(self.seed, "language", unit)
        return str(rng.choice(LANGUAGES)) if rng.random() < self.s.language_share else None

    # -- one account -----------------------------------------------------------------------

    def account(self, aid: str, n: int) -> _AccountTexts:
        """The texts, sources and details of an account's ``n`` rows in time order."""
        row, rng = _AccountTexts(n), keyed_rng(self.seed, "account", aid)
        lab = self.labels.get(aid, {"label": "benign", "group": "solo", "group_id": None})
        group, gid = str(lab["group"]), lab["group_id"] and str(lab["group_id"])
        lang, sybil = None, lab["label"] == "sybil"
        if sybil:
            tier = str(lab["tier"])
            share = self.s.template_share.get(tier, self.s.template_share["default"])
            self._campaign_rows(rng, row, self.campaign(str(lab["campaign_id"])), share)
        else:
            lang = self.language(aid, group, gid)
            special: dict[str, Callable[[np.random.Generator, _AccountTexts, str], None]] = {
                "university": self._homework_rows,
                "developer": self._sdk_rows,
                "viral": self._viral_rows,
            }
            if group in special:
                special[group](rng, row, gid or aid)
        self._own_rows(rng, row, lang, cover=sybil)
        return row

    def _campaign_rows(
        self,
        rng: np.random.Generator,
        row: _AccountTexts,
        plan: CampaignPlan,
        share: tuple[float, float],
    ) -> None:
        k = int(rng.binomial(row.n, rng.uniform(*share)))
        positions = np.sort(rng.choice(row.n, k, replace=False))
        sources = plan.sources
        which = rng.choice(len(sources), k, p=np.asarray(plan.weights))
        for j, (kind, name) in enumerate(sources):
            pos = positions[which == j]
            if kind == "campaign_t0":
                texts = _draw(rng, self.c.t0[name], len(pos))
            elif kind == "campaign_airoboros":
                texts = [_fill(rng, self.c.airoboros[name], self.c) for _ in pos]
            else:
                texts = _draw(rng, self.c.seed_tasks, len(pos))
            for p, t in zip(pos, texts, strict=True):
                row.put(int(p), t, kind, name)

    def _homework_rows(self, rng: np.random.Generator, row: _AccountTexts, gid: str) -> None:
        homework = self.campus(gid)
        h = int(rng.integers(len(homework)))
        k = min(row.n, _between(rng, self.s.homework_sends))
        start = int(rng.integers(row.n - k + 1))  # pasted a few times in one sitting
        for p in range(start, start + k):
            edited = rng.random() < self.s.homework_edit_share
            text = _edit(rng, homework[h]) if edited else homework[h]
            row.put(p, text, "homework", f"{gid}#{h}")

    def _sdk_rows(self, rng: np.random.Generator, row: _AccountTexts, gid: str) -> None:
        used = rng.choice(len(self.sdk), _between(rng, (1, len(self.sdk))), replace=False)
        k = min(row.n, _between(rng, self.s.sdk_sends))
        for p in range(k):  # right after signup: the account's first prompts
            i = int(used[p % len(used)])
            row.put(p, self.sdk[i], "sdk_sample", f"sdk#{i}")

    def _viral_rows(self, rng: np.random.Generator, row: _AccountTexts, gid: str) -> None:
        own = self.viral[int(keyed_rng(self.seed, "viral-group", gid).integers(len(self.viral)))]
        names = [own]
        if rng.random() < self.s.viral_second_share:
            names.append(self.viral[int(rng.integers(len(self.viral)))])
        for name in dict.fromkeys(names):
            free = row.free()
            k = min(len(free), _between(rng, self.s.viral_sends))
            for p in rng.choice(free, k, replace=False):
                row.put(int(p), _fill(rng, self.c.flan[name], self.c), "viral_template", name)

    def _own_rows(
        self, rng: np.random.Generator, row: _AccountTexts, lang: str | None, cover: bool
    ) -> None:
        free = row.free()
        n_lang = int(rng.binomial(len(free), rng.uniform(*self.s.language_rows))) if lang else 0
        texts = _draw(rng, self.english, len(free) - n_lang)
        kinds = ["campaign_cover" if cover else "benign_english"] * len(texts)
        if lang:
            texts += _draw(rng, self.c.other_languages[lang], n_lang)
            kinds += ["benign_other_language"] * n_lang
        mix = rng.permutation(len(free))
        for p, i in zip(free, mix, strict=True):
            row.put(p, texts[i], kinds[i], lang if kinds[i] == "benign_other_language" else None)


def retext_prompts(
    prompts: pd.DataFrame,
    labels: pd.DataFrame,
    seed: int,
    corpora: Corpora | None = None,
    settings: RetextSettings | None = None,
) -> tuple[pd.DataFrame, Retexter]:
    """``prompts`` with every ``text`` replaced, plus ``source`` and ``detail`` columns
    saying where each text came from; and the :class:`Retexter` with its plans."""
    rt = Retexter(corpora or load_corpora(), labels, seed, settings or RetextSettings())
    ts = prompts["ts"]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        ts = pd.to_datetime(ts, utc=True, format="ISO8601")
    codes, accounts = pd.factorize(prompts["account_id"].astype(str), sort=True)
    order = np.lexsort((pd.DatetimeIndex(ts).asi8, codes))
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(accounts)))]
    texts = np.empty(len(prompts), dtype=object)
    sources, details = texts.copy(), texts.copy()
    for a, aid in enumerate(accounts):
        pos = order[bounds[a] : bounds[a + 1]]
        row = rt.account(str(aid), len(pos))
        texts[pos], sources[pos], details[pos] = row.texts, row.sources, row.details
    out = prompts.copy()
    out["text"] = texts
    return out.assign(source=sources, detail=details), rt


def _table_path(root: Path, name: str) -> Path:
    found = [root / f"{name}.{fmt}" for fmt in FORMATS if (root / f"{name}.{fmt}").exists()]
    if len(found) != 1:
        raise ValueError(f"{root}: expected one {name}.parquet|csv|jsonl, found {len(found)}")
    return found[0]


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":  # every column as written: timestamps stay strings
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return pd.read_json(path, orient="records", lines=True, dtype=False)


def _write(df: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True, force_ascii=False)


def retext_world(
    src: Path, dst: Path, seed: int, settings: RetextSettings | None = None
) -> dict[str, Any]:
    """Copy the world in ``src`` to ``dst`` with every prompt text replaced by real text.

    The tables may be parquet, csv or jsonl (each is written back in its own format);
    all but prompts are copied byte for byte, and prompts keep their rows, accounts and
    timestamps. Returns a summary (rows per source, languages, each campaign's
    templates, the shared confounder templates). Raises ValueError when a table is
    missing or ``dst`` is ``src``, FileNotFoundError when the corpora are missing.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("dst must differ from src")
    paths = {name: _table_path(src, name) for name in TABLES}
    settings = settings or RetextSettings()
    prompts, labels = _read(paths["prompts"]), _read(paths["labels"])
    corpora = load_corpora()
    out, rt = retext_prompts(prompts, labels, seed, corpora, settings)
    dst.mkdir(parents=True, exist_ok=True)
    for name, path in paths.items():
        if name != "prompts":
            shutil.copyfile(path, dst / path.name)
    _write(out[list(prompts.columns)], dst / paths["prompts"].name)
    return summarise(out, labels, rt, corpora, settings, seed)


def summarise(
    out: pd.DataFrame,
    labels: pd.DataFrame,
    rt: Retexter,
    corpora: Corpora,
    settings: RetextSettings,
    seed: int,
) -> dict[str, Any]:
    """The summary :func:`retext_world` returns, as plain JSON-ready data."""
    lab = labels.set_index("account_id")
    other = out[out["source"] == "benign_other_language"]
    campaigns: dict[str, Any] = {}
    for cid, plan in sorted(rt.campaigns.items()):
        members = lab.index[lab["campaign_id"] == cid]
        rows = out[out["account_id"].isin(members)]
        tpl = rows[rows["source"] != "campaign_cover"]
        campaigns[cid] = {
            "tier": str(lab.loc[members, "tier"].iloc[0]),
            "accounts_with_prompts": int(rows["account_id"].nunique()),
            "t0_templates": list(plan.t0),
            "airoboros": plan.airoboros,
            "seed_tasks": plan.seed_tasks,
            "template_rows": len(tpl),
            "distinct_template_texts": int(tpl["text"].nunique()),
            "cover_rows": int((rows["source"] == "campaign_cover").sum()),
        }
    users: dict[str, list[str]] = {}
    for cid, plan in sorted(rt.campaigns.items()):
        for name in plan.t0:
            users.setdefault(name, []).append(cid)
    return {
        "seed": seed,
        "rows": len(out),
        "accounts_with_prompts": int(out["account_id"].nunique()),
        "rows_by_source": {str(k): int(v) for k, v in out["source"].value_counts().items()},
        "languages": {
            "accounts": {
                str(k): int(v) for k, v in other.groupby("detail")["account_id"].nunique().items()
            },
            "rows": {str(k): int(v) for k, v in other["detail"].value_counts().items()},
        },
        "campaigns": campaigns,
        "shared_t0_templates": {k: v for k, v in sorted(users.items()) if len(v) > 1},
        "viral_templates": list(rt.viral),
        "sdk_samples": len(rt.sdk),
        "campuses": {gid: len(h) for gid, h in sorted(rt.campuses.items())},
        "pools": corpora.sizes(),
        "settings": asdict(settings),
    }
