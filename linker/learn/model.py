"""The supervised risk: a regularised model over account and cluster features, the
unsupervised risk among them, fitted on the labelled accounts with its regularisation
chosen by cross-validation inside the run, its probabilities calibrated (isotonic with
many labels, Platt with few) so that a risk of 0.9 means about 9 in 10 such accounts
were confirmed. Two models: gradient-boosted trees held monotone in each feature's
direction (the default) and an L2 logistic regression.

Accounts are flagged at the calibrated risk whose out-of-fold flags on the labelled
accounts reach ``LearnSettings.flag_precision``.

Reasons stay plain: per account, the features whose value moved its score most against
the typical account's, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from linker.learn.calibration import Calibrator, fit_calibrator
from linker.settings.learn import LearnSettings

#: the model's features and how a reason names each (value: the account's raw value).
#: The account's own risk is not one: it is a part of the unsupervised risk, and on its
#: own a model fitted on few labels keys on it beyond the range its benign labels cover
#: (family (c) no-org seed 2, 10% of labels: 25 developers with own risk 0.37-0.45 and
#: no labelled benign account there rose to 0.9999)
FEATURE_TEXT: dict[str, str] = {
    "unsupervised_risk": "its unsupervised risk ({value:.2f})",
    "cluster_risk": "its cluster's risk ({value:.2f})",
    "cluster_size": "its cluster's size (log {value:.1f})",
    "attached": "joining its cluster by a template family alone",
    "proximity_sybil": "closeness to confirmed sybil accounts ({value:.2f})",
    "proximity_benign": "closeness to confirmed benign accounts ({value:.2f})",
    "cluster_sybil_share": "the labels in its cluster ({value:.0%} sybil)",
}
FEATURES = tuple(FEATURE_TEXT)
#: the direction each feature may push the risk (+1 up, -1 down, 0 either). A fitted
#: coefficient of the other sign is an artefact of correlated features (the
#: unsupervised risk already holds the cluster's risk, say); such a feature is dropped
#: and the model refitted, so every reason reads the way its words do
DIRECTION: dict[str, int] = {
    "unsupervised_risk": 1,
    "cluster_risk": 1,
    "cluster_size": 0,
    "attached": 0,
    "proximity_sybil": 1,
    "proximity_benign": -1,
    "cluster_sybil_share": 1,
}


@dataclass
class FittedModel:
    """A calibrated model, the flag threshold it implies and what cross-validation said
    of it."""

    #: the model's scores -> risks, fitted on its out-of-fold scores
    calibrator: Calibrator
    #: the uncalibrated model refitted on every label (its log-odds give the reasons)
    raw: Any
    #: the features the model uses (see DIRECTION)
    features: tuple[str, ...] = FEATURES
    #: per feature, the typical account's value (the reasons' point of comparison)
    reference: dict[str, float] = field(default_factory=dict)
    #: the calibrated risk at which an account is flagged (None: no risk reached the
    #: precision target out of fold; the unsupervised flags stand)
    flag_threshold: float | None = 0.5
    validation: dict[str, Any] = field(default_factory=dict)
    #: LearnSettings.tie_break
    tie_break: float = 0.001

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated risk per row of ``features``. Isotonic calibration is a step
        function, and a step can hold both classes; within a step the model's own score
        tells accounts apart, and the unsupervised risk where the model's score does not
        (trees give whole regions one score): the risk is ``(1 - tie_break) *
        calibrated + tie_break * (sigmoid(score) + unsupervised risk) / 2``, which moves
        no risk by more than ``tie_break``."""
        x = features[list(self.features)]
        score = np.asarray(self.raw.decision_function(x), dtype=float)
        calibrated = self.calibrator.predict(score)
        return _tied(calibrated, score, features, self.tie_break)

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per row and feature, how far the model's log-odds move when the feature takes
        the typical account's value instead of this row's (for the logistic model:
        coefficient x standardised difference)."""
        x = features[list(self.features)]
        base = np.asarray(self.raw.decision_function(x), dtype=float)
        out = np.zeros((len(x), len(self.features)))
        for j, name in enumerate(self.features):
            moved = x.assign(**{name: self.reference[name]})
            out[:, j] = base - np.asarray(self.raw.decision_function(moved), dtype=float)
        return out

    def summary(self) -> dict[str, Any]:
        """Plain data for run.json: the features, the threshold and the validation (and
        the coefficients of the logistic model)."""
        out: dict[str, Any] = {
            "features": list(self.features),
            "dropped": [f for f in FEATURES if f not in self.features],
            "reference": {k: round(v, 4) for k, v in self.reference.items()},
            "flag_threshold": None
            if self.flag_threshold is None
            else round(self.flag_threshold, 6),
            "validation": self.validation,
        }
        if isinstance(self.raw, Pipeline):
            model: LogisticRegression = self.raw.named_steps["logisticregression"]
            coef = model.coef_[0].round(4).tolist()
            out["coefficients"] = dict(zip(self.features, coef, strict=True))
            out["intercept"] = round(float(model.intercept_[0]), 4)
        return out


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the label-weighted gap between the mean predicted
    risk and the confirmed share, over equal-width bins."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        part = which == b
        total += part.sum() * abs(p[part].mean() - y[part].mean())
    return float(total / len(y))


def flag_threshold(y: np.ndarray, oof: np.ndarray, settings: LearnSettings) -> float | None:
    """The lowest calibrated risk at which the out-of-fold flags of the labelled
    accounts are at least ``settings.flag_precision`` precise, and never below
    ``settings.threshold``; None when no risk reaches that precision."""
    order = np.argsort(-oof, kind="stable")
    hits = np.cumsum(y[order]) / np.arange(1, len(y) + 1)
    score = oof[order]
    last = np.r_[score[1:] != score[:-1], True]  # a threshold takes its ties
    ok = np.flatnonzero(last & (hits >= settings.flag_precision))
    if not len(ok):
        return None
    return max(float(score[ok.max()]), settings.threshold)


def fit(features: pd.DataFrame, y: np.ndarray, settings: LearnSettings) -> FittedModel:
    """:func:`_fit` on one OpenMP thread: the trees are small and many, and OpenMP's
    threads spin-wait on a busy machine (measured 10x slower on the 2-core machine)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        return _fit(features, y, settings)


