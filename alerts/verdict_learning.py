"""`gridwatch learn`: train each category's verdict filter on the stored verdicts and put it in use only when it
does at least as well as the one in use.

Per category: the newest ``learning.max_verdicts`` verdicts, ``holdout_fraction`` of each kind held apart; a
filter is trained on the rest (``vision.verdict_filter``) and both it and the filter in use score the held-apart
verdicts. The new one is refused when its log loss there is worse (a clear message; the one in use stays).
A category without enough verdicts of both kinds is refused too, and nothing of it is replaced.
"""
from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from alerts import filters, verdicts
from alerts.models import utc_now
from gridwatch.settings import LearningSettings
from vision.verdict_filter import Quality, TrainingError, check_labels, quality, split, train

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# The whole run's progress for a page's bar: the category being learnt and the share of the run done (0..1).
Overall = Callable[[str, float], None]


@dataclass(frozen=True)
class Outcome:
    """What became of one category: ``filter_id`` when its new filter is now in use, else ``refused`` says why."""

    category: str
    verdicts: int
    filter_id: int | None = None
    confirmed: int = 0  # of ``verdicts``: what a refusal for too few verdicts is about
    rejected: int = 0
    in_use_id: int | None = None  # the filter in use it was judged against
    refused: str | None = None
    new: Quality | None = None
    in_use: Quality | None = None  # the filter it replaced (or beat), on the same held-apart verdicts
    seconds: float = 0.0
    peak_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def learn_category(engine: Engine, category: str, settings: LearningSettings,
                   progress: Progress | None = None) -> Outcome:
    rows = verdicts.load(engine, category, limit=settings.max_verdicts)
    labels = [v.real for v in rows]
    confirmed = sum(labels)

    def outcome(**what: Any) -> Outcome:  # every outcome says how many verdicts of each kind it had
        return Outcome(category, len(rows), confirmed=confirmed, rejected=len(labels) - confirmed, **what)

    try:
        check_labels(category, labels, settings.min_per_class)
    except TrainingError as exc:
        return outcome(refused=str(exc))
    started = time.perf_counter()
    tracemalloc.start()
    try:
        train_idx, held = split(labels, settings.holdout_fraction)
        model = train(category, [rows[i].features for i in train_idx], [labels[i] for i in train_idx], progress)
        held_rows = [rows[i].features for i in held]
        held_labels = [labels[i] for i in held]
        new = quality(model.predict(held_rows), held_labels, settings.review_threshold)
        current = filters.active(engine).get(category)
        old = None if current is None else quality(current.model.predict(held_rows), held_labels,
                                                   settings.review_threshold)
        peak = tracemalloc.get_traced_memory()[1]
    except TrainingError as exc:
        return outcome(refused=str(exc))
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    if old is not None and new.log_loss > old.log_loss:
        assert current is not None
        return outcome(refused=(
            f"category {category}: the new filter does worse on its {len(held)} held-apart verdicts than filter "
            f"#{current.id} in use (log loss {new.log_loss:.4f} > {old.log_loss:.4f}); the one in use stays"),
            new=new, in_use=old, seconds=seconds, peak_bytes=peak, in_use_id=current.id)
    metrics = {"held_apart": new.as_dict(), "in_use": None if old is None else old.as_dict(),
               "threshold": settings.review_threshold, "seconds": round(seconds, 3)}
    fid = filters.store(engine, model, len(train_idx), len(held), metrics, utc_now())
    log.info("verdict filter #%d of category %s in use (%d verdicts)", fid, category, len(rows))
    return outcome(filter_id=fid, new=new, in_use=old, seconds=seconds, peak_bytes=peak,
                   in_use_id=None if current is None else current.id)


def learn(engine: Engine, settings: LearningSettings, category: str | None = None,
          progress: Callable[[str], Progress] | None = None, overall: Overall | None = None) -> list[Outcome]:
    """Every category with verdicts (or just ``category``); ``progress(category)`` gives a bar per category,
    ``overall`` one bar for the whole run (each category an equal share, its training folds within it)."""
    cats = [category] if category is not None else verdicts.categories(engine)
    if not cats:
        return [Outcome(category or "*", 0, refused="no verdicts yet: confirm or reject alerts on the desk first")]
    outcomes = []
    for i, c in enumerate(cats):
        outcomes.append(learn_category(engine, c, settings, _both(c, i, len(cats), progress, overall)))
        if overall is not None:
            overall(c, (i + 1) / len(cats))
    return outcomes


def _both(category: str, index: int, count: int, progress: Callable[[str], Progress] | None,
          overall: Overall | None) -> Progress | None:
    """The category's own bar and its share of the run's bar, fed by one training progress."""
    own = progress(category) if progress else None
    if overall is None:
        return own
    overall(category, index / count)

    def step(done: int, total: int) -> None:
        if own is not None:
            own(done, total)
        overall(category, (index + (done / total if total else 1.0)) / count)

    return step
