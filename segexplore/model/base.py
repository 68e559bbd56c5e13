"""``ContactBase``: the contacts, their events and orders, and the date they are seen from."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

import pandas as pd

from segexplore.errors import BaseFrozenError
from segexplore.model import hooks
from segexplore.model.erasures import ErasureLedger
from segexplore.model.report import CleanReport
from segexplore.model.roles import Roles, infer_roles
from segexplore.model.segments import Membership, Segment, new_segment

__all__ = ["ContactBase", "combined_suppressions", "no_suppressions", "unerased_suppressions"]


def no_suppressions() -> pd.DataFrame:
    """An empty suppression list: the ``email, reason, date`` columns, no row."""
    return pd.DataFrame({"email": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                         "date": pd.Series(dtype="datetime64[ns]")})


def combined_suppressions(current: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """A base's suppression lists (None: none yet) with a list just read added: what
    every engine's ``with_suppressions`` gives its new view."""
    return new if current is None else pd.concat([current, new], ignore_index=True)


def unerased_suppressions(current: pd.DataFrame | None, erasures: Any) -> pd.DataFrame:
    """A base's suppression lists without the people erased since (their salted hashes
    are in ``erasures``, an :class:`~segexplore.model.erasures.ErasureLedger`): what every
    engine's ``suppressions`` shows, so that no list written later holds their email."""
    if current is None:
        return no_suppressions()
    if not erasures:
        return current
    return current[~erasures.contains_emails(current["email"])].reset_index(drop=True)


class _Tables:
    """What every view of one base shares: the tables, the load report, the saved
    segments, the erasure ledger and what was computed from the tables.

    A view at another date (:meth:`ContactBase.at`) or with other suppressions shares it,
    so an erasure reaches every view. ``version`` changes when an erasure replaces the
    tables, which drops everything computed from them.
    """

    __slots__ = ("contacts", "events", "orders", "report", "segments", "erasures",
                 "version", "derived")

    def __init__(self, contacts: pd.DataFrame, events: pd.DataFrame | None,
                 orders: pd.DataFrame | None, report: CleanReport,
                 erasures: ErasureLedger) -> None:
        self.contacts, self.events, self.orders = contacts, events, orders
        self.report = report
        self.segments: dict[str, Any] = {}
        self.erasures = erasures
        self.version = 0
        self.derived: dict[str, Any] = {}


_OWN_FIELDS = frozenset({"_tables", "_as_of", "_as_of_is_default", "_suppressions", "_roles",
                         "_cache"})


