"""Figures and assessments as CSV (UTF-8 with BOM, so Excel shows Chinese) and XLSX workbooks."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook

from alerts.assessment import GridScore
from alerts.figures import Figures


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Any]]


# (key, 中文, English): the figures' columns in report order.
FIGURE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("grid_code", "网格编码", "grid code"),
    ("grid_name", "网格名称", "grid name"),
    ("start", "起始时间", "period start"),
    ("end", "截止时间", "period end"),
    ("reported", "上报数", "reported"),
    ("rejected", "不予立案数", "rejected"),
    ("collected", "采集数", "collected"),
    ("registered", "立案数", "registered"),
    ("dispatched", "派遣数", "dispatched"),
    ("escalated", "上报上级数", "escalated"),
    ("pending", "待派遣数", "pending"),
    ("closed", "结案数", "closed"),
    ("deferred", "缓办数", "deferred"),
    ("due", "应结案数", "due"),
    ("closed_on_time", "按期结案数", "closed on time"),
    ("closure_rate", "结案率", "closure rate"),
    ("on_time_closure_rate", "按期结案率", "on-time closure rate"),
    ("rework_rate", "返工率", "rework rate"),
    ("overdue", "超期数", "overdue"),
)

ASSESSMENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("month", "考核月份", "month"),
    ("grid_code", "网格编码", "grid code"),
    ("grid_name", "网格名称", "grid name"),
    ("collection", "问题采集", "collection"),
    ("response", "响应及时", "response"),
    ("daily_work", "日常工作(40)", "daily work (40)"),
    ("equipment", "设备(10)", "equipment (10)"),
    ("closure", "结案", "closure"),
    ("on_time", "按期结案", "on time"),
    ("rework", "返工", "rework"),
    ("overdue_penalty", "超期扣分", "overdue penalty"),
    ("results", "工作成效(50)", "results (50)"),
    ("total", "总分(100)", "total (100)"),
    ("equipment_measured", "设备有数据", "equipment measured"),
)


def _headers(columns: Sequence[tuple[str, str, str]], lang: str) -> list[str]:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return [zh if lang == "zh" else en for _, zh, en in columns]


def figures_table(rows: Sequence[Figures], names: Mapping[str, str] | None = None, lang: str = "zh") -> Table:
    """One row per Figures; ``names`` maps grid codes to names (the whole territory is 全部 / all)."""
    out: list[list[Any]] = []
    for f in rows:
        d = f.as_dict()
        d["grid_code"] = f.grid_code or ""
        everything = "全部" if lang == "zh" else "all"
        d["grid_name"] = (names or {}).get(f.grid_code, "") if f.grid_code else everything
        for rate in ("closure_rate", "on_time_closure_rate", "rework_rate"):
            d[rate] = None if d[rate] is None else round(d[rate], 4)
        out.append([d[key] for key, _, _ in FIGURE_COLUMNS])
    return Table(_headers(FIGURE_COLUMNS, lang), out)


def assessment_table(scores: Sequence[GridScore], lang: str = "zh") -> Table:
    rows = [[s.as_dict()[key] for key, _, _ in ASSESSMENT_COLUMNS] for s in scores]
    return Table(_headers(ASSESSMENT_COLUMNS, lang), rows)


def csv_bytes(table: Table) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (Excel needs it to read Chinese), CRLF lines."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(table.headers)
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return buf.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Mapping[str, Table]) -> bytes:
    """A workbook with one sheet per table (sheet names up to 31 characters), header row frozen."""
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    wb = Workbook(write_only=True)
    for name, table in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.freeze_panes = "A2"
        ws.append(table.headers)
        for row in table.rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write(data: bytes, out: Path | IO[bytes]) -> None:
    """Write export bytes to a path (folders created) or an open binary stream (an HTTP response)."""
    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    else:
        out.write(data)
