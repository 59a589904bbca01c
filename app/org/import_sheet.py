"""Reading staff spreadsheets safely, row by row, each row all-or-nothing.

Generic part of the imports (app/org/imports.py has the two importers): opening an .xlsx within
size limits (openpyxl parses through defusedxml), matching the Chinese header row, parsing
cells strictly (formulas, oversized or wrongly typed cells are refused), a savepoint per row,
and the report with Excel row numbers (header = row 1) and Chinese reasons.
"""
from __future__ import annotations

import csv
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from tqdm import tqdm

from ..crypto import normalise_phone
from ..errors import AppError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # zip bombs
MAX_ROWS = 20_000
MAX_COLUMNS = 60
LIST_SEPARATORS = re.compile(r"[、,，;；\n]+")
# Text that a spreadsheet program would run as a formula when the data is exported again.
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FileRejected(AppError):
    """The whole file cannot be imported (nothing is written)."""

    status = 422
    code = "import_file_rejected"
    message = "文件无法导入"


class RowInvalid(Exception):
    """One row is refused; the message is Chinese and goes into the report as-is."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str = "text"  # text | code | phone | number | date | list | choice
    required: bool = False
    max_len: int = 64
    choices: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()


@dataclass
class RowError:
    row: int
    message: str


@dataclass
class ImportReport:
    kind: str
    file: str | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_file: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failed(self) -> int:
        return len(self.errors)

    def summary_zh(self) -> str:
        return (f"共 {self.rows} 行：新增 {self.created}，更新 {self.updated}，"
                f"无变化 {self.unchanged}，失败 {self.failed}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed}


def _clean_header(value: Any) -> str:
    return re.sub(r"[\s*＊]", "", str(value)) if value is not None else ""


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise FileRejected(f"找不到文件：{path.name}")
    if path.suffix.lower() != ".xlsx":
        raise FileRejected("只支持 Excel .xlsx 文件（请在 Excel/WPS 中“另存为 .xlsx”）")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileRejected(f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，请分批导入")
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > MAX_UNPACKED_BYTES:
                raise FileRejected("文件解压后过大，请分批导入")
    except zipfile.BadZipFile:
        raise FileRejected("无法读取该文件，请确认是 Excel .xlsx 格式") from None


CORRUPT = "文件内容已损坏（第 {row} 行附近无法读取），请在 Excel/WPS 中打开并重新保存后再导入"


def _readable(rows: Iterator, wb) -> Iterator:
    """openpyxl reads a read-only sheet lazily: a damaged sheet fails in the middle of the
    rows, with whatever parser error. That is the file's fault (FileRejected, exit 2, nothing
    imported), not a crash of the import."""
    n = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001 - any parser error: the file is damaged
            wb.close()
            raise FileRejected(CORRUPT.format(row=n + 1)) from None
        n += 1
        yield row


def open_sheet(path: str | Path, columns: list[Column]
               ) -> tuple[dict[str, int], Iterator[tuple[int, list]], int | None, list[str], Any]:
    """Open the first sheet; returns (column key → index, rows iterator of (excel row number,
    cells), the declared row count, warnings, the workbook to close)."""
    import openpyxl

    path = Path(path)
    _check_file(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds on corrupt files
        raise FileRejected("无法读取该文件，请确认是 Excel .xlsx 格式") from None
    ws = wb.worksheets[0]
    rows = _readable(ws.iter_rows(max_col=MAX_COLUMNS), wb)
    header = next(rows, None)
    if not header:
        wb.close()
        raise FileRejected("表格为空：第 1 行应为列名")
    by_header = {name: c for c in columns for name in (c.header, *c.aliases)}
    index, warnings = {}, []
    for i, cell in enumerate(header):
        name = _clean_header(cell.value)
        if not name:
            continue
        col = by_header.get(name)
        if col is None:
            warnings.append(f"未识别的列「{name[:20]}」已忽略")
        elif col.key in index:
            wb.close()
            raise FileRejected(f"列「{name}」出现了两次")
        else:
            index[col.key] = i
    missing = [c.header for c in columns if c.required and c.key not in index]
    if missing:
        wb.close()
        raise FileRejected("缺少必填列：" + "、".join(missing) + "（第 1 行应为列名）")
    declared = (ws.max_row - 1) if ws.max_row else None
    if declared is not None and declared > MAX_ROWS:
        wb.close()
        raise FileRejected(f"一次最多导入 {MAX_ROWS} 行，请分批导入")

    def numbered() -> Iterator[tuple[int, list]]:
        for n, row in enumerate(rows, start=2):
            if n - 1 > MAX_ROWS:
                raise FileRejected(f"一次最多导入 {MAX_ROWS} 行，请分批导入")
            yield n, list(row)

    return index, numbered(), declared, warnings, wb


# --- cells -----------------------------------------------------------------------------------

def _integral(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return None


def parse_cell(col: Column, cell: Any) -> Any:
    """The typed value of one cell, None when blank; RowInvalid with a Chinese reason."""
    value = getattr(cell, "value", cell)
    is_formula = getattr(cell, "data_type", None) == "f"
    if is_formula or (isinstance(value, str) and value.startswith("=")):
        raise RowInvalid(f"「{col.header}」不能是公式，请填写数值或文字")
    if getattr(cell, "data_type", None) == "e":
        raise RowInvalid(f"「{col.header}」是错误值（如 #N/A），请改正")
    if value is None or (isinstance(value, str) and not value.strip()):
        if col.required:
            raise RowInvalid(f"「{col.header}」不能为空")
        return None
    if col.kind in ("text", "code", "choice", "list"):
        if isinstance(value, str):
            text = value.strip()
        elif col.kind == "code" and _integral(value) is not None:
            text = _integral(value)  # Excel turns 329901 into a number
        else:
            raise RowInvalid(f"「{col.header}」应为文字")
        if len(text) > col.max_len:
            raise RowInvalid(f"「{col.header}」过长（最多 {col.max_len} 个字）")
        if _CONTROL.search(text) or (col.kind != "list" and re.search(r"[\t\r\n]", text)):
            raise RowInvalid(f"「{col.header}」含有不可见的控制字符或换行")
        if text.startswith(_FORMULA_START):
            raise RowInvalid(f"「{col.header}」不能以 = + - @ 开头")
        if col.kind == "choice":
            assert col.choices is not None
            if text not in col.choices:
                allowed = "、".join(dict.fromkeys(col.choices))
                raise RowInvalid(f"「{col.header}」的值「{text[:20]}」无效，可选：{allowed}")
            return col.choices[text]
        if col.kind == "list":
            return [item.strip() for item in LIST_SEPARATORS.split(text) if item.strip()]
        return text
    if col.kind == "phone":
        raw = _integral(value) if not isinstance(value, str) else value
        if raw is None or len(raw) > 20:
            raise RowInvalid(f"「{col.header}」格式不正确，应为 11 位手机号")
        try:
            return normalise_phone(raw)
        except ValueError:
            raise RowInvalid(f"「{col.header}」格式不正确，应为 11 位手机号") from None
    if col.kind == "number":
        if isinstance(value, bool):
            raise RowInvalid(f"「{col.header}」应为数字")
        if isinstance(value, str):
            try:
                value = float(value.strip()) if len(value) <= 32 else None
            except ValueError:
                value = None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RowInvalid(f"「{col.header}」应为数字")
        return float(value)
    if col.kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip().replace("/", "-"))
            except ValueError:
                pass
        raise RowInvalid(f"「{col.header}」应为日期，例如 2024-11-20")
    raise AssertionError(col.kind)


def parse_row(columns: list[Column], index: dict[str, int], cells: list) -> dict[str, Any]:
    values = {}
    for col in columns:
        i = index.get(col.key)
        cell = cells[i] if i is not None and i < len(cells) else None
        values[col.key] = parse_cell(col, cell)
    return values


def _blank(cells: list) -> bool:
    for cell in cells:
        value = getattr(cell, "value", cell)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return False
    return True


# --- the loop --------------------------------------------------------------------------------

RowHandler = Callable[[Session, dict, list[str]], tuple[Any, str]]


def run_rows(session: Session, path: str | Path, columns: list[Column], handle: RowHandler,
             report: ImportReport, *, progress: bool | None = False, label: str = "导入") -> None:
    """Parse and apply every row in its own savepoint. `handle(session, values, notes)` returns
    (natural key, "created" | "updated" | "unchanged") or raises RowInvalid / AppError; a row
    whose key was already imported from this file is refused as a duplicate."""
    index, rows, declared, warnings, wb = open_sheet(path, columns)
    report.warnings.extend(warnings)
    seen: dict[Any, int] = {}
    try:
        bar = tqdm(rows, total=declared, desc=label, unit="行",
                   disable={True: False, None: None, False: True}[progress])
        for row_no, cells in bar:
            if _blank(cells):
                continue
            report.rows += 1
            notes: list[str] = []
            try:
                values = parse_row(columns, index, cells)
                with session.begin_nested():
                    key, outcome = handle(session, values, notes)
                    if key in seen:
                        raise RowInvalid(f"与第 {seen[key]} 行重复")
            except RowInvalid as exc:
                report.errors.append(RowError(row_no, str(exc)))
                continue
            except AppError as exc:
                report.errors.append(RowError(row_no, exc.message))
                continue
            except (IntegrityError, DataError):
                report.errors.append(RowError(row_no, "与已有数据冲突或数据不符合数据库要求，未导入"))
                continue
            seen[key] = row_no
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.notes.extend(n for n in notes if n not in report.notes)
    finally:
        wb.close()


def _safe_csv(text: str) -> str:
    # The report is opened in Excel: never let a cell start like a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text


def error_file_path(path: str | Path) -> Path:
    """people.xlsx → people.errors.csv, next to the imported file."""
    path = Path(path)
    return path.with_name(path.stem + ".errors.csv")


def write_error_file(path: str | Path, report: ImportReport) -> Path | None:
    """Write (or, when there is nothing to report, remove a stale) FILE.errors.csv."""
    target = error_file_path(path)
    if not report.errors:
        target.unlink(missing_ok=True)
        return None
    with target.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads UTF-8
        writer = csv.writer(fh)
        writer.writerow(["行号", "错误原因"])
        for err in report.errors:
            writer.writerow([err.row, _safe_csv(err.message)])
    report.error_file = str(target)
    return target
