"""The Plan tab: who gets which variant of a campaign, checked before sending.

The analyst adds entries in priority order (a saved segment or the rule being built, a
variant name, a subject and a body with merge fields such as ``{first_name|cher client}``)
and an optional default variant for everyone else. The tab shows the plan's overlap
waterfall (:meth:`~segexplore.delivery.plan.VariantPlan.summary`: each variant's size and
what it lost to earlier entries, first match wins), its fallback counts
(:meth:`~segexplore.delivery.plan.VariantPlan.missing`) and a masked preview of a few
rendered contacts per variant; *Export* writes
:meth:`~segexplore.delivery.plan.VariantPlan.export` into a new folder of its own under the
explorer's export folder (never over an earlier export) and offers each CSV as a download
link, as the Export tab does.

:class:`PlanDraft` holds the entries and builds the :class:`~segexplore.delivery.plan.VariantPlan`
(tested without widgets); :class:`PlanPanel` lays it out. A base the plan does not take
(a connected ``se.connect`` base) shows the plan's own message instead of the form.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> draft = PlanDraft(base)
>>> draft.add('loyalty_tier = "gold"', "gold", subject="{first_name|Cher client}, merci")
>>> draft.add("purchases_365d >= 1", "buyers")
>>> draft.set_default("standard")
>>> draft.plan().summary().set_index("variant")["assigned"].to_dict()
{'gold': 510, 'buyers': 1317, 'standard': 18173}
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import pandas as pd

from segexplore.delivery.plan import VariantPlan
from segexplore.delivery.plan_export import LAYOUTS, PlanExport
from segexplore.display.numbers import format_count
from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.model.pii import mask_emails
from segexplore.rules.mask import mask_rule
from segexplore.widgets.display import (
    download_link_html,
    error_html,
    frame_html,
    message_html,
    safe_filename,
)
from segexplore.widgets.export_panel import PRESETS
from segexplore.widgets.state.sources import SegmentChoices

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["DraftEntry", "PlanDraft", "PlanPanel", "PREVIEW_ROWS", "new_export_folder",
           "summary_table", "summary_html", "missing_html", "preview_html", "entries_frame"]

#: Contacts per variant in the tab's preview.
PREVIEW_ROWS = 3


@dataclass(frozen=True)
class DraftEntry:
    """One entry as the analyst gave it: who, the variant, its subject and body texts."""

    who: Any  # a Segment, a Rule or rule text: what VariantPlan.add takes
    variant: str
    subject: str | None = None
    template: str | None = None


def _text_or_none(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


def new_export_folder(root: str | Path, stem: str) -> Path:
    """A folder made now under ``root``: ``<stem>``, else ``<stem>_2``, ``<stem>_3``...

    Each export gets a folder nobody wrote to, so it never replaces an earlier export's
    files (the plan's export replaces files of its names in the folder it is given).
    """
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        folder = root / (stem if number == 1 else f"{stem}_{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            number += 1
            continue
        return folder


class PlanDraft:
    """The plan being drafted: entries in priority order and the default variant.

    Parameters
    ----------
    base : ContactBase
    name : str, default "plan"
        The plan's name: it names the exported files and the manifest.

    Attributes
    ----------
    entries : list of DraftEntry
        In priority order (the first match wins).
    default : DraftEntry or None
        The default variant (its ``who`` is None), for everyone no entry matches.
    refused : str or None
        Why :class:`~segexplore.delivery.plan.VariantPlan` does not take this base (a
        connected base), or None.
    """

    def __init__(self, base: ContactBase, *, name: str = "plan") -> None:
        self.base = base
        self.name = name
        self.entries: list[DraftEntry] = []
        self.default: DraftEntry | None = None
        try:
            VariantPlan(base, name=name)
            self.refused: str | None = None
        except ParameterTypeError as error:
            self.refused = str(error)

    def _build(self, entries: list[DraftEntry], default: DraftEntry | None,
               name: str) -> VariantPlan:
        plan = VariantPlan(self.base, name=name)
        for entry in entries:
            plan = plan.add(entry.who, variant=entry.variant, subject=entry.subject,
                            template=entry.template)
        if default is not None:
            plan = plan.with_default(default.variant, subject=default.subject,
                                     template=default.template)
        return plan

    def plan(self) -> VariantPlan | None:
        """The :class:`~segexplore.delivery.plan.VariantPlan` of the draft; None while it
        has neither an entry nor a default."""
        if not self.entries and self.default is None:
            return None
        return self._build(self.entries, self.default, self.name)

    def add(self, who: Any, variant: str, *, subject: str | None = None,
            template: str | None = None) -> None:
        """Add an entry after the others; nothing is added when the plan refuses it.

        Parameters
        ----------
        who : Segment, Rule or str
            Who may get the variant.
        variant : str
        subject, template : str, optional
            Merge-field templates; blank texts count as none.

        Raises
        ------
        ParameterError
            An empty or repeated variant name.
        TemplateError
            A template's syntax or an unknown merge field.
        RuleEvaluationError
            The rule names what the base does not have.
        """
        entry = DraftEntry(who, variant.strip(), _text_or_none(subject), _text_or_none(template))
        self._build([*self.entries, entry], self.default, self.name)  # raises what is wrong
        self.entries.append(entry)

    def remove_last(self) -> DraftEntry | None:
        """Remove the entry of lowest priority and return it (None when there is none)."""
        return self.entries.pop() if self.entries else None

    def set_default(self, variant: str | None, *, subject: str | None = None,
                    template: str | None = None) -> None:
        """Set the default variant (replacing any); a blank ``variant`` removes it.

        Raises
        ------
        ParameterError, TemplateError
            As :meth:`add`; the draft keeps its default then.
        """
        if variant is None or not variant.strip():
            self.default = None
            return
        default = DraftEntry(None, variant.strip(), _text_or_none(subject),
                             _text_or_none(template))
        self._build(self.entries, default, self.name)
        self.default = default

    def rename(self, name: str) -> None:
        """Name the plan (and so its files).

        Raises
        ------
        ParameterError
            An empty name.
        """
        if not name.strip():
            raise ParameterError("the plan needs a name: it names the exported files")
        self.name = name.strip()

    def export(self, root: str | Path, *, preset: str = "plain", layout: str = "one_file",
               excel: bool = False) -> PlanExport:
        """Export the plan into a new folder under ``root`` (see :func:`new_export_folder`).

        Raises
        ------
        ParameterError
            The draft has no entry and no default yet.
        ExportError
            An unknown preset or layout.
        """
        plan = self.plan()
        if plan is None:
            raise ParameterError("add an entry to the plan first")
        folder = new_export_folder(root, safe_filename(self.name))
        return plan.export(folder, preset=preset, layout=layout, excel=excel)


def _entry_who(plan: VariantPlan, entry: Any, personal: frozenset[str] | None) -> str:
    """Whom an entry is for, as the tab and the report write it: the default is "everyone
    else", a saved segment its name, a rule its text (pseudonymised with ``personal``)."""
    if entry.default:
        return "everyone else"
    if personal is None or entry.source in plan.base.segments:
        return entry.source
    return str(mask_rule(entry.segment.rule, personal))


def summary_table(plan: VariantPlan, *, personal: frozenset[str] | None = None
                  ) -> pd.DataFrame:
    """The plan's overlap waterfall as the tab shows it: ``#`` (``default`` for the
    default), ``variant``, ``who`` (pseudonymised with ``personal``, the personal-data
    columns, as :func:`entries_frame` writes it), ``matched``, ``taken_by_earlier``,
    ``assigned``, ``share`` (of the target) and ``lost_to``; ``attrs`` as the summary's
    (``target``, ``unassigned``, ``outside_target``)."""
    summary = plan.summary()
    table = pd.DataFrame({
        "#": ["default" if d else str(p) for p, d in zip(summary["priority"],
                                                       summary["default"], strict=True)],
        "variant": summary["variant"],
        "who": [_entry_who(plan, entry, personal) for entry in plan.all_entries],
        "matched": summary["matched"], "taken_by_earlier": summary["taken_by_earlier"],
        "assigned": summary["assigned"], "share": summary["share"],
        "lost_to": summary["taken_by"]})
    table.attrs.update(summary.attrs)
    return table


def summary_html(plan: VariantPlan, locale: str = "en", *,
                 personal: frozenset[str] | None = None) -> str:
    """The overlap waterfall (:func:`summary_table`) as a table, and a line saying how many
    contacts the target holds and how many get no variant."""
    table = summary_table(plan, personal=personal)
    attrs = table.attrs
    note = (f"{format_count(attrs['target'], locale)} contacts in the target, "
            f"{format_count(attrs['unassigned'], locale)} without a variant")
    return (frame_html(table, css_class="se-table se-plan-summary-table", locale=locale)
            + f'<div class="se-plan-unassigned">{escape(note)}</div>')


def missing_html(plan: VariantPlan, locale: str = "en") -> str:
    """Per variant and merge field, how many contacts get the fallback
    (:meth:`~segexplore.delivery.plan.VariantPlan.missing`), as a table."""
    missing = plan.missing()
    if missing.empty:
        return message_html("No merge fields in the templates.", kind="info")
    return frame_html(missing[["variant", "field", "used_in", "fallback", "contacts",
                               "missing", "share"]],
                      css_class="se-table se-plan-missing-table", locale=locale)


def preview_html(plan: VariantPlan, locale: str = "en", *, mask_pii: bool = True,
                 rows: int = PREVIEW_ROWS) -> str:
    """A few contacts of each variant with their templates filled in, as a table;
    pseudonymised unless ``mask_pii=False``."""
    preview = plan.preview(rows, mask_pii=mask_pii)
    if "contact_id" in preview:  # an id, not a count: no thousands separator
        preview["contact_id"] = preview["contact_id"].astype("str")
    return frame_html(preview, css_class="se-table se-plan-preview-table", locale=locale)


def entries_frame(plan: VariantPlan, *, personal: frozenset[str] | None = None
                  ) -> pd.DataFrame:
    """The plan's entries in priority order (the default last): ``#``, ``variant``,
    ``who`` (a saved segment's name or the rule) and the ``subject``, ``body`` and
    ``offer`` templates as written. With ``personal`` (the personal-data columns) a rule
    is shown pseudonymised, as :func:`segexplore.rules.mask.mask_rule` writes it, and
    email addresses in the templates are masked.

    Examples
    --------
    >>> import segexplore as se
    >>> plan = se.VariantPlan(se.load_sample()).add('email = "ana@example.com"',
    ...                                            variant="ana", subject="Bonjour")
    >>> entries_frame(plan, personal=frozenset({"email"}))["who"].str.startswith(
    ...     'email = "a***@example.com').tolist()
    [True]
    """
    rows = []
    for entry in plan.all_entries:
        texts = {key: str(entry.templates[key]) if key in entry.templates else ""
                 for key in ("subject", "template", "offer")}
        if personal is not None:
            texts = {key: mask_emails(text) for key, text in texts.items()}
        rows.append({"#": "default" if entry.default else str(entry.priority),
                     "variant": entry.variant, "who": _entry_who(plan, entry, personal),
                     "subject": texts["subject"],
                     "body": texts["template"], "offer": texts["offer"]})
    return pd.DataFrame(rows, columns=["#", "variant", "who", "subject", "body", "offer"])


class PlanPanel(W.VBox):
    """The Plan tab: entries, sizes, fallbacks, a masked preview and the export.

    Parameters
    ----------
    base : ContactBase
    current : callable, optional
        Returns the segment being built in the Build tab.
    export_folder : str or path, optional
        Where exports go, each in a new folder of its own; default a temporary folder
        made at the first export.
    locale : {"en", "fr"}
        How counts and shares are written.

    Attributes
    ----------
    draft : PlanDraft
    result : PlanExport or None
        The latest export.
    """

    def __init__(self, base: ContactBase, *,
                 current: Callable[[], Segment | None] | None = None,
                 export_folder: str | Path | None = None, locale: str = "en") -> None:
        super().__init__()
        self.add_class("se-plan")
        self.base = base
        self.locale = locale
        self.choices = SegmentChoices(base, current)
        self.draft = PlanDraft(base)
        self.export_folder = None if export_folder is None else Path(export_folder)
        self.result: PlanExport | None = None
        self._build_widgets()
        if self.draft.refused is not None:
            self.children = [W.HTML("<b>Personalisation plan</b>"), self.status]
            self.status.value = error_html(f"The Plan tab cannot work on this base: "
                                           f"{self.draft.refused}")

    def _build_widgets(self) -> None:
        def text(css: str, placeholder: str, width: str = "420px", **options: Any) -> W.Text:
            box = W.Text(placeholder=placeholder, layout=W.Layout(width=width), **options)
            box.add_class(css)
            return box

        def button(css: str, description: str, **options: Any) -> W.Button:
            made = W.Button(description=description, **options)
            made.add_class(css)
            return made

        def html(css: str) -> W.HTML:
            made = W.HTML("")
            made.add_class(css)
            return made

        self.name = text("se-plan-name", "plan name (names the files)", "260px",
                         value=self.draft.name, description="Plan")
        options = self.choices.options()
        self.source = W.Dropdown(description="Who", options=options,
                                 value=options[0] if options else None,
                                 layout=W.Layout(width="420px"))
        self.source.add_class("se-plan-source")
        self.variant = text("se-plan-variant", "variant name, e.g. vip_paris",
                            description="Variant")
        self.subject = text("se-plan-subject", "Bonjour {first_name|cher client}",
                            description="Subject")
        self.template = text("se-plan-template", "body: merge fields {field|fallback}",
                             "640px", description="Body")
        self.add_button = button("se-plan-add", "Add entry", button_style="primary")
        self.remove_button = button("se-plan-remove", "Remove last entry")
        self.default_variant = text("se-plan-default", "default variant (blank: none)",
                                    description="Default")
        self.default_subject = text("se-plan-default-subject", "its subject",
                                    description="Subject")
        self.default_template = text("se-plan-default-template", "its body", "640px",
                                     description="Body")
        self.default_button = button("se-plan-default-set", "Set default")
        self.status = html("se-plan-status")
        self.entries_html = html("se-plan-entries")
        self.summary_html = html("se-plan-summary")
        self.missing_html = html("se-plan-missing")
        self.preview_html = html("se-plan-preview")
        self.preset = W.Dropdown(description="Preset", options=list(PRESETS), value="plain")
        self.preset.add_class("se-plan-preset")
        self.layout_choice = W.Dropdown(description="Files", options=list(LAYOUTS),
                                        value="one_file")
        self.layout_choice.add_class("se-plan-layout")
        self.excel = W.Checkbox(value=False, indent=False,
                                description="For Excel (UTF-8 with BOM, ; separated)")
        self.excel.add_class("se-plan-excel")
        self.export_button = button("se-plan-export-run", "Export plan", button_style="primary")
        self.export_output = html("se-plan-export-output")
        note = ("<small>First match wins: each contact gets the variant of the first entry "
                "that matches it; the default takes everyone else.</small>")
        self.children = [
            W.HTML("<b>Personalisation plan</b>"), W.HTML(note), self.name,
            W.HTML("<b>Add an entry</b> (in priority order)"), self.source, self.variant,
            self.subject, self.template, W.HBox([self.add_button, self.remove_button]),
            W.HTML("<b>Default variant</b> (optional)"), self.default_variant,
            self.default_subject, self.default_template, self.default_button, self.status,
            self.entries_html, W.HTML("<h4>Sizes per variant</h4>"), self.summary_html,
            W.HTML("<h4>Merge-field fallbacks</h4>"), self.missing_html,
            W.HTML(f"<h4>Preview</h4><small>{PREVIEW_ROWS} contacts per variant, personal "
                   "data masked</small>"), self.preview_html,
            W.HBox([self.preset, self.layout_choice, self.excel],
                   layout=W.Layout(align_items="center")),
            self.export_button, self.export_output,
        ]
        self.add_button.on_click(lambda clicked: self.add_entry())
        self.remove_button.on_click(lambda clicked: self.remove_last())
        self.default_button.on_click(lambda clicked: self.set_default())
        self.export_button.on_click(lambda clicked: self.export())

    # --- the draft ----------------------------------------------------------------------
    def refresh_segments(self) -> None:
        """Re-read the saved segments into the dropdown."""
        self.choices.refill(self.source)

    def add_entry(self) -> None:
        """Add the entry of the form (the chosen segment, variant, subject and body)."""
        try:
            segment = self.choices.resolve(self.source.value)
            if segment is None:
                self.status.value = message_html("Build or save a segment first.",
                                                 kind="warning")
                return
            self.draft.add(segment, self.variant.value, subject=self.subject.value,
                           template=self.template.value)
        except Exception as error:  # shown in the page, never as a traceback
            self.status.value = error_html(error)
            return
        added = self.draft.entries[-1]
        self.status.value = message_html(
            f"Added “{added.variant}” as entry {len(self.draft.entries)}.", kind="success")
        self.variant.value = ""
        self.refresh()

    def remove_last(self) -> None:
        """Remove the entry of lowest priority."""
        removed = self.draft.remove_last()
        self.status.value = (message_html(f"Removed “{removed.variant}”.", kind="info")
                             if removed is not None
                             else message_html("The plan has no entries.", kind="warning"))
        self.refresh()

    def set_default(self) -> None:
        """Set (or, with a blank name, remove) the default variant from the form."""
        try:
            self.draft.set_default(self.default_variant.value,
                                   subject=self.default_subject.value,
                                   template=self.default_template.value)
        except Exception as error:  # shown in the page, never as a traceback
            self.status.value = error_html(error)
            return
        default = self.draft.default
        self.status.value = message_html(
            f"Default variant: “{default.variant}”." if default is not None
            else "No default variant: contacts no entry matches get none.", kind="info")
        self.refresh()

    def refresh(self) -> None:
        """Show the entries, the sizes, the fallbacks and the preview of the draft."""
        for shown in (self.entries_html, self.summary_html, self.missing_html,
                      self.preview_html):
            shown.value = ""
        try:
            plan = self.draft.plan()
            if plan is None:  # say what fills the empty sections rather than leave them blank
                self.summary_html.value = message_html(
                    "No entries yet: choose who, name the variant, then Add entry.",
                    kind="info")
                return
            self.entries_html.value = self._entries_html(plan)
            self.summary_html.value = summary_html(plan, self.locale)
            self.missing_html.value = missing_html(plan, self.locale)
            self.preview_html.value = preview_html(plan, self.locale, mask_pii=True)
        except Exception as error:  # shown in the page, never as a traceback
            self.status.value = error_html(error)

    def _entries_html(self, plan: VariantPlan) -> str:
        # The tab's draft has no offers: the report's column would always be empty here.
        return frame_html(entries_frame(plan).drop(columns="offer"),
                          css_class="se-table se-plan-entries-table", locale=self.locale)

    # --- export -------------------------------------------------------------------------
    def export(self) -> None:
        """Export the plan into a new folder and offer each CSV as a download link."""
        try:
            self.draft.rename(self.name.value)
            if self.export_folder is None:
                self.export_folder = Path(tempfile.mkdtemp(prefix="segexplore-plans-"))
            self.result = result = self.draft.export(
                self.export_folder, preset=self.preset.value, layout=self.layout_choice.value,
                excel=self.excel.value)
        except Exception as error:  # shown in the page, never as a traceback
            self.export_output.value = error_html(error)
            return
        links = "".join(
            '<div class="se-plan-file">'
            + download_link_html((result.folder / name).read_bytes(), name, written.rows,
                                 self.locale)
            + f" <code>{escape(name)}</code></div>"
            for name, written in result.files.items())
        self.export_output.value = (
            message_html(f"Written to {result.folder} (plan manifest "
                         f"{result.manifest_path.name}).", kind="success")
            + f'<span class="se-plan-export-folder" style="display:none">'
              f"{escape(str(result.folder))}</span>" + links)
