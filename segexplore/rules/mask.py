"""A rule for display, with the personal data it names pseudonymised (see :mod:`segexplore.model.pii`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from segexplore.model.pii import EMAIL_SHAPE, PII_COLUMNS, mask_emails, mask_pii
from segexplore.rules.nodes import Rule
from segexplore.rules.parser import parse
from segexplore.rules.serialize import rule_from_dict

__all__ = ["mask_rule"]


def mask_rule(rule: Any, columns: Iterable[str] = PII_COLUMNS, *,
              salt: str | None = None) -> Any:
    """A copy of ``rule`` for display, with the personal data it names pseudonymised.

    The values a condition compares a personal-data column (``columns``) to are masked as
    :func:`mask_pii` masks that column (``first_name = "Élodie"`` shows ``"É."``), and
    every email-shaped text literal anywhere in the rule (event filters included) is
    masked too. Everything else (fields, operators, windows, other values) is kept, so a
    stakeholder still reads what the segment selects. The copy is for showing: evaluate
    the original. Bounds of ``between`` stay numbers (they cannot hold a masked text).

    Parameters
    ----------
    rule : Rule or str
    columns : iterable of str
        Personal-data columns (default :data:`PII_COLUMNS`; the widgets pass
        :func:`segexplore.widgets.state.fields.pii_columns`).
    salt : str, optional
        As for :func:`mask_pii`.

    Returns
    -------
    Rule

    Examples
    --------
    >>> str(mask_rule('first_name = "Élodie" and city = "Lyon"', salt="s"))
    'first_name = "É." and city = "Lyon"'
    """
    personal = frozenset(columns)
    node = rule if isinstance(rule, Rule) else parse(str(rule))

    def masked_value(field: Any, value: Any) -> Any:
        if field in personal and value is not None and not isinstance(value, bool):
            return mask_pii(pd.DataFrame({field: [str(value)]}), [field], salt=salt)[field].iloc[0]
        if isinstance(value, str) and EMAIL_SHAPE.search(value):
            return mask_emails(value, salt=salt)
        return value

    def walk(data: Any) -> Any:
        if isinstance(data, list):
            return [walk(item) for item in data]
        if not isinstance(data, dict):
            return data
        field = data.get("field")
        out = {}
        for key, value in data.items():
            if key == "value" and not isinstance(value, (dict, list)):
                out[key] = masked_value(field, value)
            elif key == "values" and isinstance(value, list):
                out[key] = [masked_value(field, v) for v in value]
            else:
                out[key] = walk(value)
        return out

    return rule_from_dict(walk(node.to_dict()))
