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
        Per table, the :class:`~segexplore.core.io.ReadInfo` of what was read and detected.
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
            lines.append(f"  {len(self.issues):,} cell-level issues: see report.issues")
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
