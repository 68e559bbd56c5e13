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
from segexplore.errors import ExportError
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


#: The steps of the waterfall, in order: what ``excluded_at`` says of a removed contact.
MATCHED = "matched by the rule"
PRIORITY = "not in a higher-priority segment"
VALID_EMAIL = "valid email"
CONSENTED = "consented"
NOT_SUPPRESSED = "not suppressed"
DEDUPLICATED = "de-duplicated"
EXPORTED = "exported"


@dataclass
class _Selection:
    """Matched contacts (positions in ``base.contacts``) and where each one was removed."""

    base: Any
    positions: np.ndarray
    excluded_at: np.ndarray  # object: None while sendable, else the step that removed it
    steps: list[dict[str, Any]] = field(default_factory=list)
    suppressions: dict[str, Any] = field(default_factory=dict)

    #: The members as an engine keeps them (a DuckDB ``MemberTable``), or None in pandas.
    members: Any = None

    @property
    def sendable(self) -> np.ndarray:
        return np.array([e is None for e in self.excluded_at], dtype=bool)

    def remove(self, step: str, keep: np.ndarray, reason: str) -> None:
        alive = self.sendable
        gone = alive & ~keep
        self.excluded_at[gone] = step
        self.steps.append({"step": step, "remaining": int((alive & keep).sum()),
                           "removed": int(gone.sum()), "reason": reason})

    def sendable_positions(self) -> np.ndarray:
        """The positions of the sendable contacts, in increasing order."""
        return self.positions[self.sendable]

    def narrow(self, keep: np.ndarray, step: str, reason: str) -> _Selection:
        """A copy keeping, of the sendable contacts (in :meth:`sendable_positions`'
        order), those where ``keep``: the others are removed at ``step`` (a split's group,
        a plan's holdout). :meth:`close` it as any selection."""
        own = _Selection(self.base, self.positions, self.excluded_at.copy(),
                         list(self.steps), self.suppressions)
        kept = np.ones(len(own.positions), dtype=bool)
        kept[np.flatnonzero(self.sendable)] = keep
        own.remove(step, kept, reason)
        return own

    def waterfall(self) -> Waterfall:
        final = {"step": EXPORTED, "remaining": self._sendable_count(), "removed": 0,
                 "reason": ""}
        return Waterfall(self.steps + [final], columns=["step", "remaining", "removed", "reason"])

    def _sendable_count(self) -> int:
        return int(self.sendable.sum())

    def close(self) -> None:
        """Let go of what an engine holds for the members (nothing in pandas)."""


class _SqlSelection(_Selection):
    """A selection whose members stay in DuckDB (``members``: an
    :class:`~segexplore.engines.duckdb_rows.MemberTable`): the waterfall's counts come from
    SQL, and ``excluded_at`` is fetched only if a caller asks for it (a split)."""

    def __init__(self, base: Any, positions: np.ndarray, members: Any,
                 steps: list[dict[str, Any]], suppressions: dict[str, Any]) -> None:
        self.base, self.positions, self.members = base, positions, members
        self.steps, self.suppressions = steps, suppressions
        self._excluded: np.ndarray | None = None

    @property  # type: ignore[override]
    def excluded_at(self) -> np.ndarray:
        if self._excluded is None:
            self._excluded = self.members.excluded_at()
        return self._excluded

    def sendable_positions(self) -> np.ndarray:
        return self.members.sendable_positions()

    def narrow(self, keep: np.ndarray, step: str, reason: str) -> _SqlSelection:
        """As :meth:`_Selection.narrow`, the copy a member table of its own in DuckDB."""
        keep = np.asarray(keep, dtype=bool)
        alive = len(keep)
        steps = [*self.steps, {"step": step, "remaining": int(keep.sum()),
                               "removed": alive - int(keep.sum()), "reason": reason}]
        return _SqlSelection(self.base, self.positions, self.members.narrowed(keep, step),
                             steps, self.suppressions)

    def _sendable_count(self) -> int:
        if self._excluded is None:  # nothing removed since the SQL counted
            return self.members.facts().sendable
        return super()._sendable_count()

    def close(self) -> None:
        self.members.close()

    def __repr__(self) -> str:
        return f"_SqlSelection({self.members.facts().matched:,} members in {self.members.table})"


