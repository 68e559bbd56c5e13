"""The bars of a profiled attribute as plain data, without plotly.

:func:`profile_bars` reads one attribute's bars off a
:class:`~segexplore.analysis.profile.Profile` (histogram bins, top values or tags): the
plotly chart (:func:`segexplore.display.charts.profile_histogram`) and the inline SVG of
the notebook view (:mod:`segexplore.display.html`) both draw these numbers, and nothing is
recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from segexplore.errors import ParameterError, closest_name

__all__ = ["profile_bars", "check_attribute"]


def check_attribute(attribute: str, available: Sequence[str], what: str) -> None:
    """Raise :class:`~segexplore.errors.ParameterError` unless ``attribute`` is one of
    ``available`` (the attributes of a profile or comparison, named by ``what``)."""
    if attribute not in available:
        guess = closest_name(str(attribute), [str(a) for a in available])
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise ParameterError(f"Value of 'attribute' is not an attribute of this {what}. "
                             f"Expected one of {list(available)} but received: "
                             f"{attribute}{hint}")


def profile_bars(profile: Any, attribute: str) -> dict[str, Any]:
    """The bars of one profiled attribute: ``kind``, ``x``, ``y`` and, for histograms,
    ``width`` (milliseconds for dates), ``ranges`` (left, right as text) and ``bins``
    (left, right as the profile holds them).

    Raises :class:`~segexplore.errors.ParameterError` for an unknown attribute or an
    identifier (an identifier has no distribution: its values are never quoted).
    """
    summary = profile.summary.set_index("attribute")
    check_attribute(attribute, list(summary.index), "profile")
    kind = summary.loc[attribute, "kind"]
    if kind in ("numeric", "date"):
        bins = profile.histograms[profile.histograms["attribute"] == attribute]
        left, right = bins["left"].tolist(), bins["right"].tolist()
        if kind == "date":
            middles = [lo + (hi - lo) / 2 for lo, hi in zip(left, right, strict=True)]
            widths = [(hi - lo).total_seconds() * 1000 for lo, hi in zip(left, right, strict=True)]
        else:
            middles = [(lo + hi) / 2 for lo, hi in zip(left, right, strict=True)]
            widths = [hi - lo for lo, hi in zip(left, right, strict=True)]
        return {"kind": kind, "x": middles, "y": bins["count"].tolist(), "width": widths,
                "ranges": [(str(lo), str(hi)) for lo, hi in zip(left, right, strict=True)],
                "bins": list(zip(left, right, strict=True))}
    if kind == "multi":
        tags = profile.tags[profile.tags["attribute"] == attribute]
        return {"kind": kind, "x": tags["tag"].tolist(), "y": tags["count"].tolist()}
    if kind == "identifier":
        raise ParameterError(f"Value of 'attribute' names {attribute!r}, an identifier: it has "
                             f"no distribution to draw")
    top = profile.top_values[profile.top_values["attribute"] == attribute]
    return {"kind": kind, "x": [str(v) for v in top["value"]], "y": top["count"].tolist()}
