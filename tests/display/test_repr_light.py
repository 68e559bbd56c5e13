"""What Jupyter shows for a Profile or a Comparison: small, escaped HTML tables, no plotly."""

from __future__ import annotations

import subprocess
import sys
from html import unescape
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.analysis.profile import profile

LIMIT = 300_000  # bytes


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@pytest.fixture(scope="module")
def sample_profile(sample):
    return sample.profile()


@pytest.fixture(scope="module")
def two_segments(sample):
    android = sample.segment('device = "Android"', name="Android", save=False)
    buyers = sample.segment("purchases_365d >= 1", name="Buyers", save=False)
    return compare([android, buyers])


class _Rows(HTMLParser):
    """The text of every cell of the first table, row by row, and the SVG titles per row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.titles: list[list[str]] = []
        self._cell: list[str] | None = None
        self._title: list[str] | None = None
        self._tables = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._tables += 1
        if self._tables != 1:
            return
        if tag == "tr":
            self.rows.append([])
            self.titles.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "title":
            self._title = []

    def handle_endtag(self, tag):
        if self._tables != 1:
            return
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "title" and self._title is not None:
            self.titles[-1].append("".join(self._title))
            self._title = None
        elif tag == "table":
            self._tables += 1  # only the first table is read

    def handle_data(self, data):
        if self._title is not None:
            self._title.append(data)
        elif self._cell is not None:
            self._cell.append(data)


def _rows(html: str) -> dict[str, tuple[list[str], list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return {cells[0]: (cells, titles) for cells, titles in zip(parser.rows, parser.titles,
                                                                strict=True) if cells}


def test_views_of_the_sample_are_small(sample_profile, two_segments):
    profile_size = len(sample_profile._repr_html_().encode("utf-8"))
    comparison_size = len(two_segments._repr_html_().encode("utf-8"))
    print(f"profile {profile_size:,} bytes, comparison {comparison_size:,} bytes")
    assert profile_size < LIMIT
    assert comparison_size < LIMIT


def test_showing_a_profile_and_a_comparison_imports_no_plotly():
    code = (
        "import sys\n"
        "import segexplore as se\n"
        "b = se.load_sample()\n"
        "html = b.profile()._repr_html_()\n"
        "a = b.segment('device = \"Android\"', name='Android', save=False)\n"
        "c = b.segment('purchases_365d >= 1', name='Buyers', save=False)\n"
        "html += se.compare([a, c])._repr_html_()\n"
        "assert 'plotly' not in sys.modules, sorted(m for m in sys.modules if 'plotly' in m)\n"
        "assert '<table' in html and '<script' not in html\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_numbers_shown_are_the_summary_values(sample_profile):
    rows = _rows(sample_profile._repr_html_())
    summary = sample_profile.to_frame()
    assert set(rows) - {"attribute"} == set(summary.index)
    for attribute in ("device", "city", "loyalty_tier", "gender"):
        cells, titles = rows[attribute]
        row = summary.loc[attribute]
        assert cells[3] == f"{row['missing']:,} ({row['missing_share']:.1%})"
        assert cells[4] == f"{row['distinct']:,}"
        assert cells[5] == f"{row['top']} ({row['top_share']:.1%})"
        top = sample_profile.top_values
        top = top[top["attribute"] == attribute]
        assert titles == [f"{v}: {c:,}" for v, c in zip(top["value"], top["count"],
                                                        strict=True)]
    for attribute in ("revenue_365d", "age"):
        cells, titles = rows[attribute]
        row = summary.loc[attribute]
        assert cells[3] == f"{row['missing']:,} ({row['missing_share']:.1%})"
        assert cells[4] == f"{row['distinct']:,}"
        mean, median = row["mean"], row["p50"]
        expected = [f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}" for v in (mean, median)]
        assert cells[5] == f"mean {expected[0]}, median {expected[1]}"
        bins = sample_profile.histograms
        counts = bins.loc[bins["attribute"] == attribute, "count"].tolist()
        assert [int(t.rsplit(": ", 1)[1].replace(",", "")) for t in titles] == counts
    interests = rows["interests"][1]
    tags = sample_profile.tags
    assert interests == [f"{t}: {c:,}" for t, c in tags.loc[tags["attribute"] == "interests",
                                                            ["tag", "count"]].to_numpy()]


def test_identifiers_show_counts_never_values(sample, sample_profile):
    page = sample_profile._repr_html_()
    rows = _rows(page)
    for attribute in ("contact_id", "email", "email_original"):
        cells, titles = rows[attribute]
        assert cells[2] == "identifier" and cells[5:] == ["", "", ""] and titles == []
    emails = set(sample.contacts["email"].dropna()) | set(sample.contacts["email_original"]
                                                          .dropna())
    assert not [e for e in emails if e in unescape(page)]


def test_values_are_escaped():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"label": rng.choice(["<b>x</b>", "a & b", "plain"], 200),
                          "<i>name</i>": rng.integers(0, 5, 200)})
    page = profile(frame, name="<script>alert(1)</script>")._repr_html_()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>name</i>" not in page and "&lt;i&gt;name&lt;/i&gt;" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "a &amp; b" in page
    masks = {"<b>x</b>": frame["label"] == "<b>x</b>", "rest": frame["label"] != "<b>x</b>"}
    shown = compare(masks, frame, attributes=["label"], rate=None)._repr_html_()
    assert "<b>x</b>" not in shown and "&lt;b&gt;x&lt;/b&gt;" in shown
