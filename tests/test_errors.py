"""Every exception class of segexplore lives in ``segexplore.errors``, and user input never
gets a plain ``ValueError``, ``TypeError`` or ``KeyError``.

Each error subclasses :class:`~segexplore.errors.SegexploreError` (``except
SegexploreError`` catches all of them) and the builtin it stands for (``except ValueError``
keeps working for callers who do not know segexplore).
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil
from datetime import datetime, timezone

import pandas as pd
import pytest

import segexplore as se
from segexplore import errors
from segexplore.analysis.attributes import attribute_table, mask_array
from segexplore.datasets.generate import generate_base
from segexplore.errors import (
    ParameterError,
    ParameterTypeError,
    RuleBuildError,
    RuleFormatError,
    SegexploreError,
    SegexploreWarning,
)
from segexplore.io.read import read_table
from segexplore.ml.abtest import ab_test, sample_size
from segexplore.rules import nodes as R
from segexplore.rules.builders import aggregate, count

PACKAGE = pathlib.Path(se.__file__).parent

#: The builtins that a raise on user input must not name.
BUILTINS = ("ValueError", "TypeError", "KeyError")

#: Where no plain builtin may be raised, as paths relative to the package (a folder ends
#: with "/"; "" is the whole package): every file.
CONVERTED = ("",)

#: Builtin raises that stay: not user input but a broken invariant of segexplore itself.
#: (file, first line of the raise) -> why.
INTERNAL = {
    ("model/hooks.py",
     'raise KeyError(f"{name!r} is not a hook of segexplore.model; hooks are {list(HOOKS)}")'):
        "a hook name is fixed in the code of segexplore: a typo in it is a bug of the package",
    ("model/hooks.py",
     'raise KeyError(f"{name!r} is not a hook of segexplore.model; hooks are "'):
        "the same check in hooks.get, for a name no module of segexplore registers",
}


# ------------------------------------------------------------------ where classes live

def _all_modules() -> list[str]:
    """Import every module of the package (``__main__`` included) and return their names."""
    names = [se.__name__]
    for info in pkgutil.walk_packages(se.__path__, prefix=f"{se.__name__}."):
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def _subclasses(root: type) -> set[type]:
    found: set[type] = set()
    stack = [root]
    while stack:
        for cls in stack.pop().__subclasses__():
            if cls not in found:
                found.add(cls)
                stack.append(cls)
    return found


@pytest.fixture(scope="module")
def package_exceptions() -> list[type]:
    """Every exception and warning class segexplore defines, once all its modules ran."""
    assert len(_all_modules()) > 50
    return sorted((cls for cls in _subclasses(BaseException)
                   if cls.__module__.split(".")[0] == se.__name__),
                  key=lambda cls: cls.__qualname__)


def test_every_exception_class_is_defined_in_errors(package_exceptions):
    elsewhere = [f"{cls.__module__}.{cls.__qualname__}" for cls in package_exceptions
                 if cls.__module__ != errors.__name__]
    assert elsewhere == []
    assert errors.SegexploreError in package_exceptions


def _builtin_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__ if base.__module__ == "builtins"
            and base not in (BaseException, Exception, Warning, object)]


def test_every_error_subclasses_segexplore_error_and_a_builtin(package_exceptions):
    classes = [cls for cls in package_exceptions if cls is not SegexploreError]
    warnings = [cls for cls in classes if issubclass(cls, Warning)]
    errors_ = [cls for cls in classes if not issubclass(cls, Warning)]
    assert [c.__name__ for c in errors_ if not issubclass(c, SegexploreError)] == []
    assert [c.__name__ for c in errors_ if not _builtin_bases(c)] == []
    assert [c.__name__ for c in warnings if not issubclass(c, SegexploreWarning)] == []
    assert [c.__name__ for c in warnings if not _builtin_bases(c)] == []


def test_errors_lists_every_class_it_defines():
    defined = {name for name, value in vars(errors).items()
               if isinstance(value, type) and value.__module__ == errors.__name__}
    assert defined - set(errors.__all__) == set()
    assert set(errors.__all__) - defined == {"closest_name"}


@pytest.mark.parametrize("name", ["CatalogError", "NotFoundError", "RuleFormatError",
                                  "ParameterError", "ParameterTypeError", "RuleBuildError"])
def test_public_errors_are_in_the_top_package(name):
    assert getattr(se, name) is getattr(errors, name)
    assert name in se.__all__


# ------------------------------------------------------------------ no plain builtins

def _raises_of(source: str) -> list[tuple[int, str]]:
    """The ``raise ValueError``, ``raise TypeError(...)``, ``raise KeyError(\n...)`` of a
    module: (line, first line of the raise)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(raised, ast.Name) and raised.id in BUILTINS:
            found.append((node.lineno, lines[node.lineno - 1].strip()))
    return sorted(found)