def _fit(features: pd.DataFrame, y: np.ndarray, settings: LearnSettings) -> FittedModel:
    """Fit on the labelled rows ``features`` (``y``: 1 sybil, 0 benign).

    ``settings.model`` (``auto``: boosting with ``boosting_min_labels`` per class):
    ``boosting`` (gradient-boosted trees held monotone in each
    feature's DIRECTION, their leaf count from ``settings.leaf_grid``) or ``logistic``
    (L2 logistic regression, C from ``settings.c_grid``; a feature whose coefficient
    has the wrong sign is dropped and the model refitted), either chosen by stratified
    cross-validation on log loss. The chosen model is calibrated by cross-validation
    (isotonic from ``isotonic_min_labels`` labels, else sigmoid); the validation figures
    and the flag threshold come from out-of-fold calibrated predictions."""
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    names = list(FEATURES)
    kind = settings.model
    if kind == "auto":
        enough = np.bincount(y, minlength=2).min() >= settings.boosting_min_labels
        kind = "boosting" if enough else "logistic"
    while True:
        x = features[names]
        search = _search(x, y, folds, settings, kind)
        if kind != "logistic":
            break
        coef = search.best_estimator_.named_steps["logisticregression"].coef_[0]
        wrong = coef * np.array([DIRECTION[n] for n in names])
        if wrong.min() >= 0 or len(names) == 1:
            break
        names.pop(int(np.argmin(wrong)))
    best = search.best_estimator_
    method = "isotonic" if len(y) >= settings.isotonic_min_labels else "sigmoid"
    # the model refitted on every label, calibrated on its out-of-fold scores
    scores = cross_val_predict(best, x, y, cv=folds, method="decision_function")
    calibrator = fit_calibrator(scores, y, method, settings.calibration_prior)
    oof = _out_of_fold(scores, y, folds, method, settings, features)
    prob_true, prob_pred = calibration_curve(y, oof, n_bins=10, strategy="quantile")
    threshold = flag_threshold(y, oof, settings)
    flags = oof >= (threshold if threshold is not None else np.inf)
    validation = {
        "n_labels": len(y),
        "n_sybil": int(y.sum()),
        "n_benign": int(len(y) - y.sum()),
        "model": kind,
        "chosen": {k: float(v) for k, v in search.best_params_.items()},
        "calibration": method,
        "folds": settings.folds,
        "average_precision": round(float(average_precision_score(y, oof)), 4),
        "roc_auc": round(float(roc_auc_score(y, oof)), 4),
        "brier": round(float(brier_score_loss(y, oof)), 4),
        "calibration_error": round(calibration_error(y, oof), 4),
        "flag_precision": round(float(y[flags].mean()), 4) if flags.any() else None,
        "flag_recall": round(float(flags[y == 1].mean()), 4),
        "calibration_curve": {
            "predicted": prob_pred.round(4).tolist(),
            "observed": prob_true.round(4).tolist(),
        },
    }
    reference = {n: float(features[n].median()) for n in names}
    return FittedModel(
        calibrator, best, tuple(names), reference, threshold, validation, settings.tie_break
    )


