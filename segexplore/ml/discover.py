"""Discover groups of similar contacts and turn each one into a readable, editable segment.

:func:`discover` clusters the contacts on a handful of behaviour features, picks the number
of clusters by silhouette, profiles every cluster against the rest, names it from its
strongest traits and approximates it by a short rule (a shallow decision tree written in
segexplore's rule language, :mod:`segexplore.ml.explain`). The rule's precision and recall are measured by evaluating its
text with the rule engine, so they are exactly what the analyst gets from
``base.segment(rule)``.

How the features are prepared (an sklearn ``Pipeline``, fitted on the fitting sample):

1. **Missing values.** ``days_since_last_*`` of a contact who never did it becomes
   ``recency_cap_days`` (default 1095, three years) and longer recencies are clipped to it:
   "never" is treated as "longer ago than anything we can see". ``avg_basket`` of a
   non-buyer becomes 0. Any other missing value becomes the column's median.
2. **Heavy tails.** Counts, amounts, recencies and the engagement score (and any other
   non-negative column whose skewness exceeds 1) go through ``log1p``, so a few heavy
   buyers do not get clusters of their own.
3. **Scale.** Every column is standardised (mean 0, standard deviation 1).

The rules use the *raw* values (thresholds in days, euros, counts) and the rule engine's
treatment of missing values: a condition on a missing value is false, so where the tree
sends "never" to a branch the rule says so with ``or ... is missing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.ml.explain import _name, _tree_rule, _unique
from segexplore.rules.parser import parse

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["DEFAULT_FEATURES", "Discovery", "discover", "discover_frame", "feature_preprocessor"]

#: The behaviour features clustered by default (see ``docs/features.md``).
DEFAULT_FEATURES = ("days_since_last_purchase", "purchases_365d", "revenue_365d", "avg_basket",
                    "opens_90d", "clicks_90d", "engagement_score", "days_since_signup")

Method = Literal["kmeans", "minibatch", "gmm", "dbscan"]

_HEAVY_TAILED_PREFIXES = ("days_since_last_", "purchases_", "revenue_", "opens_", "clicks_",
                          "visits_", "items_", "carts_", "avg_basket", "engagement_score")
_ZERO_WHEN_MISSING = ("avg_basket",)

# -- preparation ---------------------------------------------------------------------------

def _is_recency(name: str) -> bool:
    return name.startswith("days_since_last_")


def _log_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that get ``log1p``: known heavy-tailed features, or non-negative and skewed."""
    chosen = []
    for name in frame.columns:
        values = frame[name]
        if values.min() < 0:
            continue
        if name.startswith(_HEAVY_TAILED_PREFIXES) or values.skew() > 1:
            chosen.append(name)
    return chosen


