# ruff: noqa: E501
"""Problem bodies of the reasoning families (``cot``, ``critique``): one generator per
domain, each a function of the text generator's random state and a subject."""

from __future__ import annotations

from collections.abc import Callable

from .core import TextCore


def _p_math(g: TextCore, subj: str) -> str:
    rnd = g.rnd
    a, b, c = 2 + int(rnd() * 60), 2 + int(rnd() * 60), 2 + int(rnd() * 500)
    return g.pick(
        [
            f"A tank fills at {a} L/min and drains at {b % a + 1} L/min. Starting with {c} L, when does it hold {c * 3} L?",
            f"Find all integers n with 1 <= n <= {c} such that n^2 + {a} is divisible by {b % 11 + 2}.",
            f"If f(x) = {a}x^3 - {b}x + {c}, find the local extrema and classify them.",
            f"How many ways can {a % 9 + 3} people sit around a round table if two of them refuse to sit together?",
            f"A shop discounts a ${c} item by {a % 40 + 5}% and then adds {b % 15 + 5}% tax. What is the final price?",
            f"Solve the system {a}x + {b}y = {c}, {b}x - {a}y = {a + b}.",
        ]
    )


def _p_prob(g: TextCore, subj: str) -> str:
    rnd = g.rnd
    a, b = 2 + int(rnd() * 9), 2 + int(rnd() * 30)
    return g.pick(
        [
            f"Two dice are rolled {a} times. What is the probability that a double six appears at least once?",
            f"A test is {90 + a}% sensitive and {80 + a}% specific for a condition with {b / 10:.1f}% prevalence. "
            f"Given a positive test, what is the probability of having the condition?",
            f"You draw {a} cards from a standard deck without replacement. What is the probability that all are hearts?",
            f"A random walk starts at 0 and moves +1 or -1 with equal probability. What is the chance it reaches {a} before -{b % 7 + 1}?",
        ]
    )


def _p_logic(g: TextCore, subj: str) -> str:
    names = g.r.sample(["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hiro", "Ines"], 4)
    return g.pick(
        [
            f"{names[0]} says {names[1]} is lying. {names[1]} says {names[2]} is lying. {names[2]} says both "
            f"{names[0]} and {names[1]} are lying. Who tells the truth?",
            f"{names[0]}, {names[1]}, {names[2]} and {names[3]} finished a race. {names[0]} was not last, "
            f"{names[1]} beat {names[2]}, and {names[3]} finished right after {names[0]}. What was the order?",
            f"In a village, every barber shaves exactly those who do not shave themselves. {names[0]} is a barber. "
            f"Does {names[0]} shave themself? Explain the paradox.",
        ]
    )


def _p_code(g: TextCore, subj: str) -> str:
    rnd = g.rnd
    n = 10 ** (3 + int(rnd() * 4))
    return g.pick(
        [
            f"Given an array of up to {n} integers, find the length of the longest subarray with sum exactly k.",
            f"Design an algorithm to detect a cycle in a directed graph with {n} nodes and analyse its complexity.",
            f"Write a function that merges overlapping intervals; inputs can have up to {n} intervals.",
            f"Implement an LRU cache with O(1) get and put; capacity up to {n}.",
            f"Given a string of length {n}, count distinct palindromic substrings efficiently.",
        ]
    )


def _p_science(g: TextCore, subj: str) -> str:
    rnd = g.rnd
    a, b = 2 + int(rnd() * 90), 2 + int(rnd() * 90)
    return g.pick(
        [
            f"A {a} kg block slides down a {b % 60 + 10} degree incline with friction coefficient 0.{b % 9 + 1}. Find its acceleration.",
            f"How much energy is needed to heat {a} g of ice at -{b % 30} C to steam at 100 C?",
            f"A gas at {a} kPa and {b + 250} K is compressed to half its volume adiabatically. What is the final temperature?",
            f"Estimate the number of piano tuners in a city of {a * 50000} people.",
        ]
    )


def _p_subject(g: TextCore, subj: str) -> str:
    return g.pick(
        [
            f"What is the most common misconception about {subj}, and why is it wrong?",
            f"Derive the key result in {subj} from first principles.",
            f"Pose a hard exam problem in {subj} of your choice, then solve it.",
            f"Why does the standard approach in {subj} fail on edge cases?",
        ]
    )


PROBLEMS: dict[str, Callable[[TextCore, str], str]] = {
    "math": _p_math,
    "probability": _p_prob,
    "logic": _p_logic,
    "algorithms": _p_code,
    "science": _p_science,
    "subject": _p_subject,
}
