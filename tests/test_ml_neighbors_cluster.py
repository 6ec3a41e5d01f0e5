"""K-nearest neighbours and K-means (chapter 1) against NumPy, worked cases and scikit-learn.

KNN must give scikit-learn's brute-force predictions exactly, ties included;
K-means must reach an inertia within 2% of scikit-learn's KMeans.
"""
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier as SkKNN
from threadpoolctl import threadpool_limits

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.ml_basics import cluster, neighbors
from tfgraph_lessons.ml_basics.base import graph_session
from tfgraph_lessons.ml_basics.cluster import KMeans, kmeans_plusplus
from tfgraph_lessons.ml_basics.neighbors import (KNeighborsClassifier, bounded_heap_neighbours,
                                                 distance_matrix, sklearn_scan_blocks)

COMPARE_KEYS = {"algorithm", "dataset", "metric", "ours", "sklearn", "ours_seconds",
                "sklearn_seconds", "check", "passed"}


@pytest.fixture(scope="module")
def digits_split():
    """A stratified 900-image subset of digits, split 70/30 (630 training rows: 3 chunks of 256)."""
    X, y = load_digits(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=900, random_state=0, stratify=y)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)


def _boundary_ties(X_train, X_test, k, metric):
    """How many test rows have a point left out at exactly their k-th distance."""
    d = cdist(X_test, X_train, "sqeuclidean" if metric == "euclidean" else "cityblock")
    kth = np.sort(d, axis=1)[:, k - 1:k]
    return int(np.sum((d <= kth).sum(axis=1) > k))


# ---------------------------------------------------------------- KNN: the graph op

@pytest.mark.parametrize("metric, reference", [("euclidean", "sqeuclidean"),
                                                ("manhattan", "cityblock")])
def test_distance_matrix_matches_scipy(metric, reference):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(11, 5))
    with graph_session() as (_, sess):
        qa = tf1.placeholder("float64", [None, 5])
        qb = tf1.placeholder("float64", [None, 5])
        got = sess.run(distance_matrix(qa, qb, metric), {qa: a, qb: b})
    assert got.shape == (7, 11)
    np.testing.assert_allclose(got, cdist(a, b, reference), rtol=1e-12, atol=1e-12)


