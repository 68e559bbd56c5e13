"""Split a segment at random into A/B test groups and a holdout, and export the groups.

:func:`split` assigns the sendable contacts of a segment (those the waterfall of
:mod:`segexplore.delivery.waterfall` keeps) to groups with exact shares (largest remainder,
per stratum when asked) and a recorded seed; :func:`export_split` writes one file per group
with the safe CSV writer of :mod:`segexplore.delivery.csv`, the split recorded in each
manifest (see ``docs/export.md``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.delivery.export import ExportResult, _file_stem, _write_export
from segexplore.delivery.suppressions import _prepare_suppressions
from segexplore.delivery.waterfall import _select, _Selection
from segexplore.errors import ExportError, SchemaError, closest_name
from segexplore.model import hooks

if TYPE_CHECKING:
    from segexplore.model.segments import Segment

__all__ = ["split", "export_split"]


def _largest_remainder(n: int, shares: Sequence[float]) -> np.ndarray:
    exact = np.asarray(shares, dtype=float) * n
    counts = np.floor(exact).astype(int)
    left = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")  # ties: the group listed first
    counts[order[:left]] += 1
    return counts


def _check_shares(variants: Mapping[str, float], holdout: float) -> dict[str, float]:
    if not variants:
        raise ExportError("variants: give at least one group, e.g. {'A': 0.5, 'B': 0.5}")
    shares = {str(k): float(v) for k, v in variants.items()}
    if "holdout" in shares:
        raise ExportError("variants: 'holdout' is reserved; use the holdout= share")
    bad = {k: v for k, v in shares.items() if not (v > 0) or not k.strip()}
    if bad or not 0 <= holdout < 1:
        raise ExportError(f"variants/holdout: shares must be > 0 and names non-empty "
                          f"(got {variants!r}, holdout={holdout!r})")
    if holdout > 0:
        shares["holdout"] = float(holdout)
    total = sum(shares.values())
    if abs(total - 1) > 1e-9:
        raise ExportError(f"variants + holdout must add up to 1, not {total:g} "
                          f"({shares})")
    return shares


@dataclass(frozen=True)
class _Split:
    """The sendable contacts of a selection, in its order: their positions and ids, the
    group drawn for each, and their stratum (None without ``stratify``)."""

    positions: np.ndarray
    ids: np.ndarray
    groups: np.ndarray
    strata: np.ndarray | None


def _sendable_values(selection: _Selection, stratify: str | None) -> tuple[np.ndarray,
                                                                            pd.Series | None]:
    """The sendable contacts' ids, and the values of ``stratify``, in the selection's
    order: from DuckDB when the members stay there, from the tables in pandas."""
    base = selection.base
    columns = list(base.contact_columns)
    if stratify is not None and stratify not in columns:
        from segexplore.features.registry import FEATURES

        if stratify not in FEATURES:
            guess = closest_name(stratify, columns + list(FEATURES))
            hint = f"; did you mean {guess!r}?" if guess else ""
            raise SchemaError(f"stratify: unknown column {stratify!r}{hint}")
    if selection.members is not None:
        from segexplore.delivery import csv as delivery_csv

        ids = selection.members.sendable_ids()
        if stratify is None:
            return ids, None
        return ids, selection.members.sendable_frame(
            [stratify], delivery_csv.ROWS_PER_CHUNK)[stratify]
    positions = selection.sendable_positions()
    ids = base.contacts["contact_id"].iloc[positions].to_numpy()
    if stratify is None:
        return ids, None
    values = (base.contacts[stratify] if stratify in columns else base.features[stratify])
    return ids, values.iloc[positions]


def _split_positions(selection: _Selection, shares: dict[str, float], seed: int,
                     stratify: str | None) -> _Split:
    """The group of each sendable contact of ``selection`` (in its order)."""
    ids, values = _sendable_values(selection, stratify)
    order = pd.Series(ids).sort_values(kind="stable").index.to_numpy()  # row order: no matter
    strata = None
    if values is not None:
        strata = values.astype("object").fillna("(missing)").astype(str).to_numpy()
    groups = np.empty(len(ids), dtype=object)
    names = np.array(list(shares), dtype=object)
    rng = np.random.default_rng(seed)
    keys = [None] if strata is None else sorted(set(strata))
    for key in keys:
        members = order if key is None else order[strata[order] == key]
        counts = _largest_remainder(len(members), list(shares.values()))
        groups[members[rng.permutation(len(members))]] = np.repeat(names, counts)
    return _Split(selection.sendable_positions(), ids, groups, strata)


@hooks.implements("split")
def split(segment: Segment, *, variants: Mapping[str, float] | None = None,
          holdout: float = 0.10, seed: int | None = None, stratify: str | None = None,
          suppressions: Any = None) -> pd.DataFrame:
    """Split the sendable contacts of ``segment`` at random into test groups and a holdout.

    Exact shares (largest remainder: group sizes differ from ``share * n`` by less than
    one contact, per stratum) and reproducible: the same seed on the same contacts gives
    the same groups, whatever the row order.

    Parameters
    ----------
    segment : Segment
    variants : {name: share}, default {"A": 0.45, "B": 0.45}
    holdout : float, default 0.10
        Share kept out of the send (group ``"holdout"``); ``0`` for none.
    seed : int, optional
        Default: a fresh random seed, recorded in ``result.attrs["seed"]`` (a fixed
        default would put the same people in the holdout of every campaign).
    stratify : str, optional
        A contact column or feature: the shares hold within each of its values.
    suppressions : optional
        As in :func:`export_segment`; only sendable contacts are split.

    Returns
    -------
    DataFrame
        ``contact_id, group`` (and ``stratum``), in base order; ``attrs`` hold
        ``seed, shares, stratify, counts``.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> seg = base.segment('country = "FR"', name="France")
    >>> groups = split(seg, seed=7)
    >>> groups.equals(split(seg, seed=7))
    True
    >>> sorted(groups["group"].unique())
    ['A', 'B', 'holdout']
    """
    shares = _check_shares(variants if variants is not None else {"A": 0.45, "B": 0.45},
                           holdout)
    seed = secrets.randbits(32) if seed is None else int(seed)
    selection = _select(segment, suppressions=_prepare_suppressions(suppressions)[0])
    try:
        drawn = _split_positions(selection, shares, seed, stratify)
    finally:
        selection.close()
    out = pd.DataFrame({"contact_id": drawn.ids, "group": pd.Series(drawn.groups, dtype="str")})
    if drawn.strata is not None:
        out["stratum"] = pd.Series(drawn.strata, dtype="str")
    counts = out["group"].value_counts()
    out.attrs.update({"seed": seed, "shares": shares, "stratify": stratify,
                      "counts": {g: int(counts.get(g, 0)) for g in shares}})
    return out


@hooks.implements("export_split")
def export_split(segment: Segment, directory: Any, *, variants: Mapping[str, float] | None = None,
                 holdout: float = 0.10, seed: int | None = None, stratify: str | None = None,
                 columns: Sequence[str] | None = None, preset: str | None = None,
                 suppressions: Any = None, excel: bool = False,
                 manifest: bool = True) -> dict[str, ExportResult]:
    """Split ``segment`` (see :func:`split`) and write one file per group.

    Files are ``<segment>_<group>.csv`` in ``directory``; the holdout file lists who must
    *not* be emailed (its manifest says so). Each manifest records the split: seed,
    shares, counts per group and stratification.

    Examples
    --------
    >>> import segexplore as se, tempfile
    >>> base = se.load_sample()
    >>> seg = base.segment('country = "BE"', name="Belgium")
    >>> results = export_split(seg, tempfile.mkdtemp(), seed=1)
    >>> sorted(results)
    ['A', 'B', 'holdout']
    >>> results["A"].manifest["split"]["seed"]
    1
    """
    shares = _check_shares(variants if variants is not None else {"A": 0.45, "B": 0.45},
                           holdout)
    seed = secrets.randbits(32) if seed is None else int(seed)
    listed, source = _prepare_suppressions(suppressions)
    selection = _select(segment, suppressions=listed)
    try:
        groups = _split_positions(selection, shares, seed, stratify).groups
        counts = {g: int((groups == g).sum()) for g in shares}
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        stem = _file_stem(segment.name)
        results = {}
        for group in shares:
            extra = {"split": {"group": group, "seed": seed, "shares": shares,
                               "counts": counts, "stratify": stratify,
                               "method": "numpy default_rng(seed) permutation of the "
                                         "sendable contacts sorted by contact_id, "
                                         "largest-remainder group sizes"
                                         + (" per stratum" if stratify else ""),
                               "note": ("holdout: do NOT email these contacts"
                                        if group == "holdout" else "")}}
            own = selection.narrow(groups == group, f"in group {group!r}",
                                   "assigned to another group of the split")
            try:
                results[group] = _write_export(
                    own, folder / f"{stem}_{_file_stem(group)}.csv", columns=columns,
                    preset=preset, excel=excel, include_unsendable=False, manifest=manifest,
                    extra=extra, segment=segment, suppressions=source)
            finally:
                own.close()
    finally:
        selection.close()
    return results
