"""K-nearest neighbours: the distance matrix as one graph op, then a majority vote.

The slides' map of machine learning puts KNN beside K-means on the
unsupervised side: finding a point's neighbours uses no labels at all
(:meth:`KNeighborsClassifier.kneighbors`). Classifying with them does: a new
point gets the label most common among its ``k`` nearest training points [1]
(Hastie et al. [2], section 13.3, for the textbook treatment)::

    d(x, x_i) = sqrt(sum_j (x_j - x_ij)^2)      (euclidean)   or   sum_j |x_j - x_ij|   (manhattan)
    N_k(x)    = the k training points with the smallest d(x, x_i)
    y_hat(x)  = argmax_c  #{i in N_k(x) : y_i = c}

What runs where:

* The graph computes, for a batch of test rows, the whole ``[batch, n_train]``
  distance matrix as one op (:func:`distance_matrix`) and takes the ``k``
  smallest with ``tf.math.top_k``. Test rows go through in batches of
  ``batch_size``, so memory stays ``batch_size x n_train`` whatever the test set.
* NumPy does the vote (a count per class) and the one thing a graph cannot
  know: which of several *equally distant* points scikit-learn keeps.

Ties, the way scikit-learn's ``predict`` breaks them (read from the brute-force
source of scikit-learn 1.9, ``sklearn/metrics/_pairwise_distances_reduction``
and ``sklearn/utils/_heap.pyx``, and checked against it in the tests):

* Ties in distance. scikit-learn scans the training points in index order and
  keeps the ``k`` closest so far in a bounded max-heap; a newcomer enters only
  if it is *strictly* closer than the farthest one kept, and then evicts the
  heap's root. When several points sit exactly at the k-th distance, which of
  them survive depends on where the heap happened to place them, not simply on
  the smallest index. For the euclidean metric on a test set smaller than
  ``4 x 256 x threads`` rows, scikit-learn also splits the training set into
  one contiguous block per thread, fills one heap per block and merges them,
  so its choice among tied points even depends on the machine's thread count
  (:func:`sklearn_scan_blocks`). ``top_k`` is right for every row whose k-th
  distance is not shared with a point left out; for the other rows (``tied``)
  we replay scikit-learn's heaps on that row's distances
  (:func:`bounded_heap_neighbours`), which reproduces its choice exactly.
  "Smallest index first" instead would change one or two test predictions for
  about half of the k from 1 to 15 on a 70/30 digits split (manhattan), and
  some class probabilities with the euclidean metric.
* Ties between classes in the vote go to the smallest class label: the counts
  are laid out in the order of the sorted ``classes_`` and ``argmax`` returns
  the first maximum.
* Float error. Two mathematically equal distances only tie if they round the
  same way, so each metric is computed the way scikit-learn computes it.
  Euclidean: the matmul trick ``||a||^2 - 2 a.b + ||b||^2`` in float64, added in
  that order and clipped at 0 (cancellation can leave a tiny negative for
  near-identical points, and a square root of it would be NaN). It is one
  matmul instead of an ``[m, n, features]`` difference tensor, and it is exact
  on integer-valued data such as digits; its rounding on other data is
  scikit-learn's own. Manhattan: ``|a_j - b_j|`` summed feature by feature,
  left to right (a ``tf.foldl``), as scikit-learn's pairwise loop does, which
  also keeps memory at ``[m, n]``. Both stay "reduced" (squared for euclidean)
  while ranking; the square root is taken once, for the distances returned.

References:
  [1] T. Cover and P. Hart, "Nearest neighbor pattern classification", IEEE
      Transactions on Information Theory 13(1), 1967.
  [2] T. Hastie, R. Tibshirani and J. Friedman, The Elements of Statistical
      Learning, 2nd ed., Springer 2009, section 13.3.

Usage::

    knn = KNeighborsClassifier(n_neighbors=5).fit(X_train, y_train)
    knn.predict(X_test); knn.predict_proba(X_test)
    distances, indices = knn.kneighbors(X_test)
"""
import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import (ClassifierMixin, Estimator, check_array, check_fitted,
                                            check_positive_int, check_X_y, comparison_digits,
                                            graph_session, timed)

