"""The Build tab's "Why is this contact in?" box: one contact, the rule, node by node.

The analyst types an email or a contact id and clicks *Why?*; the box shows the table of
:func:`segexplore.rules.explain.explain` for the rule being built (its parent's conditions
first): each condition with the contact's value, the threshold and whether it holds.
An unknown contact, a contact id two contacts share or a rule with an error is a message,
never a traceback. In stakeholder mode (``mask_pii``) the box shows no personal data of
the contact: not its email, id or name, nor the values of personal-data fields.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> segment = base.segment('city = "Liège" or age >= 60', save=False)
>>> shown = shown_explanation(segment.explain(1), frozenset())
>>> shown[["condition", "value", "holds"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
[{'condition': 'city = "Liège" or age >= 60', 'value': None, 'holds': 'yes'},
 {'condition': '\\xa0\\xa0\\xa0\\xa0city = "Liège"', 'value': 'Liège', 'holds': 'yes'},
 {'condition': '\\xa0\\xa0\\xa0\\xa0age >= 60', 'value': 30, 'holds': 'no'}]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as W
import pandas as pd

from segexplore.display.numbers import format_count
from segexplore.errors import NotFoundError, ParameterError, RuleSyntaxError, SegexploreError
from segexplore.widgets.display import error_html, frame_html, message_html

if TYPE_CHECKING:
    from segexplore.model.segments import Segment

__all__ = ["HIDDEN", "ContactLookup", "explanation_html", "shown_explanation"]

#: What the box shows instead of a personal-data value in stakeholder mode.
HIDDEN = "(hidden: personal data)"
#: Indentation of a condition per level of the rule tree (no-break spaces: HTML keeps them).
_INDENT = "\u00a0" * 4


def shown_explanation(table: pd.DataFrame, personal: frozenset[str]) -> pd.DataFrame:
    """The explain table as the box shows it.

    Parameters
    ----------
    table : DataFrame
        What :func:`segexplore.rules.explain.explain` returns.
    personal : frozenset of str
        Fields whose values are hidden (:data:`HIDDEN`); empty to show every value.

    Returns
    -------
    DataFrame
        ``condition`` (indented by its depth in the rule), ``value`` (the contact's),
        ``threshold``, ``window``, ``count`` (matching events) and ``holds`` (yes / no).
    """
    values = table["value"].astype(object)
    if personal:
        values = values.where(~table["field"].isin(personal), HIDDEN)
    counts = table["count"].astype(object).where(table["count"].notna(), None)
    return pd.DataFrame({
        "condition": [_INDENT * depth + text
                      for depth, text in zip(table["depth"], table["condition"], strict=True)],
        "value": values.to_numpy(), "threshold": table["threshold"].to_numpy(),
        "window": table["window"].to_numpy(), "count": counts.to_numpy(),
        "holds": table["result"].map({True: "yes", False: "no"}).to_numpy()})


def explanation_html(segment: Segment, contact: str, *, personal: frozenset[str] = frozenset(),
                     locale: str = "en") -> str:
    """Why ``contact`` is in ``segment`` or not: a sentence, then the table.

    Parameters
    ----------
    segment : Segment
    contact : str
        An email or a contact id, as typed.
    personal : frozenset of str
        Personal-data fields: with any, the sentence names no contact and their values
        are hidden (stakeholder mode).
    locale : {"en", "fr"}

    Raises
    ------
    NotFoundError
        No contact has this email or id.
    ParameterError
        Several contacts share it.
    RuleEvaluationError
        The rule cannot be evaluated on the base.
    """
    table = segment.explain(contact.strip())
    who = "This contact" if personal else f"Contact {table.attrs['contact_id']}"
    verdict = "is in" if table.attrs["member"] else "is not in"
    size = segment.size
    sentence = (f"{who} {verdict} the segment ({format_count(size, locale)} "
                f"{'contact' if size == 1 else 'contacts'}).")
    return (message_html(sentence, kind="success" if table.attrs["member"] else "info")
            + frame_html(shown_explanation(table, personal), max_rows=200,
                         css_class="se-table se-lookup-table", locale=locale))


class ContactLookup(W.VBox):
    """A text box (email or contact id) and a *Why?* button explaining the current rule.

    Parameters
    ----------
    segment : callable
        Returns the segment being built (None when there is no rule); raises the rule
        text's error when it has one.
    personal : frozenset of str
        Personal-data fields to hide (the builder's in stakeholder mode), empty otherwise.
    locale : {"en", "fr"}

    Attributes
    ----------
    contact : ipywidgets.Text
    button : ipywidgets.Button
    output : ipywidgets.HTML
        The sentence and the table, or the message saying why there is none.
    """

    def __init__(self, segment: Callable[[], Segment | None], *,
                 personal: frozenset[str] = frozenset(), locale: str = "en") -> None:
        super().__init__()
        self.add_class("se-lookup")
        self._segment = segment
        self.personal = personal
        self.locale = locale
        self.contact = W.Text(placeholder="email or contact id", continuous_update=False,
                              layout=W.Layout(width="320px"))
        self.contact.add_class("se-lookup-contact")
        self.button = W.Button(description="Why?", tooltip="Explain the rule for this contact")
        self.button.add_class("se-lookup-run")
        self.output = W.HTML("")
        self.output.add_class("se-lookup-output")
        self.children = [W.HBox([self.contact, self.button]), self.output]
        self.button.on_click(lambda button: self.look_up())

    def look_up(self, contact: str | None = None) -> None:
        """Explain the current rule for ``contact`` (default: the text box)."""
        if contact is not None:
            self.contact.value = contact
        typed = self.contact.value.strip()
        if not typed:
            self.output.value = message_html("Type an email or a contact id first.",
                                             kind="warning")
            return
        try:
            segment = self._segment()
            if segment is None:
                self.output.value = message_html("Add a condition first.", kind="warning")
                return
            self.output.value = explanation_html(segment, typed, personal=self.personal,
                                                 locale=self.locale)
        except RuleSyntaxError as error:
            self.output.value = (message_html("Fix the rule first:", kind="warning")
                                 + error_html(error))
        except NotFoundError as error:
            self.output.value = error_html(
                "No contact has this email or contact id." if self.personal else str(error))
        except ParameterError as error:  # several contacts share the email
            self.output.value = error_html(
                "Several contacts have this email: type a contact id." if self.personal
                else str(error))
        except SegexploreError as error:  # the rule cannot be evaluated on the base
            self.output.value = error_html(error)
        except Exception as error:  # never a traceback in the page
            self.output.value = error_html(f"unexpected error: {error}")

    def rule_changed(self) -> None:
        """Say that the table shown was for an earlier rule (explaining again is a click)."""
        if self.output.value and "se-lookup-table" in self.output.value:
            self.output.value = message_html(
                "The rule changed: click “Why?” to explain it for this contact.", kind="info")