def test_euclidean_distance_is_clipped_at_zero():
    """The matmul trick rounds many points' distance to themselves below 0; the op clips it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10)) * rng.uniform(0.1, 1e3, size=(200, 1))
    with graph_session() as (_, sess):
        q = tf1.placeholder("float64", [None, 10])
        sq = tf1.reduce_sum(q * q, axis=1)
        raw = (sq[:, None] - 2.0 * tf1.matmul(q, q, transpose_b=True)) + sq[None, :]
        got, raw = sess.run([distance_matrix(q, q, "euclidean"), raw], {q: x})
    assert (np.diag(raw) < 0).any(), "the data must make the trick cancel below zero"
    assert (got >= 0).all() and np.all(np.isfinite(np.sqrt(got)))
    np.testing.assert_allclose(got, cdist(x, x, "sqeuclidean"), atol=1e-6 * np.abs(raw).max())


# ---------------------------------------------------------------- KNN: ties as scikit-learn

def test_heap_keeps_what_sklearn_keeps_not_the_smallest_index():
    """A worked row: four points tie at distance 2 for the last of k=3 places.

    Scanning with a bounded max-heap (a newcomer must be strictly closer than
    the farthest kept) keeps index 3: neither the smallest index 0 nor, as a
    heap that let equal newcomers in would, the last one 6. The 1-D training
    set below puts each point at exactly that distance from the query, with a
    label per point, so scikit-learn's vote shows which it kept.
    """
    row = np.array([2.0, 4.0, 4.0, 2.0, 1.0, 1.0, 2.0])
    kept = bounded_heap_neighbours(row, 3)
    assert kept.tolist() == [4, 5, 3]                       # by distance, then index
    sk = SkKNN(n_neighbors=3, algorithm="brute", metric="manhattan").fit(row[:, None],
                                                                          np.arange(7))
    assert np.flatnonzero(sk.predict_proba([[0.0]])[0]).tolist() == [3, 4, 5]
    ours = KNeighborsClassifier(3, "manhattan").fit(row[:, None], np.arange(7))
    np.testing.assert_array_equal(ours.predict_proba([[0.0]]), sk.predict_proba([[0.0]]))
    # the same row scanned as two blocks (two threads), merged in order
    assert bounded_heap_neighbours(row, 3, [(0, 4), (4, 7)]).tolist() == [4, 5, 0]


def test_sklearn_scan_blocks_follow_its_strategy():
    # a small test set: one contiguous run of 256-row chunks per thread (static schedule)
    assert sklearn_scan_blocks(540, 1257, "euclidean", n_threads=2) == [(0, 768), (768, 1257)]
    assert sklearn_scan_blocks(540, 1257, "euclidean", n_threads=5) == [
        (0, 256), (256, 512), (512, 768), (768, 1024), (1024, 1257)]
    # manhattan predict, more test rows than training rows, or a large test set: one pass
    assert sklearn_scan_blocks(540, 1257, "manhattan", n_threads=2) == [(0, 1257)]
    assert sklearn_scan_blocks(2000, 1257, "euclidean", n_threads=2) == [(0, 1257)]
    assert sklearn_scan_blocks(3000, 5000, "euclidean", n_threads=2) == [(0, 5000)]
    assert sklearn_scan_blocks(1000, 5000, "euclidean", n_threads=2) == [(0, 2560), (2560, 5000)]


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_identical_to_sklearn_on_digits(digits_split, metric):
    X_train, X_test, y_train, _ = digits_split
    ties = 0
    for k in (1, 2, 4, 6, 10):
        ours = KNeighborsClassifier(k, metric).fit(X_train, y_train)
        theirs = SkKNN(n_neighbors=k, algorithm="brute", metric=metric).fit(X_train, y_train)
        np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
        np.testing.assert_array_equal(ours.predict_proba(X_test), theirs.predict_proba(X_test))
        ties += _boundary_ties(X_train, X_test, k, metric)
    assert ties > 0, "the comparison must include rows with ties at the k-th distance"


def test_identical_to_sklearn_with_other_thread_counts(digits_split, monkeypatch):
    """scikit-learn's euclidean choice among tied points depends on its threads; we follow."""
    X_train, X_test, y_train, _ = digits_split
    monkeypatch.setenv("OMP_NUM_THREADS", "3")   # lets scikit-learn use 3 threads on 2 cores
    for threads in (1, 3):
        with threadpool_limits(limits=threads, user_api="openmp"):
            for k in (4, 6):
                ours = KNeighborsClassifier(k).fit(X_train, y_train).predict_proba(X_test)
                theirs = SkKNN(n_neighbors=k, algorithm="brute").fit(X_train, y_train)
                np.testing.assert_array_equal(ours, theirs.predict_proba(X_test))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_identical_to_sklearn_on_iris(iris_split, metric):
    X_train, X_test, y_train, _ = iris_split
    for k in (1, 2, 3, 4, 6, 8, 10, 15):
        ours = KNeighborsClassifier(k, metric).fit(X_train, y_train).predict(X_test)
        theirs = SkKNN(n_neighbors=k, algorithm="brute", metric=metric).fit(X_train, y_train)
        np.testing.assert_array_equal(ours, theirs.predict(X_test))


def test_vote_tie_goes_to_the_smallest_label():
    X, y = np.array([[-1.0], [1.0], [4.0]]), np.array([5, 3, 9])
    for labels in (y, np.array(["e", "c", "i"])):
        got = KNeighborsClassifier(2).fit(X, labels).predict([[0.0]])
        want = SkKNN(n_neighbors=2, algorithm="brute").fit(X, labels).predict([[0.0]])
        assert got[0] == labels[1] == want[0]


# ---------------------------------------------------------------- KNN: the rest of the API

def test_kneighbors_are_the_sorted_nearest(iris_split):
    X_train, X_test, y_train, _ = iris_split
    knn = KNeighborsClassifier(6).fit(X_train, y_train)
    dist, idx = knn.kneighbors(X_test)
    assert dist.shape == idx.shape == (len(X_test), 6)
    full = cdist(X_test, X_train)
    np.testing.assert_allclose(dist, np.take_along_axis(full, idx, 1), atol=1e-9)
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :6], atol=1e-9)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_batches_do_not_change_the_answer(iris_split):
    X_train, X_test, y_train, _ = iris_split
    whole = KNeighborsClassifier(4).fit(X_train, y_train).predict_proba(X_test)
    batched = KNeighborsClassifier(4, batch_size=7).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(whole, batched)


