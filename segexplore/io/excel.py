"""Excel workbooks (and Parquet files) as tables: the sheet, its header and its text columns."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from segexplore.errors import FileFormatError, SchemaError, closest_name
from segexplore.io.parsing import NA_VALUES
from segexplore.io.progress import _progress_monitor
from segexplore.io.sniff import _check_header_names, _is_text_column_name, _rstrip_blank


def _excel_column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _read_excel(path: Path, sheet_name: str | int | None, text_columns: Iterable[str] | None,
                progress: bool, notes: list[str]) -> tuple[pd.DataFrame, str]:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    if engine == "xlrd":
        try:
            import xlrd  # noqa: F401
        except ImportError:
            raise FileFormatError(f"{path.name}: old Excel .xls files need the xlrd package "
                                  f"(pip install xlrd); or save the file as .xlsx in Excel",
                                  path=path) from None
    with path.open("rb") as handle, contextlib.ExitStack() as stack:
        # openpyxl warns about styles and data validation it ignores: noise for analysts
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        if progress:
            stack.enter_context(_progress_monitor(handle, path.stat().st_size, path.name))
        try:
            book = stack.enter_context(pd.ExcelFile(handle, engine=engine))
        except Exception as error:  # zipfile, openpyxl and xlrd errors alike
            raise FileFormatError(f"{path.name}: not a valid Excel workbook, it may be "
                                  f"corrupt or not really .xlsx ({error})", path=path) from error
        sheets = list(book.sheet_names)
        sheet = _choose_sheet(path, sheets, sheet_name)
        where = f"sheet {sheet!r}, row 1"
        header_row = pd.read_excel(book, sheet_name=sheet, header=None, nrows=1)
        if header_row.empty:
            raise FileFormatError(f"{path.name}: sheet {sheet!r} is empty", path=path)
        raw_names = header_row.iloc[0].tolist()
        names = [_excel_header_text(value) for value in raw_names]
        _check_header_names(names, path.name, path, where=where,
                            position_label=_excel_column_letter)
        wanted = list(text_columns or [])
        missing = [name for name in wanted if name not in names]
        if missing:
            suggestion = closest_name(missing[0], [n for n in names if n])
            hint = f" Did you mean {suggestion!r}?" if suggestion else ""
            raise SchemaError(f"{path.name}: text_columns names {missing[0]!r}, which is not "
                              f"a column of sheet {sheet!r}.{hint}")
        dtype = {raw: str for raw, name in zip(raw_names, names, strict=True)
                 if name and (name in wanted or _is_text_column_name(name))}
        frame = pd.read_excel(book, sheet_name=sheet, dtype=dtype or None,
                              keep_default_na=False, na_values=NA_VALUES)
    # Cells formatted beyond the data give unnamed columns: drop them when they are empty.
    names = (names + [""] * frame.shape[1])[: frame.shape[1]]
    width = len(_rstrip_blank(names)) if any(names) else 0
    extra = frame.iloc[:, width:]
    if extra.notna().to_numpy().any():
        position = width + int(np.argmax(extra.notna().any().to_numpy()))
        raise FileFormatError(f"{path.name}, {where}: column {_excel_column_letter(position)} "
                              f"has no name but holds values. Give every column a name.",
                              path=path, row=1)
    frame = frame.iloc[:, :width]
    frame.columns = names[:width]
    if len(sheets) > 1:
        notes.append(f"sheet {sheet!r} read (workbook sheets: {', '.join(sheets)})")
    return frame, sheet


def _excel_header_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _choose_sheet(path: Path, sheets: list[str], sheet_name: str | int | None) -> str:
    listed = ", ".join(repr(name) for name in sheets)
    if sheet_name is None:
        if len(sheets) == 1:
            return sheets[0]
        raise FileFormatError(f"{path.name}: the workbook has {len(sheets)} sheets ({listed}); "
                              f"pick one by name with sheet_name=...", path=path)
    if isinstance(sheet_name, int) and not isinstance(sheet_name, bool):
        if 0 <= sheet_name < len(sheets):
            return sheets[sheet_name]
        raise FileFormatError(f"{path.name}: no sheet number {sheet_name} (0-based); the "
                              f"workbook has {len(sheets)} sheets: {listed}", path=path)
    if sheet_name in sheets:
        return sheet_name
    suggestion = closest_name(str(sheet_name), sheets)
    hint = f" Did you mean {suggestion!r}?" if suggestion else ""
    raise FileFormatError(f"{path.name}: no sheet named {sheet_name!r}; the sheets are "
                          f"{listed}.{hint}", path=path)
