"""A statistic frame of another engine against the pandas engine's (imported by the
engine-parity tests of profile(), compare() and the explorer's profile panel).

Exact equality everywhere except on the rows of the features that add up amounts
(``SUMS`` of tests/feature_parity.py: revenue and basket): an engine adds them in its own
order, so a total may differ from pandas's in the last bit, which can split two totals
pandas finds equal; those rows are compared within a relative 5e-3 (a count of distinct
values may move by a few), and p-values adjusted over the whole comparison within 1e-3.
"""

from __future__ import annotations

import pandas as pd
from feature_parity import SUMS


def same_frame(expected: pd.DataFrame, got: pd.DataFrame, name: str) -> int:
    """``got`` is ``expected``: bit for bit outside the rows of SUMS attributes, within
    5e-3 on those (in the same order of the other rows). Returns the rows checked."""
    if "attribute" not in expected.columns:
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
        return len(expected)
    summed_e, summed_g = expected["attribute"].isin(SUMS), got["attribute"].isin(SUMS)
    exact_e = expected[~summed_e].reset_index(drop=True)
    exact_g = got[~summed_g].reset_index(drop=True)
    if "p_adjusted" in expected.columns:
        # adjusted over the whole comparison: a SUMS test's p-value moves every rank
        pd.testing.assert_series_equal(exact_g.pop("p_adjusted"),
                                       exact_e.pop("p_adjusted"), check_exact=False,
                                       rtol=1e-3, obj=f"{name} p_adjusted")
    pd.testing.assert_frame_equal(exact_g, exact_e, check_exact=True, obj=name)
    keys = [c for c in ("segment", "versus", "attribute", "tag", "value", "statistic_name")
            if c in expected.columns]
    near_e = expected[summed_e].sort_values(keys, kind="stable").reset_index(drop=True) \
        if keys else expected[summed_e].reset_index(drop=True)
    near_g = got[summed_g].sort_values(keys, kind="stable").reset_index(drop=True) \
        if keys else got[summed_g].reset_index(drop=True)
    if name == "distributions":  # a value's own row: a split total adds or drops one
        assert set(near_g["attribute"]) == set(near_e["attribute"])
    else:
        # counts too (pandas compares integers exactly whatever the tolerance)
        counts = [c for c in near_e.columns if pd.api.types.is_integer_dtype(near_e[c])
                  and not pd.api.types.is_bool_dtype(near_e[c])]
        near_e, near_g = near_e.astype(dict.fromkeys(counts, float)), near_g.astype(
            dict.fromkeys(counts, float))
        pd.testing.assert_frame_equal(near_g, near_e, check_exact=False, rtol=5e-3,
                                      check_dtype=False, obj=f"{name} (SUMS)")
    return len(expected)
