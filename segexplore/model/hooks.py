"""Where the layers above the data model plug into it.

The model is the bottom layer: it imports nothing above it. ``ContactBase`` and ``Segment``
still offer the analyst their methods (``base.count()``, ``base.profile()``,
``segment.mask``, ``segment.to_csv()``...), and a rule offers ``rule.to_sql()``: each calls
the implementation that the layer owning the job registered here, under one of the names of
:data:`HOOKS`. Engines register themselves the same way (``"evaluator"``, ``"to_sql"``): the
model knows that a rule is evaluated, not how.

A module registers when it is imported (``@implements("profile")`` on the function).
``segexplore/__init__.py`` imports every headless module that registers, and Python imports
the top package before any of its modules, so those hooks are filled before a base can
exist; the display hooks too (their modules import plotly only when a report is written).

Examples
--------
>>> import segexplore
>>> from segexplore.model import hooks
>>> hooks.get("profile").__module__
'segexplore.analysis.profile'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["HOOKS", "implements", "get"]

T = TypeVar("T")

#: Every hook, and the module that fills it.
HOOKS: dict[str, str] = {
    # rules: text -> Rule, and the engines
    "parse": "segexplore.rules.parser",
    "evaluator": "segexplore.rules.engines.pandas",
    "to_sql": "segexplore.rules.engines.sql",
    "value_hints": "segexplore.rules.hints",
    "explain": "segexplore.rules.explain",
    # features: the activity index and the behaviour features
    "activity": "segexplore.features.activity",
    "features": "segexplore.features.compute",
    "feature_names": "segexplore.features.registry",
    # analysis, how its objects show in Jupyter, and their standalone reports
    "profile": "segexplore.analysis.profile",
    "profile_html": "segexplore.display.html",
    "profile_report": "segexplore.display.report",
    "comparison_html": "segexplore.display.html",
    "comparison_report": "segexplore.display.report",
    # delivery
    "read_suppressions": "segexplore.delivery.suppressions",
    # engines that hold the tables outside pandas
    "read_duckdb": "segexplore.engines.duckdb",
    "explain_in_engine": "segexplore.engines.explain",
    "sendable_waterfall": "segexplore.delivery.waterfall",
    "export_segment": "segexplore.delivery.export",
    "split": "segexplore.delivery.split",
    "export_split": "segexplore.delivery.split",
    "forget": "segexplore.delivery.privacy",
    "freeze": "segexplore.delivery.lists",
    "subject_access": "segexplore.delivery.privacy",
    "stale_consent": "segexplore.delivery.privacy",
}

_REGISTERED: dict[str, Any] = {}


def implements(name: str) -> Callable[[T], T]:
    """Register the decorated function, class or value as the implementation of ``name``.

    Returns it unchanged. Only the module :data:`HOOKS` names may fill a hook.
    """
    if name not in HOOKS:
        raise KeyError(f"{name!r} is not a hook of segexplore.model; hooks are {list(HOOKS)}")

    def register(implementation: T) -> T:
        _REGISTERED[name] = implementation
        return implementation

    return register


def get(name: str) -> Any:
    """The implementation registered for ``name``."""
    try:
        return _REGISTERED[name]
    except KeyError:
        if name not in HOOKS:
            raise KeyError(f"{name!r} is not a hook of segexplore.model; hooks are "
                           f"{list(HOOKS)}") from None
        raise RuntimeError(f"nothing implements {name!r}: {HOOKS[name]} registers it when "
                           "imported, and `import segexplore` imports it") from None
