"""``ContactBase``: the contacts, their events and orders, and the date they are seen from."""

from __future__ import annotations

from functools import cached_property
from html import escape
from typing import Any

import pandas as pd

from segexplore.errors import RuleEvaluationError, closest_name
from segexplore.model import hooks
from segexplore.model.report import CleanReport
from segexplore.model.roles import Roles, infer_roles
from segexplore.model.segments import Segment

__all__ = ["ContactBase"]


class ContactBase:
    """A clean contact base: three DataFrames, the column roles and an ``as_of`` date.

    Parameters
    ----------
    contacts : DataFrame
        One row per contact; ``contact_id`` unique.
    events, orders : DataFrame, optional
        Canonical columns (see :mod:`segexplore.model.columns`).
    roles : Roles, optional
        Role of each contact column; inferred when omitted.
    as_of : date-like, optional
        The date every time window is measured from. Default: the latest event or order
        time. Set ``base.as_of = "2026-06-30"`` to look at the base on a past date: the
        behaviour features are recomputed and later events are ignored.
    report : CleanReport, optional
        What loading and cleaning did.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> base.as_of
    Timestamp('2026-10-30 23:57:48')
    >>> base.contacts["contact_id"].is_unique
    True
    """

    def __init__(self, contacts: pd.DataFrame, events: pd.DataFrame | None = None,
                 orders: pd.DataFrame | None = None, *, roles: Roles | None = None,
                 as_of: Any = None, report: CleanReport | None = None) -> None:
        self.contacts = contacts
        self.events = events
        self.orders = orders
        self.roles = roles if roles is not None else infer_roles(contacts)
        self.report = report if report is not None else CleanReport()
        self._as_of = self._default_as_of() if as_of is None else pd.Timestamp(as_of)
        self._as_of_is_default = as_of is None
        self._features: pd.DataFrame | None = None
        self.segments: dict[str, Any] = {}

    @property
    def rejects(self) -> dict[str, pd.DataFrame]:
        """Rejected rows per table, each with its file, row and reason (never dropped).

        Examples
        --------
        >>> import segexplore as se
        >>> sorted(se.load_sample().rejects)
        ['contacts', 'events', 'orders']
        """
        return self.report.rejects

    # --- time -------------------------------------------------------------------------
    def _default_as_of(self) -> pd.Timestamp:
        latest = [t["timestamp"].max() for t in (self.events, self.orders)
                  if t is not None and len(t)]
        latest = [t for t in latest if pd.notna(t)]
        if latest:
            return pd.Timestamp(max(latest))
        return pd.Timestamp.now().normalize()

    @property
    def as_of(self) -> pd.Timestamp:
        """The date windows are measured from ("last 30 days" ends here)."""
        return self._as_of

    @as_of.setter
    def as_of(self, value: Any) -> None:
        self._as_of = pd.Timestamp(value)
        self._as_of_is_default = False
        self._features = None

    def at(self, as_of: Any) -> ContactBase:
        """A view of the same base as of another date (tables are shared, not copied)."""
        view = ContactBase(self.contacts, self.events, self.orders, roles=self.roles,
                           as_of=as_of, report=self.report)
        view.__dict__["activity"] = self.activity
        view.segments = self.segments
        # Suppressions and erasures apply to every view of the base: share, do not copy.
        for key in ("_suppressions", "_forgotten", "_privacy_salt"):
            if key in self.__dict__:
                view.__dict__[key] = self.__dict__[key]
        return view

    # --- behaviour ----------------------------------------------------------------------
    @cached_property
    def activity(self):
        """Events and orders indexed for fast per-contact aggregation (built once): a
        :class:`~segexplore.features.activity.ActivityTable`."""
        return hooks.get("activity")(pd.Index(self.contacts["contact_id"]), self.events,
                                     self.orders)

    @property
    def features(self) -> pd.DataFrame:
        """Behaviour features as of :attr:`as_of`, one row per contact (computed once).

        See ``docs/features.md`` for the exact definition of each column.
        """
        if self._features is None:
            self._features = hooks.get("features")(self.contacts, self.activity, self.as_of)
        return self._features

    # --- rules and segments -------------------------------------------------------------
    def evaluator(self):
        """The rule evaluator for the current ``as_of`` (its event aggregates are cached):
        the pandas engine's :class:`~segexplore.rules.engines.pandas.Evaluator`."""
        cached = self.__dict__.get("_evaluator")
        if cached is None or cached.as_of != self.as_of:
            cached = hooks.get("evaluator")(self)
            self.__dict__["_evaluator"] = cached
        return cached

    def segment(self, rule, *, name: str | None = None, description: str = "",
                parent=None, save: bool = True):
        """A :class:`~segexplore.model.segments.Segment` of this base.

        Parameters
        ----------
        rule : Rule or str
            The rule or its text form, e.g. ``'city = "Lyon" and count(visit, last 30
            days) >= 5'``.
        name, description : str, optional
            A named segment is saved in ``base.segments`` so other rules can refer to it
            with ``segment("name")``.
        parent : Segment or str, optional
            The segment (or saved segment name) this one narrows down.
        save : bool, default True
            Register a named segment in ``base.segments``.

        Examples
        --------
        >>> import segexplore as se
        >>> base = se.load_sample()
        >>> seg = base.segment('language = "nl" and count(purchase, last 365 days) >= 1',
        ...                    name="Dutch buyers")
        >>> seg.size == int(seg.mask.sum())
        True
        """
        if isinstance(parent, str):
            if parent not in self.segments:
                guess = closest_name(parent, self.segments)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise RuleEvaluationError(f"unknown parent segment {parent!r}{hint}")
            parent = self.segments[parent]
        segment = Segment(self, rule, name=name, description=description, parent=parent)
        if name is not None and save:
            self.segments[name] = segment
        return segment

    def count(self, rule) -> int:
        """Number of contacts matching ``rule`` (text or Rule), without naming a segment."""
        return int(self.evaluator().array(rule if not isinstance(rule, str)
                                          else hooks.get("parse")(rule)).sum())

    def profile(self, **options: Any):
        """A :class:`~segexplore.analysis.profile.Profile` of every attribute and feature.

        Examples
        --------
        >>> import segexplore as se
        >>> summary = se.load_sample().profile().summary
        >>> int(summary.set_index("attribute").loc["city", "missing"])
        0
        """
        return hooks.get("profile")(self, **options)

    # --- personal data (segexplore.delivery.privacy) and suppressions ---------------------
    def forget(self, email_or_id, **options: Any):
        """Erase one person from every table; later exports cannot contain them.

        See :func:`segexplore.delivery.privacy.forget` (the erasure log holds no personal data).
        """
        return hooks.get("forget")(self, email_or_id, **options)

    def subject_access(self, email_or_id) -> dict:
        """Everything held about one person, as JSON-ready data (GDPR access/portability)."""
        return hooks.get("subject_access")(self, email_or_id)

    def stale_consent(self, months: int = 24) -> pd.Series:
        """Contacts whose consent is older than ``months`` with no engagement since."""
        return hooks.get("stale_consent")(self, months)

    def add_suppressions(self, source, **read_options: Any) -> pd.DataFrame:
        """Register a suppression list (unsubscribes, bounces, complaints) for all exports."""
        return hooks.get("register_suppressions")(self, source, **read_options)

    @property
    def suppressions(self) -> pd.DataFrame:
        """The registered suppression lists, one row per email."""
        return hooks.get("registered_suppressions")(self)

    # --- display ------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Rows per table, time span of the activity, and the share that may be emailed."""
        rows = [{"table": "contacts", "rows": len(self.contacts), "from": None, "to": None}]
        for name in ("events", "orders"):
            table = getattr(self, name)
            if table is not None:
                stamps = table["timestamp"]
                rows.append({"table": name, "rows": len(table),
                             "from": stamps.min() if len(table) else None,
                             "to": stamps.max() if len(table) else None})
        return pd.DataFrame(rows)

    def _consent_line(self) -> str:
        contacts = self.contacts
        parts = []
        if "email_valid" in contacts.columns:
            parts.append(f"{int(contacts['email_valid'].sum()):,} valid emails")
        if "consent" in contacts.columns:
            parts.append(f"{int((contacts['consent'] == 'given').sum()):,} consented")
        return ", ".join(parts)

    def __repr__(self) -> str:
        lines = [f"ContactBase as of {self.as_of:%Y-%m-%d %H:%M}"
                 + (" (latest activity)" if self._as_of_is_default else "")]
        for rec in self.summary().itertuples():
            span = f"  {rec._3:%Y-%m-%d} .. {rec.to:%Y-%m-%d}" if pd.notna(rec.to) else ""
            lines.append(f"  {rec.table:<9}{rec.rows:>12,}{span}")
        consent = self._consent_line()
        if consent:
            lines.append(f"  {consent}")
        if self.report.inputs:
            acc = self.report.accounting()
            lines.append("  cleaning: " + "; ".join(
                f"{r.table} {r.kept:,} kept / {r.merged:,} merged / {r.rejected:,} rejected"
                for r in acc.itertuples()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        summary = self.summary().to_html(index=False, na_rep="")
        return (f"<div><strong>ContactBase</strong> as of {escape(str(self.as_of))}"
                f"<br>{escape(self._consent_line())}{summary}</div>")
