"""Issue 17, the explorer's side list of saved segments and its header line.

Headless, as tests/widgets/test_widgets.py: buttons are clicked as the browser would.
Every size is checked against a base of its own (``base.segment(rule).size``) and plain
pandas counts over the sample's columns; every sparkline against a size history written
here with hand-chosen sizes.
"""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest
from duckdb_sample import duck  # noqa: F401 (fixture)

import segexplore as se
from segexplore.delivery.refresh import HISTORY_COLUMNS, read_history
from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.widgets import explore
from segexplore.widgets.app import TAB_TITLES
from segexplore.widgets.segment_list import SegmentList

NNBSP = "\u202f"  # what display/numbers.py puts between thousands in French
GOLD = 'loyalty_tier = "gold"'
FRANCE = 'country = "FR"'
PARIS = 'city = "Paris"'
HOSTILE = '<script>alert("x")</script>'

#: Hand-chosen sizes per run, oldest first (not the sample's: the sparkline draws history).
GOLD_RUNS = [400, 520, 450, 510]
FRANCE_RUNS = [15_000, 16_500, 16_059, 14_200]
RUN_DATES = ["2026-07-30", "2026-08-30", "2026-09-30", "2026-10-30"]


@pytest.fixture()
def base() -> se.ContactBase:
    return se.load_sample()


@pytest.fixture()
def history_file(tmp_path):
    """A size history as refresh() writes it: one row per segment and run, the segments
    interleaved, plus a segment ("Old") no longer saved."""
    rows = []
    for run, date in enumerate(RUN_DATES):
        run_at = f"{date}T06:00:0{run}Z"
        for name, sizes in (("France", FRANCE_RUNS), ("Gold", GOLD_RUNS), ("Old", [9] * 4)):
            rows.append({"date": date, "run_at": run_at, "segment": name,
                         "size": sizes[run], "entered": pd.NA, "left": pd.NA,
                         "jaccard": float("nan")})
    path = tmp_path / "history.csv"
    pd.DataFrame(rows, columns=HISTORY_COLUMNS).to_csv(path, index=False)
    return path


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def shown_sizes(side: SegmentList) -> dict[str, tuple[int, str]]:
    """Each line's plain size (``data-size``) and its written form, read from the HTML."""
    shown = {}
    for name, line in zip(side.buttons, side.children[1:], strict=True):
        html = line.children[1].value
        found = re.search(r'data-size="(\d+)">([^<]*)</span>', html)
        assert found, html
        shown[name] = (int(found.group(1)), unescape(found.group(2)))
    return shown


def polyline(html: str) -> list[tuple[float, float]]:
    found = re.search(r'<polyline points="([^"]*)"', html)
    assert found, html
    return [tuple(float(v) for v in point.split(",")) for point in found.group(1).split()]


def test_the_list_shows_each_saved_segment_with_its_size(base):
    app = explore(base, segments={"Gold": GOLD, "France": FRANCE}, debounce=0, lazy=False,
                  locale="en")
    own = se.load_sample()  # a base of its own: nothing shared with the explorer's
    contacts = own.contacts
    expected = {"Gold": own.segment(GOLD).size, "France": own.segment(FRANCE).size}
    assert expected == {"Gold": int(contacts["loyalty_tier"].eq("gold").sum()),
                        "France": int(contacts["country"].eq("FR").sum())}
    side = app.segment_list
    assert "se-segment-list" in side._dom_classes
    assert [b.description for b in side.buttons.values()] == ["Gold", "France"]
    assert shown_sizes(side) == {name: (size, f"{size:,}") for name, size in expected.items()}
    # beside the tabs, which keep their titles
    body = app.children[1]
    assert list(body.children) == [side, app.tabs]
    assert [app.tabs.get_title(i) for i in range(5)] == list(TAB_TITLES)
    # without a history, no sparkline
    assert "<svg" not in "".join(line.html for line in side.lines)


def test_sparklines_follow_the_history_runs(base, history_file):
    app = explore(base, segments={"Gold": GOLD, "France": FRANCE, "Paris": PARIS},
                  debounce=0, lazy=False, locale="en", history=history_file)
    htmls = {line.name: line.html for line in app.segment_list.lines}
    for name, sizes in (("Gold", GOLD_RUNS), ("France", FRANCE_RUNS)):
        points = polyline(htmls[name])
        assert len(points) == len(sizes), name
        xs, ys = [x for x, _ in points], [y for _, y in points]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)  # oldest run on the left
        for i in range(len(sizes)):  # a larger size is drawn higher (smaller y)
            for j in range(len(sizes)):
                if sizes[i] > sizes[j]:
                    assert ys[i] < ys[j], (name, i, j, ys)
        assert ys[sizes.index(max(sizes))] == min(ys) and ys[sizes.index(min(sizes))] == max(ys)
        # the hover title: the first and last sizes and dates
        title = unescape(re.search(r"<title>(.*?)</title>", htmls[name]).group(1))
        assert title == (f"{name}: {sizes[0]:,} on {RUN_DATES[0]} → {sizes[-1]:,} on "
                         f"{RUN_DATES[-1]} (4 runs)")
        assert 'width="80" height="18"' in htmls[name]
    # a segment the history does not hold: no line drawn; one it holds but not saved: left out
    assert "<svg" not in htmls["Paris"] and "se-segment-no-history" in htmls["Paris"]
    assert "Old" not in htmls
    # the frame read_history returns gives the same lines
    framed = explore(base, debounce=0, lazy=False, locale="en",
                     history=read_history(history_file))
    assert [line.html for line in framed.segment_list.lines] == list(htmls.values())


