"""The text generator's core: template filling, filler sentences and code snippets,
and one generic prompt. :class:`synth.text.TextGen` adds the benign
(:mod:`.benign`) and campaign (:mod:`.campaign`) generators on top.

All generators take a ``random.Random`` and are pure functions of its state, so the
world is deterministic per seed. They are written for speed (about 1M prompts in a few
seconds): slot lists are indexed with ``int(random() * len)`` rather than ``choice``.
"""

from __future__ import annotations

import bisect
import random
import string
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..vocab import (
    CODE_FUNC,
    CODE_IDENT,
    FILLER_ADJ,
    FILLER_ADV,
    FILLER_NOUNS,
    FILLER_TAIL,
    FILLER_VERBS,
    INDUSTRIES,
)
from .pools import (
    BENIGN_TEMPLATES,
    CATEGORY_WEIGHTS,
    CI_SMOKE,
    FOREIGN_TEMPLATES,
    FOREIGN_V,
    SDK_SAMPLES,
    SYNONYMS,
    VIRAL_TEMPLATES,
    VIRAL_V,
    VOCAB,
    Compiled,
    compile_templates,
)

T = TypeVar("T")

_LA, _LN, _LW, _LD, _LT = (
    len(FILLER_ADJ),
    len(FILLER_NOUNS),
    len(FILLER_VERBS),
    len(FILLER_ADV),
    len(FILLER_TAIL),
)


