"""The supervised risk: a regularised logistic regression over account and cluster
features, the unsupervised risk among them, fitted on the labelled accounts with the
regularisation chosen by cross-validation inside the run, its probabilities calibrated
(isotonic with many labels, Platt with few) so that a risk of 0.9 means about 9 in 10
such accounts were confirmed.

Reasons stay plain: per account, the features whose standardised value times the
model's coefficient moved its score most, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from linker.settings.learn import LearnSettings

#: the model's features and how a reason names each (value: the account's raw value)
FEATURE_TEXT: dict[str, str] = {
    "unsupervised_risk": "its unsupervised risk ({value:.2f})",
    "own_risk": "its own signals (own risk {value:.2f})",
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
    "own_risk": 1,
    "cluster_risk": 1,
    "cluster_size": 0,
    "attached": 0,
    "proximity_sybil": 1,
    "proximity_benign": -1,
    "cluster_sybil_share": 1,
}


@dataclass
class FittedModel:
    """A calibrated model and what cross-validation said of it."""

    calibrated: CalibratedClassifierCV
    #: the uncalibrated model refitted on every label, for the reasons
    linear: Pipeline
    #: the features the model kept (see DIRECTION)
    features: tuple[str, ...] = FEATURES
    validation: dict[str, Any] = field(default_factory=dict)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated risk per row of ``features``."""
        return np.asarray(self.calibrated.predict_proba(features[list(self.features)])[:, 1])

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per row and kept feature, coefficient x standardised value (log-odds moved)."""
        scaler: StandardScaler = self.linear.named_steps["standardscaler"]
        coef = np.asarray(self.linear.named_steps["logisticregression"].coef_[0], dtype=float)
        standard = np.asarray(scaler.transform(features[list(self.features)]), dtype=float)
        out: np.ndarray = standard * coef
        return out

    def summary(self) -> dict[str, Any]:
        """Plain data for run.json: coefficients per feature and the validation."""
        scaler: StandardScaler = self.linear.named_steps["standardscaler"]
        model: LogisticRegression = self.linear.named_steps["logisticregression"]
        names = self.features
        return {
            "features": list(names),
            "dropped": [f for f in FEATURES if f not in names],
            "coefficients": dict(zip(names, model.coef_[0].round(4).tolist(), strict=True)),
            "intercept": round(float(model.intercept_[0]), 4),
            "feature_mean": dict(zip(names, scaler.mean_.round(4).tolist(), strict=True)),
            "feature_scale": dict(zip(names, scaler.scale_.round(4).tolist(), strict=True)),
            "validation": self.validation,
        }


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the label-weighted gap between the mean predicted
    risk and the confirmed share, over equal-width bins."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        part = which == b
        total += part.sum() * abs(p[part].mean() - y[part].mean())
    return float(total / len(y))


def fit(features: pd.DataFrame, y: np.ndarray, settings: LearnSettings) -> FittedModel:
    """Fit on the labelled rows ``features`` (``y``: 1 sybil, 0 benign). The inverse
    regularisation strength is chosen from ``settings.c_grid`` by stratified
    cross-validation on log loss; the chosen model is calibrated by cross-validation
    (isotonic from ``isotonic_min_labels`` labels, else sigmoid); the validation
    figures come from out-of-fold calibrated predictions."""
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    names = list(FEATURES)
    while True:
        x = features[names]
        search = _search(x, y, folds, settings)
        linear: Pipeline = search.best_estimator_
        coef = linear.named_steps["logisticregression"].coef_[0]
        wrong = coef * np.array([DIRECTION[n] for n in names])
        if wrong.min() >= 0 or len(names) == 1:
            break
        names.pop(int(np.argmin(wrong)))
    method = "isotonic" if len(y) >= settings.isotonic_min_labels else "sigmoid"
    calibrated = CalibratedClassifierCV(linear, method=method, cv=folds)
    oof = cross_val_predict(
        CalibratedClassifierCV(linear, method=method, cv=settings.folds),
        x,
        y,
        cv=folds,
        method="predict_proba",
    )[:, 1]
    calibrated.fit(x, y)
    prob_true, prob_pred = calibration_curve(y, oof, n_bins=10, strategy="quantile")
    validation = {
        "n_labels": len(y),
        "n_sybil": int(y.sum()),
        "n_benign": int(len(y) - y.sum()),
        "c": float(search.best_params_["logisticregression__C"]),
        "calibration": method,
        "folds": settings.folds,
        "average_precision": round(float(average_precision_score(y, oof)), 4),
        "roc_auc": round(float(roc_auc_score(y, oof)), 4),
        "brier": round(float(brier_score_loss(y, oof)), 4),
        "calibration_error": round(calibration_error(y, oof), 4),
        "calibration_curve": {
            "predicted": prob_pred.round(4).tolist(),
            "observed": prob_true.round(4).tolist(),
        },
    }
    return FittedModel(calibrated, linear, tuple(names), validation)


def _search(
    x: pd.DataFrame, y: np.ndarray, folds: StratifiedKFold, settings: LearnSettings
) -> GridSearchCV:
    """The L2 logistic regression with the C of ``settings.c_grid`` that cross-validates
    best on log loss, refitted on all of ``x``."""
    base = make_pipeline(
        StandardScaler(), LogisticRegression(solver="newton-cholesky", max_iter=200)
    )
    search = GridSearchCV(
        base, {"logisticregression__C": list(settings.c_grid)}, scoring="neg_log_loss", cv=folds
    )
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
