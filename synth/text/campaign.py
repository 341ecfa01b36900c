"""Distillation-campaign prompt generators: a campaign's *house* (its fixed choices for
one template family) and its prompts in the four modes (fixed, topics, limited,
paraphrase)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..vocab import CODE_FUNC, CODE_IDENT
from .core import TextCore
from .pools import (
    AGENT_GOALS_C,
    AGENT_TOOLS,
    CODE_TASKS_C,
    CRITERIA,
    FAMILIES,
    FILLER_PREFIX,
    FILLER_SUFFIX,
    QA_KEYS,
    REPO_NAMES,
    SENSITIVE,
    SYN_IN,
    SYN_RX,
    SYNONYMS,
    TOPIC_ASPECTS,
    TOPIC_SUBJECTS,
)
from .problems import PROBLEMS


@dataclass
class House:
    """A campaign's fixed choices for one template family (survive paraphrasing)."""

    family: str
    phr: dict[str, int]
    alt2: dict[str, tuple[int, int]]
    anchors: dict[str, str]
    pool: list[dict[str, str]]
    topics: list[tuple[str, str]]


class CampaignText(TextCore):
    """Generators of campaign prompts."""

    def make_house(self, family: str, n_pool: int = 12) -> House:
        r, rnd, p = self.r, self.rnd, self.pick
        fam = FAMILIES[family]
        phr = {k: int(rnd() * len(v)) for k, v, _ in fam.clauses}
        alt2 = {k: (int(rnd() * len(v)), int(rnd() * len(v))) for k, v, _ in fam.clauses}
        anchors = {
            "format": p(fam.formats),
            "criteria": ", ".join(r.sample(CRITERIA, 2 + int(rnd() * 3))),
            "scale": p(["1-10", "1-5", "0-100", "1-7"]),
            "tools": ", ".join(r.sample(AGENT_TOOLS, 3 + int(rnd() * 4))),
            "sensitive": p(SENSITIVE),
            "keys": p(QA_KEYS),
            "k": p(["5", "8", "10", "3", "20"]),
            "repo": p(REPO_NAMES),
            "ptype": p(["problem", "question", "puzzle", "exercise"]),
            "verb": p(["solve", "answer", "work out", "arrive at the answer to"]),
            "domain": p(list(PROBLEMS)),
        }
        subjects = r.sample(TOPIC_SUBJECTS, 10 + int(rnd() * 20))
        topics = [(s, a) for s in subjects for a in TOPIC_ASPECTS]
        h = House(family=family, phr=phr, alt2=alt2, anchors=anchors, pool=[], topics=topics)
        h.pool = [self._body(h, i) for i in range(n_pool)]
        return h

    def _body(self, h: House, k: int) -> dict[str, str]:
        a = h.anchors
        f = h.family
        subj, asp = h.topics[k % len(h.topics)]
        if f == "cot" or f == "critique":
            return {"problem": PROBLEMS[a["domain"]](self, subj)}
        if f == "rubric":
            return {"q": self.generic(), "resp": self.prose(2, 6)}
        if f == "pairwise":
            return {"q": self.generic(), "resp": self.prose(2, 4), "resp2": self.prose(2, 4)}
        if f == "rewrite":
            return {
                "resp": f"{self.sentence()} Regarding {a['sensitive']}, {self.sentence().lower()} {self.prose(1, 3)}"  # noqa: E501
            }
        if f == "agent_tools":
            return {"goal": self.fill(self.pick(AGENT_GOALS_C))}
        if f == "agent_code":
            files = ", ".join(
                f"{self.pick(CODE_IDENT)}/{self.pick(CODE_FUNC)}.py" for _ in range(3)
            )
            return {"task": self.fill(self.pick(CODE_TASKS_C)), "files": files}
        if f == "synth_qa":
            return {"topic": f"{subj} ({asp})"}
        raise KeyError(f)

    def campaign_prompt(self, h: House, mode: str, k: int, acct_alt: int = 0) -> str:
        """One campaign prompt.

        mode: ``fixed`` (one phrasing, body from a small pool: near-duplicates),
        ``topics`` (one phrasing, body walks the topic space by ``k``),
        ``limited`` (two phrasings per clause, fresh bodies), ``paraphrase`` (free
        re-wording that keeps only the skeleton and the anchors).
        """
        rnd = self.rnd
        fam = FAMILIES[h.family]
        a = h.anchors
        if mode == "fixed":
            body = dict(h.pool[int(rnd() * len(h.pool))])
            if "problem" in body and rnd() < 0.5:
                body["problem"] = re.sub(
                    r"\d+", lambda m: str(int(m.group()) + int(rnd() * 3)), body["problem"], count=1
                )
        elif mode == "topics":
            body = self._body(h, k)
            if h.family in ("cot", "critique"):
                subj, asp = h.topics[k % len(h.topics)]
                body["problem"] = f"Topic: {subj}, {asp}. " + body["problem"]
            elif h.family in ("rubric", "pairwise"):
                subj, asp = h.topics[k % len(h.topics)]
                body["q"] = f"Explain {asp} in {subj}."
        else:
            body = self._body(h, int(rnd() * 100000))
        vals = {**a, **body}
        parts: list[str] = []
        movable: list[str] = []
        for key, alts, mov in fam.clauses:
            if mode in ("fixed", "topics"):
                s = alts[h.phr[key]]
            elif mode == "limited":
                s = alts[h.alt2[key][acct_alt & 1]]
            else:
                if mov and rnd() < 0.2:
                    continue
                s = alts[int(rnd() * len(alts))]
                s = self._synonyms(s)
            (movable if (mov and mode == "paraphrase") else parts).append(s)
        if movable:
            self.r.shuffle(movable)
            parts.extend(movable)
        parts.append(a["format"])
        instr = " ".join(parts).format(**vals)
        text = fam.body_tpl.format(**vals)
        if mode == "paraphrase":
            out = text + "\n\n" + instr if rnd() < 0.3 else instr + "\n\n" + text
            if rnd() < 0.45:
                out = self.pick(FILLER_PREFIX) + " " + out
            if rnd() < 0.35:
                out = out + " " + self.pick(FILLER_SUFFIX)
            if rnd() < 0.1:
                out = out[0].lower() + out[1:]
            return out
        if mode == "limited" and rnd() < 0.2:
            return self.pick(FILLER_PREFIX) + " " + instr + "\n\n" + text
        return instr + "\n\n" + text

    def _synonyms(self, s: str) -> str:
        rnd = self.rnd
        for key in SYN_IN.get(s, ()):
            if rnd() < 0.5:
                s = SYN_RX[key].sub(self.pick(SYNONYMS[key]).replace("\\", "\\\\"), s, count=1)
        return s
