"""The sendable-contacts waterfall: who of a segment may be emailed, and why the others not.

Each step removes contacts for one reason: matched by the rule, valid email, consented,
not suppressed (suppression lists, and people erased with
:func:`~segexplore.delivery.privacy.forget`), de-duplicated, exported. The selection it
computes is what every export writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.delivery.suppressions import _prepare_suppressions
from segexplore.model import hooks

if TYPE_CHECKING:
    from segexplore.model.segments import Segment

__all__ = ["Waterfall", "sendable_waterfall"]



class Waterfall(pd.DataFrame):
    """The sendable-contacts waterfall: ``step, remaining, removed, reason`` per step.

    A plain DataFrame that a notebook shows as a funnel; slicing it gives a DataFrame.
    """

    _metadata: list[str] = []

    @property
    def _constructor(self):  # derived frames are ordinary DataFrames
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return _funnel_html(self)


def _funnel_html(frame: pd.DataFrame) -> str:
    top = max(int(frame["remaining"].iloc[0]), 1) if len(frame) else 1
    rows = []
    for rec in frame.itertuples(index=False):
        width = 100.0 * int(rec.remaining) / top
        removed = f"&minus;{int(rec.removed):,}" if rec.removed else ""
        rows.append(
            f"<tr><td>{escape(str(rec.step))}</td>"
            f"<td style='text-align:right'>{int(rec.remaining):,}</td>"
            f"<td style='width:220px'><div style='background:#4c78a8;height:0.9em;"
            f"width:{width:.1f}%'></div></td>"
            f"<td style='text-align:right;color:#b03a2e'>{removed}</td>"
            f"<td>{escape(str(rec.reason)) if rec.removed else ''}</td></tr>")
    return ("<table><thead><tr><th>step</th><th>remaining</th><th></th><th>removed</th>"
            "<th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


@dataclass
class _Selection:
    """Matched contacts (positions in ``base.contacts``) and where each one was removed."""

    base: Any
    positions: np.ndarray
    excluded_at: np.ndarray  # object: None while sendable, else the step that removed it
    steps: list[dict[str, Any]] = field(default_factory=list)
    suppressions: dict[str, Any] = field(default_factory=dict)

    @property
    def sendable(self) -> np.ndarray:
        return np.array([e is None for e in self.excluded_at], dtype=bool)

    def remove(self, step: str, keep: np.ndarray, reason: str) -> None:
        alive = self.sendable
        gone = alive & ~keep
        self.excluded_at[gone] = step
        self.steps.append({"step": step, "remaining": int((alive & keep).sum()),
                           "removed": int(gone.sum()), "reason": reason})

    def waterfall(self) -> Waterfall:
        final = {"step": "exported", "remaining": int(self.sendable.sum()), "removed": 0,
                 "reason": ""}
        return Waterfall(self.steps + [final], columns=["step", "remaining", "removed", "reason"])


def _counts(values: pd.Series) -> str:
    counts = values.astype("object").fillna("missing").value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))  # stable text
    return ", ".join(f"{k} {v:,}" for k, v in ordered)


def _select(segment: Segment, *, suppressions: pd.DataFrame | None = None,
            claimed: Mapping[str, Any] | None = None) -> _Selection:
    """Run the waterfall up to (not including) the final "exported" step."""
    base = segment.base
    mask = segment.mask
    matched = mask.to_numpy(dtype=bool)
    selection = _Selection(base, np.flatnonzero(matched),
                           np.full(int(matched.sum()), None, dtype=object))
    # Only the columns the steps read, for the members only (a DuckDB base reads them there).
    present = set(base.contact_columns)
    needed = [c for c in ("contact_id", "email", "email_valid", "consent") if c in present]
    rows = base._member_rows(mask, needed, [])
    selection.steps.append({"step": "matched by the rule", "remaining": len(rows),
                            "removed": len(mask) - len(rows),
                            "reason": f"not in segment {segment.name!r}"})
    if claimed is not None:
        taken = rows["contact_id"].isin(list(claimed["ids"])).to_numpy()
        selection.remove("not in a higher-priority segment", ~taken,
                         f"matched first by {', '.join(map(repr, claimed['names']))}")
    emails = rows["email"] if "email" in rows.columns else pd.Series(pd.NA, index=rows.index)
    valid = emails.notna().to_numpy()
    if "email_valid" in rows.columns:
        valid = valid & rows["email_valid"].fillna(False).to_numpy(dtype=bool)
    selection.remove("valid email", valid, "invalid or missing email")
    if "consent" in rows.columns:
        consent = rows["consent"].astype("object")
        given = (consent == "given").to_numpy(dtype=bool)
        lost = consent[selection.sendable & ~given]
        reason = f"consent not given ({_counts(lost)})" if len(lost) else "consent not given"
    else:
        given = np.zeros(len(rows), dtype=bool)
        reason = "the contacts table has no consent column"
    selection.remove("consented", given, reason)
    listed = pd.concat([base.suppressions, suppressions], ignore_index=True) \
        if suppressions is not None else base.suppressions
    selection.suppressions = {"registered_on_base": len(base.suppressions),
                              "emails": int(listed["email"].nunique())}
    by_email = listed.drop_duplicates("email").set_index("email")["reason"]
    why = emails.map(by_email)
    suppressed = why.notna().to_numpy()
    erased = base.erasures.contains_emails(emails) | base.erasures.contains_ids(rows["contact_id"])
    lost = why[selection.sendable & suppressed]
    parts = [_counts(lost)] if len(lost) else []
    if (selection.sendable & erased & ~suppressed).any():
        parts.append(f"erased {int((selection.sendable & erased & ~suppressed).sum()):,}")
    selection.remove("not suppressed", ~(suppressed | erased),
                     "on a suppression list" + (f" ({', '.join(parts)})" if parts else ""))
    alive = selection.sendable
    duplicate = np.zeros(len(rows), dtype=bool)
    duplicate[alive] = emails[alive].duplicated(keep="first").to_numpy()
    if claimed is not None:
        duplicate = duplicate | alive & emails.isin(list(claimed["emails"])).to_numpy()
    selection.remove("de-duplicated", ~duplicate, "same email as a contact already exported")
    return selection


@hooks.implements("sendable_waterfall")
def sendable_waterfall(segment: Segment, *, suppressions: Any = None) -> Waterfall:
    """The waterfall of :func:`export_segment` without writing anything.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> seg = base.segment('language = "nl"', name="Dutch")
    >>> steps = sendable_waterfall(seg)
    >>> steps["step"].tolist()[1:]
    ['valid email', 'consented', 'not suppressed', 'de-duplicated', 'exported']
    >>> int(steps["remaining"].iloc[-1]) <= seg.size
    True
    """
    listed, _ = _prepare_suppressions(suppressions)
    return _select(segment, suppressions=listed).waterfall()
