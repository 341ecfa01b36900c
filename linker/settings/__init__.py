"""Every parameter that changes a run's results, as data.

One frozen dataclass per stage (linkage, community, prompt, semantic, risk, learn,
engine), gathered in :class:`LinkSettings`, recorded whole in run.json and loaded from a
TOML file (:func:`load_settings`, ``link --config FILE``; an unknown key is an error).
Every number is documented in docs/linkage.md (and docs/architecture.md) with its reason.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np

from linker.errors import LinkerError, SemanticError
from linker.settings.engine import EngineSettings
from linker.settings.learn import LearnSettings
from linker.settings.weights import _default_weights, check_range

#: The roles the linker itself gives identifiers; nothing else is keyed on a kind's name.
#: ``ip``: any kind whose values are IP addresses (recognised from the values, whatever
#: the kind is called: LinkageSettings.address_share); ``ip_prefix``: the /24 or /48 of
#: an address, derived by the linker; ``prompt_template``: template families from the
#: prompt stage. Every other kind (cards, devices, phones, wallets, ...) is an
#: ``instrument``: weighed by how many accounts share each value in this data
#: (specificity) and by whether its sharers have anything else in common
#: (corroboration), never by its name.
LINKER_KINDS: tuple[str, ...] = ("ip", "ip_prefix", "prompt_template")


def is_instrument(kinds: Any) -> np.ndarray:
    """Whether each of ``kinds`` is an instrument (not one of :data:`LINKER_KINDS`)."""
    return ~np.isin(np.asarray(kinds, dtype=object), LINKER_KINDS)


#: How strongly one shared identifier of a role suggests common control, before the
#: specificity discount. A settings file may add a weight for a named kind of its own
#: data (``[linkage.kind_weight] wallet = 0.7``); the defaults name none.
DEFAULT_KIND_WEIGHT: dict[str, float] = {
    "instrument": 0.8,
    "prompt_template": 0.8,
    "ip": 0.25,
    "ip_prefix": 0.08,
}

#: How fast the evidence of an identifier falls with the number of accounts sharing it
#: (the specificity discount's exponent). An instrument shared by a large ring keeps most
#: of its weight; addresses are shared by strangers all the time, so they fall fastest.
DEFAULT_SPECIFICITY_EXPONENT: dict[str, float] = {
    "instrument": 0.2,
    "prompt_template": 0.15,
    "ip": 0.4,
    "ip_prefix": 0.4,
}

#: Multiplier of ip / ip_prefix evidence by the category of the address (from ip_info).
#: Shared infrastructure (CGNAT, VPN exits, campus and office NATs) says little.
DEFAULT_IP_CATEGORY_FACTOR: dict[str, float] = {
    "datacenter": 1.3,
    "proxy": 1.2,
    "residential": 0.6,
    "unknown": 0.8,
    "corporate": 0.25,
    "education": 0.15,
    "vpn": 0.12,
    "mobile": 0.06,
}


@dataclass(frozen=True)
class LinkageSettings:
    """Parameters of the account projection."""

    kind_weight: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHT))
    ip_category_factor: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_IP_CATEGORY_FACTOR)
    )
    #: identifiers shared by at most this many accounts get no specificity discount
    specificity_free_degree: int = 4
    #: discount = (free_degree / degree) ** exponent[kind] above that
    specificity_exponent: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SPECIFICITY_EXPONENT)
    )
    #: a kind at least this share of whose distinct values are IP addresses is linked
    #: as addresses (prefixes, IP categories, simultaneity), whatever its name
    address_share: float = 0.9
    #: specificity exponent of an instrument whose sharers have nothing else in common
    uncorroborated_exponent: float = 0.6
    #: a shared identifier whose evidence is below this makes no pair at all
    min_contribution: float = 0.04
    #: pairs whose combined evidence is below this get no edge (one weak link never links)
    min_edge_weight: float = 0.2
    #: supernodes: identifiers with more accounts than this make no pairs (feature only)
    max_degree: int = 5000
    #: ... per kind, where it differs; None: never a supernode. Template families have
    #: no cap: their pair evidence is weighed by each member's strength (share of its
    #: prompts x variety; an SDK sample or a pasted homework question has ~0) and by
    #: time, and a campaign family, or one template shared by several campaigns, can
    #: have tens of thousands of senders (docs/linkage.md, "Supernodes and size")
    max_degree_by_kind: dict[str, int | None] = field(
        default_factory=lambda: {"prompt_template": None}
    )
    #: above this many accounts an identifier links each member to ``sparse_partners``
    #: random co-members instead of to all of them (a random expander, not a clique)
    dense_limit: int = 300
    sparse_partners: int = 24
    #: how an expander picks each member's partners: ``signature`` orders the members
    #: by min-hashes of the large identifiers each holds, so accounts that share several
    #: large template families or addresses are partners in each of them and their
    #: evidence adds up; ``random``: independent random partners per identifier
    expander_order: str = "signature"
    #: same IP within this window counts as simultaneous use
    sync_window_minutes: int = 15
    #: simultaneous use multiplies IP evidence by up to (1 + sync_boost)
    sync_boost: float = 1.0
    sync_saturation: int = 3
    #: kinds whose evidence decays with the time between the two accounts' use
    time_decay_kinds: tuple[str, ...] = ("ip", "ip_prefix", "prompt_template")
    #: evidence of an IP used by two accounts months apart halves every half-life
    gap_half_life_days: float = 30.0
    #: ... and of a pair whose use has no time (signals without ts) is multiplied by this
    untimed_factor: float = 0.5
    seed: int = 7

    def __post_init__(self) -> None:
        if self.expander_order not in ("signature", "random"):
            raise LinkerError(
                f"expander_order must be signature or random, not {self.expander_order!r}"
            )

    def weight_of(self, kind: str) -> float:
        """The base weight of an identifier kind (its role's, unless the settings name
        the kind)."""
        return self.kind_weight.get(kind, self.kind_weight["instrument"])

    def supernode_degree(self, kind: str) -> int:
        """Above how many accounts an identifier of ``kind`` makes no pairs (for a kind
        that is never a supernode, more accounts than any world has)."""
        cap = self.max_degree_by_kind.get(kind, self.max_degree)
        return np.iinfo(np.int64).max if cap is None else cap

    def exponent_of(self, kind: str) -> float:
        """The specificity exponent of an identifier kind."""
        return self.specificity_exponent.get(kind, self.specificity_exponent["instrument"])

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


@dataclass(frozen=True)
class CommunitySettings:
    """Parameters of community detection."""

    method: str = "leiden"  # leiden | louvain | components
    resolution: float = 1.0
    min_cluster_size: int = 2
    seed: int = 7
    #: Leiden passes; -1 iterates until a pass moves no account (igraph's default is 2)
    iterations: int = 2
    #: a new cluster keeps an old id when it holds more than this share of the old members
    id_overlap: float = 0.5
    #: an account in no cluster joins the cluster that holds at least this share of the
    #: senders of a template family it sends, when the family is common in the cluster
    #: (see linker.clustering.attach.attach_by_family; 0 turns attachment off)
    attach_share: float = 0.5

    def __post_init__(self) -> None:
        if self.iterations == 0 or self.iterations < -1:
            raise LinkerError(f"iterations must be -1 or at least 1, not {self.iterations}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


#: word pieces per text of the semantic stage's model (all-MiniLM-L6-v2's
#: sentence_bert_config.json); a property of the model, not a setting
MODEL_MAX_SEQ_LENGTH = 256


@dataclass(frozen=True)
class RiskSettings:
    """Weights of the risk model, the flagging threshold, and the bars that decide which
    template families characterise a cluster and who takes part in them."""

    weights: dict[str, float] = field(default_factory=_default_weights)
    threshold: float = 0.5
    #: an account outside every cluster scores at most this from its hosting share and
    #: prompt intent alone (a developer on cloud CI sending agent prompts is not flagged
    #: for that) ...
    own_risk_cap: float = 0.45
    #: ... but it can be flagged on its own for holding far more values of one
    #: instrument kind than accounts at large in this data (card testing, device farms
    #: behind one login): excess counts from this quantile of the kind's values per
    #: account ...
    own_instrument_quantile: float = 0.99
    #: ... and is full at this many times that quantile
    own_instrument_ratio: float = 4.0
    #: an edge at least this heavy counts as strong (feature strong_share)
    strong_edge_weight: float = 0.6
    #: reuse and burst features count nothing in a group of this size (a household of 2
    #: "sharing" a card says nothing) and fully this many accounts above it
    small_group_size: float = 2.0
    small_group_ramp: float = 8.0
    #: IP categories whose traffic counts as hosting (datacenters, proxies) ...
    hosting_categories: tuple[str, ...] = ("datacenter", "proxy")
    #: ... and as shared benign infrastructure (offices, campuses, carriers)
    benign_infra_categories: tuple[str, ...] = ("corporate", "education", "mobile")
    #: a value shared inside a cluster counts for its instrument reuse only when the
    #: cluster holds at least this share of the value's holders in the data
    held_instrument_share: float = 0.25
    #: template evidence counts in full for clusters whose median member sends at least
    #: this quantile of prompts per account in the data, in proportion below
    volume_quantile: float = 0.75
    #: distinct texts per prompt at which a template family counts as full coverage
    full_coverage_variety: float = 0.3
    #: a family's re-sampling (``PromptSettings.resample_full_sends``) at which it
    #: counts as full coverage however few its distinct texts
    resample_coverage: float = 0.5
    #: share of an account's prompts on one family at which its focus counts as narrow
    narrow_focus_share: float = 0.5
    #: an account sending at least this quantile of its cluster members' share of
    #: prompts on the cluster's common families takes part fully (see participation);
    #: the families are ones the cluster holds, which strangers rarely send, so the bar
    #: is low
    participant_quantile: float = 0.1
    #: a template family whose members' prompts carry distillation intent at least
    #: this often is an intent family
    intent_family_share: float = 0.3
    #: a family characterises a cluster when at least this many members send it ...
    common_min_members: int = 3
    #: ... and at least this share of them
    common_min_share: float = 0.05
    #: a family is common in a cluster only when the cluster holds at least this share
    #: of all its senders (a token bar: one template shared by many campaigns, such as
    #: a public distillation toolkit's, is held by none of them but over-sent by each)
    min_concentration: float = 0.05
    #: ... and its members send it at least this many times as often as accounts at
    #: large, or the cluster holds at least ``held_concentration`` of its senders (in a
    #: small world one cluster can be most of the population)
    min_lift: float = 2.0
    held_concentration: float = 0.8
    #: an unflagged cluster is also scored on its involved core of this many (scoring/cores.py)
    core_min_size: int = 3
    #: template evidence counts in full once this share of a cluster's links carry more
    #: than text (strangers pasting one template share text alone; model.design)
    corroborated_share: float = 0.1

    def __post_init__(self) -> None:
        check_range("held_instrument_share", self.held_instrument_share, 0.0, 1.0)
        check_range("volume_quantile", self.volume_quantile, 0.0, 1.0)
        for name in ("resample_coverage", "corroborated_share"):
            check_range(name, getattr(self, name), 0.0, 1.0, open_low=True)
        unknown = sorted(set(self.weights) - set(_default_weights()))
        if unknown:
            raise LinkerError(
                f"risk weights: unknown feature {unknown[0]!r} "
                f"(known: {', '.join(sorted(_default_weights()))})"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


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
    #: ... and when the family is at least this share of the account's prompts (a
    #: campaign account can spread its traffic over several templates and cover prompts)
    min_share: float = 0.1
    #: families whose variety (linker/prompts/variety.py) reaches this count in full;
    #: one text repeated verbatim (variety ~0) links by its repetition only weakly
    full_variety: float = 0.3
    #: prompts per sender at which a family whose own texts carry distillation intent
    #: counts as fully re-sampled (an instruction re-sent for many answers); one send
    #: per sender counts nothing
    resample_full_sends: float = 4.0
    #: fingerprint a text by its template skeleton (linker/prompts/skeleton.py: the
    #: shingles at its start and end that many distinct texts share) when it has one,
    #: so fills of one template with long varied inputs join one family (docs/prompts.md)
    skeleton: bool = True
    #: shingles looked at from each end of a text (an instruction sits at the start or
    #: the end; also bounds what is kept per distinct text: 8 bytes a shingle)
    skeleton_window: int = 32
    #: a shingle is fixed wording when at least this many distinct texts hold it ...
    skeleton_min_df: int = 10
    #: ... and it lies in a run of at least this many consecutive such shingles (seven
    #: words): shorter phrases ("answer the question below", "can you please help me")
    #: cannot be told from everyday phrasing, and a templated filler's stock phrases
    #: ("after months of debate") are shorter than an instruction
    skeleton_min_run: int = 6
    #: ... whose shingles recur at least this share as often as the text's most
    #: frequent run (a filler pasted into several templates is not their skeleton)
    skeleton_relative_df: float = 0.25
    #: estimated Jaccard at which a text fingerprinted by its skeleton joins another;
    #: above one half, so that one text cannot join two disjoint skeletons (a
    #: template's and a filler's that recurs as often) and chain their families. A text
    #: whose skeleton covers this share of its shingles keeps its whole-text
    #: fingerprint: it joins its template's other fills at this bar either way
    skeleton_threshold: float = 0.7
    seed: int = 11
    example_chars: int = 80
    #: the distillation-intent model shipped in linker/prompts/intent_model.npz (trained
    #: by scripts/train_intent.py on the real corpora): its digest, checked when the
    #: stage starts, so run.json names the model that ran
    intent_model: str = "intent-88ff65ff2cd0"
    #: a prompt has intent when the model's probability reaches this; chosen in training
    #: (best F1 on grouped cross-validation leaving 95% of everyday texts unflagged)
    intent_threshold: float = 0.6747

    def __post_init__(self) -> None:
        check_range("resample_full_sends", self.resample_full_sends, 1.0, float("inf"), True)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


@dataclass(frozen=True)
class SemanticSettings:
    """Parameters of the semantic stage (docs/semantic-stage.md gives the reasons)."""

    #: cosine at or above which two family representatives (or two family centroids)
    #: are one family. Chosen from the curves of benchmarks/paraphrase_bench.py: the
    #: lowest value at which no measured negative (everyday prompts on one topic,
    #: distinct templates on one topic, benign look-alikes of campaign prompts) joins
    #: a campaign family; fully paraphrased template families still join at 0.85-0.91
    #: when each is represented by the mean of 32 of its texts.
    threshold: float = 0.84
    #: the most texts in one forward pass of the model
    batch_size: int = 256
    #: the most word pieces (padding included) in one forward pass: with texts sorted
    #: by length and padded per batch, this bounds the pass's memory (under 100 MB at
    #: 2048, whatever the texts' lengths); larger batches were not faster on 2 cores
    batch_tokens: int = 2048
    #: BLAS threads for the forward pass (``None``: the BLAS library's default, one
    #: per core). One by default: on 2 cores, two threads embed ~30% faster on an idle
    #: machine (80 vs 62 texts/s) for 55% more CPU time, and 3-6 times slower when
    #: another process holds a core (their spin-waits compete with the main thread)
    blas_threads: int | None = 1
    #: the most (distinct) texts one call embeds; more raise :class:`SemanticError`
    #: instead of running for an hour: at this cap about 10 minutes for prompts of 30
    #: words and an hour for prompts of 256 word pieces on 2 CPU cores. ``None``
    #: lifts the cap. Callers pass a sample of each family, not every prompt.
    max_texts: int | None = 50_000
    #: rows and columns of one block of the similarity matrix: memory is
    #: ``block_size**2 * 4`` bytes (16 MiB at 2048), never ``n * n``
    block_size: int = 2048
    #: in ``link --semantic`` (:class:`FamilyMerger`): a family is compared when at
    #: least this many accounts send it (at any volume), so the cost grows with the
    #: number of shared families, not with prompts
    family_min_accounts: int = 3
    #: ... by the mean of at most this many of its distinct masked texts (fewer make a
    #: noisy mean: docs/semantic-stage.md)
    family_sample: int = 16
    #: ... each cut at this many masked characters (the instruction of a template
    #: comes first; a long pasted body would dominate the embedding)
    text_chars: int = 400
    #: ... and at most this many families, those sent by the most accounts
    max_families: int = 3000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise SemanticError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.batch_size < 1 or self.block_size < 1:
            raise SemanticError("batch_size and block_size must be at least 1")
        if self.batch_tokens < MODEL_MAX_SEQ_LENGTH:
            raise SemanticError(f"batch_tokens must be at least {MODEL_MAX_SEQ_LENGTH}")
        if self.max_texts is not None and self.max_texts < 1:
            raise SemanticError(f"max_texts must be at least 1 or None, not {self.max_texts}")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise SemanticError(f"blas_threads must be at least 1 or None, not {self.blas_threads}")
        if min(self.family_min_accounts, self.family_sample, self.max_families) < 1:
            raise SemanticError("family_min_accounts, family_sample and max_families must be >= 1")
        if self.text_chars < 1:
            raise SemanticError(f"text_chars must be at least 1, not {self.text_chars}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)


@dataclass(frozen=True)
class LinkSettings:
    """All parameters of a link run."""

    linkage: LinkageSettings = field(default_factory=LinkageSettings)
    community: CommunitySettings = field(default_factory=CommunitySettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    use_prompts: bool = True
    #: join MinHash families by meaning after LSH (linker/prompts/semantic.py; optional extra)
    semantic: bool = False
    semantic_settings: SemanticSettings = field(default_factory=SemanticSettings)
    #: learning from labels (linker/learn; docs/learning.md)
    learn: LearnSettings = field(default_factory=LearnSettings)
    #: the engine of the projection and communities (linker/engines; docs/scaling.md)
    engine: EngineSettings = field(default_factory=EngineSettings)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json: every section, whole."""
        return {
            "linkage": self.linkage.to_dict(),
            "community": self.community.to_dict(),
            "risk": self.risk.to_dict(),
            "prompt": self.prompt.to_dict(),
            "use_prompts": self.use_prompts,
            "semantic": self.semantic,
            "semantic_stage": self.semantic_settings.to_dict(),
            "learn": self.learn.to_dict(),
            "engine": self.engine.to_dict(),
        }


