"""The findings of a comparison in plain language: for each segment, its significant
differences from the rest of the base, without the attributes its rule uses or implies,
each with a sentence and the base's share ("38% are gold members, 2.1x the base's 18%")."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.encoding import MISSING, OTHER

__all__ = ["differences", "plain_name"]

def differences(names: list[str], tests: pd.DataFrame, distributions: pd.DataFrame,
                 fields: dict[str, frozenset[str]],
                 implied: dict[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """Per segment, the attributes ranked by absolute effect size against the rest.

    ``in_rule`` marks the attributes the segment's own rule reads, ``implied`` those a
    field of the rule implies in the base (``implied_by``, see :class:`ImpliedAttributes`): both
    differ by design. ``reading`` is the terse reading, ``finding`` the same as a plain
    sentence with the base's share ("35% have loyalty tier gold, 13.7x the base's 2.5%").
    """
    implied = implied or {}
    columns = ["segment", "rank", "attribute", "kind", "in_rule", "implied", "implied_by",
               "effect_name", "effect_size", "p_adjusted", "significant", "value", "share",
               "base_share", "index", "reading", "finding"]
    against_rest = tests[tests["versus"] == "rest"]
    rows = []
    by_segment = dict(tuple(distributions.groupby(["segment", "attribute"], sort=False)))
    tag_rows = {(r.segment, r.attribute, r.value): r for r in distributions[
        distributions["attribute"].isin(set(tests.loc[tests["kind"] == "multi", "attribute"]))
    ].itertuples()}
    for name in names:
        mine = against_rest[against_rest["segment"] == name]
        order = mine["effect_size"].abs().sort_values(ascending=False, kind="stable").index
        for rank, test in enumerate(mine.loc[order].itertuples(), 1):
            value = share = base_share = index = math.nan
            if test.kind == "multi":
                found = tag_rows.get((name, test.attribute, test.tag))
                if found is None:
                    continue
                value, share, base_share, index = (test.tag, float(found.share),
                                                   float(found.base_share), float(found.index))
                reading = _category_reading(test.attribute, test.kind, value, share,
                                            base_share)
                finding = _category_reading(test.attribute, test.kind, value, share,
                                            base_share, plain=True)
            elif test.kind in ("categorical", "boolean"):
                values = by_segment.get((name, test.attribute))
                pick = _over_represented(values)
                if pick is None:
                    continue
                value, share, base_share, index = pick
                reading = _category_reading(test.attribute, test.kind, value, share,
                                            base_share)
                finding = _category_reading(test.attribute, test.kind, value, share,
                                            base_share, plain=True)
            else:
                reading = _number_reading(test.attribute, test)
                finding = _number_reading(test.attribute, test, plain=True)
            by = implied.get((name, test.attribute), "")
            rows.append((name, rank, test.attribute, test.kind,
                         test.attribute in fields.get(name, ()), bool(by), by,
                         test.effect_name, test.effect_size, test.p_adjusted,
                         test.significant, value, share, base_share, index, reading, finding))
    frame = pd.DataFrame(rows, columns=columns)
    frame["value"] = frame["value"].astype(object)
    frame["in_rule"] = frame["in_rule"].astype(bool)
    frame["implied"] = frame["implied"].astype(bool)
    return frame


def _over_represented(values: pd.DataFrame | None) -> tuple[Any, float, float, float] | None:
    """The value whose share grows most over the base (pooled rare values excluded)."""
    if values is None or not len(values):
        return None
    candidates = values[values["value"].map(lambda v: not (isinstance(v, str) and v == OTHER))]
    if not len(candidates):
        return None
    gain = (candidates["share"] - candidates["base_share"]).to_numpy()
    best = candidates.iloc[int(np.argmax(gain))]
    return best["value"], float(best["share"]), float(best["base_share"]), float(best["index"])


def _percent(share: float) -> str:
    return f"{share:.1%}" if 0 < share < 0.095 else f"{share:.0%}"


def _category_reading(attribute: str, kind: str, value: Any, share: float,
                      base_share: float, *, plain: bool = False) -> str:
    """``"35% have loyalty_tier = gold, 13.7x the base (2.5%)"``; with ``plain``, the
    finding ``"35% have loyalty tier gold, 13.7x the base's 2.5%"``."""
    name = plain_name(attribute) if plain else attribute
    if kind == "multi":  # value is a tag
        what = f"have {name} {value}"
    elif isinstance(value, str) and value == MISSING:
        what = f"have no {name}"
    elif kind == "boolean":
        what = f"are {name}" if value is True else f"are not {name}"
    else:
        what = f"have {name} {value}" if plain else f"have {name} = {value}"
    ratio = share / base_share if base_share else math.nan
    if plain:
        return f"{_percent(share)} {what}, {ratio:.1f}x the base's {_percent(base_share)}"
    return f"{_percent(share)} {what}, {ratio:.1f}x the base ({_percent(base_share)})"


def _number(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.2f}"


def _number_reading(attribute: str, test: Any, *, plain: bool = False) -> str:
    """``"median revenue_365d of 120 against 45 for the rest"``; with ``plain``, the
    finding ``"median revenue 365d 120, against 45 in the rest of the base"``."""
    if plain:
        name, of, against, rest = (plain_name(attribute), "", ", against",
                                   "in the rest of the base")
    else:
        name, of, against, rest = attribute, " of", " against", "for the rest"
    segment, other = _number(test.segment_median), _number(test.rest_median)
    if segment != other:
        return f"median {name}{of} {segment}{against} {other} {rest}"
    same = f"both medians {segment}" if plain else f"same median, {segment}"
    return (f"mean {name}{of} {_number(test.segment_mean)}{against} "
            f"{_number(test.rest_mean)} {rest} ({same})")


def plain_name(attribute: str) -> str:
    return attribute.replace("_", " ")
