"""segexplore: explore, segment and export an email contact base with pandas.

The objects an analyst meets:

- :class:`ContactBase` (from :func:`read_base` or :func:`load_sample`): the contacts, their
  events and orders, the column roles, the ``as_of`` date and the load/clean report.
- rules, segments, comparisons and exports build on it (see the README).
"""

from __future__ import annotations

# The layers above the model fill its hooks (segexplore.model.hooks) when imported: every
# module that implements a method of ContactBase, Segment or Rule is imported here (the plain
# `import` lines), before any base can exist.
import segexplore.analysis.profile  # noqa: F401
import segexplore.delivery.export  # noqa: F401
import segexplore.delivery.privacy  # noqa: F401
import segexplore.delivery.split  # noqa: F401
import segexplore.display.html  # noqa: F401  (no plotly: tables and inline SVG)
import segexplore.display.report  # noqa: F401  (imports plotly when a report is written)
import segexplore.engines.duckdb  # noqa: F401  (duckdb itself is imported on first use)
import segexplore.engines.explain  # noqa: F401
import segexplore.features.activity  # noqa: F401
import segexplore.features.compute  # noqa: F401
import segexplore.features.registry  # noqa: F401
import segexplore.rules.engines.pandas  # noqa: F401
import segexplore.rules.engines.sql  # noqa: F401
import segexplore.rules.explain  # noqa: F401
import segexplore.rules.hints  # noqa: F401
import segexplore.rules.parser  # noqa: F401
from segexplore._version import __version__
from segexplore.analysis.profile import Profile, profile
from segexplore.datasets.cdnow import cdnow_sample
from segexplore.datasets.sample import load_sample, sample_path
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.changes import read_changes
from segexplore.delivery.export import ExportResult, export_segment, export_segments
from segexplore.delivery.lists import StaticSegment, read_list, read_static
from segexplore.delivery.plan import VariantPlan
from segexplore.delivery.privacy import forget, stale_consent, subject_access
from segexplore.delivery.refresh import read_history, refresh
from segexplore.delivery.split import export_split, split
from segexplore.delivery.suppressions import read_suppressions
from segexplore.engines.server import ServerBase, ServerSegment, connect
from segexplore.errors import (
    CatalogError,
    ExportError,
    FileFormatError,
    NotFoundError,
    ParameterError,
    ParameterTypeError,
    RuleBuildError,
    RuleEvaluationError,
    RuleFormatError,
    RuleSyntaxError,
    SchemaError,
    SegexploreError,
    ValidationError,
)
from segexplore.io.load import read_base
from segexplore.model.base import ContactBase
from segexplore.model.pii import mask_pii
from segexplore.model.segments import Membership, Segment
from segexplore.rules.builders import field
from segexplore.rules.engines.sql import compile_rule, run_duckdb
from segexplore.rules.nodes import Rule
from segexplore.rules.parser import parse
from segexplore.rules.serialize import rule_from_dict, rule_from_json, rule_from_yaml


def __getattr__(name: str):
    """The parts that are loaded on first use only.

    The widget apps and charts need ipywidgets and plotly, so ``import segexplore`` (and
    every script that only loads, segments and exports) stays headless; statistics and
    models pull in scipy.stats and scikit-learn (half a second or more), so a dashboard
    kernel or a cron export starts faster without them.
    """
    if name in ("explore", "segment_report"):
        from segexplore.widgets import app, report

        return app.explore if name == "explore" else report.segment_report
    if name == "widgets":
        import segexplore.widgets

        return segexplore.widgets
    if name in ("charts", "charts_ml", "charts_clv", "render"):
        from segexplore.display import charts, charts_clv, charts_ml, html

        return {"charts": charts, "charts_ml": charts_ml, "charts_clv": charts_clv,
                "render": html}[name]
    if name in ("compare", "Comparison"):
        from segexplore.analysis import compare

        return getattr(compare, name)
    if name in ("ab_test", "sample_size", "ABResult", "minimum_detectable_effect",
                "detectable_effects"):
        from segexplore.ml import abtest

        return getattr(abtest, name)
    if name in ("discover", "discover_frame", "Discovery"):
        from segexplore.ml import discover

        return getattr(discover, name)
    if name in ("propensity", "churn", "add_scores", "PropensityModel"):
        from segexplore.ml import score

        return getattr(score, name)
    if name in ("clv", "CustomerValue"):
        # Customer value needs the optional PyMC-Marketing (pip install 'segexplore[clv]'),
        # imported only when a model is fitted.
        from segexplore.ml import clv

        return getattr(clv, name)
    raise AttributeError(f"module 'segexplore' has no attribute {name!r}")


__all__ = [
    "ContactBase",
    "read_base",
    "connect",
    "ServerBase",
    "ServerSegment",
    "load_sample",
    "sample_path",
    "Rule",
    "parse",
    "field",
    "rule_from_dict",
    "rule_from_json",
    "rule_from_yaml",
    "Segment",
    "Membership",
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
    "minimum_detectable_effect",
    "detectable_effects",
    "Catalog",
    "CatalogError",
    "refresh",
    "read_changes",
    "read_list",
    "read_static",
    "StaticSegment",
    "read_history",
    "export_segment",
    "export_segments",
    "export_split",
    "split",
    "read_suppressions",
    "ExportResult",
    "ExportError",
    "VariantPlan",
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
    "ParameterError",
    "ParameterTypeError",
    "RuleBuildError",
    "RuleSyntaxError",
    "RuleFormatError",
    "RuleEvaluationError",
    "explore",
    "segment_report",
    "__version__",
]