def test_a_hostile_name_is_text_everywhere(base, history_file):
    history = read_history(history_file)
    history.loc[history["segment"] == "Gold", "segment"] = HOSTILE
    app = explore(base, segments={HOSTILE: GOLD}, debounce=0, lazy=False, locale="en",
                  history=history)
    html = app.segment_list.lines[0].html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert HOSTILE in unescape(html)  # in the title, as written
    assert polyline(html)  # the history still matched the name
    assert app.segment_list.buttons[HOSTILE].description == HOSTILE  # a button's text
    assert "<script" not in app.header.value


def test_french_numbers(base, history_file):
    app = explore(base, segments={"France": FRANCE}, debounce=0, lazy=False,
                  history=history_file)
    assert app.locale == "fr"  # the sample reads French
    france = int(base.contacts["country"].eq("FR").sum())
    written = f"{france // 1000}{NNBSP}{france % 1000:03d}"
    assert shown_sizes(app.segment_list) == {"France": (france, written)}
    title = unescape(re.search(r"<title>(.*?)</title>", app.segment_list.lines[0].html)[1])
    assert title.startswith(f"France: 15{NNBSP}000 on 2026-07-30 → 14{NNBSP}200 on ")


def test_saving_a_segment_adds_its_line(base):
    app = explore(base, segments={"Gold": GOLD}, debounce=0, lazy=False, locale="en")
    builder = app.builder
    builder.rule_text.value = PARIS
    builder.name.value = "Paris"
    builder.save_button.click()
    expected = se.load_sample().segment(PARIS).size
    assert list(app.segment_list.buttons) == ["Gold", "Paris"]
    assert shown_sizes(app.segment_list)["Paris"] == (expected, f"{expected:,}")
    assert "Saved segments (2)" in text(app.segment_list.children[0].value)
    assert "2 saved segments" in app.header.value


def test_clicking_a_name_opens_it_in_build(base):
    app = explore(base, segments={"Gold": GOLD}, debounce=0, lazy=False, locale="en")
    builder = app.builder
    builder.parent_select.value = "Gold"  # saved inside Gold, through the Build tab
    builder.rule_text.value = PARIS
    builder.name.value = "Gold in Paris"
    builder.save_button.click()
    builder.parent_select.value = "(whole base)"
    builder.rule_text.value = FRANCE  # something else is being built
    app.tabs.selected_index = TAB_TITLES.index("Profile")
    app.segment_list.buttons["Gold"].click()
    assert app.tabs.selected_index == TAB_TITLES.index("Build")
    assert builder.rule_text.value == str(se.parse(GOLD)) and builder.name.value == "Gold"
    assert builder.parent_select.value == "(whole base)"
    assert builder.size == int(base.contacts["loyalty_tier"].eq("gold").sum())
    assert "Saved “Gold”" in text(builder.save_status.value)
    app.segment_list.buttons["Gold in Paris"].click()
    assert builder.parent_select.value == "Gold" and builder.name.value == "Gold in Paris"
    contacts = base.contacts
    assert builder.size == int((contacts["loyalty_tier"].eq("gold")
                                & contacts["city"].eq("Paris")).sum())


def test_the_header_names_the_base_and_its_freshness(base):
    app = explore(base, debounce=0, lazy=False, locale="en", name="Spring <base>")
    latest = max(base.events["timestamp"].max(), base.orders["timestamp"].max())
    header = app.header.value
    assert "<b class=\"se-header-name\">Spring &lt;base&gt;</b>" in header
    assert f"latest activity {latest:%Y-%m-%d %H:%M}" in header
    assert f"{len(base.contacts):,} contacts as of {base.as_of:%Y-%m-%d}" in header
    assert "0 saved segments" in header and "<br" not in header and "nowrap" in header
    unnamed = explore(base, debounce=0, lazy=False, locale="en").header.value
    assert "se-header-name" not in unnamed


def test_a_duckdb_base_shows_what_it_knows(duck):  # noqa: F811 (fixture)
    app = explore(duck, segments={"Gold": GOLD}, debounce=0, lazy=False, locale="en")
    assert "latest activity" not in app.header.value  # a scan of every event: not asked
    assert f"contacts as of {duck.as_of:%Y-%m-%d}" in app.header.value
    assert shown_sizes(app.segment_list) == {"Gold": (duck.count(GOLD), f"{duck.count(GOLD):,}")}


def test_a_history_that_is_not_one_is_refused(base):
    with pytest.raises(ParameterTypeError, match="history must be"):
        explore(base, debounce=0, lazy=False, history=42)
    with pytest.raises(ParameterError, match="no column 'run_at'"):
        explore(base, debounce=0, lazy=False,
                history=pd.DataFrame({"date": [], "segment": [], "size": []}))
