"""K-means: Lloyd's two steps as graph ops, k-means++ seeding, the best of several restarts.

The slides' map puts K-means on the unsupervised side: no labels, only the
wish that each point sit close to the centre of its cluster. K-means looks for
``k`` centres ``mu_1..mu_k`` that make the *inertia* small [1]::

    inertia = sum_i min_c ||x_i - mu_c||^2

Lloyd's algorithm [2] lowers it by repeating two steps until nothing moves:

* assignment: every point joins its nearest centre,
  ``label_i = argmin_c ||x_i - mu_c||^2`` (the distance matrix, then ``argmin``);
* update: every centre moves to the mean of its points,
  ``mu_c = sum_{label_i = c} x_i / #{label_i = c}`` (``unsorted_segment_sum`` of
  the points and of ones, divided).

Neither step can raise the inertia, so it converges, but only to a local
minimum that depends on the starting centres. Hence:

* k-means++ seeding [3]: the first centre is a random point; each next one is
  drawn with probability proportional to its squared distance ``D(x)^2`` to the
  nearest centre chosen so far, which spreads the seeds out. We use the
  greedy variant the paper mentions and scikit-learn uses: draw
  ``2 + floor(ln k)`` candidates each time and keep the one that lowers the
  inertia of the seeds most.
* ``n_init`` restarts from different seeds, keeping the run with the lowest
  inertia.

What runs where. The graph holds Lloyd's iteration, the part that runs
hundreds of times: the points and the centres are variables, and one
``Session.run`` of ``step`` computes the assignment, the update and the centre
shift, then assigns the new centres. The distances use the matmul trick
``||x||^2 - 2 x.mu + ||mu||^2`` clipped at 0 (one matmul instead of an
``[n, k, features]`` difference tensor; its rounding error matters only for
near-ties between two centres, which cannot change the inertia noticeably).
The seeding is NumPy: it is a short sequential random draw, and a graph
would only wrap the same distance computation.

An empty cluster (a centre no point chose) has no mean. Like scikit-learn, we
move it onto the point farthest from its own centre (the j-th empty cluster
takes the j-th farthest point, found with ``top_k`` in the graph), which
usually lowers the inertia most; unlike scikit-learn, that point's old
cluster keeps its mean until the next assignment.

Convergence as in scikit-learn: stop when the summed squared centre shift is
at most ``tol`` times the mean feature variance of ``X`` (so ``tol`` does not
depend on the data's scale), which includes the fixed point where no label
changes and no centre moves, or after ``max_iter`` steps.

References:
  [1] J. MacQueen, "Some methods for classification and analysis of
      multivariate observations", 5th Berkeley Symposium, 1967.
  [2] S. Lloyd, "Least squares quantization in PCM", IEEE Transactions on
      Information Theory 28(2), 1982.
  [3] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
      seeding", SODA 2007.

Usage::

    km = KMeans(n_clusters=10, seed=0).fit(X)
    km.cluster_centers_, km.labels_, km.inertia_, km.n_iter_
    km.predict(X_new); km.transform(X_new)     # nearest centre; distances to every centre
    KMeans(3, record_history=True).fit(X).history_   # [(centres, labels), ...] per step
"""
import math

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import (Estimator, check_array, check_fitted,
                                            check_positive_int, comparison_digits,
                                            graph_session, timed)

__all__ = ["KMeans", "squared_distances", "kmeans_plusplus", "compare"]

INITS = ("k-means++", "random")


def squared_distances(points, centers):
    """``[n, k]`` squared euclidean distances, one matmul (graph op).

    Args:
      points: float64 tensor ``[n, n_features]``.
      centers: float64 tensor ``[k, n_features]``.
    Returns:
      float64 tensor ``[n, k]``, clipped at 0 (the trick can round a true 0 below it).
    """
    from tfgraph_lessons.core.graph import tf

    point_sq = tf.reduce_sum(points * points, axis=1, keepdims=True)          # [n, 1]
    center_sq = tf.reduce_sum(centers * centers, axis=1)[None, :]            # [1, k]
    cross = tf.matmul(points, centers, transpose_b=True)                      # [n, k]
    return tf.maximum(point_sq - 2.0 * cross + center_sq, 0.0)


