"""Settings overrides from the command line: ``--set rules.patrol_min_frames=3`` (repeatable).

Each override is a dotted key of the settings tree and a value written as in TOML (``3``, ``0.5``, ``true``,
``["lying"]``, ``"text"``); a value that is not TOML is taken as a plain string (``vision.model=path/to/model``).
They are merged into the settings file's own values and the whole tree is validated again, so a wrong key or
value fails with the same message a wrong settings file gives (``gridwatch.settings.describe_errors``).
"""
from __future__ import annotations

import copy
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gridwatch.settings import Settings, SettingsError, describe_errors, load_settings


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"rules.x=5"`` -> (["rules", "x"], 5); SettingsError when it is not KEY=VALUE."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise SettingsError(f"--set {text!r}: write it as SECTION.KEY=VALUE, e.g. rules.patrol_min_frames=3")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word or path: a string
    return [p.strip() for p in parts], value


def merge_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of the settings ``data`` (as in a TOML file) with ``overrides`` set, later ones winning."""
    merged = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = merged
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SettingsError(f"--set {text!r}: {part} is a value, not a section of settings")
            node = child
        node[path[-1]] = value
    return merged


def settings_with(path: Path | str | None, overrides: Sequence[str]) -> Settings:
    """The settings of ``path`` (or the defaults) with ``overrides`` applied and validated; SettingsError names
    every wrong key or value."""
    base = load_settings(path)  # the file's own errors first, named after the file
    if not overrides:
        return base
    data = tomllib.loads(Path(path).read_text(encoding="utf-8")) if path is not None else {}
    merged = merge_overrides(data, overrides)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, "--set " + " ".join(overrides))) from None
