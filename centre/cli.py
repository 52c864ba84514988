"""The ``gridwatch`` command: run the command centre, check settings, import grid maps, migrate."""
from __future__ import annotations

import argparse
import getpass
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import redis

from alerts.db import make_engine, migrate
from alerts.users import LOGIN_ROLES, UserStore
from geo.datum import Datum, map_source_in_wgs84
from gridwatch.health import check
from gridwatch.lifecycle import stop_on_signals
from gridwatch.logs import setup_logging
from gridwatch.overrides import settings_with
from gridwatch.settings import Settings, SettingsError, load_settings
from ingest.cameras_cli import register as register_cameras
from patrol.cli import register as register_patrol

# Each command imports the parts it runs when it starts (the ``from ... import`` inside a command): the process
# roles load Dash, OpenCV and the stages, a detector Ultralytics and torch, learning scikit-learn. Here is only
# what the parser and the light commands need, so `gridwatch check-health` (the compose health check, every
# 15 s) starts in well under a second.

log = logging.getLogger("gridwatch")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _announce(url: str) -> None:
    # The one line a newcomer needs: where the wall is. Standard output, not the log.
    sys.stdout.write(f"\nGridWatch command centre is running. Open the wall: {url}\n\n")
    sys.stdout.flush()


def cmd_run(args: argparse.Namespace) -> int:
    from centre.run import run_all

    run_all(_settings(args), stop_on_signals(log), on_ready=_announce)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from centre.worker import run_worker

    run_worker(_settings(args), stop_on_signals(log))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from centre.cases import run_alerts

    run_alerts(_settings(args), stop_on_signals(log))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from centre.dashboard import run_dashboard

    run_dashboard(_settings(args), stop_on_signals(log), on_ready=_announce)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.file)
    sys.stdout.write(f"{args.file}: OK ({len(settings.cameras)} cameras, model {settings.vision.model})\n")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from vision.analyze import SourceError, analyze
    from vision.compare import compare

    fps = [f"ingest.detect_fps={args.fps}"] if args.fps is not None else []
    settings = settings_with(args.config, [*fps, *args.set])
    against = settings_with(args.config, [*fps, *args.set, *args.compare]) if args.compare else None
    out_path: Path | None = args.out
    snapshots = args.snapshots or ((out_path.parent if out_path else Path.cwd()) / "snapshots")

    def run(out: TextIO) -> None:
        if against is None:
            analyze(args.source, settings, out, snapshots, mobile=args.mobile, max_seconds=args.seconds)
        else:
            compare(args.source, settings, against, out, snapshots, args.compare, mobile=args.mobile,
                    max_seconds=args.seconds)

    try:
        if out_path is None:
            run(sys.stdout)
        else:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            with out_path.open("w", encoding="utf-8") as out:
                run(out)
    except SourceError as exc:
        sys.stderr.write(f"gridwatch analyze: {exc}\n")
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(make_engine(settings.effective_database_url))
    sys.stdout.write("database migrated to the newest schema\n")
    return 0


