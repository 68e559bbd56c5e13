"""segexplore: explore, segment and export an email contact base with pandas.

The objects an analyst meets:

- :class:`ContactBase` (from :func:`read_base` or :func:`load_sample`): the contacts, their
  events and orders, the column roles, the ``as_of`` date and the load/clean report.
- rules, segments, comparisons and exports build on it (see the README).
"""

from __future__ import annotations

from .core.base import ContactBase
from .core.catalog import Catalog, CatalogError, read_history, refresh
from .core.export import (
    ExportError,
    ExportResult,
    export_segment,
    export_segments,
    export_split,
    read_suppressions,
    split,
)
from .core.loader import load_sample, read_base
from .core.privacy import NotFoundError, forget, mask_pii, stale_consent, subject_access
from .core.profile import Profile, profile
from .core.rules import Rule, field, parse, rule_from_dict, rule_from_json, rule_from_yaml
from .core.sample import sample_path
from .core.segments import Segment
from .core.sql import compile_rule, run_duckdb
from .errors import (
    FileFormatError,
    RuleEvaluationError,
    RuleSyntaxError,
    SchemaError,
    SegexploreError,
    ValidationError,
)

__version__ = "0.1.0"

# The widget apps need ipywidgets and plotly: load them on first use only, so that
# `import segexplore` (and every script that only loads, segments and exports) stays headless.
_LAZY = {"explore": "widgets", "segment_report": "widgets", "charts": None, "charts_ml": None,
         "charts_clv": None, "render": None, "widgets": None}
# Statistics and models pull in scipy.stats and scikit-learn (half a second or more):
# loaded on first use too, so a dashboard kernel or a cron export starts faster.
_LAZY.update(dict.fromkeys(["compare", "Comparison"], "core.compare"))
_LAZY.update(dict.fromkeys(["ab_test", "sample_size", "ABResult"], "core.abtest"))
_LAZY.update(dict.fromkeys(["discover", "discover_frame", "Discovery"], "core.discover"))
_LAZY.update(dict.fromkeys(["propensity", "churn", "add_scores", "PropensityModel"],
                           "core.score"))
# Customer value needs the optional PyMC-Marketing (pip install 'segexplore[clv]'), imported
# only when a model is fitted.
_LAZY.update(dict.fromkeys(["clv", "CustomerValue", "cdnow_sample"], "core.clv"))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
        return module if _LAZY[name] is None else getattr(module, name)
    raise AttributeError(f"module 'segexplore' has no attribute {name!r}")

__all__ = [
    "ContactBase",
    "read_base",
    "load_sample",
    "sample_path",
    "Rule",
    "parse",
    "field",
    "rule_from_dict",
    "rule_from_json",
    "rule_from_yaml",
    "Segment",
    "compile_rule",
    "profile",
    "Profile",
    "compare",
    "Comparison",
    "discover",
    "discover_frame",
    "Discovery",
    "propensity",
    "churn",
    "add_scores",
    "PropensityModel",
    "clv",
    "CustomerValue",
    "cdnow_sample",
    "ab_test",
    "sample_size",
    "ABResult",
    "Catalog",
    "CatalogError",
    "refresh",
    "read_history",
    "export_segment",
    "export_segments",
    "export_split",
    "split",
    "read_suppressions",
    "ExportResult",
    "ExportError",
    "forget",
    "subject_access",
    "stale_consent",
    "mask_pii",
    "NotFoundError",
    "run_duckdb",
    "SegexploreError",
    "FileFormatError",
    "SchemaError",
    "ValidationError",
    "RuleSyntaxError",
    "RuleEvaluationError",
    "explore",
    "segment_report",
    "__version__",
]