def _builtin_raises() -> list[tuple[str, int, str]]:
    """Every plain builtin raise of the package: (file, line, text)."""
    return [(path.relative_to(PACKAGE).as_posix(), line, text)
            for path in sorted(PACKAGE.rglob("*.py"))
            for line, text in _raises_of(path.read_text(encoding="utf-8"))]


def _converted(file: str) -> bool:
    return any(file == place or (place.endswith("/") or not place) and file.startswith(place)
               for place in CONVERTED)


def test_converted_files_raise_no_plain_builtin():
    plain = [f"{file}:{line}: {text}" for file, line, text in _builtin_raises()
             if _converted(file) and (file, text) not in INTERNAL]
    assert plain == []


def test_internal_raises_are_still_there():
    """An entry of INTERNAL whose raise is gone or changed is taken out of it."""
    present = {(file, text) for file, _, text in _builtin_raises()}
    assert set(INTERNAL) - present == set()
    assert all(_converted(file) for file, _ in INTERNAL)


def test_the_static_check_sees_every_form():
    source = ("raise ValueError\n"
              "raise TypeError('x') from None\n"
              "if x:\n    raise KeyError(\n        'k')\n"
              "raise ParameterError('x')\n"
              "raise\n")
    assert _raises_of(source) == [(1, "raise ValueError"),
                                  (2, "raise TypeError('x') from None"),
                                  (4, "raise KeyError(")]


# ------------------------------------------------------------------ behaviour

@pytest.fixture(scope="module")
def sample_base() -> se.ContactBase:
    return se.load_sample()


def _raises(cls: type, builtin: type, call, match: str | None = None):
    with pytest.raises(cls, match=match) as caught:
        call()
    assert isinstance(caught.value, builtin)
    assert isinstance(caught.value, SegexploreError)
    return caught.value


def test_rule_nodes_refuse_bad_values_with_rule_build_error():
    _raises(RuleBuildError, ValueError, lambda: R.Compare("age", "~", 3),
            "comparison operator must be one of")
    _raises(RuleBuildError, ValueError, lambda: R.InList("city", ()), "must not be empty")
    _raises(RuleBuildError, ValueError, lambda: R.Duration.parse("30 dayz"), "dayz")
    _raises(RuleBuildError, ValueError,
            lambda: R.Compare("signup", ">", datetime(2026, 1, 1, tzinfo=timezone.utc)),
            "time zone")
    _raises(ParameterTypeError, TypeError, lambda: R.Compare("age", ">=", [30]),
            "must be text, a number")
    _raises(ParameterTypeError, TypeError, lambda: R.Not("age >= 3"), "Not negates a rule")


def test_builders_refuse_bad_arguments():
    _raises(RuleBuildError, ValueError,
            lambda: count("purchase", last="30 days", between=("2026-01-01", "2026-02-01")),
            "either last= or between=")
    _raises(RuleBuildError, ValueError, lambda: aggregate("sum", "purchase"),
            "event_type.property")


def test_parse_names_the_argument_type():
    _raises(ParameterTypeError, TypeError, lambda: se.parse(42), "needs the rule text")


def test_rule_documents_keep_rule_format_error():
    _raises(RuleFormatError, ValueError, lambda: se.rule_from_json("{"), "not valid JSON")


def test_compile_rule_names_the_dialect():
    _raises(ParameterError, ValueError,
            lambda: se.compile_rule("age >= 3", dialect="oracle", as_of="2026-01-01"),
            "`dialect` parameter")


def test_abtest_refuses_bad_input(sample_base):
    contacts = sample_base.contacts.index
    _raises(ParameterError, ValueError,
            lambda: ab_test(sample_base, pd.Series("A", index=contacts),
                            pd.Series(True, index=contacts)),
            "at least two variants")
    _raises(ParameterError, ValueError, lambda: sample_size(0.1, 0.0), "non-zero lift")
    _raises(ParameterError, ValueError, lambda: sample_size(0.1, 0.2, method="bayes"),
            "'pooled' or 'arcsine'")


def test_attributes_and_masks_name_the_parameter(sample_base):
    _raises(ParameterTypeError, TypeError, lambda: attribute_table(42), "'base_or_frame'")
    index = sample_base.contacts.index
    _raises(ParameterError, ValueError, lambda: mask_array([True], index, "where"), "'where'")


def test_reading_and_generating_name_the_parameter(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("email\nann@x.fr\n", encoding="utf-8")
    _raises(ParameterError, ValueError, lambda: read_table(path, on_bad_lines="skip"),
            "on_bad_lines")
    _raises(ParameterError, ValueError, lambda: read_table(path, decimal=";"), "decimal")
    _raises(ParameterError, ValueError, lambda: generate_base(0), "n_contacts")