class ProgressBar:
    """A one-line progress bar on standard error when it is a terminal; silent in scripts and logs."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        pct = min(100, done * 100 // total)
        if pct == self._shown:
            return
        self._shown = pct
        filled = self.WIDTH * pct // 100
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {done}/{total} {pct:3d}%")
        self._stream.flush()

    def step(self, text: str) -> None:
        if self.enabled:
            self._stream.write(f"\r{text}\x1b[K")
            self._stream.flush()

    def done(self) -> None:
        if self.enabled and self._shown >= 0:
            self._stream.write("\n")
            self._stream.flush()


MAX_OVERLAPS_LISTED = 20


def cmd_dataset_export(args: argparse.Namespace) -> int:
    """Verdicts as a YOLO dataset; exit 2 for a non-empty folder without --force or nothing to export."""
    from alerts.dataset_export import DatasetError, export

    settings = _settings(args)
    try:
        since = datetime.fromisoformat(args.since).replace(tzinfo=UTC) if args.since else None
    except ValueError:
        sys.stderr.write(f"gridwatch dataset export: --since must be a date like 2026-12-01, got {args.since!r}\n")
        return 2
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    bar = ProgressBar("exporting verdicts")
    try:
        summary = export(engine, settings.media_dir, Path(args.out), since, args.force, bar)
    except DatasetError as exc:
        sys.stderr.write(f"gridwatch dataset export: {exc}\n")
        return 2
    finally:
        bar.done()
    for side in ("train", "val"):
        counts = ", ".join(f"{c}: {summary.boxes[(side, c)]}" for c in summary.classes) or "no classes"
        sys.stdout.write(f"{side}: {summary.images[side]} images from {summary.places[side]} places; boxes per "
                         f"class {counts}; background (rejected) {summary.backgrounds[side]}\n")
    if summary.skipped:
        sys.stdout.write(f"skipped {summary.skipped} verdicts whose crop or snapshot is missing\n")
    sys.stdout.write(f"written to {args.out} (data.yaml, images/, labels/)\n")
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cmd_dataset_train(args: argparse.Namespace) -> int:
    """Fine-tune, export OpenVINO int8, measure, register; exit 2 for a bad checkpoint or dataset (nothing made)."""
    from vision import model_registry, yolo_train  # yolo_train: Ultralytics and torch

    settings = _settings(args)
    if args.epochs < 1 or args.imgsz < 32 or args.batch < 1:
        sys.stderr.write("gridwatch dataset train: --epochs and --batch must be at least 1, --imgsz at least 32\n")
        return 2
    try:
        extra = dict(item.split("=", 1) for item in args.category)
    except ValueError:
        sys.stderr.write(f"gridwatch dataset train: --category takes NAME=CODE, got {args.category}\n")
        return 2
    try:
        dataset = yolo_train.read_dataset(args.data)
        categories = yolo_train.class_categories(dataset.names, extra)
        base = yolo_train.load_base(args.base)
    except yolo_train.TrainError as exc:
        sys.stderr.write(f"gridwatch dataset train: {exc}\n")
        return 2
    device = yolo_train.pick_device(args.device)
    name = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    run_dir = (args.out or settings.data_dir / model_registry.FOLDER) / name
    _say(f"training {args.base} on {dataset.folder} ({dataset.train_images} train, {dataset.val_images} val images; "
         f"classes {', '.join(f'{k} -> {v}' for k, v in categories.items())}) for {args.epochs} "
         f"epoch{'s' if args.epochs != 1 else ''} at imgsz "
         f"{args.imgsz} on {'cpu' if device == 'cpu' else 'GPU ' + device}")
    try:
        started = time.monotonic()
        best = yolo_train.fine_tune(base, dataset, run_dir, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                                    device=device, on_epoch=lambda e: _say(e.text()))
        trained_s = time.monotonic() - started
        started = time.monotonic()
        exported = yolo_train.export_int8(best, dataset, args.imgsz)
        export_s = time.monotonic() - started
        _say(f"trained in {trained_s:.0f} s, exported OpenVINO int8 in {export_s:.0f} s: {exported}")
        work = run_dir / "val"
        scores = {"trained (fp32 .pt)": yolo_train.evaluate(best, dataset, args.imgsz, device, work),
                  "exported (OpenVINO int8)": yolo_train.evaluate(exported, dataset, args.imgsz, "cpu", work)}
        in_use = model_registry.read(settings.data_dir)
        if in_use is not None and set(in_use.class_categories) == set(categories) and Path(in_use.model).exists():
            scores[f"in use (#{in_use.version} {in_use.name})"] = yolo_train.evaluate(
                Path(in_use.model), dataset, in_use.imgsz, "cpu", work)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-made stays beside the registered models
        raise
    for label, s in scores.items():
        _say(f"{label}: {s.text()}")
    entry = model_registry.register(
        settings.data_dir, name, exported, args.imgsz, categories, base=str(args.base.resolve()),
        dataset=str(dataset.folder), scores={k: asdict(v) for k, v in scores.items()})
    _say(f"registered as model #{entry.version} ({entry.model}); running workers swap to it within "
         f"{settings.learning.reload_seconds:g} s, new workers start on it")
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    """Train each category's verdict filter; exit 2 when any category was refused (nothing of it replaced)."""
    from alerts.verdict_learning import learn

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    bars: list[ProgressBar] = []

    def bar_for(category: str) -> ProgressBar:
        bars.append(ProgressBar(f"learning {category}"))
        return bars[-1]

    try:
        outcomes = learn(engine, settings.learning, args.category, bar_for)
    finally:
        for b in bars:
            b.done()
    for o in outcomes:
        if o.refused is not None:
            sys.stderr.write(f"gridwatch learn: refused: {o.refused}\n")
            continue
        assert o.new is not None
        n = o.new
        line = (f"category {o.category}: filter #{o.filter_id} in use, from {o.verdicts} verdicts in {o.seconds:.1f} s;"
                f" on {n.verdicts} held apart: {n.false_off_wall}/{n.false_alarms} false alarms kept off the wall, "
                f"{n.true_moved}/{n.true_alerts} true alerts moved to the low lane, log loss {n.log_loss:.3f}")
        if o.in_use is not None:
            line += f" (the filter it replaced: {o.in_use.log_loss:.3f})"
        sys.stdout.write(line + "\n")
    return 2 if any(o.refused for o in outcomes) else 0