def _np_squared_distances(points, centers):
    """The same in NumPy, for the seeding."""
    cross = points @ centers.T
    sq = (points * points).sum(1)[:, None] - 2.0 * cross + (centers * centers).sum(1)[None, :]
    return np.maximum(sq, 0.0)


def kmeans_plusplus(X, n_clusters, rng):
    """k-means++ seeds, greedy variant (``2 + floor(ln k)`` candidates per centre).

    Args:
      X: ``[n, n_features]`` float64 points.
      n_clusters: k.
      rng: a ``numpy.random.Generator``.
    Returns:
      ``[k, n_features]`` seeds, each a row of ``X``.
    """
    n_trials = 2 + int(math.log(n_clusters))
    seeds = [int(rng.integers(len(X)))]
    closest = _np_squared_distances(X, X[seeds])[:, 0]           # D(x)^2, [n]
    for _ in range(1, n_clusters):
        # draw candidates with probability D(x)^2 / sum D^2 (inverse of the cumulative sum)
        draws = rng.random(n_trials) * closest.sum()
        candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), len(X) - 1)
        # each candidate's inertia if added; keep the best (the greedy part)
        with_candidate = np.minimum(closest[None, :],
                                    _np_squared_distances(X[candidates], X))  # [trials, n]
        best = int(np.argmin(with_candidate.sum(axis=1)))
        seeds.append(int(candidates[best]))
        closest = with_candidate[best]
    return X[seeds].copy()


def _build_lloyd_graph(n_samples, n_features, n_clusters):
    """Points and centres as variables; ``step`` = assignment + update + assign.

    Returns:
      dict of named tensors and ops: ``points_init``/``load_points`` (feed the data once),
      ``centers_init``/``load_centers`` (feed the seeds of a run), ``centers`` (the
      centres ``step`` used), ``labels``, ``inertia``, ``shift``, ``step``.
    """
    from tfgraph_lessons.core.graph import tf, tf1

    points_init = tf1.placeholder(tf.float64, [n_samples, n_features], name="points_init")
    centers_init = tf1.placeholder(tf.float64, [n_clusters, n_features], name="centers_init")
    with tf1.variable_scope("kmeans"):
        points_var = tf1.get_variable("points", initializer=points_init, trainable=False)
        centers_var = tf1.get_variable("centers", initializer=centers_init, trainable=False)
    points = tf.identity(points_var, name="points_read")
    centers = tf.identity(centers_var, name="centers_read")                   # [k, f]
    with tf1.name_scope("assignment"):
        sq = squared_distances(points, centers)                               # [n, k]
        labels = tf.argmin(sq, axis=1, output_type=tf.int32, name="labels")   # [n]
        nearest_sq = tf.reduce_min(sq, axis=1)                                # [n]
        inertia = tf.reduce_sum(nearest_sq, name="inertia")
    with tf1.name_scope("update"):
        sums = tf.math.unsorted_segment_sum(points, labels, n_clusters)      # [k, f]
        counts = tf.math.unsorted_segment_sum(tf.ones([n_samples], tf.float64), labels,
                                              n_clusters)                     # [k]
        means = sums / tf.maximum(counts, 1.0)[:, None]
        new_centers = _relocate_empty(points, means, counts, nearest_sq, n_clusters)
        shift = tf.reduce_sum(tf.square(new_centers - centers), name="shift")
    # the assign must wait for everything read from the old centres
    with tf.control_dependencies([labels, inertia, shift]):
        step = tf1.assign(centers_var, new_centers, name="step")
    return {"points_init": points_init, "load_points": points_var.initializer,
            "centers_init": centers_init, "load_centers": centers_var.initializer,
            "centers": centers, "labels": labels, "inertia": inertia, "shift": shift,
            "step": step}