#: the TOML table of each section of :class:`LinkSettings`
_SECTIONS = {
    "linkage": "linkage",
    "community": "community",
    "risk": "risk",
    "prompt": "prompt",
    "semantic_stage": "semantic_settings",
    "learn": "learn",
    "engine": "engine",
}


def _coerce(value: Any, default: Any, where: str) -> Any:
    """``value`` from TOML checked against the type of the field's default."""
    if isinstance(default, bool) or (default is None and isinstance(value, bool)):
        if not isinstance(value, bool):
            raise LinkerError(f"{where}: expected true or false, not {value!r}")
        return value
    if isinstance(default, int | float) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LinkerError(f"{where}: expected a number, not {value!r}")
        return type(default)(value) if isinstance(default, float) else value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise LinkerError(f"{where}: expected a string, not {value!r}")
        return value
    if isinstance(default, tuple) and all(isinstance(v, int | float) for v in default):
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise LinkerError(f"{where}: expected a list of numbers, not {value!r}")
        return tuple(float(v) for v in value)
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise LinkerError(f"{where}: expected a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise LinkerError(f"{where}: expected a table, not {value!r}")
        # a partial table overrides the defaults it names and keeps the others
        merged = dict(default)
        for key, item in value.items():
            sample = next(iter(default.values()), 0.0)
            merged[key] = _coerce(item, default.get(key, sample), f"{where}.{key}")
        return merged
    return value  # None defaults (optional caps): any number or absent


def _section(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise LinkerError(f"{where}: expected a table")
    default = cls()
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise LinkerError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})"
        )
    changes = {k: _coerce(v, getattr(default, k), f"{where}.{k}") for k, v in table.items()}
    return replace(default, **changes)


