# ruff: noqa: E501
"""Benign prompt generators: personas (interests, language, writing style) and the
shared-text confounders people produce (viral templates, SDK samples, homework,
company context, graders, agent developers, labelers, SEO writers)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from ..vocab import CODE_IDENT, V
from .core import TextCore
from .pools import AGENT_GOALS_C, EQUATIONS, EXTRA_V


@dataclass
class Persona:
    """How one benign account writes: interests, language, style and extra sources."""

    cats: list[str]
    cat_cum: list[float]
    lang: str = "en"
    p_foreign: float = 0.0
    lower: bool = False
    terse: bool = False
    prefix: str = ""
    suffix: str = ""
    p_deco: float = 0.0
    typo: float = 0.0
    # extra prompt sources: list of (cumulative prob, kind, arg)
    extras: list[tuple[float, str, object]] = field(default_factory=list)


class BenignText(TextCore):
    """Generators of benign prompts."""

    def persona(self, country_lang: str, *, cats: list[str] | None = None) -> Persona:
        r, rnd = self.r, self.rnd
        if cats is None:
            k = 1 + int(rnd() * 4)
            cats = r.choices(self.cats, weights=self.cat_w, k=k)
        w = [rnd() + 0.2 for _ in cats]
        tot = sum(w)
        cum, acc = [], 0.0
        for x in w:
            acc += x / tot
            cum.append(acc)
        cum[-1] = 1.0
        p_foreign = 0.0
        if country_lang != "en":
            p_foreign = 0.1 + 0.6 * rnd() if rnd() < 0.6 else 0.0
        return Persona(
            cats=cats,
            cat_cum=cum,
            lang=country_lang,
            p_foreign=p_foreign,
            lower=rnd() < 0.22,
            terse=rnd() < 0.2,
            prefix=self.pick(
                ["", "", "", "hi ", "hey, ", "Hello! ", "ok so ", "Hi Claude, ", "pls "]
            ),
            suffix=self.pick(["", "", "", " thanks", " thx", " thank you!", " :)", "??", " asap"]),
            p_deco=rnd() * 0.5,
            typo=0.15 if rnd() < 0.2 else 0.0,
        )

    def style(self, p: Persona, s: str) -> str:
        rnd = self.rnd
        if p.p_deco and rnd() < p.p_deco:
            s = p.prefix + s + p.suffix
        if p.lower:
            s = s.lower()
        if p.terse and s[-1:] in ".?!":
            s = s[:-1]
        if p.typo and rnd() < p.typo and len(s) > 12:
            i = 1 + int(rnd() * (len(s) - 3))
            s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        return s

    def benign_one(self, p: Persona) -> str:
        rnd = self.rnd
        if p.extras:
            u = rnd()
            for cp, kind, arg in p.extras:
                if u < cp:
                    return self.extra(kind, arg, p)
        if p.p_foreign and rnd() < p.p_foreign and p.lang in self.ftpl:
            return self.style(p, self.fill(self.pick(self.ftpl[p.lang])))
        cat = p.cats[bisect.bisect_left(p.cat_cum, rnd())]
        return self.style(p, self.fill(self.pick(self.tpl[cat])))

    def extra(self, kind: str, arg: Any, p: Persona) -> str:
        if kind == "viral":
            return self.viral_prompt(
                arg if isinstance(arg, int) else int(self.rnd() * self.n_viral)
            )
        if kind == "sdk":
            return arg if isinstance(arg, str) else self.pick(self.sdk_samples)
        if kind == "homework":
            return self.homework_copy(arg)
        if kind == "company":
            return self.style(p, self.company_prompt(arg))
        if kind == "agent_dev":
            return self.agent_dev(arg)
        if kind == "stepwise":
            return self.style(p, self.stepwise_student())
        if kind == "teacher":
            return self.teacher_rubric()
        if kind == "eval":
            return self.eval_researcher(arg)
        if kind == "labeler":
            return self.labeler(arg)
        if kind == "seo":
            return self.seo(arg)
        if kind == "fixed":
            fixed: str = arg
            return fixed
        raise KeyError(kind)

    def viral_prompt(self, i: int) -> str:
        s = self.fill(self.viral[i])
        if self.rnd() < 0.15:
            s = s.lower()
        return s

    # homework: a course assignment text, pasted verbatim or with tiny edits
    def homework_text(self, course: str) -> str:
        rnd, q = self.rnd, 1 + int(self.rnd() * 9)
        a, b, c = 1 + int(rnd() * 9), 2 + int(rnd() * 40), 10 + int(rnd() * 90)
        forms = [
            f"Q{q}. A firm has the cost function C(q) = {a}q^2 + {b}q + {c}. If the market price is ${b * 3 + a}, "
            f"find the profit-maximizing output and the resulting profit. Show all work.",
            f"Problem {q}: Write a function that returns the {a + 1}th largest element in an unsorted array "
            f"of n integers without using a built-in sort. Analyze its time complexity.",
            f"{q}) A ball is thrown upward at {b} m/s from a {c} m cliff. How long until it hits the ground? "
            f"(g = 9.8 m/s^2) Give your answer to two decimal places.",
            f"Exercise {q}: Prove by induction that 1 + 3 + 5 + ... + (2n-1) = n^2 for all n >= 1.",
            f"Q{q}: A sample of {c} observations has mean {b}.{a} and standard deviation {a}.{q}. Construct "
            f"a 95% confidence interval for the population mean and interpret it.",
            f"Lab {q}: Calculate the molarity of a solution made by dissolving {a * 5}.{q} g of NaCl in "
            f"{c * 5} mL of water.",
            f"{course} HW{q}: Discuss the role of {self.pick(V['concept'])} in {self.pick(V['history_event'])}. "
            f"Answer in about 500 words and cite two sources.",
            f"Question {q}. Let A be the {a + 1}x{a + 1} matrix with ones on the diagonal and {b} elsewhere. "
            f"Find its eigenvalues.",
            f"Problem set {q}, part (b): Using a truth table, show that (p -> q) is equivalent to (~q -> ~p).",
        ]
        return (
            f"[{course}] " + forms[int(rnd() * len(forms))]
            if rnd() < 0.3
            else forms[int(rnd() * len(forms))]
        )

    def homework_copy(self, text: str) -> str:
        u = self.rnd()
        if u < 0.55:
            return text
        if u < 0.65:
            return text.lower()
        if u < 0.75:
            return (
                self.pick(
                    ["pls solve: ", "help with this: ", "solve step by step: ", "can u do this "]
                )
                + text
            )
        if u < 0.85:
            return text + self.pick(
                [" show steps", " explain please", "\n\nI'm stuck", " (due tonight)"]
            )
        if u < 0.93:
            return text.replace("  ", " ").replace(". ", ".  ", 1)
        return re.sub(r"^(Q\d+\.|Problem \d+:|\d+\)|Exercise \d+:|Question \d+\.)\s*", "", text)

    def company_prompt(self, ctx: tuple[str, str, str]) -> str:
        name, product, industry = ctx
        u = self.rnd()
        p = self.pick
        if u < 0.14:
            return f"Draft a customer email explaining the {product} outage on {p(EXTRA_V['weekday'])}. {self.sentence()}"
        if u < 0.26:
            return f"Write release notes for {product} {1 + int(self.rnd() * 5)}.{int(self.rnd() * 20)}: {self.prose(2, 4)}"
        if u < 0.38:
            return f"Summarize this {name} customer feedback into themes: {self.prose(3, 6)}"
        if u < 0.48:
            return f"Write a job post for a {p(V['job'])} at {name}, a {industry} company."
        if u < 0.58:
            return f"Create a slide outline for our Q{1 + int(self.rnd() * 4)} review of {product}."
        if u < 0.68:
            return (
                f'Rewrite our {product} landing page headline to be punchier: "{self.sentence()}"'
            )
        if u < 0.76:
            return f"SQL to get weekly active users of {product} from an events table with columns {p(CODE_IDENT)}, {p(CODE_IDENT)}, ts"
        return self.fill(self.pick(self.tpl[p(["work", "work", "email", "code", "summarize"])]))

    def stepwise_student(self) -> str:
        a, b, c = 2 + int(self.rnd() * 30), 2 + int(self.rnd() * 30), 2 + int(self.rnd() * 99)
        return self.pick(
            [
                f"can you explain step by step how to solve {a}x + {b} = {c}",
                f"Explain step by step how to find the derivative of x^{a % 6 + 2} * sin(x)",
                f"walk me through this step by step: a train leaves at {a % 12 + 1}pm going {c} km/h...",
                f"Step by step, how do I balance this equation: {self.pick(EQUATIONS)}",
                f"Show me step by step how to convert {c} to binary",
                f"how do i solve {a}/{b} + {b}/{c}? show the steps please",
            ]
        )

    def teacher_rubric(self) -> str:
        return (
            f"Grade this {self.pick(EXTRA_V['grade_level'])} essay out of {self.pick(['5', '10', '20', '100'])} "
            f"using this rubric: {self.pick(EXTRA_V['criteria_edu'])}. Give short feedback for the student.\n\n"
            + self.prose(4, 9)
        )

    def eval_researcher(self, house: tuple[str, str]) -> str:
        crit, fmt = house
        return (
            f"Rate the following model answer on {crit}. {fmt}\n\nQuestion: {self.generic()}\n\n"
            f"Answer: {self.prose(2, 5)}"
        )

    def agent_dev(self, tools: str) -> str:
        g = self.fill(self.pick(AGENT_GOALS_C))
        u = self.rnd()
        if u < 0.35:
            return f"You are an agent with tools [{tools}]. Call the tools to {g}."
        if u < 0.7:
            return f"System: you can call {tools}.\nUser: {g}"
        return f"testing my agent loop - tools: {tools}. task: {g}. respond with the first tool call as json"

    def labeler(self, task: str) -> str:
        return (
            f'{task}\n\n"{self.sentence()} {self.sentence() if self.rnd() < 0.5 else ""}"'.rstrip()
        )

    def seo(self, niche: str) -> str:
        n = self.pick(["800", "1200", "1500", "2000"])
        return self.pick(
            [
                f"Write a {n}-word SEO article about {niche} targeting the keyword '{self.pick(V['product'])} {niche}'.",
                f"Give me 20 long-tail keywords for {niche}.",
                f"Write meta descriptions for 5 blog posts about {niche}.",
                f"Rewrite this product description to rank for '{niche}': {self.prose(2, 3)}",
            ]
        )
