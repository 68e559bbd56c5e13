"""Wrong input to the widgets, their state and the views gets a SegexploreError subclass that
is also the builtin it replaces, names the parameter or name, and suggests the closest one."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.display import charts
from segexplore.errors import (
    ParameterError,
    ParameterTypeError,
    SchemaError,
    SegexploreError,
    SegmentNotFoundError,
)
from segexplore.widgets import builder
from segexplore.widgets.app import register_segments
from segexplore.widgets.report import report_segments
from segexplore.widgets.state.distribution import distribution_table
from segexplore.widgets.state.fields import field_kind, field_values, operators_for
from segexplore.widgets.state.rows import row_to_rule


@pytest.fixture(scope="module")
def sample():
    base = se.load_sample()
    base.segment('device = "Android"', name="Android")
    return base


def _raises(cls: type, builtin: type, call, match: str | None = None) -> Exception:
    with pytest.raises(cls, match=match) as caught:
        call()
    assert isinstance(caught.value, builtin) and isinstance(caught.value, SegexploreError)
    return caught.value


def test_unknown_saved_segments_are_named_with_the_closest(sample):
    error = _raises(SegmentNotFoundError, KeyError, lambda: report_segments(sample, ["Androd"]),
                    "no saved segment named 'Androd'; did you mean 'Android'")
    assert not str(error).startswith('"')  # not quoted as a plain KeyError would be
    _raises(SegmentNotFoundError, KeyError, lambda: register_segments(sample, ["androids"]),
            "did you mean 'Android'")


def test_state_functions_name_what_is_wrong(sample):
    _raises(SchemaError, KeyError, lambda: field_values(sample, "devce"),
            "no contact column or feature named 'devce'; did you mean 'device'")
    _raises(ParameterError, ValueError, lambda: field_kind(sample, "cty"),
            "unknown field 'cty'; did you mean 'city'")
    _raises(ParameterError, ValueError, lambda: operators_for("colour"), "unknown field kind")
    _raises(ParameterError, ValueError,
            lambda: distribution_table(sample, np.ones(3, dtype=bool), "city"),
            "mask has 3 entries for 20,000 contacts")
    _raises(ParameterError, ValueError, lambda: row_to_rule("city", "sounds like", "x"),
            "unknown operator 'sounds like'")
    _raises(ParameterTypeError, TypeError, lambda: row_to_rule("signup_date", "within last", 1.5),
            "expected a number of days")


def test_analysis_and_charts_suggest_the_closest_name(sample):
    android = sample.segments["Android"]
    _raises(ParameterError, ValueError, lambda: compare([android], attributes=["devce"]),
            "did you mean 'device'")
    _raises(ParameterError, ValueError, lambda: compare([android], rate="purchases_90"),
            "did you mean 'purchases_90d'")
    _raises(ParameterError, ValueError, lambda: compare([android], alpha=2))
    _raises(ParameterTypeError, TypeError, lambda: compare(["Android"]))
    _raises(ParameterError, ValueError, lambda: sample.profile(bins=0), "'bins'")
    prof = sample.profile(include_features=False)
    _raises(ParameterError, ValueError, lambda: charts.profile_histogram(prof, "devce"),
            "did you mean 'device'")
    _raises(ParameterError, ValueError, lambda: charts.profile_histogram(prof, "email"),
            "an identifier")


def test_the_builder_catches_one_class():
    """What the builder shows as a message is a SegexploreError; nothing else is expected."""
    tree = ast.parse(pathlib.Path(builder.__file__).read_text(encoding="utf-8"))
    caught = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            caught.update(n.id for n in names if isinstance(n, ast.Name))
    assert not caught & {"ValueError", "TypeError", "KeyError"}
    assert "SegexploreError" in caught
