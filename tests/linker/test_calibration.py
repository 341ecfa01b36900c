"""The calibrator of the supervised model (linker/learn/calibration.py): isotonic steps
of few labels shrink toward the Platt curve; steps of many barely move; the result
stays a monotone risk in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from linker.errors import LinkerError
from linker.learn.calibration import fit_calibrator
from linker.settings.learn import LearnSettings


def _three_steps() -> tuple[np.ndarray, np.ndarray]:
    """400 benign at low scores, a step of four labels (three sybil) at one score in the
    middle, 400 sybil at high scores."""
    scores = np.r_[np.linspace(-5, -1, 400), np.zeros(4), np.linspace(1, 5, 400)]
    y = np.r_[np.zeros(400), [1, 0, 1, 1], np.ones(400)].astype(int)
    return scores, y


def test_a_step_of_few_labels_is_shrunk_toward_the_curve() -> None:
    scores, y = _three_steps()
    plain = fit_calibrator(scores, y, "isotonic", prior=0.0).predict(np.array([0.0]))
    shrunk = fit_calibrator(scores, y, "isotonic", prior=2.0).predict(np.array([0.0]))
    curve = LogisticRegression().fit(scores[:, None], y).predict_proba([[0.0]])[0, 1]
    assert plain[0] == pytest.approx(0.75)
    assert shrunk[0] == pytest.approx((3 + 2 * curve) / (4 + 2))
    assert shrunk[0] < 0.75  # no longer three to one


def test_steps_of_many_labels_barely_move() -> None:
    scores, y = _three_steps()
    calibrator = fit_calibrator(scores, y, "isotonic", prior=2.0)
    low, high = calibrator.predict(np.array([-3.0, 3.0]))
    assert low < 0.005 and high > 0.995


def test_no_prior_is_plain_isotonic_regression() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * scores))).astype(int)
    ours = fit_calibrator(scores, y, "isotonic", prior=0.0).predict(scores)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, y)
    assert np.array_equal(ours, iso.predict(scores))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-20, 20), st.booleans()), min_size=4, max_size=80).filter(
        lambda rows: 0 < sum(b for _, b in rows) < len(rows)
    ),
    st.floats(0.0, 10.0),
)
def test_the_shrunk_calibration_is_a_monotone_risk(
    rows: list[tuple[int, bool]], prior: float
) -> None:
    """Shrinking can make a small high step fall below a large lower one; the steps are
    made monotone again, so a higher score never gets a lower risk."""
    scores = np.array([s / 4 for s, _ in rows])
    y = np.array([int(b) for _, b in rows])
    risk = fit_calibrator(scores, y, "isotonic", prior).predict(np.linspace(-6, 6, 97))
    assert (np.diff(risk) >= -1e-12).all()
    assert ((risk >= 0) & (risk <= 1)).all()


def test_a_lone_label_at_the_top_stays_high() -> None:
    """The prior is the curve, not the labelled sybil share: one sybil label above every
    other score, above a step at 0.8, stays near 1 (shrunk toward the share it would
    fall to about 0.4 and pool with the step below)."""
    scores = np.r_[np.linspace(-5, 0, 900), np.full(90, 2.0), [8.0]]
    y = np.r_[np.zeros(900), np.ones(72), np.zeros(18), [1]].astype(int)
    risk = fit_calibrator(scores, y, "isotonic", prior=2.0).predict(np.array([8.0]))
    assert risk[0] > 0.95


def test_platt_calibration_rises_with_the_score() -> None:
    scores, y = _three_steps()
    risk = fit_calibrator(scores, y, "sigmoid", prior=2.0).predict(np.array([-3.0, 0.0, 3.0]))
    assert risk[0] < 0.1 < risk[1] < 0.9 < risk[2]


def test_a_negative_prior_is_refused() -> None:
    with pytest.raises(LinkerError, match="calibration_prior"):
        LearnSettings(calibration_prior=-1.0)