class TextCore:
    """The shared state of the prompt generators: one ``random.Random``, the compiled
    templates and vocabularies, and the primitives every generator uses."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.rnd = r.random
        self.cats = list(BENIGN_TEMPLATES)
        self.cat_w = [CATEGORY_WEIGHTS[c] for c in self.cats]
        tot = sum(self.cat_w)
        self.cat_cum = [sum(self.cat_w[: i + 1]) / tot for i in range(len(self.cat_w))]
        self.cat_cum[-1] = 1.0
        self.tpl = {c: compile_templates(v) for c, v in BENIGN_TEMPLATES.items()}
        self.ftpl = {c: compile_templates(v) for c, v in FOREIGN_TEMPLATES.items()}
        self.viral = compile_templates(VIRAL_TEMPLATES)
        self.vocab: dict[str, list[str]] = {**VOCAB, **FOREIGN_V, **VIRAL_V}
        self.special: dict[str, Callable[[], str]] = {
            "filler_s": lambda: self.sentence(),
            "filler_m": lambda: self.prose(2, 4),
            "filler_l": lambda: self.prose(5, 11),
            "notes": self.notes,
            "code": self.code,
            "n_small": lambda: str(2 + int(self.rnd() * 9)),
            "n_minutes": lambda: str((2 + int(self.rnd() * 11)) * 5),
            "n_people": lambda: str(2 + int(self.rnd() * 10)),
            "n_days": lambda: str(2 + int(self.rnd() * 13)),
            "n_hours": lambda: str(3 + int(self.rnd() * 12)),
            "n_weeks": lambda: str(4 + int(self.rnd() * 13)),
            "n_years": lambda: str(1 + int(self.rnd() * 25)),
            "pct": lambda: f"{1 + self.rnd() * 9:.1f}",
            "industry": lambda: self.pick(INDUSTRIES),
            "func": lambda: self.pick(CODE_FUNC) + "_" + self.pick(CODE_IDENT),
            "ident": lambda: self.pick(CODE_IDENT),
        }
        self.sdk_samples = SDK_SAMPLES
        self.ci_smoke = CI_SMOKE
        self.n_viral = len(VIRAL_TEMPLATES)
        self._syn_keys = list(SYNONYMS)
        self.bank: list[str] | None = None

    # ------------------------------------------------------------------ primitives
    def pick(self, lst: Sequence[T]) -> T:
        return lst[int(self.rnd() * len(lst))]

    def fill(self, compiled: Compiled, extra: dict[str, str] | None = None) -> str:
        tpl, slots = compiled
        if not slots:
            return tpl
        d = {}
        vocab, special, rnd = self.vocab, self.special, self.rnd
        for key, base in slots:
            if extra is not None and key in extra:
                d[key] = extra[key]
            elif base in special:
                d[key] = special[base]()
            else:
                lst = vocab[base]
                d[key] = lst[int(rnd() * len(lst))]
        return tpl.format(**d)

    def make_bank(self, size: int) -> None:
        """Pre-generate ``size`` filler sentences; afterwards :meth:`sentence` draws from
        the bank (a sentence then recurs a handful of times across a large world, like
        pasted boilerplate does, while multi-sentence texts stay unique)."""
        self.bank = None
        self.bank = [self.sentence() for _ in range(size)]

    def sentence(self) -> str:
        bank = self.bank
        if bank is not None:
            return bank[int(self.rnd() * len(bank))]
        rnd = self.rnd
        A, N, W, D, T = FILLER_ADJ, FILLER_NOUNS, FILLER_VERBS, FILLER_ADV, FILLER_TAIL
        la, ln, lw, ld, lt = _LA, _LN, _LW, _LD, _LT
        u = rnd()
        if u < 0.3:
            s = (
                f"The {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"the {N[int(rnd() * ln)]} {D[int(rnd() * ld)]}"
            )
        elif u < 0.5:
            s = (
                f"{D[int(rnd() * ld)].capitalize()}, the {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"its {A[int(rnd() * la)]} {N[int(rnd() * ln)]}, {T[int(rnd() * lt)]}"
            )
        elif u < 0.68:
            s = (
                f"A {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"{2 + int(rnd() * 97)} {N[int(rnd() * ln)]}s {T[int(rnd() * lt)]}"
            )
        elif u < 0.84:
            s = (
                f"Our {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} the {A[int(rnd() * la)]} "
                f"{N[int(rnd() * ln)]} plan, and the {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"{D[int(rnd() * ld)]}"
            )
        else:
            s = (
                f"Nobody expected the {N[int(rnd() * ln)]} to be {W[int(rnd() * lw)]} "
                f"by the {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {D[int(rnd() * ld)]}"
            )
        return s + "."

    def prose(self, lo: int, hi: int) -> str:
        n = lo + int(self.rnd() * (hi - lo + 1))
        return " ".join(self.sentence() for _ in range(n))

    def notes(self) -> str:
        n = 3 + int(self.rnd() * 5)
        return "\n".join(
            f"- {self.pick(FILLER_NOUNS)} {self.pick(FILLER_VERBS)} {self.pick(FILLER_ADV)}"
            for _ in range(n)
        )

    def code(self) -> str:
        p, rnd = self.pick, self.rnd
        f, a, b, c, k = p(CODE_FUNC), p(CODE_IDENT), p(CODE_IDENT), p(CODE_IDENT), p(CODE_IDENT)
        num = 2 + int(rnd() * 50)
        u = rnd()
        if u < 0.4:
            return (
                f"def {f}_{a}({b}, {c}=None):\n    out = []\n    for x in {b}:\n"
                f"        if x.get('{k}') is not None:\n            out.append(x['{k}'] * {num})\n"
                f"    return out"
            )
        if u < 0.7:
            return (
                f"function {f}{a.capitalize()}({b}) {{\n  const {c} = {b}.filter(x => x.{k} > {num});\n"  # noqa: E501
                f"  return {c}.map(x => x.{k});\n}}"
            )
        return (
            f"SELECT {a}, COUNT(*) AS n FROM {b}s WHERE {k} > {num}\n"
            f"GROUP BY {a} ORDER BY n DESC LIMIT {num % 20 + 5};"
        )

    def generic(self) -> str:
        """One prompt from a random category, no persona (cover traffic, grader inputs)."""
        cat = self.cats[bisect.bisect_left(self.cat_cum, self.rnd())]
        return self.fill(self.pick(self.tpl[cat]))


def random_label(r: random.Random, n: int = 6) -> str:
    """A short random lower-case token (used for names that must not collide)."""
    return "".join(r.choice(string.ascii_lowercase) for _ in range(n))