def _contact_count(base: Any) -> int:
    """How many contacts ``base`` has, without reading them from an engine that keeps
    them (DuckDB)."""
    return len(base.contacts) if base.engine == "pandas" else int(base.contact_count)


def _counts_text(counts: Mapping[Any, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))  # stable text
    return ", ".join(f"{k} {v:,}" for k, v in ordered)


def _counts(values: pd.Series) -> str:
    return _counts_text(values.astype("object").fillna("missing").value_counts().to_dict())


def _matched_step(segment: Segment, matched: int, contacts: int) -> dict[str, Any]:
    return {"step": MATCHED, "remaining": matched, "removed": contacts - matched,
            "reason": f"not in segment {segment.name!r}"}


def _priority_reason(names: list[str]) -> str:
    return f"matched first by {', '.join(map(repr, names))}"


def _consent_reason(lost: Mapping[Any, int] | None) -> str:
    """Why the consent step removed contacts; ``lost``: their consent values counted, or
    None when the contacts have no consent column."""
    if lost is None:
        return "the contacts table has no consent column"
    return f"consent not given ({_counts_text(lost)})" if lost else "consent not given"


def _suppression_reason(listed: Mapping[Any, int], erased: int) -> str:
    """Why the suppression step removed contacts: the lists' reasons counted, and how many
    were removed only for being erased."""
    parts = [_counts_text(listed)] if listed else []
    if erased:
        parts.append(f"erased {erased:,}")
    return "on a suppression list" + (f" ({', '.join(parts)})" if parts else "")


DUPLICATE_REASON = "same email as a contact already exported"
INVALID_REASON = "invalid or missing email"