def feature_preprocessor(frame: pd.DataFrame, *, recency_cap_days: float = 1095.0) -> Pipeline:
    """The unfitted sklearn pipeline that imputes, log-transforms and standardises ``frame``.

    Parameters
    ----------
    frame : DataFrame
        Numeric features (NaN where missing), as returned by :func:`_feature_frame`.
    recency_cap_days : float
        Value given to a missing ``days_since_last_*`` ("never"); longer recencies are
        clipped to it.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> frame = base.features[["days_since_last_purchase", "revenue_365d"]]
    >>> feature_preprocessor(frame).fit_transform(frame).shape == (len(frame), 2)
    True

    The output columns are the input's, in the same order.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def clip_to_cap(values):
        return np.minimum(values, recency_cap_days)

    filled = frame.fillna({c: recency_cap_days for c in frame.columns if _is_recency(c)})
    logged = set(_log_columns(filled.fillna(0)))
    transformers = []  # one per column, so the output keeps the input's column order
    for name in frame.columns:
        if _is_recency(name):
            steps = [SimpleImputer(strategy="constant", fill_value=recency_cap_days,
                                   keep_empty_features=True),
                     FunctionTransformer(clip_to_cap, feature_names_out="one-to-one")]
        elif name in _ZERO_WHEN_MISSING:
            steps = [SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)]
        else:
            steps = [SimpleImputer(strategy="median", keep_empty_features=True)]
        if name in logged:
            steps.append(FunctionTransformer(np.log1p, feature_names_out="one-to-one"))
        transformers.append((name, make_pipeline(*steps), [name]))
    prepare = ColumnTransformer(transformers, verbose_feature_names_out=False)
    return Pipeline([("prepare", prepare), ("scale", StandardScaler())])


def _feature_frame(base: ContactBase, features: Sequence[str]) -> pd.DataFrame:
    """The features as columns (numbers as float, NaN where missing), resolved like rules."""
    evaluator = base.evaluator()
    columns = {}
    for name in features:
        values = evaluator.column(name)  # contact columns first, then behaviour features
        if not (pd.api.types.is_numeric_dtype(values.dtype)
                or pd.api.types.is_bool_dtype(values.dtype)):
            raise ParameterTypeError(f"feature {name!r} is not numeric (dtype {values.dtype}); "
                                     f"discover clusters numeric or boolean columns")
        columns[name] = (values.to_numpy() if pd.api.types.is_bool_dtype(values.dtype)
                         else values.to_numpy(dtype=np.float64, na_value=np.nan))
    return pd.DataFrame(columns, index=base.contacts.index)


# -- clustering ----------------------------------------------------------------------------

#: Fits on fewer rows than this run on one thread: OpenMP threads gain little on small
#: tables and stall badly when other processes share the cores.
SINGLE_THREAD_BELOW = 200_000


def fit_threads(n_rows: int) -> AbstractContextManager:
    """Limit sklearn/BLAS to one thread for small fits (see :data:`SINGLE_THREAD_BELOW`)."""
    if n_rows >= SINGLE_THREAD_BELOW:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _estimator(method: str, k: int | None, seed: int, params: dict[str, Any]):
    from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans
    from sklearn.mixture import GaussianMixture

    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=2, tol=1e-3, random_state=seed, **params)
    if method == "minibatch":
        return MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed,
                               **params)
    if method == "gmm":
        return GaussianMixture(n_components=k, covariance_type="full", random_state=seed,
                               **params)
    if method == "dbscan":
        return DBSCAN(**params)
    raise ParameterError(f"unknown method {method!r}; use kmeans, minibatch, gmm or dbscan")


#: Quantiles of the distance to the min_samples-th neighbour tried as DBSCAN's radius.
EPS_QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: DBSCAN runs leaving more than this share of the sample as noise are not chosen.
MAX_NOISE = 0.10


def _dbscan_radii(scaled: np.ndarray, min_samples: int) -> list[float]:
    """Candidate radii: quantiles of the distance to the min_samples-th neighbour."""
    from sklearn.neighbors import NearestNeighbors

    probe = scaled[: min(len(scaled), 5000)]
    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(probe).kneighbors(probe)
    radii = np.quantile(distances[:, -1], EPS_QUANTILES)
    return sorted({float(max(r, 1e-3)) for r in radii})


def _assign_dbscan(model, scaled_fit: np.ndarray, scaled_all: np.ndarray) -> np.ndarray:
    """Label of the nearest core sample when within eps, else noise (-1)."""
    from sklearn.neighbors import NearestNeighbors

    core = model.core_sample_indices_
    if len(core) == 0:
        return np.full(len(scaled_all), -1)
    neighbours = NearestNeighbors(n_neighbors=1).fit(scaled_fit[core])
    distance, nearest = neighbours.kneighbors(scaled_all)
    labels = model.labels_[core][nearest[:, 0]]
    return np.where(distance[:, 0] <= model.eps, labels, -1)


def _quality(scaled: np.ndarray, labels: np.ndarray, probe: np.ndarray) -> dict[str, float]:
    """Silhouette (on the probe rows), Davies-Bouldin and Calinski-Harabasz (noise left out)."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    kept = labels >= 0
    probe = probe[kept[probe]]
    if len(np.unique(labels[kept])) < 2 or len(np.unique(labels[probe])) < 2:
        return {"silhouette": np.nan, "davies_bouldin": np.nan, "calinski_harabasz": np.nan}
    return {"silhouette": float(silhouette_score(scaled[probe], labels[probe])),
            "davies_bouldin": float(davies_bouldin_score(scaled[kept], labels[kept])),
            "calinski_harabasz": float(calinski_harabasz_score(scaled[kept], labels[kept]))}