__all__ = ["KNeighborsClassifier", "distance_matrix", "bounded_heap_neighbours",
           "sklearn_scan_blocks", "compare"]

METRICS = ("euclidean", "manhattan")


def distance_matrix(queries, points, metric="euclidean"):
    """The ``[m, n]`` matrix of reduced distances between two sets of rows, one graph op.

    "Reduced" as in scikit-learn: the squared distance for ``euclidean`` (its
    square root ranks the same and costs a sqrt per pair), the distance itself
    for ``manhattan``. Each is summed as scikit-learn sums it, so equal
    distances round equally (module docstring).

    Args:
      queries: float64 tensor ``[m, n_features]``.
      points: float64 tensor ``[n, n_features]``.
      metric: ``"euclidean"`` or ``"manhattan"``.
    Returns:
      float64 tensor ``[m, n]``.
    """
    from tfgraph_lessons.core.graph import tf, tf1

    with tf1.name_scope("distance_matrix"):
        if metric == "euclidean":
            query_sq = tf.reduce_sum(queries * queries, axis=1)[:, None]      # [m, 1]
            point_sq = tf.reduce_sum(points * points, axis=1)[None, :]        # [1, n]
            cross = -2.0 * tf.matmul(queries, points, transpose_b=True)       # [m, n]
            return tf.maximum((query_sq + cross) + point_sq, 0.0)

        def add_feature(total, columns):
            query_j, point_j = columns                    # [m], [n]: feature j of every row
            return total + tf.abs(query_j[:, None] - point_j[None, :])

        zeros = tf.zeros(tf.stack([tf.shape(queries)[0], tf.shape(points)[0]]), queries.dtype)
        # foldl walks the features in order: [n_features, m] and [n_features, n] columns
        return tf1.foldl(add_feature, (tf.transpose(queries), tf.transpose(points)),
                         initializer=zeros, back_prop=False)


def _build_graph(n_features, k, metric):
    """Placeholders for a test batch and the training set; the k nearest of each test row."""
    from tfgraph_lessons.core.graph import tf, tf1

    queries = tf1.placeholder(tf.float64, [None, n_features], name="queries")   # [b, f]
    points = tf1.placeholder(tf.float64, [None, n_features], name="points")     # [n, f]
    reduced = distance_matrix(queries, points, metric)                           # [b, n]
    # top_k finds the largest, so rank -distance; equal values come lower index first
    neg_nearest, nearest = tf.math.top_k(-reduced, k=k, sorted=True, name="nearest")  # [b, k]
    kth = -neg_nearest[:, -1:]                                                   # [b, 1]
    # a row is "tied" when more points lie within its k-th distance than there are places
    n_within = tf.reduce_sum(tf.cast(reduced <= kth, tf.int32), axis=1)          # [b]
    tied = tf.greater(n_within, k, name="tied")
    return {"queries": queries, "points": points, "reduced": reduced,
            "nearest": nearest, "tied": tied}


