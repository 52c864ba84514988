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
from gridwatch.i18n import N_, translator

# A cell starting with one of these is a formula to Excel/LibreOffice (OWASP "CSV injection"): a grid name,
# a note or a user's name typed as "=HYPERLINK(...)" would run when a supervisor opens the export.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a leading apostrophe when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Any]]


# (key, English message id): the figures' columns in report order; headers come from the catalogue.
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("grid_code", N_("grid code")),
    ("grid_name", N_("grid name")),
    ("start", N_("period start")),
    ("end", N_("period end")),
    ("reported", N_("reported")),
    ("rejected", N_("rejected")),
    ("collected", N_("collected")),
    ("registered", N_("registered")),
    ("dispatched", N_("dispatched")),
    ("escalated", N_("escalated")),
    ("pending", N_("pending")),
    ("closed", N_("closed")),
    ("deferred", N_("deferred")),
    ("due", N_("due")),
    ("closed_on_time", N_("closed on time")),
    ("closure_rate", N_("closure rate")),
    ("on_time_closure_rate", N_("on-time closure rate")),
    ("rework_rate", N_("rework rate")),
    ("overdue", N_("overdue")),
)

ASSESSMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("month", N_("month")),
    ("grid_code", N_("grid code")),
    ("grid_name", N_("grid name")),
    ("collection", N_("collection")),
    ("response", N_("response")),
    ("daily_work", N_("daily work (40)")),
    ("equipment", N_("equipment (10)")),
    ("closure", N_("closure")),
    ("on_time", N_("on time")),
    ("rework", N_("rework")),
    ("overdue_penalty", N_("overdue penalty")),
    ("results", N_("results (50)")),
    ("total", N_("total (100)")),
    ("equipment_measured", N_("equipment measured")),
)


def _headers(columns: Sequence[tuple[str, str]], lang: str) -> list[str]:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    t = translator("zh_CN" if lang == "zh" else "en")
    return [t.gettext(message) for _, message in columns]


def figures_table(rows: Sequence[Figures], names: Mapping[str, str] | None = None, lang: str = "zh") -> Table:
    """One row per Figures; ``names`` maps grid codes to names (the whole territory is 全部 / all)."""
    out: list[list[Any]] = []
    for f in rows:
        d = f.as_dict()
        d["grid_code"] = f.grid_code or ""
        everything = translator("zh_CN" if lang == "zh" else "en").gettext("all")
        d["grid_name"] = (names or {}).get(f.grid_code, "") if f.grid_code else everything
        for rate in ("closure_rate", N_("rework_rate")):
            d[rate] = None if d[rate] is None else round(d[rate], 4)
        out.append([d[key] for key, _ in FIGURE_COLUMNS])
    return Table(_headers(FIGURE_COLUMNS, lang), out)


def assessment_table(scores: Sequence[GridScore], lang: str = "zh") -> Table:
    rows = [[s.as_dict()[key] for key, _ in ASSESSMENT_COLUMNS] for s in scores]
    return Table(_headers(ASSESSMENT_COLUMNS, lang), rows)


def csv_bytes(table: Table) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (Excel needs it to read Chinese), CRLF lines."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([spreadsheet_safe(h) for h in table.headers])
    writer.writerows(["" if v is None else spreadsheet_safe(v) for v in row] for row in table.rows)
    return buf.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Mapping[str, Table]) -> bytes:
    """A workbook with one sheet per table (sheet names up to 31 characters), header row frozen."""
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    wb = Workbook(write_only=True)
    for name, table in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.freeze_panes = "A2"
        ws.append([spreadsheet_safe(h) for h in table.headers])
        for row in table.rows:
            ws.append([spreadsheet_safe(v) for v in row])
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