class ContactBase:
    """A clean contact base: three DataFrames, the column roles and an ``as_of`` date.

    A base does not change once made: :meth:`at` gives the same base on another date and
    :meth:`with_suppressions` the same base with more suppression lists, both sharing the
    tables. The one exception is erasure (:meth:`forget`), which must reach every view of
    the base, so it replaces the shared tables.

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
        time. ``base.at("2026-06-30")`` looks at the base on a past date: the behaviour
        features are computed for that date and later events are ignored.
    report : CleanReport, optional
        What loading and cleaning did.
    suppressions : DataFrame, optional
        Suppression lists (``email, reason, date``) every export of this base leaves out;
        see :meth:`with_suppressions`.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> base.as_of
    Timestamp('2026-10-30 23:57:48')
    >>> base.contacts["contact_id"].is_unique
    True
    >>> june = base.at("2026-06-30")
    >>> june.contacts is base.contacts, june.as_of == base.as_of
    (True, False)
    """

    #: Which engine holds the tables (a base held in DuckDB says ``"duckdb"``).
    engine = "pandas"

    def __init__(self, contacts: pd.DataFrame, events: pd.DataFrame | None = None,
                 orders: pd.DataFrame | None = None, *, roles: Roles | None = None,
                 as_of: Any = None, report: CleanReport | None = None,
                 suppressions: pd.DataFrame | None = None) -> None:
        tables = _Tables(contacts, events, orders,
                         report if report is not None else CleanReport(), ErasureLedger())
        self._init(tables, roles if roles is not None else infer_roles(contacts), as_of,
                   suppressions)

    def _init(self, tables: _Tables, roles: Roles, as_of: Any,
              suppressions: pd.DataFrame | None) -> None:
        set_ = object.__setattr__
        set_(self, "_tables", tables)
        set_(self, "_roles", roles)
        set_(self, "_suppressions", suppressions)
        set_(self, "_cache", {})
        set_(self, "_as_of", self._default_as_of() if as_of is None else pd.Timestamp(as_of))
        set_(self, "_as_of_is_default", as_of is None)

    @classmethod
    def _view(cls, tables: _Tables, roles: Roles, as_of: Any,
              suppressions: pd.DataFrame | None) -> ContactBase:
        view = cls.__new__(cls)
        view._init(tables, roles, as_of, suppressions)
        return view

    def __setattr__(self, name: str, value: Any) -> None:
        raise BaseFrozenError(
            f"a ContactBase does not change once made (setting {name!r}): "
            "base.at('2026-06-30') gives it on another date, base.with_suppressions(...) "
            "with more suppression lists, and se.ContactBase(...) or se.read_base(...) "
            "makes one from other tables")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    # --- the tables (shared by every view) ----------------------------------------------
    @property
    def contacts(self) -> pd.DataFrame:
        """One row per contact."""
        return self._tables.contacts

    @property
    def events(self) -> pd.DataFrame | None:
        """One row per event (``contact_id, timestamp, event_type`` ...), or None."""
        return self._tables.events

    @property
    def orders(self) -> pd.DataFrame | None:
        """One row per order (``contact_id, timestamp, amount`` ...), or None."""
        return self._tables.orders

    @property
    def contact_columns(self) -> list[str]:
        """The columns of the contacts table, in order."""
        return list(self._tables.contacts.columns)

    @property
    def roles(self) -> Roles:
        """The role of each contact column (numeric, categorical, email, ...)."""
        return self._roles

    @property
    def report(self) -> CleanReport:
        """What loading and cleaning did: inputs, steps, merges, rejects, issues."""
        return self._tables.report

    @property
    def segments(self) -> dict[str, Any]:
        """The saved segments (name -> Segment), which ``segment("name")`` refers to.

        A registry shared by every view of the base: a segment is a definition, evaluated
        on whichever base it is asked about.
        """
        return self._tables.segments

    @property
    def erasures(self) -> ErasureLedger:
        """Salted hashes of the people erased from this base (see :meth:`forget`)."""
        return self._tables.erasures

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

    def derived(self, name: str, compute: Callable[[], Any] | None = None) -> Any:
        """``compute()``, kept with the tables until an erasure replaces them.

        For values computed from the tables alone (the activity index, fingerprints), so
        every view of the base shares them. Without ``compute``: the value if it was
        computed already, else None (``base.derived("activity")``).
        """
        held = self._tables.derived
        if name not in held:
            if compute is None:
                return None
            held[name] = compute()
        return held[name]

    def _replace_tables(self, *, erased: Iterable[str] = (), **tables: pd.DataFrame) -> None:
        """Erasure's one change: new tables for every view, computed values dropped, and
        the erased people's hashes added to the ledger. Only
        :func:`segexplore.delivery.privacy.forget` calls it."""
        shared = self._tables
        for name, table in tables.items():
            if name not in ("contacts", "events", "orders"):
                raise BaseFrozenError(f"{name!r} is not a table of a ContactBase")
            setattr(shared, name, table)
        shared.erasures._add(erased)
        shared.version += 1
        shared.derived.clear()

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
        """The date windows are measured from ("last 30 days" ends here); see :meth:`at`."""
        return self._as_of

    def at(self, as_of: Any) -> ContactBase:
        """The same base as of another date: the tables, saved segments and erasures are
        shared, the features and rule results are those of ``as_of``.

        Examples
        --------
        >>> import segexplore as se
        >>> base = se.load_sample()
        >>> rule = "count(purchase, last 30 days) >= 1"
        >>> base.at("2026-06-30").count(rule) != base.count(rule)
        True
        """
        view = ContactBase._view(self._tables, self._roles, as_of, self._suppressions)
        return view

    def with_suppressions(self, source: Any, **read_options: Any) -> ContactBase:
        """The same base with a suppression list (unsubscribes, bounces, complaints) added:
        every export and waterfall of the new base leaves these emails out.

        ``source`` is a file, a DataFrame or a list of emails, read by
        :func:`segexplore.delivery.suppressions.read_suppressions` (``read_options`` go to
        it).

        Examples
        --------
        >>> import segexplore as se
        >>> base = se.load_sample()
        >>> email = base.contacts["email"].iloc[0]
        >>> quiet = base.with_suppressions([email])
        >>> len(quiet.suppressions), len(base.suppressions)
        (1, 0)
        """
        combined = combined_suppressions(
            self._suppressions, hooks.get("read_suppressions")(source, **read_options))
        return ContactBase._view(self._tables, self._roles,
                                 None if self._as_of_is_default else self._as_of, combined)

    def with_contact_columns(self, columns: dict[str, Any], *, roles: Roles) -> ContactBase:
        """The same base with columns added to the contacts (scores, say): the events,
        orders, report, saved segments, erasure ledger and activity index are shared; the
        new contacts table is the new base's own.

        ``columns`` maps names to values in the contacts' order; ``roles`` covers them.
        """
        tables = self._tables
        added = _Tables(self.contacts.assign(**columns), tables.events, tables.orders,
                        tables.report, tables.erasures)
        added.segments = tables.segments
        if "activity" in tables.derived:  # same contacts, same order
            added.derived["activity"] = tables.derived["activity"]
        new = ContactBase._view(added, roles, None if self._as_of_is_default else self._as_of,
                                self._suppressions)
        features = self._features
        if features is not None:  # the behaviour features do not read contact columns
            new._cache[("features", added.version)] = features
        return new

    @property
    def suppressions(self) -> pd.DataFrame:
        """The suppression lists of this base (``email, reason, date``), one row per email
        listed; people erased since are not in it."""
        return unerased_suppressions(self._suppressions, self.erasures)

    def _computed(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept for this view (its date) until the tables change."""
        key = (name, self._tables.version)
        cache = self._cache
        if key not in cache:
            if any(k[1] != key[1] for k in cache):  # an erasure replaced the tables
                cache.clear()
            cache[key] = compute()
        return cache[key]

    # --- behaviour ----------------------------------------------------------------------
    @property
    def activity(self):
        """Events and orders indexed for fast per-contact aggregation (built once, shared
        by every view): a :class:`~segexplore.features.activity.ActivityTable`."""
        return self.derived("activity", lambda: hooks.get("activity")(
            pd.Index(self.contacts["contact_id"]), self.events, self.orders))

    @property
    def features(self) -> pd.DataFrame:
        """Behaviour features as of :attr:`as_of`, one row per contact (computed once).

        See ``docs/features.md`` for the exact definition of each column.
        """
        return self._computed("features", lambda: hooks.get("features")(
            self.contacts, self.activity, self.as_of))

    @property
    def _features(self) -> pd.DataFrame | None:
        """The features if they were computed already, else None (nothing is computed)."""
        return self._cache.get(("features", self._tables.version))

    # --- rules and segments -------------------------------------------------------------
    def evaluator(self):
        """The rule evaluator of this base (its event aggregates are cached): the pandas
        engine's :class:`~segexplore.rules.engines.pandas.Evaluator`."""
        return self._computed("evaluator", lambda: hooks.get("evaluator")(self))

    def evaluate(self, segment: Any) -> Membership:
        """Who is in ``segment`` (a Segment, a Rule or rule text) on this base.

        Examples
        --------
        >>> import segexplore as se
        >>> base = se.load_sample()
        >>> android = base.segment('device = "Android"')
        >>> base.at("2026-06-30").evaluate(android).size == android.size
        True
        """
        if not isinstance(segment, Segment):
            segment = Segment(self, segment)
        return segment.on(self)

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
        return new_segment(self, rule, name=name, description=description, parent=parent,
                           save=save)

    def _member_rows(self, mask: pd.Series, columns: list[str] | None,
                     features_used: list[str]) -> pd.DataFrame:
        """The contacts under ``mask`` with ``columns`` (contact columns or features;
        default: every contact column and ``features_used``): what Membership.members
        shows. Each engine's base reads them its own way."""
        contacts = self.contacts[mask.to_numpy()]
        used = [f for f in features_used if f not in contacts.columns]
        if columns is not None:
            wanted = ["contact_id"] + [c for c in columns if c != "contact_id"]
            used = [c for c in wanted if c not in contacts.columns]
            contacts = contacts[[c for c in wanted if c in contacts.columns]]
        if used:
            features = self.features.loc[contacts.index, used]
            contacts = pd.concat([contacts, features], axis=1)
        return contacts

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