def sklearn_scan_blocks(n_queries, n_train, metric, n_threads=None):
    """The blocks of training rows that scikit-learn's brute force gives one heap each.

    ``predict`` with the manhattan metric scans the whole training set per test
    row (its "parallel on X" strategy). With the euclidean metric it goes
    through ``kneighbors``' "auto" strategy: when the test set is larger than
    the training set or than ``4 x chunk x threads`` rows, the same; otherwise
    ("parallel on Y") the training set is cut into chunks of ``chunk`` rows
    (256 by default), OpenMP's static schedule hands each thread a contiguous
    run of chunks, each thread fills its own heap, and the heaps are merged in
    thread order.

    Args:
      n_queries: the number of test rows in the whole ``predict`` call.
      n_train: the number of training rows.
      metric: ``"euclidean"`` or ``"manhattan"``.
      n_threads: scikit-learn's OpenMP thread count; None reads it from scikit-learn
        (1 without it).
    Returns:
      a list of ``(start, stop)`` training-row ranges, in merge order.
    """
    if n_threads is None:
        n_threads, chunk = _sklearn_threads_and_chunk()
    else:
        chunk = _sklearn_threads_and_chunk()[1]
    if metric != "euclidean" or n_train < n_queries or 4 * chunk * n_threads < n_queries:
        return [(0, n_train)]
    chunk = min(n_train, chunk)
    n_chunks = -(-n_train // chunk)
    n_blocks = min(n_chunks, n_threads)
    per_block, extra = divmod(n_chunks, n_blocks)   # the first `extra` threads get one more
    blocks, first = [], 0
    for t in range(n_blocks):
        last = first + per_block + (t < extra)
        blocks.append((first * chunk, min(last * chunk, n_train)))
        first = last
    return blocks


def _sklearn_threads_and_chunk():
    """scikit-learn's OpenMP thread count and pairwise chunk size (1 and 256 without it)."""
    try:
        import sklearn
        # private, but it is the number scikit-learn's brute force itself reads
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:
        return 1, 256
    return _openmp_effective_n_threads(), sklearn.get_config().get("pairwise_dist_chunk_size", 256)


def _heap_push(values, indices, value, index):
    """Offer ``(value, index)`` to a bounded max-heap kept as two lists (root = farthest kept).

    A newcomer enters only if strictly closer than the root; it takes the root's
    place and sinks below every child that is strictly larger (the larger child
    first, the left one when both are equal), as in scikit-learn's ``heap_push``.
    """
    size = len(values)
    if value >= values[0]:
        return
    pos = 0
    while True:
        left = 2 * pos + 1
        if left >= size:
            break
        right = left + 1
        child = left if right >= size or values[left] >= values[right] else right
        if not value < values[child]:
            break
        values[pos], indices[pos] = values[child], indices[child]
        pos = child
    values[pos], indices[pos] = value, index


def bounded_heap_neighbours(row, k, blocks=None):
    """The ``k`` indices scikit-learn's brute force keeps: one heap per block, then merged.

    Args:
      row: the reduced distances ``[n]`` from one test row to every training row.
      k: how many neighbours to keep.
      blocks: ``(start, stop)`` ranges scanned by separate heaps
        (:func:`sklearn_scan_blocks`); None is one pass over the whole row.
    Returns:
      int array ``[k]``, ordered by distance, then index.
    """
    distances = row.tolist()
    merged_values, merged_indices = [np.inf] * k, [-1] * k
    for start, stop in blocks or [(0, len(distances))]:
        values, indices = [np.inf] * k, [-1] * k
        for index in range(start, stop):
            if distances[index] < values[0]:       # the cheap test first: most points fail it
                _heap_push(values, indices, distances[index], index)
        for value, index in zip(values, indices):  # merged in heap order, as scikit-learn does
            _heap_push(merged_values, merged_indices, value, index)
    kept = np.asarray(merged_indices)
    return kept[np.lexsort((kept, row[kept]))]


class KNeighborsClassifier(ClassifierMixin, Estimator):
    """K-nearest-neighbours vote with scikit-learn's ``KNeighborsClassifier(algorithm="brute")``'s answers.

    Graph: the distance matrix and ``top_k`` per batch of test rows. NumPy: the
    vote, and replaying scikit-learn's heap on rows whose k-th distance is tied
    (module docstring). ``fit`` only stores the training set.

    Args:
      n_neighbors: k, the number of neighbours that vote (at most the training set's size).
      metric: ``"euclidean"`` or ``"manhattan"``.
      batch_size: test rows per ``Session.run``; memory is ``batch_size x n_train`` floats.
    """

    def __init__(self, n_neighbors=5, metric="euclidean", batch_size=256):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.batch_size = batch_size

    def fit(self, X, y):
        """Store the training set.

        Args:
          X: ``[n_samples, n_features]`` features.
          y: ``[n_samples]`` class labels (numbers or strings).
        Returns:
          self, with ``classes_`` (sorted labels), ``n_features_in_``, ``n_samples_fit_``.
        """
        if self.metric not in METRICS:
            raise UsageError(f"metric={self.metric!r} is not supported; use one of {METRICS}")
        check_positive_int(self.batch_size, "batch_size")
        y_dtype = np.asarray(y).dtype                # keep integer and string labels as they are
        X, y = check_X_y(X, y, y_dtype=y_dtype if y_dtype.kind in "iubUS" else None)
        check_positive_int(self.n_neighbors, "n_neighbors", upper=len(X),
                           upper_name="the number of training samples")
        # the vote counts classes in sorted order, so argmax's first maximum is the smallest label
        self.classes_, self._y_codes = np.unique(y, return_inverse=True)
        self._fit_X = X
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = len(X)
        return self

    def _check_X(self, X):
        check_fitted(self, "classes_")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise UsageError(f"X: {X.shape[1]} features, but the model was fitted on "
                             f"{self.n_features_in_}; give the same columns")
        return X

    def _nearest(self, X):
        """Reduced distances and indices ``[m, k]`` of each row's k nearest, in batches."""
        k = self.n_neighbors
        reduced_k = np.empty((len(X), k))
        nearest = np.empty((len(X), k), dtype=np.int64)
        blocks = sklearn_scan_blocks(len(X), self.n_samples_fit_, self.metric)
        with graph_session() as (graph, sess):
            ops = _build_graph(self.n_features_in_, k, self.metric)
            graph.finalize()                    # nothing is added inside the loop
            for start in range(0, len(X), self.batch_size):
                batch = slice(start, start + self.batch_size)
                reduced, idx, tied = sess.run(
                    [ops["reduced"], ops["nearest"], ops["tied"]],
                    {ops["queries"]: X[batch], ops["points"]: self._fit_X})
                for row in np.flatnonzero(tied):    # only where top_k's choice may differ
                    idx[row] = bounded_heap_neighbours(reduced[row], k, blocks)
                nearest[batch] = idx
                reduced_k[batch] = np.take_along_axis(reduced, idx, axis=1)
        return reduced_k, nearest

    def kneighbors(self, X):
        """Each row's k nearest training rows.

        Args:
          X: ``[m, n_features]``.
        Returns:
          ``(distances, indices)``, both ``[m, k]``: the neighbours ``predict`` votes
          with, nearest first (equal distances: lower index first); true distances
          (square-rooted for euclidean).
        """
        reduced, indices = self._nearest(self._check_X(X))
        distances = np.sqrt(reduced) if self.metric == "euclidean" else reduced
        return distances, indices

    def _votes(self, X):
        """``[m, n_classes]`` neighbour count per class (columns in ``classes_`` order)."""
        _, indices = self._nearest(self._check_X(X))
        codes = self._y_codes[indices]                                      # [m, k]
        return (codes[:, :, None] == np.arange(len(self.classes_))).sum(axis=1)

    def predict_proba(self, X):
        """The fraction of the k neighbours in each class, ``[m, n_classes]``."""
        return self._votes(X) / self.n_neighbors

    def predict(self, X):
        """The majority class of each row's k neighbours; a tie goes to the smallest label."""
        votes = self._votes(X)                  # checks the model is fitted first
        return self.classes_[np.argmax(votes, axis=1)]


def compare(seed=0, fast=False):
    """Ours against ``sklearn.neighbors.KNeighborsClassifier(algorithm="brute")`` on digits.

    Both get the same stratified 70/30 split of the 1,797 8x8 digits and k=5
    (euclidean); the check is that every test prediction is identical.

    Args:
      seed: the split's ``random_state``.
      fast: use a stratified 600-image subset of digits (same comparison, a third of the work).
    Returns:
      a list with one dict of the chapter's comparison keys.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier as SkKNN

    X, y, dataset = comparison_digits(seed, fast)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y)
    ours_time, sk_time = {}, {}
    with timed(ours_time):
        ours = KNeighborsClassifier(n_neighbors=5).fit(X_train, y_train).predict(X_test)
    with timed(sk_time):
        theirs = SkKNN(n_neighbors=5, algorithm="brute").fit(X_train, y_train).predict(X_test)
    n_differ = int(np.sum(ours != theirs))
    return [{
        "algorithm": "K-nearest neighbours",
        "dataset": dataset,
        "metric": "test accuracy (k=5, euclidean)",
        "ours": float(np.mean(ours == y_test)),
        "sklearn": float(np.mean(theirs == y_test)),
        "ours_seconds": ours_time["seconds"],
        "sklearn_seconds": sk_time["seconds"],
        "check": f"identical predictions: {'yes' if n_differ == 0 else 'no'} "
                 f"({n_differ} of {len(y_test)} differ)",
        "passed": n_differ == 0,
    }]