def _relocate_empty(points, means, counts, nearest_sq, n_clusters):
    """Means, except that the j-th empty cluster moves onto the j-th farthest point."""
    from tfgraph_lessons.core.graph import tf

    empty = tf.equal(counts, 0.0)                                             # [k]
    _, farthest = tf.math.top_k(nearest_sq, k=n_clusters)                     # [k] point ids
    rank = tf.maximum(tf.cumsum(tf.cast(empty, tf.int32)) - 1, 0)             # j for the j-th empty
    replacement = tf.gather(points, tf.gather(farthest, rank))                # [k, f]
    return tf.where(empty[:, None], replacement, means)


class KMeans(Estimator):
    """K-means clustering by Lloyd's algorithm (graph), k-means++ or random seeds (NumPy).

    Args:
      n_clusters: k, the number of centres (at most the number of samples).
      init: ``"k-means++"`` or ``"random"`` (k distinct points of ``X``).
      n_init: restarts from different seeds; the lowest inertia wins.
      max_iter: the most Lloyd steps per run.
      tol: stop when the summed squared centre shift is at most ``tol`` times the
        mean feature variance of ``X``.
      seed: seeds the NumPy generator of the seeding (restart r uses its r-th draws).
      record_history: keep ``history_``, the best run's ``(centres, labels)`` per step.
    """

    def __init__(self, n_clusters=8, init="k-means++", n_init=10, max_iter=300, tol=1e-4,
                 seed=0, record_history=False):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self.record_history = record_history

    def _check_settings(self, n_samples):
        if self.init not in INITS:
            raise UsageError(f"init={self.init!r} is not supported; use one of {INITS}")
        check_positive_int(self.n_clusters, "n_clusters", upper=n_samples)
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter")
        if not isinstance(self.tol, (int, float)) or not self.tol >= 0:
            raise UsageError(f"tol must be a number >= 0, got {self.tol!r}")

    def fit(self, X, y=None):
        """Cluster ``X``.

        Args:
          X: ``[n_samples, n_features]`` points.
          y: ignored (scikit-learn's signature).
        Returns:
          self, with ``cluster_centers_`` ``[k, f]``, ``labels_`` ``[n]``, ``inertia_``,
          ``n_iter_`` (of the best run), ``n_features_in_``, and ``history_`` when
          ``record_history``.
        """
        X = check_array(X, "X")
        self._check_settings(len(X))
        rng = np.random.default_rng(self.seed)
        tol = float(np.mean(np.var(X, axis=0))) * self.tol
        best = None
        with graph_session(self.seed) as (graph, sess):
            ops = _build_lloyd_graph(len(X), X.shape[1], self.n_clusters)
            graph.finalize()
            sess.run(ops["load_points"], {ops["points_init"]: X})
            for _ in range(self.n_init):
                run = _lloyd(sess, ops, self._seeds(X, rng), self.max_iter, tol,
                             self.record_history)
                if best is None or run["inertia"] < best["inertia"]:
                    best = run
        self.cluster_centers_ = best["centers"]
        self.labels_ = best["labels"].astype(np.int64)
        self.inertia_ = float(best["inertia"])
        self.n_iter_ = best["n_iter"]
        self.n_features_in_ = X.shape[1]
        if self.record_history:
            self.history_ = best["history"]
        return self

    def _seeds(self, X, rng):
        if self.init == "random":
            return X[rng.choice(len(X), self.n_clusters, replace=False)].copy()
        return kmeans_plusplus(X, self.n_clusters, rng)

    def _check_X(self, X):
        check_fitted(self, "cluster_centers_")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise UsageError(f"X: {X.shape[1]} features, but the model was fitted on "
                             f"{self.n_features_in_}; give the same columns")
        return X

    def _squared(self, X):
        """``[n, k]`` squared distances from new points to the fitted centres (graph)."""
        from tfgraph_lessons.core.graph import tf, tf1

        with graph_session() as (_, sess):
            points = tf1.placeholder(tf.float64, [None, self.n_features_in_], name="points")
            sq = squared_distances(points, tf.constant(self.cluster_centers_, tf.float64))
            return sess.run(sq, {points: X})

    def transform(self, X):
        """Euclidean distances ``[n, k]`` from each row of ``X`` to every centre."""
        return np.sqrt(self._squared(self._check_X(X)))

    def predict(self, X):
        """The nearest centre's index ``[n]`` for each row of ``X``."""
        return np.argmin(self._squared(self._check_X(X)), axis=1).astype(np.int64)

    def fit_predict(self, X, y=None):
        """``fit(X).labels_``."""
        return self.fit(X).labels_

    def score(self, X, y=None):
        """Minus the inertia of ``X`` under the fitted centres (scikit-learn's sign: higher is better)."""
        return -float(np.min(self._squared(self._check_X(X)), axis=1).sum())


