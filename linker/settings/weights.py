"""The unsupervised risk model's default weights and the range checks of settings (kept
apart so that ``linker/settings/__init__.py`` stays within the module line budget)."""

from __future__ import annotations

from linker.errors import LinkerError


def _default_weights() -> dict[str, float]:
    return {
        "bias": -3.2,
        "hosting_share": 1.8,
        # instruments by what they share, not by name: the kind with the most members on
        # a shared value, the next kind, and the two together
        "reuse_top": 1.2,
        "reuse_second": 0.9,
        "reuse_pair": 1.5,
        # an account's own: values of one instrument kind far above the population's
        "instrument_excess": 6.0,
        "burst_2h": 1.4,
        "size_log": 0.4,
        "template_share": 2.0,
        "template_intent": 3.0,
        "intent_share": 2.2,
        "sync_share": 0.8,
        "org_share": -2.5,
        "benign_infra_share": -1.6,
        "prompt_diversity": -1.2,
    }


def check_range(name: str, value: float, low: float, high: float, open_low: bool = False) -> None:
    """Raise :class:`LinkerError` naming the setting unless ``low <= value <= high``
    (``low < value`` when ``open_low``)."""
    if value < low or value > high or (open_low and value == low):
        bound = "(" if open_low else "["
        raise LinkerError(f"{name} must be in {bound}{low:g}, {high:g}], not {value!r}")