def _fit_candidates(method: str, candidates: list[dict[str, Any]], scaled: np.ndarray,
                    probe: np.ndarray, seed: int, params: dict[str, Any]
                    ) -> tuple[pd.DataFrame, list[Any]]:
    """Fit every candidate (a k, or a DBSCAN radius) and score it."""
    rows, fitted = [], []
    for candidate in candidates:
        if method == "dbscan":
            model = _estimator(method, None, seed, {**params, **candidate})
        else:
            model = _estimator(method, candidate["k"], seed, params)
        labels = model.fit_predict(scaled)
        fitted.append(model)
        row = {"k": len(np.unique(labels[labels >= 0])), **candidate}
        if method == "dbscan":
            row["noise"] = float((labels < 0).mean())
        rows.append({**row, **_quality(scaled, labels, probe)})
    return pd.DataFrame(rows), fitted


def _select(scores: pd.DataFrame) -> int:
    """Row with the best silhouette (DBSCAN: among runs with little noise)."""
    allowed = scores["noise"] <= MAX_NOISE if "noise" in scores else scores["k"] >= 0
    if not allowed.any():
        return int(scores["noise"].to_numpy().argmin())
    silhouette = scores["silhouette"].where(allowed & (scores["k"] >= 2))
    if silhouette.isna().all():
        return int(np.flatnonzero(allowed.to_numpy())[0])
    return int(silhouette.fillna(-np.inf).to_numpy().argmax())


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... from the largest; noise stays -1."""
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = found[np.argsort(-counts, kind="stable")]
    lookup = np.full(int(labels.max()) + 2 if len(found) else 1, -1)
    lookup[order] = np.arange(len(order))
    return np.where(labels >= 0, lookup[np.maximum(labels, 0)], -1)


# -- profiles --------------------------------------------------------------------------------

def _effects(scaled: np.ndarray, labels: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Standardised mean difference (cluster vs rest) of every prepared feature."""
    rows = []
    for cluster in np.unique(labels):
        inside = labels == cluster
        if inside.all():
            continue
        a, b = scaled[inside], scaled[~inside]
        pooled = np.sqrt((a.var(axis=0) * (len(a) - 1) + b.var(axis=0) * (len(b) - 1))
                         / max(len(a) + len(b) - 2, 1))
        effect = (a.mean(axis=0) - b.mean(axis=0)) / np.where(pooled > 0, pooled, 1.0)
        rows += [{"cluster": int(cluster), "feature": n, "effect": float(e)}
                 for n, e in zip(names, effect, strict=True)]
    return pd.DataFrame(rows, columns=["cluster", "feature", "effect"])


def _compare_clusters(raw: pd.DataFrame, labels: np.ndarray, clusters: pd.DataFrame,
                      base: ContactBase | None) -> pd.DataFrame:
    """Each cluster against the rest with :func:`segexplore.analysis.compare.compare`."""
    from segexplore.analysis.compare import compare

    masks = {name: labels == cluster for cluster, name in zip(clusters["cluster"],
                                                              clusters["name"], strict=True)}
    source = base if base is not None else raw
    comparison = compare(masks, source, attributes=list(raw.columns), rate=None)
    differences = comparison.differences
    cluster_of = dict(zip(clusters["name"], clusters["cluster"], strict=True))
    differences.insert(0, "cluster", differences["segment"].map(cluster_of).astype(np.int64))
    return differences


# -- the result ----------------------------------------------------------------------------

