"""``gridwatch learn`` as an admin runs it, beside a running worker's sink: a progress bar, the filter's figures on
verdicts it did not learn from, the worker scoring with it within seconds; bad verdict sets refused (real SQLite
file, real Redis, the real command in a subprocess)."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from alerts import filters
from alerts.calendar import WorkingCalendar
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.db import make_engine, migrate
from alerts.repository import Repository
from alerts.sink import AlertSink
from alerts.workflow import RejectReason
from geo.grids import GridIndex, load_geojson
from geo.routing import GridRouter
from gridwatch import keys
from gridwatch.events import alert_from_stream
from gridwatch.settings import DEMO_GRIDS, Settings
from tests.alerts.alerts_testing import wait_until
from tests.alerts.verdict_testing import OPERATOR, case_of, event, evidence, verdicts_where_benches_mean_false
from tests.gridwatch.terminal_testing import run_on_a_terminal

GRIDWATCH = Path(sys.executable).with_name("gridwatch")


@dataclass
class Centre:
    """The parts of a running command centre the test needs: a worker's sink with its filters, and the cases."""

    repo: Repository
    sink: AlertSink
    service: CaseService
    work: Casework
    filters: filters.FilterSet
    watcher: filters.FilterWatcher
    config: Path


@pytest.fixture()
def centre(settings: Settings, redis_client: redis.Redis, tmp_path: Path) -> Iterator[Centre]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    repo = Repository(engine)
    features = load_geojson(DEMO_GRIDS)
    repo.replace_grids(features)
    router = GridRouter(features)
    fs = filters.FilterSet(threshold=0.5)
    # The worker's watcher, polling as often as a tight learning.reload_seconds would.
    watcher = filters.FilterWatcher(engine, fs, every_seconds=0.5).start()
    sink = AlertSink(repo, redis_client, settings.media_dir, GridIndex(repo.list_grids()), filters=fs)
    config = tmp_path / "gw.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\n[learning]\nreview_threshold = 0.5\nmin_per_class = 10\n')
    yield Centre(repo, sink, CaseService(engine, router), Casework(engine, router, WorkingCalendar.load()), fs,
                 watcher, config)
    watcher.stop()
    engine.dispose()


def _learn_on_a_terminal(config: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    return run_on_a_terminal([str(GRIDWATCH), "--config", str(config), "learn"], timeout=300)


def test_learn_shows_progress_and_a_running_worker_scores_with_the_new_filter_within_seconds(
    centre: Centre, redis_client: redis.Redis
) -> None:
    verdicts_where_benches_mean_false(centre.sink, centre.service, centre.work, 40)
    before, _case = case_of(centre.sink, centre.service, event(100, evidence(2.0)))
    assert before.lane == "wall" and before.likely_real is None  # no filter yet: everything goes to the wall

    done, terminal = _learn_on_a_terminal(centre.config)
    assert done.returncode == 0, terminal
    assert "learning 0502 [" in terminal and "3/3 100%" in terminal
    assert "category 0502: filter #1 in use, from 40 verdicts" in done.stdout
    assert "5/5 false alarms kept off the wall, 0/5 true alerts moved to the low lane" in done.stdout

    # The worker polls every 0.5 s; it has the filter well within 10 s on a loaded machine.
    wait_until(lambda: centre.filters.get("0502") is not None, timeout=10, what="the worker to take the filter")
    doubted, doubted_case = case_of(centre.sink, centre.service, event(101, evidence(2.0)))
    trusted, _ = case_of(centre.sink, centre.service, event(102, evidence(0.0)))
    assert doubted.lane == "low" and trusted.lane == "wall"
    entries = {alert_from_stream(f).id: alert_from_stream(f) for _sid, f in  # type: ignore[arg-type]
               redis_client.xrange(keys.ALERTS_STREAM)}
    assert entries[doubted.id].lane == "low" and entries[trusted.id].lane == "wall"
    assert centre.work.book.get(doubted_case).lane == "low"


def test_a_one_class_or_empty_verdict_set_is_refused_with_a_message_and_replaces_nothing(centre: Centre) -> None:
    done, terminal = _learn_on_a_terminal(centre.config)
    assert done.returncode == 2
    assert "refused: no verdicts yet: confirm or reject alerts on the desk first" in terminal

    for i in range(12):
        _alert, case_id = case_of(centre.sink, centre.service, event(i, evidence(2.0)))
        centre.work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="bench_rest")
    done, terminal = _learn_on_a_terminal(centre.config)
    assert done.returncode == 2 and done.stdout == ""
    assert ("refused: category 0502: 0 confirmed and 12 rejected verdicts; a filter needs at least 10 of each "
            "(learning.min_per_class)") in terminal
    assert filters.version(centre.repo.engine) == 0 and centre.filters.get("0502") is None


def _export(config: Path, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRIDWATCH), "--config", str(config), "dataset", "export", "--since", "2026-11-01",
                           "--out", str(out), *more], capture_output=True, text=True, timeout=300)


def test_dataset_export_writes_yolo_labels_split_by_place_and_refuses_a_non_empty_folder(
    centre: Centre, tmp_path: Path
) -> None:
    from alerts import verdicts
    from alerts.dataset_export import place_of

    for i in range(24):  # 24 places 37 m apart: about 8 cells of the export's place grid
        real = i % 3 != 0
        _alert, case_id = case_of(centre.sink, centre.service, event(i, evidence(0.0 if real else 2.0),
                                                                     picture=True))
        if real:
            centre.work.verify(case_id, OPERATOR)
        else:
            centre.work.reject(case_id, OPERATOR, RejectReason.FALSE_ALARM.value, verdict_reason="bench_rest")
    out = tmp_path / "dataset"
    done = _export(centre.config, out)
    assert done.returncode == 0, done.stderr
    assert "names:\n  0: '0502 vagrancy and begging'" in (out / "data.yaml").read_text(encoding="utf-8")
    sides = {p.stem: p.parent.name for p in (out / "labels").glob("*/*.txt")}
    assert len(sides) == 24 and set(sides.values()) == {"train", "val"}
    by_id = {v.id: v for v in verdicts.load(centre.repo.engine)}
    place_sides: dict[str, set[str]] = {}
    for stem, side in sides.items():
        place_sides.setdefault(place_of(by_id[int(stem.split("_")[1])]), set()).add(side)
    assert all(len(s) == 1 for s in place_sides.values())  # no place on both sides
    for stem, side in sides.items():
        label = (out / "labels" / side / f"{stem}.txt").read_text(encoding="utf-8")
        assert (out / "images" / side / f"{stem}.jpg").is_file()
        if by_id[int(stem.split("_")[1])].real:
            # The box (100, 150)-(260, 400) of a 640x480 frame sits in the middle of its crop, 2/3 of it.
            assert label == "0 0.500000 0.500000 0.666667 0.666667\n"
        else:
            assert label == ""  # a rejected alert: a background image
    train_boxes = sum(1 for s, side in sides.items() if side == "train" and by_id[int(s.split("_")[1])].real)
    assert f"boxes per class 0502: {train_boxes}" in done.stdout

    again = _export(centre.config, out)
    assert again.returncode == 2 and "is not empty; choose an empty folder or add --force" in again.stderr
    forced = _export(centre.config, out, "--force")
    assert forced.returncode == 0 and len(list((out / "labels").glob("*/*.txt"))) == 24