def _listed(base: Any, suppressions: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The suppression lists an export removes (the base's and the export's) and what the
    manifest says of them."""
    listed = pd.concat([base.suppressions, suppressions], ignore_index=True) \
        if suppressions is not None else base.suppressions
    return listed, {"registered_on_base": len(base.suppressions),
                    "emails": int(listed["email"].nunique())}


def _select(segment: Segment, *, suppressions: pd.DataFrame | None = None,
            claimed: Mapping[str, Any] | None = None) -> _Selection:
    """Run the waterfall up to (not including) the final "exported" step."""
    base = segment.base
    if base.engine != "pandas":
        return _select_sql(segment, suppressions, claimed)
    mask = segment.mask
    matched = mask.to_numpy(dtype=bool)
    selection = _Selection(base, np.flatnonzero(matched),
                           np.full(int(matched.sum()), None, dtype=object))
    present = set(base.contact_columns)
    needed = [c for c in ("contact_id", "email", "email_valid", "consent") if c in present]
    rows = base._member_rows(mask, needed, [])
    selection.steps.append(_matched_step(segment, len(rows), len(mask)))
    if claimed is not None:
        taken = rows["contact_id"].isin(list(claimed["ids"])).to_numpy()
        selection.remove(PRIORITY, ~taken, _priority_reason(claimed["names"]))
    emails = rows["email"] if "email" in rows.columns else pd.Series(pd.NA, index=rows.index)
    valid = emails.notna().to_numpy()
    if "email_valid" in rows.columns:
        valid = valid & rows["email_valid"].fillna(False).to_numpy(dtype=bool)
    selection.remove(VALID_EMAIL, valid, INVALID_REASON)
    if "consent" in rows.columns:
        consent = rows["consent"].astype("object")
        given = (consent == "given").to_numpy(dtype=bool)
        lost = consent[selection.sendable & ~given]
        counted = lost.fillna("missing").value_counts().to_dict()
    else:
        given, counted = np.zeros(len(rows), dtype=bool), None
    selection.remove(CONSENTED, given, _consent_reason(counted))
    listed, selection.suppressions = _listed(base, suppressions)
    by_email = listed.drop_duplicates("email").set_index("email")["reason"]
    why = emails.map(by_email)
    suppressed = why.notna().to_numpy()
    erased = base.erasures.contains_emails(emails) | base.erasures.contains_ids(rows["contact_id"])
    lost = why[selection.sendable & suppressed].astype("object").value_counts().to_dict()
    only_erased = int((selection.sendable & erased & ~suppressed).sum())
    selection.remove(NOT_SUPPRESSED, ~(suppressed | erased),
                     _suppression_reason(lost, only_erased))
    alive = selection.sendable
    duplicate = np.zeros(len(rows), dtype=bool)
    duplicate[alive] = emails[alive].duplicated(keep="first").to_numpy()
    if claimed is not None:
        duplicate = duplicate | alive & emails.isin(list(claimed["emails"])).to_numpy()
    selection.remove(DEDUPLICATED, ~duplicate, DUPLICATE_REASON)
    return selection


def _select_sql(segment: Segment, suppressions: pd.DataFrame | None,
                claimed: Mapping[str, Any] | None) -> _SqlSelection:
    """The waterfall of a DuckDB or a connected base's segment: the same steps, counted in
    SQL over its members, which stay in the engine."""
    base = segment.base
    if claimed is not None and "sql" not in claimed:
        raise ExportError("segments of one priority export must all be on one kind of base "
                          "(all pandas, or all on the same engine)")
    listed, info = _listed(base, suppressions)
    names = {"priority": PRIORITY, "email": VALID_EMAIL, "consent": CONSENTED,
             "suppressed": NOT_SUPPRESSED, "duplicate": DEDUPLICATED}
    table = listed.drop_duplicates("email")[["email", "reason"]]
    claims = claimed["sql"] if claimed is not None else None
    if _connected(base):
        from segexplore.engines.server_rows import ServerMemberTable

        positions = np.empty(0, dtype=np.int64)  # they stay in the engine
        members = ServerMemberTable(segment, steps=names, suppressions=table, claims=claims)
    else:
        from segexplore.engines.duckdb_rows import MemberTable

        positions = np.flatnonzero(segment.mask.to_numpy(dtype=bool))
        members = MemberTable(base, positions, steps=names, suppressions=table, claims=claims)
    facts = members.facts()
    steps = [_matched_step(segment, facts.matched, base.contact_count)]
    reasons = {PRIORITY: _priority_reason(claimed["names"]) if claimed is not None else "",
               VALID_EMAIL: INVALID_REASON, CONSENTED: _consent_reason(facts.consent),
               NOT_SUPPRESSED: _suppression_reason(facts.suppressed, facts.erased),
               DEDUPLICATED: DUPLICATE_REASON}
    remaining = facts.matched
    for step, reason in reasons.items():
        if step == PRIORITY and claimed is None:
            continue
        remaining -= facts.removed[step]
        steps.append({"step": step, "remaining": remaining, "removed": facts.removed[step],
                      "reason": reason})
    return _SqlSelection(base, positions, members, steps, info)


def _connected(base: Any) -> bool:
    """Whether ``base`` is a connected one (:func:`segexplore.connect`)."""
    from segexplore.engines.server import ServerBase

    return isinstance(base, ServerBase)


def _claim(claimed: dict[str, Any], selection: _Selection, name: str) -> None:
    """Record what ``selection`` takes in a priority export: its contacts (later segments
    skip them) and the emails it exports (later segments de-duplicate against them)."""
    if isinstance(selection, _SqlSelection):
        if "sql" not in claimed:
            claimed["sql"] = selection.members.claims_type(selection.base)
        claimed["sql"].add(selection.members)
    else:
        rows = selection.base.contacts.iloc[selection.positions]
        claimed["ids"].update(rows["contact_id"].tolist())
        claimed["emails"].update(rows["email"][selection.sendable].dropna().tolist())
    claimed["names"].append(name)


def _release(claimed: Mapping[str, Any]) -> None:
    """Drop what a priority export kept in an engine of who it claimed."""
    if "sql" in claimed:
        claimed["sql"].close()


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
    selection = _select(segment, suppressions=listed)
    try:
        return selection.waterfall()
    finally:
        selection.close()