def _lloyd(sess, ops, seeds, max_iter, tol, record_history):
    """One run of Lloyd's algorithm from ``seeds``, each step one ``Session.run``.

    Returns:
      dict with the final ``centers``, ``labels``, ``inertia``, ``n_iter`` and, when
      recording, ``history``: ``(centres, labels)`` after 0, 1, ... update steps, the
      last being the final centres and their labels.
    """
    sess.run(ops["load_centers"], {ops["centers_init"]: seeds})
    history = []
    fetch = [ops["centers"], ops["labels"], ops["shift"], ops["step"]]
    for n_iter in range(1, max_iter + 1):
        centers, labels, shift, _ = sess.run(fetch)   # assign old -> update -> new centres
        if record_history:
            history.append((centers, labels.astype(np.int64)))
        # a step whose labels did not change recomputes the same means: shift is exactly 0
        if shift <= tol:
            break
    # the labels and inertia that belong to the final centres
    centers, labels, inertia = sess.run([ops["centers"], ops["labels"], ops["inertia"]])
    if record_history:
        history.append((centers, labels.astype(np.int64)))
    return {"centers": centers, "labels": labels, "inertia": inertia, "n_iter": n_iter,
            "history": history}


def compare(seed=0, fast=False):
    """Ours against ``sklearn.cluster.KMeans`` on digits, k=10, ``n_init=10`` each.

    Both fit the same 70% of the digits (the 30% split off, stratified by the
    digit label that K-means never sees) and are scored by the inertia of the
    held-out 30% under their centres; the check is that ours is within 2% of
    scikit-learn's.

    Args:
      seed: the split's ``random_state`` and both models' seed.
      fast: use a stratified 600-image subset of digits (same comparison, a third of the data).
    Returns:
      a list with one dict of the chapter's comparison keys.
    """
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.model_selection import train_test_split

    X, y, dataset = comparison_digits(seed, fast)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=seed, stratify=y)
    ours_time, sk_time = {}, {}
    with timed(ours_time):
        ours = KMeans(n_clusters=10, n_init=10, seed=seed).fit(X_train)
        ours_inertia = -ours.score(X_test)
    with timed(sk_time):
        theirs = SkKMeans(n_clusters=10, n_init=10, random_state=seed).fit(X_train)
        sk_inertia = -theirs.score(X_test)
    gap = (ours_inertia - sk_inertia) / sk_inertia
    return [{
        "algorithm": "K-means",
        "dataset": dataset,
        "metric": "held-out inertia (k=10, n_init=10; sum of squared distances to the "
                  "nearest centre)",
        "ours": float(ours_inertia),
        "sklearn": float(sk_inertia),
        "ours_seconds": ours_time["seconds"],
        "sklearn_seconds": sk_time["seconds"],
        "check": f"within 2%: {'yes' if abs(gap) <= 0.02 else 'no'} ({gap:+.2%})",
        "passed": bool(abs(gap) <= 0.02),
    }]