class Discovery:
    """Clusters found by :func:`discover`: labels, quality scores, profiles and rules.

    Attributes
    ----------
    labels : Series
        Cluster of every contact (same index as ``base.contacts``), 0 = largest; -1 is
        DBSCAN's noise.
    scores : DataFrame
        One row per number of clusters tried: ``k, silhouette, davies_bouldin,
        calinski_harabasz, selected`` (higher silhouette and Calinski-Harabasz, lower
        Davies-Bouldin are better). For DBSCAN, one row per radius tried, with ``eps``
        and the ``noise`` share.
    clusters : DataFrame
        ``cluster, name, size, share, rule, precision, recall``: ``rule`` is the segment
        rule approximating the cluster; ``precision`` is the share of the rule's contacts
        that are in the cluster and ``recall`` the share of the cluster the rule finds,
        both measured with the rule engine on every contact.
    profiles : DataFrame
        Each cluster against the rest of the base: the ``differences`` table of
        :func:`segexplore.analysis.compare.compare` (features ranked by effect size, with a
        plain-language ``reading``) with a ``cluster`` column in front.
    model : sklearn Pipeline
        The fitted preparation and clustering steps.
    """

    def __init__(self, *, base: ContactBase, raw: pd.DataFrame, labels: pd.Series,
                 scores: pd.DataFrame, clusters: pd.DataFrame, profiles: pd.DataFrame,
                 model: Pipeline, method: str, fit_rows: np.ndarray, seed: int) -> None:
        self.base = base
        self.labels = labels
        self.scores = scores
        self.clusters = clusters
        self.profiles = profiles
        self.model = model
        self.method = method
        self.features = list(raw.columns)
        self._raw = raw
        self._fit_rows = fit_rows
        self._seed = seed

    @property
    def k(self) -> int:
        """Number of clusters (noise not counted)."""
        return int((self.clusters["cluster"] >= 0).sum())

    def name(self, cluster: int) -> str:
        """The name of ``cluster``."""
        return str(self.clusters.set_index("cluster").loc[cluster, "name"])

    def segment(self, cluster: int, *, name: str | None = None, save: bool = True) -> Segment:
        """The segment of the cluster's rule, ready to edit, narrow down or export.

        Examples
        --------
        >>> import segexplore as se
        >>> found = discover(se.load_sample(), k=4)
        >>> seg = found.segment(0, save=False)
        >>> seg.text == found.clusters.loc[0, "rule"]
        True
        """
        row = self.clusters.set_index("cluster").loc[cluster]
        if not isinstance(row["rule"], str):
            raise ParameterError(f"cluster {cluster} has no rule (it covers the whole base)")
        description = (f"cluster {cluster} of {self.method}: precision {row['precision']:.0%}, "
                       f"recall {row['recall']:.0%}")
        return self.base.segment(row["rule"], name=name or str(row["name"]),
                                 description=description, save=save)

    @cached_property
    def projection(self) -> pd.DataFrame:
        """2-D PCA coordinates of up to 5,000 fitted contacts: ``pc1, pc2, cluster, name``.

        ``projection.attrs["explained"]`` holds the share of variance of each axis.
        """
        from sklearn.decomposition import PCA

        rng = np.random.default_rng(self._seed)
        rows = self._fit_rows
        rows = np.sort(rng.choice(rows, size=min(5000, len(rows)), replace=False))
        scaled = self.model[:-1].transform(self._raw.iloc[rows])
        pca = PCA(n_components=2, random_state=self._seed).fit(scaled)
        coords = pca.transform(scaled)
        labels = self.labels.to_numpy()[rows]
        names = self.clusters.set_index("cluster")["name"]
        frame = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1], "cluster": labels,
                              "name": names.reindex(labels).to_numpy()},
                             index=self._raw.index[rows])
        frame.attrs["explained"] = pca.explained_variance_ratio_.tolist()
        return frame

    def __repr__(self) -> str:
        lines = [f"Discovery: {self.k} clusters by {self.method} on {len(self.labels):,} "
                 f"contacts ({', '.join(self.features)})"]
        for rec in self.clusters.itertuples(index=False):
            lines.append(f"  {rec.cluster:>2} {rec.name:<40} {rec.size:>10,} ({rec.share:.1%})"
                         f"  precision {rec.precision:.0%} recall {rec.recall:.0%}"
                         f"\n     {rec.rule}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        clusters = self.clusters.to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                         na_rep="")
        scores = self.scores.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        return (f"<div><strong>{self.k} clusters</strong> found by {escape(self.method)} on "
                f"{len(self.labels):,} contacts<br><em>features:</em> "
                f"{escape(', '.join(self.features))}{clusters}<details><summary>quality by "
                f"number of clusters</summary>{scores}</details></div>")


# -- entry points --------------------------------------------------------------------------

def discover(base: ContactBase, features: Sequence[str] | None = None, *,
             method: Method = "kmeans", k: int | Iterable[int] = range(2, 11),
             sample: int = 50_000, seed: int = 0, **options: Any) -> Discovery:
    """Cluster the contacts on behaviour features and describe each cluster as a rule.

    Parameters
    ----------
    base : ContactBase
    features : list of str, optional
        Numeric or boolean contact columns or behaviour features; default
        :data:`DEFAULT_FEATURES`.
    method : {"kmeans", "minibatch", "gmm", "dbscan"}
        k-means, mini-batch k-means (faster on large samples), a Gaussian mixture, or
        DBSCAN (finds its own number of clusters and leaves outliers as cluster -1).
    k : int or iterable of int, default 2..10
        Numbers of clusters to try; the one with the best silhouette is kept.
    sample : int, default 50,000
        Fit on a random sample of this many contacts (DBSCAN: at most 10,000), then assign
        every contact.
    seed : int
        Seed of the sampling and of the clustering.
    **options
        Passed to :func:`discover_frame` (``rule_depth``, ``silhouette_sample``,
        ``recency_cap_days``, ``params`` for the sklearn estimator).

    Returns
    -------
    Discovery

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> found = discover(base, k=range(3, 6))
    >>> found.labels.index.equals(base.contacts.index)
    True
    >>> list(found.clusters.columns)
    ['cluster', 'name', 'size', 'share', 'rule', 'precision', 'recall']
    >>> int(found.clusters["size"].sum()) == len(base.contacts)
    True
    """
    names = list(features) if features is not None else list(DEFAULT_FEATURES)
    return discover_frame(_feature_frame(base, names), method=method, k=k, sample=sample,
                          seed=seed, base=base, **options)


def discover_frame(frame: pd.DataFrame, *, method: Method = "kmeans",
                   k: int | Iterable[int] = range(2, 11), sample: int = 50_000, seed: int = 0,
                   base: ContactBase | None = None, rule_depth: int = 3,
                   silhouette_sample: int = 5_000, recency_cap_days: float = 1095.0,
                   params: dict[str, Any] | None = None) -> Discovery:
    """Cluster the rows of a numeric frame: the engine under :func:`discover`.

    Parameters
    ----------
    frame : DataFrame
        One row per contact, numeric or boolean columns (NaN allowed).
    base : ContactBase, optional
        The base whose rows ``frame`` describes (same index as its contacts); rules are
        evaluated on it. Without one, a base whose contacts table is ``frame`` is used.
    rule_depth : int, default 3
        Depth of the decision tree behind each rule (2 or 3 keeps rules short).
    silhouette_sample : int, default 5,000
        Rows on which the silhouette (quadratic in the rows) is computed.
    params : dict, optional
        Extra arguments of the sklearn estimator (e.g. ``{"eps": 0.8}`` for DBSCAN, which
        then tries that radius only).

    Other parameters are those of :func:`discover`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 300), rng.normal(10, 1, 300)]})
    >>> found = discover_frame(frame, k=range(2, 5))
    >>> found.k, sorted(found.clusters["size"].tolist())
    (2, [300, 300])
    """
    if "contact_id" in frame:
        raise ParameterError("frame holds features only: its index identifies the contacts")
    boolean = {c for c in frame.columns if pd.api.types.is_bool_dtype(frame[c].dtype)}
    raw = pd.DataFrame({c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
                        for c in frame.columns}, index=frame.index)
    own_base = base is not None
    if base is None:  # rules then run on the frame itself
        from segexplore.model.base import ContactBase

        base = ContactBase(frame.assign(contact_id=np.arange(len(frame))))
    params = dict(params or {})
    rng = np.random.default_rng(seed)
    limit = min(sample, 10_000) if method == "dbscan" else sample
    fit_rows = (np.sort(rng.choice(len(raw), size=limit, replace=False)) if len(raw) > limit
                else np.arange(len(raw)))
    prepare = feature_preprocessor(raw.iloc[fit_rows], recency_cap_days=recency_cap_days)
    scaled_fit = prepare.fit_transform(raw.iloc[fit_rows])
    probe = (np.sort(rng.choice(len(fit_rows), size=silhouette_sample, replace=False))
             if len(fit_rows) > silhouette_sample else np.arange(len(fit_rows)))

    if method == "dbscan":
        params.setdefault("min_samples", 2 * raw.shape[1])
        radii = ([params.pop("eps")] if "eps" in params
                 else _dbscan_radii(scaled_fit, params["min_samples"]))
        candidates = [{"eps": r} for r in radii]
    else:
        ks = [k] if isinstance(k, (int, np.integer)) else sorted(set(k))
        if not ks or min(ks) < 2:
            raise ParameterError(f"k must be at least 2, got {k!r}")
        candidates = [{"k": int(n)} for n in ks]
    with fit_threads(len(fit_rows)):
        scores, fitted = _fit_candidates(method, candidates, scaled_fit, probe, seed, params)
    best = _select(scores)
    scores["selected"] = np.arange(len(scores)) == best
    model = fitted[best]

    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("prepare", prepare[0]), ("scale", prepare[1]), ("cluster", model)])
    scaled_all = prepare.transform(raw)
    with fit_threads(len(raw)):
        labels = (_assign_dbscan(model, scaled_fit, scaled_all) if method == "dbscan"
                  else model.predict(scaled_all))
    labels = _by_size(np.asarray(labels))
    effects = _effects(scaled_all, labels, list(raw.columns))
    with fit_threads(len(fit_rows)):
        clusters = _describe(raw, labels, effects, fit_rows, base, rule_depth, seed, boolean)
    profiles = _compare_clusters(raw, labels, clusters, base if own_base else None)
    return Discovery(base=base, raw=raw, labels=pd.Series(labels, index=raw.index,
                                                          name="cluster"),
                     scores=scores, clusters=clusters, profiles=profiles, model=pipeline,
                     method=method, fit_rows=fit_rows, seed=seed)


