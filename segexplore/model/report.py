"""The load and clean report: every action taken on the data, and every input row accounted for.

Nothing is lost: each input row of each table ends up *kept*, *merged* into another row
(which one is recorded) or *rejected* (with its reason). :meth:`CleanReport.accounting`
checks that conservation law, table by table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

__all__ = ["ProblemLog", "CleanReport", "ISSUE_COLUMNS", "REJECT_COLUMNS"]

#: Columns of :attr:`CleanReport.issues` (cell-level problems; the row is kept).
ISSUE_COLUMNS = ["table", "file", "row", "column", "value", "problem", "action"]
#: Leading columns of each rejects table; the row's original values follow.
REJECT_COLUMNS = ["table", "file", "row", "reason"]


class FileRows:
    """Row labels of a file without materialising them: row ``i`` is line ``i + first``.

    Indexing with a boolean mask or positions gives the labels of those rows, like an
    array would; 20M events do not need a 160 MB array of line numbers.
    """

    def __init__(self, n_rows: int, first: int = 2) -> None:
        self.n_rows = n_rows
        self.first = first

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, key) -> np.ndarray:
        key = np.asarray(key)
        positions = np.flatnonzero(key) if key.dtype == bool else key.astype(np.int64)
        return positions + self.first

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.arange(self.first, self.n_rows + self.first, dtype=dtype or np.int64)


class ProblemLog:
    """Collects cell-level problems vectorised, one block per (column, problem)."""

    def __init__(self) -> None:
        self._blocks: list[pd.DataFrame] = []

    def add(self, *, table: str, file: str, rows, column: str, values, problem, action: str) -> None:
        """Record one problem (or one per position when ``problem`` is array-like)."""
        rows = np.asarray(rows, dtype=object)
        if len(rows) == 0:
            return
        values = pd.Series(values).astype("object").to_numpy()
        self._blocks.append(pd.DataFrame({
            "table": table, "file": file, "row": rows, "column": column,
            "value": values, "problem": problem, "action": action,
        }))

    def frame(self) -> pd.DataFrame:
        if not self._blocks:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in ISSUE_COLUMNS})
        return pd.concat(self._blocks, ignore_index=True)[ISSUE_COLUMNS]


@dataclass
class CleanReport:
    """What loading and cleaning did, with counts per action.

    Attributes
    ----------
    reads : dict
        Per table, the :class:`~segexplore.io.read.ReadInfo` of what was read and detected.
    steps : DataFrame
        ``table, step, rows, detail``: one line per action, in the order they ran.
    issues : DataFrame
        Cell-level problems (the row is kept): ``table, file, row, column, value, problem,
        action``. ``row`` is the line in the file (header = 1) or the DataFrame index label.
    rejects : dict of DataFrame
        Rejected rows per table, with ``row`` and ``reason`` then the original values.
    merges : DataFrame
        Contacts merged into another: ``row, contact_id, email, merged_into``.
    inputs : dict
        Number of input rows per table.
    """

    reads: dict = field(default_factory=dict)
    steps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["table", "step", "rows", "detail"]))
    issues: pd.DataFrame = field(default_factory=lambda: ProblemLog().frame())
    rejects: dict[str, pd.DataFrame] = field(default_factory=dict)
    merges: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["row", "contact_id", "email", "merged_into"]))
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    kept: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    row_labels: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    seconds: float = 0.0

    def lineage(self, table: str) -> pd.DataFrame:
        """One line per input row of ``table``: ``row, action, merged_into, reason``.

        ``action`` is ``kept``, ``merged`` or ``rejected``; kept rows appear in the clean
        table in the same order as in the input.

        Examples
        --------
        >>> import segexplore as se
        >>> lineage = se.load_sample().report.lineage("contacts")
        >>> lineage["action"].value_counts().to_dict()
        {'kept': 20000}
        """
        labels = np.asarray(self.row_labels[table])
        kept = self.kept[table]
        action = np.where(kept, "kept", "").astype(object)
        merged_into = np.full(len(labels), None, dtype=object)
        reason = np.full(len(labels), None, dtype=object)
        position = pd.Series(np.arange(len(labels)), index=pd.Index(labels))
        if table == "contacts" and len(self.merges):
            at = position.loc[self.merges["row"].to_numpy()].to_numpy()
            action[at] = "merged"
            merged_into[at] = self.merges["merged_into"].to_numpy()
        rejects = self.rejects.get(table)
        if rejects is not None and len(rejects):
            at = position.loc[rejects["row"].to_numpy()].to_numpy()
            action[at] = "rejected"
            reason[at] = rejects["reason"].to_numpy()
        return pd.DataFrame({"row": labels, "action": action, "merged_into": merged_into,
                             "reason": reason})

    def accounting(self) -> pd.DataFrame:
        """Input rows per table split into kept, merged and rejected; ``balanced`` must hold.

        Examples
        --------
        >>> import segexplore as se
        >>> se.load_sample().report.accounting()["balanced"].all()
        np.True_
        """
        rows = []
        for table, n_input in self.inputs.items():
            merged = len(self.merges) if table == "contacts" else 0
            rejected = len(self.rejects.get(table, ()))
            kept = self.outputs.get(table, 0)
            rows.append({"table": table, "input": n_input, "kept": kept, "merged": merged,
                         "rejected": rejected, "balanced": n_input == kept + merged + rejected})
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        """Counts per table and action, for display."""
        return self.steps.copy()

    def __repr__(self) -> str:
        lines = ["CleanReport"]
        for rec in self.accounting().itertuples():
            lines.append(
                f"  {rec.table}: {rec.input:,} in -> {rec.kept:,} kept, {rec.merged:,} merged, "
                f"{rec.rejected:,} rejected"
            )
        for rec in self.steps.itertuples():
            lines.append(f"  [{rec.table}] {rec.step}: {rec.rows:,}  {rec.detail}")
        if len(self.issues):
            lines.append(f"  {len(self.issues):,} cell-level issues: see report.issues "
                         "(command line: segexplore summary FILE --issues)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = ["<div><strong>Load and clean report</strong>",
                 self.accounting().to_html(index=False),
                 self.steps.to_html(index=False)]
        if len(self.issues):
            top = (self.issues.groupby(["table", "column", "problem"], observed=True)
                   .size().rename("rows").reset_index().sort_values("rows", ascending=False))
            parts.append("<p>Cell-level issues (rows kept):</p>" + top.head(20).to_html(index=False))
        parts.append("</div>")
        return "".join(parts) if parts else escape(repr(self))