def settings_from_dict(data: dict[str, Any], source: str = "settings") -> LinkSettings:
    """:class:`LinkSettings` from plain data shaped like :meth:`LinkSettings.to_dict`
    (sections may be partial). Raises :class:`LinkerError` naming ``source`` and the key
    for an unknown key or a value of the wrong type."""
    top = {"use_prompts", "semantic", *_SECTIONS}
    unknown = sorted(set(data) - top)
    if unknown:
        raise LinkerError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(top))})")
    hints = get_type_hints(LinkSettings)
    changes: dict[str, Any] = {}
    for key, attr in _SECTIONS.items():
        if key in data:
            changes[attr] = _section(hints[attr], data[key], f"{source} [{key}]")
    for key in ("use_prompts", "semantic"):
        if key in data:
            changes[key] = _coerce(data[key], False, f"{source} {key}")
    return replace(LinkSettings(), **changes)


def load_settings(path: Path) -> LinkSettings:
    """Settings from a TOML file (``link --config FILE``); what it leaves out keeps its
    default. Raises :class:`LinkerError` for an unreadable file, bad TOML, an unknown
    key or a value of the wrong type, naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise LinkerError(f"settings file {path}: {err.strerror or err}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise LinkerError(f"settings file {path}: not valid TOML ({err})") from err
    return settings_from_dict(data, str(path))