def test_score_is_test_accuracy(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    knn = KNeighborsClassifier(5).fit(X_train, y_train)
    assert knn.score(X_test, y_test) == pytest.approx(np.mean(knn.predict(X_test) == y_test))
    assert knn.score(X_test, y_test) > 0.9


@pytest.mark.parametrize("make, fit_args, call, name", [
    (lambda: KNeighborsClassifier(4), ([[0.0], [1.0]], [0, 1]), None, "n_neighbors"),
    (lambda: KNeighborsClassifier(0), ([[0.0], [1.0]], [0, 1]), None, "n_neighbors"),
    (lambda: KNeighborsClassifier(1, "cosine"), ([[0.0], [1.0]], [0, 1]), None, "metric"),
    (lambda: KNeighborsClassifier(1), ([[0.0], [np.nan]], [0, 1]), None, "X"),
    (lambda: KNeighborsClassifier(1), ([[0.0], [1.0]], [0, 1, 1]), None, "y"),
    (lambda: KNeighborsClassifier(1), (np.zeros((0, 2)), []), None, "X"),
    (lambda: KNeighborsClassifier(1), ([[0.0], [1.0]], [0, 1]), [[0.0, 1.0]], "X"),
])
def test_knn_bad_input_names_the_argument(make, fit_args, call, name):
    with pytest.raises(UsageError, match=rf"^{name}\b"):
        model = make().fit(*fit_args)
        model.predict(call)


def test_knn_predict_before_fit():
    with pytest.raises(UsageError, match="not fitted"):
        KNeighborsClassifier().predict([[0.0]])


def test_knn_compare_fast():
    (row,) = neighbors.compare(seed=0, fast=True)
    assert set(row) == COMPARE_KEYS
    assert row["passed"] and row["check"].startswith("identical predictions: yes (0 of ")
    assert row["ours"] == row["sklearn"] > 0.9


# ---------------------------------------------------------------- K-means

def _inertia(X, centers):
    return float(cdist(X, centers, "sqeuclidean").min(axis=1).sum())


@pytest.mark.parametrize("loader, k", [(load_digits, 10), (load_iris, 3)])
def test_inertia_within_2_percent_of_sklearn(loader, k):
    X, _ = loader(return_X_y=True)
    ours = KMeans(k, n_init=10, seed=0).fit(X)
    theirs = SkKMeans(k, n_init=10, random_state=0).fit(X)
    assert abs(ours.inertia_ - theirs.inertia_) <= 0.02 * theirs.inertia_
    assert ours.inertia_ == pytest.approx(_inertia(X, ours.cluster_centers_), rel=1e-9)


def test_one_lloyd_step_matches_numpy():
    X, _ = load_iris(return_X_y=True)
    km = KMeans(3, init="random", n_init=1, max_iter=1, seed=3, record_history=True).fit(X)
    assert km.n_iter_ == 1 and len(km.history_) == 2
    seeds, labels = km.history_[0]
    np.testing.assert_array_equal(labels, cdist(X, seeds, "sqeuclidean").argmin(axis=1))
    means = np.stack([X[labels == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(km.cluster_centers_, means, rtol=1e-12)
    np.testing.assert_array_equal(km.labels_, cdist(X, means, "sqeuclidean").argmin(axis=1))


def test_empty_cluster_moves_to_the_farthest_point():
    X = np.array([[0.0], [0.1], [10.0], [10.1], [20.0]])
    seeds = np.array([[0.0], [100.0], [10.0]])        # the centre at 100 wins no point
    with graph_session() as (_, sess):
        ops = cluster._build_lloyd_graph(5, 1, 3)
        sess.run(ops["load_points"], {ops["points_init"]: X})
        run = cluster._lloyd(sess, ops, seeds, max_iter=1, tol=0.0, record_history=True)
    assert run["history"][0][1].tolist() == [0, 0, 2, 2, 2]
    # 20 is the point farthest from its centre (10); the other two are means
    np.testing.assert_allclose(run["centers"], [[0.05], [20.0], [(10 + 10.1 + 20) / 3]])


def test_kmeans_plusplus_spreads_the_seeds():
    rng = np.random.default_rng(0)
    blobs = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    X = np.concatenate([b + rng.normal(scale=0.5, size=(50, 2)) for b in blobs])
    for seed in range(5):
        seeds = kmeans_plusplus(X, 4, np.random.default_rng(seed))
        assert all(any(np.array_equal(s, x) for x in X) for s in seeds)   # seeds are points
        assert sorted(cdist(seeds, blobs).argmin(axis=1).tolist()) == [0, 1, 2, 3]


def test_restarts_keep_the_lowest_inertia(monkeypatch):
    runs = []
    lloyd = cluster._lloyd

    def recording(*args, **kwargs):
        runs.append(lloyd(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(cluster, "_lloyd", recording)
    X, _ = load_digits(return_X_y=True)
    km = KMeans(10, init="random", n_init=6, max_iter=20, seed=1).fit(X[:500])
    inertias = [r["inertia"] for r in runs]
    assert len(runs) == 6 and len(set(np.round(inertias, 3))) > 1
    assert km.inertia_ == min(inertias)
    np.testing.assert_array_equal(km.cluster_centers_, runs[int(np.argmin(inertias))]["centers"])


def test_history_records_each_step_of_the_best_run():
    X, _ = load_iris(return_X_y=True)
    km = KMeans(3, init="random", n_init=3, seed=5, record_history=True).fit(X)
    assert len(km.history_) == km.n_iter_ + 1 <= km.max_iter + 1
    np.testing.assert_array_equal(km.history_[-1][0], km.cluster_centers_)
    np.testing.assert_array_equal(km.history_[-1][1], km.labels_)
    inertias = [_inertia(X, centers) for centers, _ in km.history_]
    assert inertias[-1] == pytest.approx(km.inertia_)
    assert all(b <= a + 1e-9 for a, b in zip(inertias, inertias[1:]))    # Lloyd never goes up
    assert not hasattr(KMeans(3, n_init=1).fit(X), "history_")


def test_stops_at_the_fixed_point_or_within_tol():
    X, _ = load_iris(return_X_y=True)
    km = KMeans(3, init="random", n_init=1, tol=0.0, seed=2, record_history=True).fit(X)
    centers = [c for c, _ in km.history_]
    assert km.n_iter_ < km.max_iter
    np.testing.assert_array_equal(centers[-2], centers[-1])     # the last step moved nothing
    assert not np.array_equal(centers[-3], centers[-2])         # the one before still did
    assert KMeans(3, n_init=1, tol=1e9, seed=2).fit(X).n_iter_ == 1


def test_predict_transform_score(iris_split):
    X_train, X_test, _, _ = iris_split
    km = KMeans(3, n_init=2, seed=0).fit(X_train)
    np.testing.assert_array_equal(km.predict(X_train), km.labels_)
    np.testing.assert_allclose(km.transform(X_test), cdist(X_test, km.cluster_centers_),
                               atol=1e-9)
    np.testing.assert_array_equal(km.predict(X_test),
                                  cdist(X_test, km.cluster_centers_).argmin(axis=1))
    assert km.score(X_train) == pytest.approx(-km.inertia_)
    assert km.n_iter_ <= km.max_iter


def test_same_seed_same_clustering():
    X, _ = load_iris(return_X_y=True)
    a, b = KMeans(4, n_init=2, seed=7).fit(X), KMeans(4, n_init=2, seed=7).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert KMeans(2, n_init=1, max_iter=2, seed=0).fit(X).n_iter_ <= 2


@pytest.mark.parametrize("model, X, name", [
    (KMeans(4), np.zeros((3, 2)), "n_clusters"),
    (KMeans(2, init="kmeans"), np.zeros((3, 2)), "init"),
    (KMeans(2, n_init=0), np.zeros((3, 2)), "n_init"),
    (KMeans(2, tol=-1.0), np.zeros((3, 2)), "tol"),
    (KMeans(1), np.array([[0.0, np.nan]]), "X"),
    (KMeans(1), np.zeros((0, 2)), "X"),
])
def test_kmeans_bad_input_names_the_argument(model, X, name):
    with pytest.raises(UsageError, match=rf"^{name}\b"):
        model.fit(X)


def test_kmeans_predict_before_fit_and_wrong_width():
    with pytest.raises(UsageError, match="not fitted"):
        KMeans(2).predict([[0.0, 1.0]])
    km = KMeans(2, n_init=1).fit(np.arange(8.0).reshape(4, 2))
    with pytest.raises(UsageError, match=r"^X\b"):
        km.transform([[0.0]])


def test_kmeans_compare_fast():
    (row,) = cluster.compare(seed=0, fast=True)
    assert set(row) == COMPARE_KEYS
    assert row["passed"] and row["check"].startswith("within 2%: yes")
    assert abs(row["ours"] - row["sklearn"]) <= 0.02 * row["sklearn"]
