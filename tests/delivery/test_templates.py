"""Merge-field templates: the strict tokenizer, hostile templates, rendering and missing
values, against hand-written expectations."""

from __future__ import annotations

import ast
import pathlib
import time

import numpy as np
import pandas as pd
import pytest

from segexplore.delivery import templates as tpl
from segexplore.delivery.templates import MAX_TEMPLATE_LENGTH, MergeField, Template
from segexplore.errors import ParameterTypeError, SegexploreError, TemplateError

KNOWN = ["first_name", "email", "preferred_brand", "days_since_last_purchase", "city"]


def test_parts_of_a_template():
    template = Template.parse("Bonjour {first_name|cher client}, {{promo}} {city}}}")
    assert template.parts == ("Bonjour ", MergeField("first_name", "cher client", 8), ", {promo} ",
                              MergeField("city", None, 44), "}")
    assert template.fields == ("first_name", "city")
    assert str(template) == template.text


@pytest.mark.parametrize("text, parts", [
    ("", ()),
    ("plain text", ("plain text",)),
    ("{{}}", ("{}",)),
    ("{{{first_name}}}", ("{", MergeField("first_name", None, 2), "}")),
    ("{ first_name }", (MergeField("first_name", None, 0),)),
    ("{first_name|}", (MergeField("first_name", "", 0),)),
    ("{first_name| cher client }", (MergeField("first_name", " cher client ", 0),)),
    ("{a}{b}", (MergeField("a", None, 0), MergeField("b", None, 3))),
])
def test_syntax(text, parts):
    assert Template.parse(text).parts == parts


@pytest.mark.parametrize("text, position, words", [
    ("{% for x in contacts %}{{ x }}{% endfor %}", 1, "expected a field name"),
    ("{first_name.__class__}", 11, "attributes, indexes, calls and filters are not allowed"),
    ("{first_name.__class__.__mro__}", 11, "attributes"),
    ("{first_name[0]}", 11, "not allowed"),
    ("{first_name()}", 11, "not allowed"),
    ("{first_name!r}", 11, "not allowed"),
    ("{first_name:>10}", 11, "not allowed"),
    ("{__import__}", 1, "names do not start with '_'"),
    ("{_private}", 1, "names do not start with '_'"),
    ("{__import__('os').system('id')}", 1, "expected a field name"),
    ("{1st}", 1, "expected a field name"),
    ("{}", 1, "expected a field name"),
    ("{first name}", 7, "not allowed"),
    ("Bonjour {first_name", 8, "never closed"),
    ("Bonjour {first_name|cher", 8, "never closed"),
    ("{", 1, "the end of the template"),
    ("Bonjour }", 8, "a lone '}'"),
    ("{first_name|a|b}", 13, "without braces or '|'"),
    ("{first_name|a{b}", 13, "without braces or '|'"),
])
def test_hostile_or_broken_templates_are_refused(text, position, words):
    with pytest.raises(TemplateError, match=words.replace("(", r"\(").replace("|", r"\|")
                       .replace("[", r"\[")) as caught:
        Template.parse(text, what="body")
    assert caught.value.position == position
    assert str(caught.value).startswith("body: ")
    assert isinstance(caught.value, (SegexploreError, ValueError))


def test_jinja_expressions_are_literal_text_never_evaluated():
    # double braces escape a brace: what Jinja would evaluate is printed as it stands
    template = Template.parse("{{ ''.__class__.__mro__ }} {{ 7*7 }}")
    assert template.fields == ()
    frame = pd.DataFrame(index=range(2))
    assert template.render(frame).tolist() == ["{ ''.__class__.__mro__ } { 7*7 }"] * 2
    template.check(KNOWN)  # not a field: nothing to say


def test_double_braces_around_a_field_name_are_refused_on_check():
    template = Template.parse("Bonjour {{first_name}}")
    with pytest.raises(TemplateError, match=r"write \{first_name\} for the merge field"):
        template.check(KNOWN)
    Template.parse("{{first_name}}").check(["city"])  # not a field of this base: literal


