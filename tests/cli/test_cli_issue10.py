"""Issue 10, the command line: what ``segment --out`` writes, optional FILE everywhere,
folders for ``summary``, thousands separators, ``summary --issues``, catalog errors that
name their segment and warnings for rule values that match nobody.

Every test runs the real CLI (:func:`segexplore.cli.main`) on the bundled sample or a
small fixture, and checks what it prints or writes against plain pandas or the API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se
from segexplore.cli import main
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.export import export_segment
from segexplore.errors import RuleEvaluationError, RuleSyntaxError

IDF = 'region = "Île-de-France"'


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


@pytest.fixture(scope="module")
def idf(sample) -> pd.DataFrame:
    """The Île-de-France contacts of the sample, by plain pandas."""
    contacts = sample.contacts
    return contacts[(contacts["region"] == "Île-de-France").to_numpy()]


@pytest.fixture(scope="module")
def small_base_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("base")
    assert main(["sample", "--contacts", "300", "--out", str(folder), "--seed", "5",
                 "--format", "csv"]) == 0
    return folder


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# ------------------------------------------------------------------ segment --out
def test_segment_out_writes_only_what_export_would(sample, idf, tmp_path, capsys):
    """821 withdrawn and 230 pending contacts were written, without a word."""
    out = tmp_path / "idf.csv"
    assert main(["segment", "--rule", IDF, "--name", "IDF", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    # the same file as the API's export (and so as `segexplore export`)
    expected_path = tmp_path / "expected.csv"
    export_segment(sample.segment(IDF, name="IDF", save=False), expected_path, manifest=False)
    written = _read(out)
    pd.testing.assert_frame_equal(written, _read(expected_path))
    # independently: the consented Île-de-France contacts with a valid email, no one else
    sendable = idf[(idf["consent"].astype(str) == "given") & idf["email_valid"].astype(bool)]
    assert sorted(written["contact_id"].astype(int)) == sorted(sendable["contact_id"])
    assert len(written) == 3_114 < len(idf) == 4_165
    # the waterfall is printed with the reasons and counts
    consent = idf["consent"].astype(str).value_counts()
    assert consent["withdrawn"] == 821 and consent["pending"] == 230
    assert re.search(r"consented\s+3,114\s+-1,051\s+consent not given \(withdrawn 821, "
                     r"pending 230\)", printed.out), printed.out
    assert f"Exported 3,114 contacts of 'IDF' to {out}" in printed.out
    assert (tmp_path / "idf.csv.manifest.json").is_file()
    assert "warning" not in printed.err


def test_segment_all_members_writes_everyone_and_warns(idf, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert main(["segment", "--rule", IDF, "--out", str(out), "--all-members",
                 "--no-manifest"]) == 0
    printed = capsys.readouterr()
    written = _read(out)
    assert sorted(written["contact_id"].astype(int)) == sorted(idf["contact_id"])
    assert {"email", "city", "device", "consent", "sendable", "excluded_at"} <= \
        set(written.columns)
    by_id = written.set_index(written["contact_id"].astype(int))
    given = idf.set_index("contact_id")["consent"].astype(str) == "given"
    assert (by_id.loc[given.index, "sendable"] == given.map({True: "true", False: "false"})
            ).all()
    assert set(by_id.loc[~given, "excluded_at"]) == {"consented"}
    assert "warning" in printed.err and "NOT a list to send to" in printed.err
    assert "1,051 of whom may not be emailed" in printed.err
    assert not (tmp_path / "all.csv.manifest.json").exists()


def test_segment_output_options_are_exports(sample, tmp_path, capsys):
    out = tmp_path / "mailchimp.csv"
    assert main(["segment", "--rule", IDF, "--out", str(out), "--preset", "mailchimp",
                 "--excel", "--no-manifest"]) == 0
    expected = tmp_path / "expected.csv"
    export_segment(sample.segment(IDF, save=False), expected, preset="mailchimp", excel=True,
                   manifest=False)
    assert out.read_bytes() == expected.read_bytes()
    assert out.read_bytes().startswith(b"\xef\xbb\xbfEmail Address;")


# ------------------------------------------------------------------ FILE optional
def test_profile_and_segment_default_to_the_sample(idf, capsys):
    assert main(["profile"]) == 0
    assert capsys.readouterr().out.startswith("Profile('base': 20,000 contacts")
    assert main(["segment", "--rule", IDF]) == 0
    assert capsys.readouterr().out.startswith(f"{len(idf):,} contacts (20.8% of 20,000)")


def test_summary_reads_a_folder(small_base_dir, capsys):
    assert main(["summary", str(small_base_dir)]) == 0
    out = capsys.readouterr().out
    events = len(pd.read_csv(small_base_dir / "events.csv"))
    assert re.search(r"contacts\s+300\n", out), out
    assert re.search(rf"events\s+{events:,}\s", out), out
    assert main(["export", IDF, "--data", str(small_base_dir), "--out",
                 str(small_base_dir.parent / "x.csv"), "--no-manifest"]) == 0
    assert "matched by the rule" in capsys.readouterr().out


def test_events_without_contacts_is_a_usage_error(small_base_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["segment", "--rule", IDF, "--events", str(small_base_dir / "events.csv")])
    assert exit_info.value.code == 2
    assert "--events needs the contacts file or folder too" in capsys.readouterr().err


# ------------------------------------------------------------------ thousands
def test_counts_are_printed_with_thousands_separators(sample, capsys):
    assert main(["segment", "--rule", 'consent = "given"']) == 0
    given = int((sample.contacts["consent"].astype(str) == "given").sum())
    assert given >= 1_000
    assert capsys.readouterr().out.split()[0] == f"{given:,}"
    assert main(["profile"]) == 0
    rows = capsys.readouterr().out.splitlines()
    email = next(line.split() for line in rows if line.split()[:1] == ["email"])
    assert email[2] == f"{sample.contacts['email'].notna().sum():,}" == "20,000"


# ------------------------------------------------------------------ summary --issues
MESSY = ("email,signup_date,consent\n"
         "a@x.fr,2024-01-02,given\n"
         "bad-email,2024-13-45,given\n"
         ",2024-01-01,given\n")


def test_summary_issues_prints_every_cell_level_issue(tmp_path, capsys):
    path = tmp_path / "messy.csv"
    path.write_text(MESSY, encoding="utf-8")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    # the hint names the command that shows them
    assert "cell-level issues" in out and "segexplore summary FILE --issues" in out
    assert main(["summary", str(path), "--issues"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("3 cell-level issues "
                                                                          "(the rows are kept)")))
    table = [line.split() for line in lines[header + 1:]]
    assert table[0][:6] == ["table", "file", "row", "column", "value", "problem"]
    found = {(cells[1], cells[2], cells[3], cells[4]) for cells in table[1:] if len(cells) > 4}
    # file, line in the file (header = 1), column and value, as written by hand above
    assert ("messy.csv", "3", "signup_date", "2024-13-45") in found
    assert ("messy.csv", "3", "email", "bad-email") in found
    assert any(line.split()[1:4] == ["messy.csv", "4", "email"] and "missing" in line
               for line in lines[header + 1:])


def test_summary_issues_lists_rejected_rows(tmp_path, capsys):
    base_path = tmp_path / "contacts.csv"
    base_path.write_text("contact_id,email\n1,a@x.fr\n2,b@x.fr\n", encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text("contact_id,event_type,timestamp\n1,open,2024-01-02\n"
                      "1,open,not a time\n", encoding="utf-8")
    assert main(["summary", str(base_path), "--events", str(events), "--issues"]) == 0
    out = capsys.readouterr().out
    base = se.read_base(base_path, events)
    rejected = base.report.rejects["events"]
    assert len(rejected) == 1
    tail = out.split("1 rejected rows (kept in base.rejects):\n", 1)[1].splitlines()
    assert tail[0].split() == ["table", "file", "row", "reason"]
    cells = tail[1].split()
    # the line in the file (header = 1) and the reason the loader gave
    assert cells[:3] == ["events", "events.csv", "3"] == ["events", "events.csv",
                                                           str(rejected["row"].iloc[0])]
    assert " ".join(cells[3:]) == rejected["reason"].iloc[0]


def test_summary_issues_on_a_clean_base_says_so(capsys):
    assert main(["summary", "--issues"]) == 0
    assert "No cell-level issue and no rejected row." in capsys.readouterr().out


# ------------------------------------------------------------------ catalog errors
def test_a_catalog_rule_error_names_its_segment():
    catalog = Catalog()
    with pytest.raises(RuleSyntaxError, match=r"^segment 'IDF Android': ") as syntax:
        catalog.add("IDF Android", 'city = ')
    assert syntax.value.position == 7 and "position 7" in str(syntax.value)
    catalog.add("IDF Android", 'cty = "Lyon"')
    with pytest.raises(RuleEvaluationError,
                       match=r"^segment 'IDF Android': .*unknown field 'cty'.*'city'"):
        catalog.apply(se.load_sample())
    with pytest.raises(RuleSyntaxError, match=r"^segment 'IDF Android': "):
        catalog.update("IDF Android", rule="age >")


def test_a_catalog_rule_error_names_its_segment_in_the_cli(tmp_path, capsys):
    catalog = Catalog()
    catalog.add("Android", 'device = "Android"')
    catalog.add("IDF Android", 'regoin = "Île-de-France"', parent="Android")
    path = catalog.save(tmp_path / "catalog.yaml")
    status = main(["export", str(path), "--segment", "IDF Android",
                   "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "segexplore export: segment 'IDF Android': " in err and "'region'" in err
    assert main(["refresh", str(path), "--history", str(tmp_path / "h.csv")]) == 2
    assert "segment 'IDF Android': " in capsys.readouterr().err


# ------------------------------------------------------------------ values that match nobody
def test_segment_and_export_warn_about_values_that_match_nobody(tmp_path, capsys):
    rule = 'region = "Ile-de-France"'
    assert main(["segment", "--rule", rule]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("0 contacts")
    assert printed.err.startswith("segexplore segment: warning: ")
    assert "Ile-de-France" in printed.err and 'did you mean "Île-de-France"' in printed.err
    assert main(["export", rule, "--out", str(tmp_path / "x.csv"), "--no-manifest"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("segexplore export: warning: ")
    assert 'did you mean "Île-de-France"' in err
    # a value that exists gets no warning
    assert main(["segment", "--rule", IDF]) == 0
    assert capsys.readouterr().err == ""


def test_refresh_warns_about_values_that_match_nobody_per_segment(tmp_path, capsys):
    catalog = Catalog()
    catalog.add("IDF", 'region = "Ile-de-France"')
    catalog.add("Lyon", 'city = "Lyon"')
    path = catalog.save(tmp_path / "catalog.yaml")
    assert main(["refresh", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("segexplore refresh: warning: segment 'IDF': ")
    assert 'did you mean "Île-de-France"' in err and "'Lyon'" not in err


def test_a_value_warning_is_one_plain_line_in_a_real_run():
    """Python's own `<frozen runpy>:88: RuleValueWarning: ...` line must not come too."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "segexplore", "segment", "--rule",
                             'region = "Ile-de-France"', "--name", "IDF"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "segexplore segment: warning: segment 'IDF': region = \"Ile-de-France\" matches no "
        "contact; did you mean \"Île-de-France\"?"]