def cmd_grids_import(args: argparse.Namespace) -> int:
    from alerts.gridstaff import GridStaffStore
    from alerts.repository import Repository
    from geo.grids import load_geojson, overlaps

    settings = _settings(args)
    datum = args.datum or settings.locale.grids_datum
    bar = ProgressBar("checking grids")
    # Stored internally in WGS-84 (what vehicle GPS reports); maps drawn on Chinese web maps are converted here.
    bar.step("reading the map ...")
    try:
        # All validated before the database is touched: a bad file leaves the stored map as it was.
        features = load_geojson(map_source_in_wgs84(Path(args.file), datum), progress=bar)
    finally:
        bar.done()
    bar.step("looking for overlapping grids ...")
    overlapping = overlaps(features)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    bar.step(f"storing {len(features)} grids ...")
    count = Repository(engine).replace_grids(features)
    staff = GridStaffStore(engine).replace_all(features)
    bar.step("")
    levels = {lvl: sum(1 for f in features if f.level == lvl) for lvl in (1, 2, 3)}
    leaders = sum(1 for f in features if f.leader)
    sys.stdout.write(
        f"imported {count} grids from {args.file} (level 1: {levels[1]}, level 2: {levels[2]}, level 3: {levels[3]}; "
        f"{leaders} with a leader, {staff} staff names)\n"
    )
    if overlapping:
        # Not fatal: a point in two grids goes to one of them; the map's owner should redraw the borders.
        n = len(overlapping)
        sys.stdout.write(f"warning: {n} overlapping pair{'s' if n != 1 else ''} of same-level grids:\n")
        for o in overlapping[:MAX_OVERLAPS_LISTED]:
            sys.stdout.write(f"  level {o.level}: {o.first} and {o.second} share {o.area_m2:,.0f} m²\n")
        if len(overlapping) > MAX_OVERLAPS_LISTED:
            sys.stdout.write(f"  ... and {len(overlapping) - MAX_OVERLAPS_LISTED} more\n")
    return 0


def _user_store(args: argparse.Namespace) -> UserStore:
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    return UserStore(engine)