def test_unknown_fields_name_the_field_and_the_closest():
    with pytest.raises(TemplateError, match=r"unknown field 'frist_name' at position 8.*"
                                            r"did you mean 'first_name'\?") as caught:
        Template.parse("Bonjour {frist_name|toi}").check(KNOWN)
    assert caught.value.field == "frist_name" and caught.value.position == 8
    with pytest.raises(TemplateError, match="unknown field 'zzz'") as caught:
        Template.parse("{zzz}").check(KNOWN)
    assert "did you mean" not in str(caught.value)


def test_long_templates():
    longest = "a" * (MAX_TEMPLATE_LENGTH - 12) + "{first_name}"
    assert Template.parse(longest).fields == ("first_name",)
    with pytest.raises(TemplateError, match="at most 100,000"):
        Template.parse("x" * (MAX_TEMPLATE_LENGTH + 1))
    with pytest.raises(TemplateError, match="at most"):
        Template.parse("{" * 10_000_000)
    # Worst cases for a tokenizer finish (the time is printed, not asserted)
    for text in ("{{" * (MAX_TEMPLATE_LENGTH // 2), "{a}" * (MAX_TEMPLATE_LENGTH // 3),
                 "}}" * (MAX_TEMPLATE_LENGTH // 2)):
        started = time.perf_counter()
        Template.parse(text)
        print(f"{text[:3]!r}... parsed in {time.perf_counter() - started:.3f} s")
    with pytest.raises(TemplateError, match="never closed"):
        Template.parse("{" + "a" * (MAX_TEMPLATE_LENGTH - 1))


def test_not_text():
    with pytest.raises(ParameterTypeError, match="must be text"):
        Template.parse(42)  # type: ignore[arg-type]


def test_render_with_fallbacks_and_values_inserted_verbatim():
    values = pd.DataFrame({
        "first_name": ["Anne", None, "  ", "{email}", "=HYPERLINK(\"x\")", "Zoé"],
        "preferred_brand": pd.Categorical(["Nike", None, "Nike", "Adidas", None, ""]),
        "days_since_last_purchase": [3.9, np.nan, 0.0, 12.0, 400.5, 1.2],
    }, index=[10, 11, 12, 13, 14, 15])
    template = Template.parse("Bonjour {first_name|cher client} ({preferred_brand|nos "
                              "marques}, {days_since_last_purchase|?} j)")
    rendered = template.render(values)
    assert rendered.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert rendered.tolist() == [
        "Bonjour Anne (Nike, 3 j)",
        "Bonjour cher client (nos marques, ? j)",
        "Bonjour cher client (Nike, 0 j)",
        "Bonjour {email} (Adidas, 12 j)",  # a value is never parsed again
        'Bonjour =HYPERLINK("x") (nos marques, 400 j)',
        "Bonjour Zoé (nos marques, 1 j)",
    ]
    without = Template.parse("[{first_name}]").render(values)
    assert without.tolist() == ["[Anne]", "[]", "[]", "[{email}]", '[=HYPERLINK("x")]', "[Zoé]"]


def test_formats():
    values = pd.DataFrame({
        "n": pd.array([3, None, -2], dtype="Int64"),
        "x": [2.0, 2.5, 1 / 3],
        "flag": [True, False, True],
        "day": pd.to_datetime(["2026-10-01 00:00", None, "2026-10-02 14:30"]),
    })
    rendered = Template.parse("{n|-} {x} {flag} {day|jamais}").render(values)
    assert rendered.tolist() == ["3 2 true 2026-10-01", "- 2.50 false jamais",
                                 "-2 0.33 true 2026-10-02 14:30"]


def test_missing_values_against_pandas():
    series = pd.Series(["a", None, "", " ", "b", float("nan")])
    expected = series.isna() | series.astype("string").str.strip().eq("").fillna(False)
    assert tpl.missing_values(series).tolist() == expected.tolist()
    categorical = series.astype("category")
    assert tpl.missing_values(categorical).tolist() == expected.tolist()
    numbers = pd.Series([1.0, np.nan, 0.0])
    assert tpl.missing_values(numbers).tolist() == numbers.isna().tolist()


def test_the_module_evaluates_nothing():
    """No eval/exec/compile and no template engine: the tokenizer is plain string work."""
    source = pathlib.Path(tpl.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "getattr", "__import__"}
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import)
                              else [ast.alias(node.module or "")])}
    assert not imported & {"jinja2", "string", "mako"}
