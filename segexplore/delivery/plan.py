"""Variant plans: which message each contact gets, decided before sending.

A :class:`VariantPlan` is a list of entries in priority order, each a segment (or a rule)
with a variant name and its content: a subject, a body template and an offer, all
merge-field templates (:mod:`segexplore.delivery.templates`). **First match wins**: each
contact gets the variant of the first entry that matches it, and the optional default
variant takes everyone else in the plan's target (the whole base when there is no
target). So every contact is in the plan at most once, and what an entry loses to the
entries before it is counted (the overlap waterfall of :meth:`VariantPlan.summary`).

A plan is a specification: :meth:`~VariantPlan.add` and :meth:`~VariantPlan.with_default`
return a new plan (``plan = plan.add(...)``) and nothing is computed until asked
(:meth:`~VariantPlan.assign`, :meth:`~VariantPlan.summary`, :meth:`~VariantPlan.missing`,
:meth:`~VariantPlan.preview`). :meth:`~VariantPlan.export` writes the sendable contacts
with :mod:`segexplore.delivery.plan_export`. See ``docs/plan.md``.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> plan = (se.VariantPlan(base, default="standard")
...         .add('loyalty_tier = "gold"', variant="gold",
...              subject="{first_name|Cher client}, merci pour votre fidélité")
...         .add("purchases_365d >= 1", variant="buyers"))
>>> assigned = plan.assign()
>>> assigned["contact_id"].is_unique, len(assigned) == len(base.contacts)
(True, True)
>>> plan.summary().set_index("variant")["assigned"].to_dict()
{'gold': 510, 'buyers': 1317, 'standard': 18173}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.delivery.export import _rows_frame
from segexplore.delivery.plan_export import PlanExport, export_plan
from segexplore.delivery.templates import (
    TEMPLATE_KEYS,
    Template,
    missing_values,
    parse_templates,
)
from segexplore.delivery.waterfall import _contact_count
from segexplore.errors import BaseFrozenError, ParameterError, ParameterTypeError
from segexplore.model.pii import mask_pii as pseudonymise
from segexplore.model.segments import Segment
from segexplore.rules.nodes import IsMissing, Rule
from segexplore.rules.parser import parse
from segexplore.rules.walk import known_fields

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["PlanEntry", "VariantPlan", "FIRST_MATCH_WINS"]

#: What a plan says about overlaps, in its repr, its HTML and its manifest.
FIRST_MATCH_WINS = ("first match wins: each contact gets the variant of the first entry "
                    "(in priority order) that matches it; the default variant takes everyone "
                    "else in the target")

#: The rule of "everyone" (a plan without a target): every contact has an id.
_EVERYONE = IsMissing("contact_id", negated=True)


@dataclass(frozen=True, eq=False)
class PlanEntry:
    """One entry of a plan: a variant, who may get it, and its content.

    Attributes
    ----------
    priority : int
        1 for the first entry; the default comes last.
    variant : str
    segment : Segment
        Who the entry matches, on the plan's base and inside its target (before earlier
        entries take their share).
    source : str
        What was given: a segment's name or the rule text ("everyone else" for the default).
    templates : mapping
        ``subject``, ``template``, ``offer``: the :class:`~segexplore.delivery.templates.Template`
        of each that was given.
    default : bool
        The default variant (everyone else in the target).
    """

    priority: int
    variant: str
    segment: Segment
    source: str
    templates: Mapping[str, Template]
    default: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        """The merge fields of the entry's templates, in order of first use."""
        return tuple(dict.fromkeys(f for t in self.templates.values() for f in t.fields))

    def to_dict(self) -> dict[str, Any]:
        """Priority, variant, source, rule (text and JSON) and template texts."""
        rule = self.segment.effective_rule
        return {"priority": self.priority, "variant": self.variant, "default": self.default,
                "source": self.source, "rule": str(rule), "rule_json": rule.to_dict(),
                **{key: (str(self.templates[key]) if key in self.templates else None)
                   for key in TEMPLATE_KEYS},
                "fields": list(self.fields)}


