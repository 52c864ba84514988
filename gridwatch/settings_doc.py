"""The settings reference in README.md is generated from the settings model, so it cannot drift."""
from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gridwatch.settings import REPO_ROOT, CameraSettings, Settings


def _rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _rows(ann, f"{key}.")
            continue
        yield key, _default(info), info.description or ""


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "[]"
    value = info.default
    text = str(value) if value is not None else "unset"
    return text.replace(str(REPO_ROOT), ".").replace(str(REPO_ROOT.parent), "..")


def settings_table() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, desc in _rows(Settings):
        if key == "cameras":
            default = "[] (the demo car is added when demo.enabled)"
        lines.append(f"| `{key}` | `{default}` | {desc} |")
    return "\n".join(lines)


def camera_table() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, desc in _rows(CameraSettings, "cameras[]."):
        lines.append(f"| `{key}` | `{default if default != 'PydanticUndefined' else 'required'}` | {desc} |")
    return "\n".join(lines)


BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def readme_section() -> str:
    return f"{BEGIN}\n{settings_table()}\n\nEach camera:\n\n{camera_table()}\n{END}"


def update_readme(text: str) -> str:
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + readme_section() + text[stop:]


if __name__ == "__main__":
    readme = REPO_ROOT / "README.md"
    readme.write_text(update_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
