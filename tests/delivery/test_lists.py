"""Static segments and lists (issue 15): freeze() keeps its members when the date or the
data change, read_list() matches messy emails and ids after the loading's normalisation
and reports every row it could not match, in_list("name") works in rules on the pandas and
DuckDB engines, and manual additions and removals are recorded. Expectations come from
plain pandas on the sample's tables and from hand-written lists."""

from __future__ import annotations

import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery.lists import read_list, read_static
from segexplore.delivery.privacy import forget
from segexplore.errors import FileFormatError, RuleEvaluationError, SchemaError

BUYERS = "count(purchase, last 90 days) >= 1"


def _duck():
    folder = se.sample_path()
    return se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb", threads=2)


@pytest.fixture()
def sample():
    return se.load_sample()


def _ids(base, rule) -> set[int]:
    """Members' ids, by plain pandas on the pandas engine's mask."""
    mask = base.segment(rule).mask.to_numpy(dtype=bool)
    return set(base.contacts["contact_id"][mask].tolist())


def test_a_frozen_segment_keeps_its_members_when_the_date_changes(sample):
    frozen = sample.segment(BUYERS).freeze("Buyers, October")
    members = _ids(sample, BUYERS)
    later = sample.at("2026-12-31")
    assert _ids(later, BUYERS) != members  # the dynamic segment moved (not vacuous)
    assert set(frozen.on(later).members(["contact_id"])["contact_id"]) == members
    for rule in ('segment("Buyers, October")', 'in_list("Buyers, October")'):
        assert later.count(rule) == len(members)
    both = later.count('in_list("Buyers, October") and ' + BUYERS)
    assert both == len(members & _ids(later, BUYERS))
    assert frozen.frozen.size == len(members) and frozen.frozen.source == BUYERS
    text = repr(frozen)
    assert "static" in text and f"frozen {frozen.frozen.at} at {len(members):,}" in text


def test_a_frozen_segment_read_on_new_data_keeps_those_still_there(sample, tmp_path):
    frozen = sample.segment('city = "Lyon"').freeze("Lyon", folder=tmp_path)
    assert frozen.path == tmp_path / "Lyon.static.parquet" and frozen.path.exists()
    members = _ids(sample, 'city = "Lyon"')
    gone = sorted(members)[:5]
    contacts = sample.contacts[~sample.contacts["contact_id"].isin(gone)]
    newer = se.read_base(contacts, sample.events, sample.orders, clean=False,
                         as_of=sample.as_of)
    again = read_static(frozen.path, newer)
    assert again.size == len(members) - 5
    assert again.unmatched["reason"].unique().tolist() == ["no longer in the base"]
    assert sorted(int(v) for v in again.unmatched["value"]) == gone
    assert again.frozen == frozen.frozen
    assert newer.count('in_list("Lyon")') == len(members) - 5