def _read_password(args: argparse.Namespace) -> str:
    """From standard input with --password-stdin (scripts), else asked twice on the terminal (never an argument,
    which other users of the machine could read in the process list)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserInputError("the two passwords differ")
    return first


class UserInputError(ValueError):
    """What a user typed at the command line is not usable."""


def cmd_users_add(args: argparse.Namespace) -> int:
    store = _user_store(args)
    user = store.add(args.username, _read_password(args), args.role, display_name=args.name,
                     scope_grid=args.scope, department=args.department)
    sys.stdout.write(f"added {user.username} ({user.role}, scope {user.scope_grid or 'whole territory'})\n")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    users = _user_store(args).all()
    rows = [("username", "name", "role", "scope", "department", "active", "last login")]
    for u in users:
        rows.append((u.username, u.display_name, str(u.role), u.scope_grid or "-", u.department or "-",
                     "yes" if u.active else "no", u.last_login_at.isoformat(timespec="minutes") if u.last_login_at
                     else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0


def cmd_users_passwd(args: argparse.Namespace) -> int:
    store = _user_store(args)
    store.set_password(args.username, _read_password(args))
    sys.stdout.write(f"password of {args.username} changed; their open sessions have ended\n")
    return 0


def cmd_users_active(args: argparse.Namespace) -> int:
    _user_store(args).update(args.username, active=args.active)
    sys.stdout.write(f"{args.username} {'enabled' if args.active else 'disabled'}\n")
    return 0


def _register_users(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="people who log in: roles and grid scopes").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="add a user (the password is asked for, or read with --password-stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[str(r) for r in LOGIN_ROLES])
    add.add_argument("--scope", default=None, help="grid code whose subtree the user sees (default: everything)")
    add.add_argument("--department", default=None, help="department code (role department)")
    add.add_argument("--name", default=None, help="name shown on the wall (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    pw = users.add_parser("passwd", help="set a user's password (ends their sessions)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=cmd_users_passwd)
    for name, active in (("enable", True), ("disable", False)):
        p = users.add_parser(name, help=f"{name} a user's login")
        p.add_argument("username")
        p.set_defaults(func=cmd_users_active, active=active)


def cmd_check_health(args: argparse.Namespace) -> int:
    """Exit 0 while a process of this kind makes progress (its heartbeat is fresh), else 1: for health checks."""
    settings = _settings(args)
    if settings.redis_url is None:
        sys.stderr.write("gridwatch check-health: redis_url (REDIS_URL) is not set; heartbeats live in Redis\n")
        return 1
    instance = args.id
    if instance is None and args.kind == "worker" and not args.any:
        instance = settings.worker.id  # None = any worker process of this host
    client = redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=3, socket_connect_timeout=3)
    try:
        result = check(client, args.kind, instance, any_instance=args.any)
    except redis.RedisError as exc:
        sys.stderr.write(f"gridwatch check-health: {args.kind} unknown: cannot reach Redis at "
                         f"{settings.redis_url.masked}: {exc}\n")
        return 1
    finally:
        client.close()
    (sys.stdout if result.ok else sys.stderr).write(result.message + "\n")
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridwatch", description="GridWatch command centre")
    parser.add_argument("--config", "-c", type=Path, default=None, help="settings file (TOML)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING ...")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole command centre (embedded defaults, demo patrol car)").set_defaults(
        func=cmd_run
    )
    sub.add_parser("worker", help="run ingest + vision for the configured cameras").set_defaults(func=cmd_worker)
    sub.add_parser("dashboard", help="run the wall, JSON API and push server").set_defaults(func=cmd_dashboard)
    sub.add_parser("alerts", help="run a case consumer: alerts from the stream into cases").set_defaults(
        func=cmd_alerts
    )
    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)
    ana = sub.add_parser("analyze", help="find issues in a video file, RTSP URL or still image (JSON lines)")
    ana.add_argument("source", help="video file, rtsp:// URL or image (for a camera with a detection "
                     "sub-stream, its detect_url shows what the worker's vision sees)")
    ana.add_argument("--out", "-o", type=Path, default=None, help="JSON lines file (default: standard output)")
    ana.add_argument("--snapshots", type=Path, default=None, help="snapshot folder (default: beside --out)")
    mode = ana.add_mutually_exclusive_group()
    mode.add_argument("--patrol", dest="mobile", action="store_const", const=True, default=None,
                      help="footage from a moving patrol car (default for still images)")
    mode.add_argument("--fixed", dest="mobile", action="store_const", const=False,
                      help="footage from a fixed camera (default for video and streams)")
    ana.add_argument("--fps", type=float, default=None, help="frames analysed per second (default ingest.detect_fps)")
    ana.add_argument("--seconds", type=float, default=None, help="stop after this much video (streams)")
    ana.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a setting for this run, e.g. rules.patrol_min_frames=3 (repeatable; TOML values)")
    ana.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE",
                     help="also analyse with this override on top and print the issues diffed: both, only_a "
                     "(lost by the change), only_b (added by it) (repeatable)")
    ana.set_defaults(func=cmd_analyze)
    health = sub.add_parser("check-health", help="exit 0 if a process kind's heartbeat is fresh (health checks)")
    health.add_argument("kind", nargs="?", default="worker", choices=["worker", "dashboard", "alerts"])
    health.add_argument("--id", default=None, help="one process's id (default: this host's processes)")
    health.add_argument("--any", action="store_true", help="any process of this kind, on any host")
    health.set_defaults(func=cmd_check_health)
    check = sub.add_parser("check-config", help="validate a settings file without starting anything")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_check_config)
    register_cameras(sub, _settings)
    register_patrol(sub)
    _register_users(sub)
    grids = sub.add_parser("grids", help="grid maps").add_subparsers(dest="grids_command", required=True)
    imp = grids.add_parser("import", help="validate and import a GeoJSON grid map (replaces the current one)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--datum", choices=[d.value for d in Datum], default=None,
        help="datum of the file's coordinates (AMap/Tencent exports: gcj02, Baidu: bd09); default locale.grids_datum",
    )
    imp.set_defaults(func=cmd_grids_import)
    lrn = sub.add_parser("learn", help="train the verdict filters on operators' verdicts (refused if worse)")
    lrn.add_argument("--category", default=None, help="one category code (default: every category with verdicts)")
    lrn.set_defaults(func=cmd_learn)
    dataset = sub.add_parser("dataset", help="operators' verdicts as a dataset for a city's own detector")
    dsub = dataset.add_subparsers(dest="dataset_command", required=True)
    exp = dsub.add_parser("export", help="write a YOLO-format dataset (train/val split by place)")
    exp.add_argument("--since", default=None, help="only verdicts from this date (YYYY-MM-DD, UTC) on")
    exp.add_argument("--out", required=True, type=Path, help="an empty folder (created when missing)")
    exp.add_argument("--force", action="store_true", help="replace images/, labels/ and data.yaml in a non-empty one")
    exp.set_defaults(func=cmd_dataset_export)
    trn = dsub.add_parser("train", help="fine-tune a detector on an exported dataset, export OpenVINO int8, "
                          "measure it and register it (running workers swap to it)")
    trn.add_argument("--base", required=True, type=Path, help="Ultralytics detect checkpoint (.pt) to start from")
    trn.add_argument("--data", required=True, type=Path, help="the folder `gridwatch dataset export` wrote")
    trn.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    trn.add_argument("--imgsz", type=int, default=640, help="training and model input size (default 640)")
    trn.add_argument("--batch", type=int, default=8, help="images per training step (default 8)")
    trn.add_argument("--device", default="auto", help="cpu, 0 (first GPU) ...; default: GPU 0 if CUDA, else cpu")
    trn.add_argument("--out", type=Path, default=None, help="models folder (default data_dir/models)")
    trn.add_argument("--category", action="append", default=[], metavar="NAME=CODE",
                     help="issue category of a class whose name does not start with its code (repeatable)")
    trn.set_defaults(func=cmd_dataset_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        sys.stderr.write(f"gridwatch: {exc}\n")
        return 2
    except Exception as exc:
        # Expected user errors (bad grid file, missing weights, unreachable Redis) carry their own message;
        # anything else gets a traceback in the log.
        known = _known_error(exc)
        if known:
            sys.stderr.write(f"gridwatch: {known}\n")
            return 2
        log.exception("gridwatch %s failed", args.command)
        return 1


def _known_error(exc: Exception) -> str | None:
    name = type(exc).__name__
    if name in {"GridError", "ModelError", "RedisServerError", "RtspServerError", "UserError", "UnknownUserError",
                "UserInputError"}:
        return f"{name}: {exc}"
    if isinstance(exc, redis.ConnectionError):
        return f"cannot reach Redis: {exc}"
    if isinstance(exc, FileNotFoundError):
        return str(exc)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
