"""A discovered cluster as a readable rule: its name from its strongest traits, and a short
rule (a shallow decision tree written in segexplore's rule language) that approximates it.

Thresholds are rounded to values an analyst would write; where the tree sends "never"
(a missing recency) to a branch, the rule says so with ``or ... is missing``, since a
condition on a missing value is false.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segexplore.rules import nodes as R

__all__ = ["TRAIT_WORDS"]



#: How a cluster's strong trait reads: (when higher than the rest, when lower).
TRAIT_WORDS = {
    "days_since_last_purchase": ("no recent purchase", "recent buyers"),
    "days_since_last_activity": ("long inactive", "recently active"),
    "days_since_last_open": ("no recent open", "recent openers"),
    "days_since_last_click": ("no recent click", "recent clickers"),
    "days_since_last_visit": ("no recent visit", "recent visitors"),
    "purchases_365d": ("frequent buyers", "few purchases"),
    "revenue_365d": ("high spend", "low spend"),
    "avg_basket": ("big baskets", "small baskets"),
    "opens_90d": ("frequent openers", "rarely open"),
    "clicks_90d": ("frequent clickers", "rarely click"),
    "visits_90d": ("frequent visitors", "rarely visit"),
    "engagement_score": ("highly engaged", "disengaged"),
    "days_since_signup": ("long-standing", "recent sign-ups"),
}


def _name(effects: pd.DataFrame, cluster: int, boolean: set[str], traits: int = 2) -> str:
    """The cluster's strongest traits in words: "high spend, recent buyers"."""
    if cluster < 0:
        return "outliers (noise)"
    mine = effects[effects["cluster"] == cluster]
    strong = mine.reindex(mine["effect"].abs().sort_values(ascending=False).index)
    strong = strong[strong["effect"].abs() >= 0.3].head(traits)
    words = []
    for rec in strong.itertuples(index=False):
        default = ((rec.feature, f"not {rec.feature}") if rec.feature in boolean
                   else (f"high {rec.feature}", f"low {rec.feature}"))
        high, low = TRAIT_WORDS.get(rec.feature, default)
        words.append(high if rec.effect > 0 else low)
    return ", ".join(words) if words else "average contacts"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _nice(threshold: float) -> int | float:
    value = float(f"{threshold:.4g}")
    return int(value) if value.is_integer() else value


def _bound_rules(name: str, low: float | None, high: float | None, integral: bool,
                 boolean: bool) -> list[R.Rule]:
    """Conditions ``low < x <= high`` in the column's own units."""
    if low is None and high is None:
        return []
    if boolean:  # a 0/1 column split at 0.5
        return [R.Compare(name, "=", high is None)]
    if integral and low is not None and high is not None and np.floor(high) == np.floor(low) + 1:
        return [R.Compare(name, "=", int(np.floor(high)))]  # one whole value left
    out: list[R.Rule] = []
    if low is not None:
        out.append(R.Compare(name, ">=", int(np.floor(low)) + 1) if integral
                   else R.Compare(name, ">", _nice(low)))
    if high is not None:
        out.append(R.Compare(name, "<=", int(np.floor(high))) if integral
                   else R.Compare(name, "<=", _nice(high)))
    return out


@dataclass
class _Path:
    """What a tree path asks of each feature: ``[low, high, missing ok, values ok]``.

    A value passes when ``low < value <= high``; ``missing ok`` says whether a missing value
    follows the path (the tree's ``missing_go_to_left``). sklearn writes a split that only
    separates missing from present values with an infinite threshold.
    """

    bounds: dict[int, list] = field(default_factory=dict)

    def step(self, feature: int, threshold: float, left: bool, missing_follows: bool) -> _Path:
        low, high, missing, values = self.bounds.get(feature, [None, None, True, True])
        if np.isinf(threshold):  # present values go left, missing ones right
            values = values and left
        elif left:
            high = threshold if high is None else min(high, threshold)
        else:
            low = threshold if low is None else max(low, threshold)
        return _Path({**self.bounds, feature: [low, high, missing and missing_follows, values]})


def _covered_paths(tree, node: int, path: _Path, chosen: set[int]) -> list[_Path]:
    """Paths to the chosen leaves, a whole subtree collapsing into its own path."""
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        return [path] if node in chosen else []
    leaves = _leaves_under(tree, node)
    if leaves <= chosen:
        return [path]
    feature, threshold = int(tree.feature[node]), float(tree.threshold[node])
    goes_left = bool(tree.missing_go_to_left[node])
    return (_covered_paths(tree, left, path.step(feature, threshold, True, goes_left), chosen)
            + _covered_paths(tree, right, path.step(feature, threshold, False, not goes_left),
                             chosen))


def _leaves_under(tree, node: int) -> set[int]:
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        return {node}
    return _leaves_under(tree, left) | _leaves_under(tree, right)


def _choose_leaves(leaf_of_row: np.ndarray, target: np.ndarray) -> set[int]:
    """Leaves in decreasing purity, added while the F1 score of the union improves."""
    leaves, leaf_index = np.unique(leaf_of_row, return_inverse=True)
    positives = np.bincount(leaf_index, weights=target, minlength=len(leaves))
    sizes = np.bincount(leaf_index, minlength=len(leaves))
    order = np.argsort(-(positives / sizes), kind="stable")
    chosen, best, tp, predicted = set(), -1.0, 0.0, 0
    total = target.sum()
    for i in order:
        tp_next, predicted_next = tp + positives[i], predicted + sizes[i]
        f1 = 2 * tp_next / (predicted_next + total) if total else 0.0
        if f1 <= best:
            break
        chosen.add(int(leaves[i]))
        best, tp, predicted = f1, tp_next, predicted_next
    return chosen


def _tree_rule(raw: pd.DataFrame, target: np.ndarray, depth: int, seed: int,
               may_be_missing: set[str], boolean: set[str]) -> R.Rule | None:
    """A shallow tree approximating ``target``, written as an OR of AND-paths."""
    from sklearn.tree import DecisionTreeClassifier

    if target.all() or not target.any():
        return None
    tree = DecisionTreeClassifier(max_depth=depth, class_weight="balanced", random_state=seed,
                                  min_samples_leaf=max(5, len(raw) // 500))
    tree.fit(raw.to_numpy(), target)
    chosen = _choose_leaves(tree.apply(raw.to_numpy()), target.astype(float))
    paths = _covered_paths(tree.tree_, 0, _Path(), chosen)
    names = list(raw.columns)
    integral = {n: bool(np.all(np.mod(raw[n].dropna(), 1) == 0)) for n in names}
    terms: list[R.Rule] = []
    for path in paths:
        conditions: list[R.Rule] = []
        for index, (low, high, missing, values) in sorted(path.bounds.items()):
            name = names[index]
            missing = missing and name in may_be_missing
            parts = (_bound_rules(name, low, high, integral[name], name in boolean)
                     if values else [])
            if not parts:  # only "is missing" or "is not missing" is asked here
                if missing != values:
                    conditions.append(R.IsMissing(name, negated=values))
                continue
            cond = parts[0] if len(parts) == 1 else R.And(parts)
            conditions.append(R.Or(cond, R.IsMissing(name)) if missing else cond)
        if not conditions:  # the whole base: nothing to write
            return None
        terms.append(conditions[0] if len(conditions) == 1 else R.And(conditions))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else R.Or(terms)