def test_a_static_file_edited_since_is_refused(sample, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frozen = sample.segment('city = "Lyon"').freeze("Lyon", folder=tmp_path)
    table = pq.read_table(frozen.path)
    ids = table.column("contact_id").to_pylist()
    edited = pa.table({"contact_id": [*ids[:-1], 1]}).replace_schema_metadata(
        table.schema.metadata)
    pq.write_table(edited, frozen.path)
    with pytest.raises(FileFormatError, match="changed since it was written"):
        read_static(frozen.path, sample)
    (tmp_path / "other.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(FileFormatError, match="other.parquet"):
        read_static(tmp_path / "other.parquet", sample)


def test_an_erased_member_leaves_the_static_segment(sample):
    frozen = sample.segment('city = "Lyon"').freeze("Lyon")
    first = frozen.members(["email"])["email"].iloc[0]
    forget(sample, first)
    assert frozen.size == frozen.frozen.size - 1
    assert first not in set(frozen.members(["email"])["email"])


def test_a_messy_list_matches_as_loading_normalises_and_reports_the_rest(sample, tmp_path):
    contacts = sample.contacts
    emails = contacts["email"].tolist()
    rows = [f"  {emails[0].upper()} ",      # 1: matched after trim + lower-case
            emails[1],                       # 2: matched
            "nobody@example.com",           # 3: no contact
            "jean.dupont",                   # 4: invalid (no @)
            "",                              # 5: missing
            emails[1].title(),               # 6: repeats row 2
            "a b@x.fr",                      # 7: invalid (a space)
            emails[2]]                       # 8: matched
    path = tmp_path / "salon.csv"
    pd.DataFrame({"Adresse e-mail": rows, "Note": range(8)}).to_csv(
        path, sep=";", index=False, encoding="utf-8")
    vip = read_list(path, sample, name="Salon")
    wanted = set(contacts["contact_id"][contacts["email"].isin(emails[:3])])
    assert set(vip.ids) == wanted and vip.size == 3
    assert vip.unmatched.to_dict("records") == [
        {"row": 3, "value": "nobody@example.com", "reason": "no contact with this email"},
        {"row": 4, "value": "jean.dupont", "reason": "invalid email (no @)"},
        {"row": 5, "value": "", "reason": "missing"},
        {"row": 6, "value": emails[1].title(), "reason": "repeats row 2"},
        {"row": 7, "value": "a b@x.fr", "reason": "invalid email (contains a space)"}]
    assert vip.size + len(vip.unmatched) == len(rows)  # every row kept or reported
    assert sample.count('not in_list("Salon")') == len(contacts) - 3
    assert "5 row(s) matched nobody" in repr(vip) and str(path) == vip.frozen.source


def test_a_list_of_ids_with_leading_zeros_and_unknown_ids(sample):
    ids = sample.contacts["contact_id"].tolist()
    listed = pd.DataFrame({"N° client": [f"00{ids[0]}", str(ids[5]), " 999999999 ",
                                         str(ids[5])]})
    found = read_list(listed, sample, name="Call centre")
    assert sorted(found.ids) == sorted([ids[0], ids[5]])
    assert found.unmatched[["row", "reason"]].to_dict("records") == [
        {"row": 3, "reason": "no contact with this id"}, {"row": 4, "reason": "repeats row 2"}]


def test_in_list_refuses_a_rule_segment_and_names_an_unknown_list(sample):
    sample.segment('city = "Lyon"', name="Lyon rule")
    read_list([sample.contacts["email"].iloc[0]], sample, name="VIP")
    with pytest.raises(RuleEvaluationError, match='write segment\\("Lyon rule"\\)'):
        sample.count('in_list("Lyon rule")')
    with pytest.raises(RuleEvaluationError, match="VIP"):
        sample.count('in_list("VIp")')
    with pytest.raises(SchemaError, match="column="):
        read_list(pd.DataFrame({"a": [1], "b": [2]}), sample, name="x")


def test_manual_changes_are_recorded_and_written(sample, tmp_path):
    emails = sample.contacts["email"].tolist()
    vip = read_list(emails[:3], sample, name="VIP", folder=tmp_path)
    more = vip.with_contacts([emails[3], emails[0], "nobody@example.com"])
    assert more.size == 4 and sample.segments["VIP"] is more
    assert more.unmatched["reason"].tolist() == ["no contact with this email"]
    fewer = more.without_contacts([emails[1]])
    assert fewer.size == 3
    assert [(h["action"], h["contacts"], h["size"]) for h in fewer.frozen.history] == [
        ("added", 1, 4), ("removed", 1, 3)]
    back = read_static(tmp_path / "VIP.static.parquet", se.load_sample())
    assert set(back.ids) == set(fewer.ids) and back.frozen == fewer.frozen
    assert vip.size == 3 and set(vip.ids) != set(fewer.ids)  # the first one is unchanged


def test_lists_and_frozen_segments_on_a_duckdb_base_are_the_pandas_ones(sample):
    duck = _duck()
    pandas_base = se.load_sample(clean=False)
    emails = pandas_base.contacts["email"].iloc[[4, 9, 16]].tolist()
    for base in (pandas_base, duck):
        read_list([e.upper() for e in emails] + ["nobody@x.fr"], base, name="VIP")
        base.segment(BUYERS).freeze("Buyers")
    for rule in ('in_list("VIP")', 'segment("Buyers") and device = "Android"',
                 'not in_list("VIP") and in_list("Buyers")'):
        assert duck.count(rule) == pandas_base.segment(rule).size, rule
    later = [b.at("2026-12-31") for b in (pandas_base, duck)]
    assert later[1].count('in_list("Buyers")') == later[0].count('in_list("Buyers")') == len(
        _ids(pandas_base, BUYERS))
    assert duck.segments["VIP"].unmatched.equals(pandas_base.segments["VIP"].unmatched)
