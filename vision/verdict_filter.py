"""The verdict filter: a small calibrated model per category that scores how likely an alert is real.

Trained on operators' verdicts (confirmed = real, rejected as a false alarm = not) over the rule's features
(``vision.evidence``): standardised features -> logistic regression, calibrated with Platt's sigmoid on
cross-validation folds (scikit-learn's ``CalibratedClassifierCV``), so a score of 0.2 means about one in five
such alerts was real. Why this model: a city's verdict set is small (hundreds per category at first) and its
features are few, monotone numbers, where a linear model is hard to overfit, trains in well under a second on
5,000 rows, and is a handful of numbers: it is stored as JSON (never a pickle, which would run code on load)
and scored with numpy alone, so workers do not import scikit-learn. Pure: no I/O, no database.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Progress = Callable[[int, int], None]
FORMAT = 1


class TrainingError(ValueError):
    """The verdicts cannot train a filter (none, or only one kind); the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Member:
    """One calibrated fold: standardise, linear score, sigmoid calibration ``1 / (1 + exp(a * f + b))``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class VerdictModel:
    category: str
    features: tuple[str, ...]
    members: tuple[Member, ...]

    def predict(self, rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float64]:
        """P(real) per row; a feature a row lacks counts as 0."""
        return self.predict_matrix(matrix(rows, self.features))

    def predict_matrix(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.zeros(len(x), dtype=np.float64)
        for m in self.members:
            f = ((x - np.asarray(m.mean)) / np.asarray(m.scale)) @ np.asarray(m.coef) + m.intercept
            out += 1.0 / (1.0 + np.exp(np.clip(m.a * f + m.b, -500, 500)))
        return out / max(1, len(self.members))

    def score(self, features: Mapping[str, float]) -> float:
        return float(self.predict([features])[0])

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "category": self.category, "features": list(self.features),
                           "members": [{"mean": m.mean, "scale": m.scale, "coef": m.coef, "intercept": m.intercept,
                                        "a": m.a, "b": m.b} for m in self.members]})

    @classmethod
    def from_json(cls, text: str) -> VerdictModel:
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise ValueError(f"verdict filter format {d.get('format')!r} is not {FORMAT}")
        members = tuple(Member(tuple(m["mean"]), tuple(m["scale"]), tuple(m["coef"]), float(m["intercept"]),
                               float(m["a"]), float(m["b"])) for m in d["members"])
        return cls(str(d["category"]), tuple(d["features"]), members)


def matrix(rows: Sequence[Mapping[str, float]], features: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.array([[float(r.get(name, 0.0)) for name in features] for r in rows], dtype=np.float64).reshape(
        len(rows), len(features))


def check_labels(category: str, labels: Sequence[bool], min_per_class: int) -> None:
    """TrainingError unless there are at least ``min_per_class`` confirmed and rejected verdicts."""
    real = sum(1 for v in labels if v)
    false = len(labels) - real
    if not labels:
        raise TrainingError(f"category {category}: no verdicts yet; confirm or reject its alerts on the desk first")
    if real < min_per_class or false < min_per_class:
        raise TrainingError(
            f"category {category}: {real} confirmed and {false} rejected verdicts; a filter needs at least "
            f"{min_per_class} of each (learning.min_per_class)"
        )


def train(category: str, rows: Sequence[Mapping[str, float]], labels: Sequence[bool],
          progress: Progress | None = None) -> VerdictModel:
    """A calibrated filter from verdicts (``labels``: True = confirmed real)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels, dtype=bool)
    fewest = int(min(y.sum(), (~y).sum()))
    if fewest < 2:
        raise TrainingError(f"category {category}: verdicts of both kinds are needed (at least 2 of each)")
    features = tuple(sorted({k for r in rows for k in r}))
    x = matrix(rows, features)
    folds = min(3, fewest)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model = CalibratedClassifierCV(pipe, method="sigmoid", cv=folds)
    if progress:
        progress(0, folds)
    model.fit(x, y)
    members = []
    for done, cc in enumerate(model.calibrated_classifiers_, start=1):
        scaler, lr = cc.estimator[0], cc.estimator[-1]
        cal = cc.calibrators[0]
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        members.append(Member(tuple(map(float, scaler.mean_)), tuple(map(float, scale)),
                              tuple(map(float, lr.coef_[0])), float(lr.intercept_[0]), float(cal.a_),
                              float(cal.b_)))
        if progress:
            progress(done, folds)
    return VerdictModel(category, features, tuple(members))


@dataclass(frozen=True, slots=True)
class Quality:
    """A filter on verdicts it did not learn from: what operators would notice at ``threshold``."""

    verdicts: int
    log_loss: float
    false_alarms: int
    false_off_wall: int  # rejected verdicts the filter would have sent to the low lane
    true_alerts: int
    true_moved: int  # confirmed verdicts the filter would have sent to the low lane

    @property
    def false_off_rate(self) -> float:
        return self.false_off_wall / self.false_alarms if self.false_alarms else 0.0

    @property
    def true_moved_rate(self) -> float:
        return self.true_moved / self.true_alerts if self.true_alerts else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"verdicts": self.verdicts, "log_loss": round(self.log_loss, 5), "false_alarms": self.false_alarms,
                "false_off_wall": self.false_off_wall, "true_alerts": self.true_alerts,
                "true_moved": self.true_moved}


def quality(scores: npt.NDArray[np.float64], labels: Sequence[bool], threshold: float) -> Quality:
    y = np.asarray(labels, dtype=bool)
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    loss = float(-np.mean(np.where(y, np.log(p), np.log(1 - p)))) if len(y) else 0.0
    low = scores < threshold
    return Quality(len(y), loss, int((~y).sum()), int((low & ~y).sum()), int(y.sum()), int((low & y).sum()))


def split(labels: Sequence[bool], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """(train, held apart) indices: ``fraction`` of each kind held apart, at least one of each."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels, dtype=bool)
    train_idx: list[int] = []
    held: list[int] = []
    for kind in (True, False):
        idx = np.flatnonzero(y == kind)
        rng.shuffle(idx)
        n = max(1, round(len(idx) * fraction))
        held += idx[:n].tolist()
        train_idx += idx[n:].tolist()
    return sorted(train_idx), sorted(held)