def _check(base: Any, rule: Rule) -> None:
    """Raise what the base's engine raises for ``rule`` (unknown names, kinds), now
    rather than when the plan is exported."""
    if base.engine == "pandas":
        base.evaluator().check(rule)
    else:  # an engine that compiles rules describes what they may name
        from segexplore.rules.check import check_rule

        check_rule(rule, base.rule_schema())


def _rule_of(what: Any, parameter: str) -> tuple[Rule, str]:
    """(rule, source text) of a Segment, a Rule or rule text."""
    if isinstance(what, Segment):
        return what.effective_rule, what.name
    if isinstance(what, Rule):
        return what, str(what)
    if isinstance(what, str):
        return parse(what), what
    raise ParameterTypeError(f"{parameter} must be a Segment, a Rule or rule text, not "
                             f"{type(what).__name__}")


class VariantPlan:
    """Who gets which variant of a campaign: entries in priority order, first match wins.

    Parameters
    ----------
    base : ContactBase
    target : Segment, Rule or str, optional
        Who the campaign is for; entries match inside it. Default: the whole base.
    default : str or mapping, optional
        The variant for everyone else in the target: its name, or a mapping with
        ``variant`` and any of ``subject``, ``template``, ``offer`` (see
        :meth:`with_default`). Without one, contacts no entry matches get no variant.
    name : str, default "plan"
        Names the plan in its repr, files and manifest.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> plan = se.VariantPlan(base, target='country = "FR"', name="rentree")
    >>> plan = plan.add('loyalty_tier = "gold"', variant="gold",
    ...                 template="Bonjour {first_name|cher client}, -20% sur "
    ...                          "{preferred_brand|nos marques}")
    >>> plan = plan.with_default("standard", template="Bonjour {first_name|cher client}")
    >>> sizes = plan.summary().set_index("variant")["assigned"]
    >>> int(sizes.sum()) == base.count('country = "FR"')
    True
    """

    def __init__(self, base: ContactBase, *, target: Any = None, default: Any = None,
                 name: str = "plan") -> None:
        from segexplore.engines.duckdb import DuckDBBase
        from segexplore.model.base import ContactBase

        if not isinstance(base, (ContactBase, DuckDBBase)):
            raise ParameterTypeError(f"base must be a ContactBase or a DuckDBBase, not "
                                     f"{type(base).__name__}")
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"name must be a non-empty text, not {name!r}")
        set_ = object.__setattr__
        set_(self, "base", base)
        set_(self, "name", name)
        target_segment = None
        if target is not None:
            rule, source = _rule_of(target, "target")
            _check(base, rule)
            target_segment = Segment(base, rule, name=source)
        set_(self, "target", target_segment)
        set_(self, "entries", ())
        set_(self, "default", None)
        if default is not None:
            if isinstance(default, str):
                options: dict[str, Any] = {"variant": default}
            elif isinstance(default, Mapping):
                options = dict(default)
            else:
                raise ParameterTypeError("default must be a variant name or a mapping of "
                                         "variant, subject, template, offer; not "
                                         f"{type(default).__name__}")
            unknown = set(options) - {"variant", *TEMPLATE_KEYS}
            if unknown or "variant" not in options:
                raise ParameterError(f"default: give 'variant' and any of {list(TEMPLATE_KEYS)};"
                                     f" got {sorted(options)}")
            set_(self, "default", self.with_default(**options).default)

    def __setattr__(self, name: str, value: Any) -> None:
        raise BaseFrozenError(f"a VariantPlan does not change (setting {name!r}): add() and "
                              "with_default() return a new plan, plan = plan.add(...)")

    def _with(self, entries: tuple[PlanEntry, ...], default: PlanEntry | None) -> VariantPlan:
        clone = VariantPlan.__new__(VariantPlan)
        for key in ("base", "name", "target"):
            object.__setattr__(clone, key, getattr(self, key))
        object.__setattr__(clone, "entries", entries)
        object.__setattr__(clone, "default", default)
        return clone

    # --- building -----------------------------------------------------------------------
    def _check_variant(self, variant: Any, replacing_default: bool = False) -> str:
        if not isinstance(variant, str) or not variant.strip():
            raise ParameterError(f"variant must be a non-empty text, not {variant!r}")
        taken = [e.variant for e in self.entries]
        if self.default is not None and not replacing_default:
            taken.append(self.default.variant)
        if variant.strip().lower() in {t.strip().lower() for t in taken}:
            raise ParameterError(f"variant {variant!r} is in the plan already (variants: "
                                 f"{taken}); each entry has a variant of its own")
        return variant

    def _templates(self, variant: str, texts: Mapping[str, Any]) -> dict[str, Template]:
        return parse_templates(texts, what=f"variant {variant!r}",
                               known=known_fields(self.base.contact_columns))

    def add(self, segment_or_rule: Any, *, variant: str, template: str | None = None,
            subject: str | None = None, offer: str | None = None) -> VariantPlan:
        """A new plan with one more entry, after the others (lower priority).

        Parameters
        ----------
        segment_or_rule : Segment, Rule or str
            Who may get this variant (inside the plan's target). A segment's parent
            counts: its effective rule is used.
        variant : str
            The variant's name, unique in the plan (case ignored).
        template, subject, offer : str, optional
            Merge-field templates (``"Bonjour {first_name|cher client}"``, see
            :mod:`segexplore.delivery.templates`): the body, the subject line, the offer.

        Raises
        ------
        ParameterError
            An empty or repeated variant name.
        TemplateError
            A template's syntax, or a field that is neither a contact column nor a feature
            (with the closest name).
        RuleEvaluationError
            The rule names an unknown field, event type or segment of the base.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = se.VariantPlan(se.load_sample())
        >>> plan.add('city = "Paris"', variant="paris", template="Bonjour {frist_name}")
        Traceback (most recent call last):
        ...
        segexplore.errors.TemplateError: template of variant 'paris': unknown field 'frist_name' at position 8 (merge fields are contact columns and behaviour features); did you mean 'first_name'?
        """
        variant = self._check_variant(variant)
        rule, source = _rule_of(segment_or_rule, "segment_or_rule")
        _check(self.base, rule)
        templates = self._templates(variant, {"subject": subject, "template": template,
                                              "offer": offer})
        segment = Segment(self.base, rule, name=variant, parent=self.target,
                          description=f"entry {len(self.entries) + 1} of plan {self.name!r}")
        entry = PlanEntry(len(self.entries) + 1, variant, segment, source, templates)
        default = self.default
        if default is not None:  # the default stays last
            default = PlanEntry(entry.priority + 1, default.variant, default.segment,
                                default.source, default.templates, True)
        return self._with((*self.entries, entry), default)

    def with_default(self, variant: str = "default", *, template: str | None = None,
                     subject: str | None = None, offer: str | None = None) -> VariantPlan:
        """A new plan whose default variant (replacing any) takes everyone else in the
        target: those no entry matches.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = se.VariantPlan(se.load_sample()).add('city = "Paris"', variant="paris")
        >>> plan.with_default("others").summary()["variant"].tolist()
        ['paris', 'others']
        """
        variant = self._check_variant(variant, replacing_default=True)
        templates = self._templates(variant, {"subject": subject, "template": template,
                                              "offer": offer})
        segment = self.target if self.target is not None else Segment(
            self.base, _EVERYONE, name="everyone")
        entry = PlanEntry(len(self.entries) + 1, variant, segment, "everyone else", templates,
                          True)
        return self._with(self.entries, entry)

    @property
    def all_entries(self) -> tuple[PlanEntry, ...]:
        """The entries in priority order, the default (if any) last."""
        return self.entries + ((self.default,) if self.default is not None else ())

    # --- who gets what ------------------------------------------------------------------
    def _target_mask(self) -> np.ndarray:
        if self.target is None:
            return np.ones(_contact_count(self.base), dtype=bool)
        return self.target.on(self.base).mask.to_numpy(dtype=bool)

    def _masks(self) -> tuple[list[np.ndarray], np.ndarray]:
        """What each entry matches (inside the target), and the index in ``all_entries``
        of each contact's variant (-1: none)."""
        entries = self.all_entries
        if not entries:
            raise ParameterError("the plan has no entries: add() returns a new plan, so write "
                                 "plan = plan.add(...) (or chain the calls)")
        masks = [e.segment.on(self.base).mask.to_numpy(dtype=bool) for e in entries]
        chosen = np.full(_contact_count(self.base), -1, dtype=np.int64)
        free = np.ones(len(chosen), dtype=bool)
        for i, matched in enumerate(masks):
            take = matched & free
            chosen[take] = i
            free &= ~take
        return masks, chosen

    def assign(self) -> pd.DataFrame:
        """Each assigned contact and its variant, once: the first entry that matches wins.

        Returns
        -------
        DataFrame
            ``contact_id, variant``, in the order of ``base.contacts`` and indexed like
            it; contacts outside the target, and (without a default) those no entry
            matches, are not in it. It can be passed to :func:`segexplore.ab_test` as the
            assignment.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = (se.VariantPlan(se.load_sample())
        ...         .add('city = "Paris"', variant="paris")
        ...         .add('country = "FR"', variant="france"))
        >>> plan.assign()["variant"].value_counts().to_dict()
        {'france': 12834, 'paris': 3225}
        """
        _, chosen = self._masks()
        names = np.array([e.variant for e in self.all_entries], dtype=object)
        assigned = chosen >= 0
        if self.base.engine == "pandas":
            ids, index = self.base.contacts["contact_id"].to_numpy(), self.base.contacts.index
        else:  # positions are the index: a DuckDB base's contacts have no other
            ids = self.base.contact_ids.to_numpy()
            index = pd.RangeIndex(len(ids))
        return pd.DataFrame({"contact_id": ids[assigned],
                             "variant": pd.Series(names[chosen[assigned]], dtype="str").to_numpy()},
                            index=index[assigned])

    def summary(self) -> pd.DataFrame:
        """The overlap waterfall: per entry, who it matches, who earlier entries took,
        who it gets.

        Returns
        -------
        DataFrame
            One row per entry (the default last): ``priority, variant, source, matched``
            (inside the target), ``taken_by_earlier`` (matched, but given to an earlier
            entry), ``assigned``, ``share`` (of the target) and ``taken_by`` (which
            earlier entries took them: ``"gold 120, paris 14"``). ``attrs`` hold
            ``target`` (its size), ``unassigned`` (in the target, no variant) and
            ``outside_target``.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = (se.VariantPlan(se.load_sample())
        ...         .add('country = "FR"', variant="france")
        ...         .add('city = "Paris"', variant="paris"))
        >>> plan.summary()[["variant", "matched", "taken_by_earlier", "assigned"]]
          variant  matched  taken_by_earlier  assigned
        0  france    16059                 0     16059
        1   paris     3225              3225         0
        """
        masks, chosen = self._masks()
        entries = self.all_entries
        target = int(self._target_mask().sum())
        rows = []
        for i, (entry, matched) in enumerate(zip(entries, masks, strict=True)):
            lost = {entries[j].variant: int((matched & (chosen == j)).sum()) for j in range(i)}
            assigned = int((chosen == i).sum())
            rows.append({"priority": entry.priority, "variant": entry.variant,
                         "source": entry.source, "default": entry.default,
                         "matched": int(matched.sum()),
                         "taken_by_earlier": int(matched.sum()) - assigned,
                         "assigned": assigned, "share": assigned / target if target else 0.0,
                         "taken_by": ", ".join(f"{k} {v:,}" for k, v in lost.items() if v)})
        out = pd.DataFrame(rows)
        out.attrs.update({"target": target, "unassigned": target - int((chosen >= 0).sum()),
                          "outside_target": len(chosen) - target})
        return out

    # --- merge fields -------------------------------------------------------------------
    def _values(self, positions: np.ndarray, fields: tuple[str, ...]) -> pd.DataFrame:
        if not fields:  # a frame of no columns still has one row per contact
            return pd.DataFrame(index=pd.RangeIndex(len(positions)))
        return _rows_frame(self.base, positions, list(fields))

    def render(self, entry: PlanEntry, positions: np.ndarray, *,
               mask_pii: bool = False) -> pd.DataFrame:
        """The entry's templates filled in for the contacts at ``positions`` (rows of
        ``base.contacts``): one column per template given, named as on export
        (``subject``, ``body``, ``offer``)."""
        values = self._values(positions, entry.fields)
        if mask_pii:
            values = pseudonymise(values)
        return self.render_values(entry, values)

    def render_values(self, entry: PlanEntry, values: pd.DataFrame) -> pd.DataFrame:
        """The entry's templates filled in from ``values`` (a frame holding the entry's
        merge fields, one row per contact, as an export reads them a batch at a time)."""
        return pd.DataFrame({TEMPLATE_KEYS[key]: template.render(values).to_numpy()
                             for key, template in entry.templates.items()},
                            index=pd.RangeIndex(len(values)))

    def missing(self) -> pd.DataFrame:
        """Per variant and merge field, how many assigned contacts have no value for it.

        Those get the field's fallback (``{first_name|cher client}``), or nothing when the
        template gives none (``no_fallback``). Missing is null (NaN, None, NaT, NA) or
        blank text.

        Returns
        -------
        DataFrame
            ``variant, field, used_in`` (which templates), ``fallback`` (the fallback
            texts, `` / ``-joined when they differ), ``no_fallback``, ``contacts``
            (assigned to the variant), ``missing``, ``share``.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = se.VariantPlan(se.load_sample()).add(
        ...     "purchases_total >= 1", variant="buyers",
        ...     template="Votre marque : {preferred_brand|nos marques}")
        >>> plan.missing()[["variant", "field", "fallback", "missing"]].to_dict("records")
        [{'variant': 'buyers', 'field': 'preferred_brand', 'fallback': 'nos marques', 'missing': 898}]
        """
        _, chosen = self._masks()
        rows = []
        for i, entry in enumerate(self.all_entries):
            positions = np.flatnonzero(chosen == i)
            values = self._values(positions, entry.fields)
            for field in entry.fields:
                uses = [(key, f) for key, t in entry.templates.items()
                        for f in t.merge_fields if f.name == field]
                fallbacks = list(dict.fromkeys(f.fallback for _, f in uses
                                               if f.fallback is not None))
                count = int(missing_values(values[field]).sum())
                rows.append({"variant": entry.variant, "field": field,
                             "used_in": ", ".join(dict.fromkeys(k for k, _ in uses)),
                             "fallback": " / ".join(fallbacks) if fallbacks else None,
                             "no_fallback": any(f.fallback is None for _, f in uses),
                             "contacts": len(positions), "missing": count,
                             "share": count / len(positions) if len(positions) else 0.0})
        columns = ["variant", "field", "used_in", "fallback", "no_fallback", "contacts",
                   "missing", "share"]
        return pd.DataFrame(rows, columns=columns)

    def preview(self, n: int = 5, *, mask_pii: bool = False, seed: int = 0) -> pd.DataFrame:
        """A few real contacts of each variant with their templates filled in.

        Parameters
        ----------
        n : int, default 5
            Contacts per variant, drawn at random (``seed``) among those assigned to it.
        mask_pii : bool, default False
            Pseudonymise emails and names (:func:`segexplore.model.pii.mask_pii`) before
            rendering, so the filled-in text holds only initials (``"Bonjour J."``).
        seed : int, default 0

        Returns
        -------
        DataFrame
            ``variant, contact_id, email`` and the rendered ``subject, body, offer``.

        Examples
        --------
        >>> import segexplore as se
        >>> plan = se.VariantPlan(se.load_sample()).add(
        ...     'city = "Paris"', variant="paris", subject="Bonjour {first_name}")
        >>> plan.preview(2, mask_pii=True)["subject"].tolist()
        ['Bonjour S.', 'Bonjour É.']
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"n must be a whole number >= 1, not {n!r}")
        _, chosen = self._masks()
        frames = []
        rng = np.random.default_rng(seed)
        for i, entry in enumerate(self.all_entries):
            positions = np.flatnonzero(chosen == i)
            if len(positions) > n:
                positions = np.sort(rng.choice(positions, size=int(n), replace=False))
            head = _rows_frame(self.base, positions, ["contact_id", "email"])
            if mask_pii:
                head = pseudonymise(head)
            frames.append(pd.concat([pd.DataFrame({"variant": [entry.variant] * len(head)}),
                                     head, self.render(entry, positions, mask_pii=mask_pii)],
                                    axis=1))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # --- export -------------------------------------------------------------------------
    def export(self, folder: Any, *, preset: str | None = None, layout: str = "one_file",
               merge_fields: bool = True, holdout: float = 0.0, seed: int | None = None,
               columns: list[str] | None = None, suppressions: Any = None,
               excel: bool = False) -> PlanExport:
        """Write the sendable contacts of every variant, and a manifest of the plan.

        See :func:`segexplore.delivery.plan_export.export_plan` for the parameters.

        Examples
        --------
        >>> import segexplore as se, tempfile
        >>> plan = se.VariantPlan(se.load_sample()).add('city = "Paris"', variant="paris",
        ...                                             subject="Bonjour {first_name}")
        >>> result = plan.export(tempfile.mkdtemp(), preset="brevo")
        >>> result.manifest["entries"][0]["variant"], list(result.files)
        ('paris', ['plan.csv'])
        """
        return export_plan(self, folder, preset=preset, layout=layout,
                           merge_fields=merge_fields, holdout=holdout, seed=seed,
                           columns=columns, suppressions=suppressions, excel=excel)

    # --- what it is ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The plan as data: name, target, the first-match rule, entries in order."""
        target = None if self.target is None else {
            "name": self.target.name, "rule": self.target.text}
        return {"name": self.name, "as_of": self.base.as_of.isoformat(), "target": target,
                "overlap": FIRST_MATCH_WINS,
                "entries": [e.to_dict() for e in self.all_entries]}

    def __repr__(self) -> str:
        target = "the whole base" if self.target is None else f"target {self.target.name!r}"
        head = (f"VariantPlan({self.name!r}, {target}, as of {self.base.as_of:%Y-%m-%d}) - "
                "first match wins")
        if not self.all_entries:
            return head + "\n  no entries yet: plan = plan.add(rule, variant=...)"
        table = self.summary()
        lines = [head, f"  {'#':>2}  {'variant':<16}{'matched':>10}{'taken by earlier':>18}"
                       f"{'assigned':>10}  rule"]
        for rec in table.itertuples(index=False):
            rank = "-" if rec.default else str(rec.priority)
            lost = f"  (lost to {rec.taken_by})" if rec.taken_by else ""
            lines.append(f"  {rank:>2}  {rec.variant:<16}{rec.matched:>10,}"
                         f"{rec.taken_by_earlier:>18,}{rec.assigned:>10,}  {rec.source}{lost}")
        attrs = table.attrs
        lines.append(f"  {attrs['target']:,} contacts in the target, {attrs['unassigned']:,} "
                     "without a variant")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        target = ("the whole base" if self.target is None
                  else f"target <em>{escape(self.target.name)}</em>")
        head = (f"<div><strong>VariantPlan</strong> {escape(self.name)} &middot; {target} "
                f"&middot; as of {self.base.as_of:%Y-%m-%d}<br><em>First match wins</em>: "
                "each contact gets the variant of the first entry that matches it")
        if not self.all_entries:
            return head + "<br>no entries yet</div>"
        table = self.summary()
        cells = []
        for rec in table.itertuples(index=False):
            rank = "default" if rec.default else str(rec.priority)
            cells.append(
                f"<tr><td>{rank}</td><td>{escape(rec.variant)}</td>"
                f"<td><code>{escape(rec.source)}</code></td>"
                f"<td style='text-align:right'>{rec.matched:,}</td>"
                f"<td style='text-align:right'>{rec.taken_by_earlier:,}</td>"
                f"<td style='text-align:right'><strong>{rec.assigned:,}</strong></td>"
                f"<td>{escape(rec.taken_by)}</td></tr>")
        attrs = table.attrs
        return (head + "<table><thead><tr><th>#</th><th>variant</th><th>rule</th>"
                "<th>matched</th><th>taken by earlier</th><th>assigned</th><th>lost to</th>"
                "</tr></thead><tbody>" + "".join(cells) + "</tbody></table>"
                f"{attrs['target']:,} contacts in the target, {attrs['unassigned']:,} "
                "without a variant</div>")