def _describe(raw: pd.DataFrame, labels: np.ndarray, effects: pd.DataFrame,
              fit_rows: np.ndarray, base: ContactBase, depth: int, seed: int,
              boolean: set[str]) -> pd.DataFrame:
    """Size, name, rule and the rule's precision and recall of every cluster."""
    may_be_missing = {c for c in raw.columns if raw[c].isna().any()}
    evaluator = base.evaluator()
    rows = []
    for cluster in np.unique(labels):
        inside = labels == cluster
        rule = _tree_rule(raw.iloc[fit_rows], inside[fit_rows], depth, seed, may_be_missing,
                          boolean)
        precision = recall = np.nan
        if rule is not None:
            text = str(rule)
            # measured with the rule engine on every contact: what the analyst will get
            selected = evaluator.mask(parse(text), text=text).to_numpy()
            hits = int((selected & inside).sum())
            precision = hits / selected.sum() if selected.any() else 0.0
            recall = hits / inside.sum()
        rows.append({"cluster": int(cluster), "name": _name(effects, int(cluster), boolean),
                     "size": int(inside.sum()), "share": float(inside.mean()),
                     "rule": str(rule) if rule is not None else None,
                     "precision": precision, "recall": recall})
    table = pd.DataFrame(rows)
    table["name"] = _unique(table["name"].tolist())
    return table