def _out_of_fold(
    scores: np.ndarray,
    y: np.ndarray,
    folds: StratifiedKFold,
    method: str,
    settings: LearnSettings,
    features: pd.DataFrame,
) -> np.ndarray:
    """Calibrated risk of every labelled row (``features``) from models and calibrators
    that never saw it: ``scores`` are out of fold, and each fold's are calibrated on the
    other folds', with the tie-break of :meth:`FittedModel.predict` (so the flag
    threshold can fall inside a step of the calibration)."""
    out = np.zeros(len(y))
    for train, test in folds.split(scores[:, None], y):
        calibrator = fit_calibrator(scores[train], y[train], method, settings.calibration_prior)
        out[test] = calibrator.predict(scores[test])
    return _tied(out, scores, features, settings.tie_break)


def _tied(
    calibrated: np.ndarray, score: np.ndarray, features: pd.DataFrame, tie: float
) -> np.ndarray:
    """The tie-break of :meth:`FittedModel.predict`. Without it, with a tenth of the
    labels on family (b) seed 2, the trees put 43 hidden hydra accounts in the bottom
    step with thousands of benign ones, one score for all (hidden AP 0.995 label-free,
    0.985 learned)."""
    order = expit(score)
    if "unsupervised_risk" in features:
        order = (order + features["unsupervised_risk"].to_numpy(float).clip(0, 1)) / 2
    out: np.ndarray = (1 - tie) * calibrated + tie * order
    return out


def _search(
    x: pd.DataFrame, y: np.ndarray, folds: StratifiedKFold, settings: LearnSettings, kind: str
) -> GridSearchCV:
    """The model ``kind`` (boosting or logistic) with the regularisation that
    cross-validates best on log loss, refitted on all of ``x``."""
    if kind == "logistic":
        base: Any = make_pipeline(
            StandardScaler(), LogisticRegression(solver="newton-cholesky", max_iter=200)
        )
        grid: dict[str, list[float]] = {"logisticregression__C": list(settings.c_grid)}
    else:
        base = HistGradientBoostingClassifier(
            monotonic_cst=[DIRECTION[n] for n in x.columns],
            l2_regularization=settings.boosting_l2,
            max_iter=settings.boosting_max_iter,
            # early stopping holds out a tenth of each fold: only with labels to spare
            early_stopping=bool(np.bincount(y, minlength=2).min() >= settings.boosting_min_labels),
            n_iter_no_change=10,
            random_state=settings.seed,
        )
        grid = {"max_leaf_nodes": [int(n) for n in settings.leaf_grid]}
    search = GridSearchCV(base, grid, scoring="neg_log_loss", cv=folds)
    return search.fit(x, y)


def reasons(model: FittedModel, features: pd.DataFrame, paths: list[str], top: int) -> list[str]:
    """Per row, the ``top`` features that moved its score most, in words ("closeness to
    confirmed sybil accounts (0.93: shares card ***1234 with 3 confirmed sybil
    accounts) raised it")."""
    contrib = model.contributions(features)
    order = np.argsort(-np.abs(contrib), axis=1)[:, :top]
    values = features[list(model.features)].to_numpy(float)
    out = []
    for row, cols in enumerate(order):
        parts = []
        for col in cols:
            amount = contrib[row, col]
            if abs(amount) < 0.05:
                continue
            name = model.features[col]
            text = FEATURE_TEXT[name].format(value=values[row, col])
            if name == "proximity_sybil" and paths[row]:
                text = text[:-1] + f": {paths[row]})"
            parts.append(f"{text} {'raised' if amount > 0 else 'lowered'} it")
        out.append("; ".join(parts))
    return out
