"""CART against hand-worked splits and scikit-learn; Apriori against hand work and brute force."""
import importlib
import itertools
from fractions import Fraction as F

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier as SklearnTree
from sklearn.tree import export_text as sklearn_export_text

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.apriori import apriori, apriori_gen, association_rules
from tfgraph_lessons.ml_basics.apriori import compare as compare_apriori
from tfgraph_lessons.ml_basics.tree import DecisionTreeClassifier, entropy, gini
from tfgraph_lessons.ml_basics.tree import compare as compare_tree

COMPARE_KEYS = {"algorithm", "dataset", "metric", "ours", "sklearn", "ours_seconds",
                "sklearn_seconds", "check", "passed"}


# ----------------------------------------------------------------------------- impurity

def test_gini_and_entropy_by_hand():
    # 5 of one class, 3 of the other: Gini = 1 - (25 + 9) / 64 = 30/64;
    # entropy = -(5/8 log2 5/8 + 3/8 log2 3/8) = 0.954434... bits.
    assert gini([5, 3]) == pytest.approx(30 / 64, abs=1e-15)
    assert entropy([5, 3]) == pytest.approx(-(5 / 8 * np.log2(5 / 8) + 3 / 8 * np.log2(3 / 8)))
    assert entropy([5, 3]) == pytest.approx(0.954434002924965, abs=1e-12)
    # pure: 0; two even classes: 1/2 and 1 bit; four even classes: 3/4 and 2 bits.
    assert gini([4, 0]) == 0 and entropy([4, 0]) == 0
    assert gini([2, 2]) == pytest.approx(0.5) and entropy([2, 2]) == pytest.approx(1.0)
    assert gini([1, 1, 1, 1]) == pytest.approx(0.75)
    assert entropy([1, 1, 1, 1]) == pytest.approx(2.0)
    # vectorised over leading axes, and an empty node has no impurity
    counts = np.array([[[5, 3], [2, 2], [0, 0]]])
    np.testing.assert_allclose(gini(counts), [[30 / 64, 0.5, 0.0]])
    np.testing.assert_allclose(entropy(counts), [[0.954434002924965, 1.0, 0.0]])


# ----------------------------------------------------------------------------- splits by hand

X_LINE = np.arange(1.0, 7.0)[:, None]          # x = 1, 2, 3, 4, 5, 6


def test_root_split_by_hand_gini_and_entropy():
    # y = 0 0 0 1 1 0. Weighted Gini of each cut (x between ... and ...):
    #   1|2: 5/6 * 12/25 = 0.400   2|3: 4/6 * 1/2 = 0.333   3|4: 3/6 * 0 + 3/6 * 4/9 = 0.222
    #   4|5: 4/6 * 3/8 + 2/6 * 1/2 = 0.417   5|6: 5/6 * 12/25 = 0.400  -> threshold 3.5.
    # Entropy agrees (3|4: 1/2 * 0.918 = 0.459 is the lowest).
    y = np.array([0, 0, 0, 1, 1, 0])
    for criterion, root_impurity, right_impurity in [
            ("gini", 4 / 9, 4 / 9),                                  # 1 - (16 + 4) / 36; 1 - 5/9
            ("entropy", 0.9182958340544896, 0.9182958340544896)]:    # H(4:2) = H(1:2) bits
        tree = DecisionTreeClassifier(criterion, max_depth=1).fit(X_LINE, y)
        root, left, right = tree.tree_
        assert (root.feature, root.threshold) == (0, 3.5)
        assert root.impurity == pytest.approx(root_impurity)
        assert (left.samples, right.samples) == (3, 3)
        assert list(left.value) == [3, 0] and list(right.value) == [1, 2]
        assert left.impurity == 0 and right.impurity == pytest.approx(right_impurity)
        assert tree.depth_ == 1 and tree.n_leaves_ == 2
        np.testing.assert_array_equal(tree.predict(X_LINE), [0, 0, 0, 1, 1, 1])


def test_min_samples_leaf_moves_the_cut():
    # y = 1 0 0 0 0 0: the pure cut 1|2 (threshold 1.5) leaves one sample on the left.
    # With min_samples_leaf=2 the allowed cuts score 2|3: 2/6 * 1/2 = 1/6,
    # 3|4: 3/6 * 4/9 = 2/9, 4|5: 4/6 * 3/8 = 1/4 -> threshold 2.5.
    y = np.array([1, 0, 0, 0, 0, 0])
    assert DecisionTreeClassifier(max_depth=1).fit(X_LINE, y).tree_[0].threshold == 1.5
    assert DecisionTreeClassifier(max_depth=1, min_samples_leaf=2).fit(
        X_LINE, y).tree_[0].threshold == 2.5
    # no cut leaves 4 on both sides of 6 samples: the root stays a leaf
    lone = DecisionTreeClassifier(min_samples_leaf=4).fit(X_LINE, y)
    assert len(lone.tree_) == 1 and lone.n_leaves_ == 1 and lone.depth_ == 0
    # min_samples_split=7 > 6 samples: no split either
    assert len(DecisionTreeClassifier(min_samples_split=7).fit(X_LINE, y).tree_) == 1


def test_stopping_rules_hold_on_real_data():
    X, y = load_breast_cancer(return_X_y=True)
    full = DecisionTreeClassifier().fit(X, y)
    assert full.score(X, y) == 1.0                     # grown to pure leaves (no duplicate X)
    assert all(n.impurity == 0 for n in full.tree_ if n.is_leaf)
    shallow = DecisionTreeClassifier(max_depth=2).fit(X, y)
    assert shallow.depth_ == 2 and shallow.n_leaves_ <= 4
    assert all(n.depth <= 2 for n in shallow.tree_)
    leafy = DecisionTreeClassifier(min_samples_leaf=20).fit(X, y)
    assert min(n.samples for n in leafy.tree_ if n.is_leaf) >= 20
    split = DecisionTreeClassifier(min_samples_split=40).fit(X, y)
    assert min(n.samples for n in split.tree_ if not n.is_leaf) >= 40
    assert any(n.samples < 40 and n.impurity > 0 for n in split.tree_ if n.is_leaf)
    for tree in (full, shallow, leafy, split):
        assert tree.n_leaves_ == sum(n.is_leaf for n in tree.tree_)
        for n in tree.tree_:                           # children partition their parent
            if not n.is_leaf:
                left, right = tree.tree_[n.left], tree.tree_[n.right]
                assert left.samples + right.samples == n.samples
                np.testing.assert_array_equal(left.value + right.value, n.value)
        np.testing.assert_allclose(tree.feature_importances_.sum(), 1.0)


# ----------------------------------------------------------------------------- against sklearn

def _continuous_data(seed, n=120):
    """Float32-exact continuous features (as scikit-learn stores them): no two splits tie."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32).astype(np.float64)
    score = X[:, 0] + 0.7 * X[:, 1] - 0.5 * X[:, 2] ** 2 + 0.5 * rng.normal(size=n)
    return X, np.digitize(score, [-0.8, 0.4])          # three classes


@pytest.mark.parametrize("data_seed", [0, 3])
@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_same_tree_as_sklearn_when_no_splits_tie(data_seed, criterion):
    X, y = _continuous_data(data_seed)
    theirs = [SklearnTree(criterion=criterion, max_depth=3, random_state=s).fit(X, y)
              for s in range(6)]
    # The premise: scikit-learn's tree does not depend on its feature shuffle, so
    # no two splits tie anywhere and the tree is determined by the data alone.
    for other in theirs[1:]:
        np.testing.assert_array_equal(other.tree_.threshold, theirs[0].tree_.threshold)
    ref = theirs[0].tree_
    ours = DecisionTreeClassifier(criterion, max_depth=3, seed=5).fit(X, y)
    nodes = ours.tree_
    assert len(nodes) == ref.node_count
    np.testing.assert_array_equal([-2 if n.is_leaf else n.feature for n in nodes], ref.feature)
    np.testing.assert_array_equal([-2 if n.is_leaf else n.threshold for n in nodes],
                                  ref.threshold)
    np.testing.assert_array_equal([-1 if n.is_leaf else n.left for n in nodes],
                                  ref.children_left)
    np.testing.assert_array_equal([-1 if n.is_leaf else n.right for n in nodes],
                                  ref.children_right)
    np.testing.assert_array_equal([n.samples for n in nodes], ref.n_node_samples)
    np.testing.assert_allclose([n.impurity for n in nodes], ref.impurity, atol=1e-12)
    np.testing.assert_allclose([n.value / n.samples for n in nodes], ref.value[:, 0, :],
                               atol=1e-12)
    assert (ours.depth_, ours.n_leaves_) == (theirs[0].get_depth(), theirs[0].get_n_leaves())
    np.testing.assert_allclose(ours.feature_importances_, theirs[0].feature_importances_,
                               atol=1e-12)
    X_new, _ = _continuous_data(100 + data_seed)
    np.testing.assert_array_equal(ours.predict_proba(X_new), theirs[0].predict_proba(X_new))
    names = ["a", "b", "c", "d"]
    for kwargs in [{}, dict(feature_names=names, show_weights=True),
                   dict(feature_names=names, max_depth=1, decimals=3)]:
        assert ours.export_text(**kwargs) == sklearn_export_text(theirs[0], **kwargs)


@pytest.mark.parametrize("loader, criterion, max_depth", [
    (load_breast_cancer, "gini", None), (load_breast_cancer, "entropy", 3),
    (load_wine, "gini", None), (load_digits, "entropy", None)])
def test_accuracy_within_2_points_of_sklearn(loader, criterion, max_depth):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    ours = DecisionTreeClassifier(criterion, max_depth).fit(X_train, y_train)
    theirs = SklearnTree(criterion=criterion, max_depth=max_depth, random_state=0)
    theirs.fit(X_train, y_train)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.02
    assert ours.score(X_test, y_test) > 0.8            # and it learned something
    if max_depth is not None:
        assert ours.depth_ == max_depth


def test_labels_of_any_kind_and_probabilities():
    X, y = _continuous_data(1)
    names = np.array(["low", "mid", "high"])[y]
    tree = DecisionTreeClassifier(max_depth=4).fit(X, names)
    np.testing.assert_array_equal(tree.classes_, ["high", "low", "mid"])
    proba = tree.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(tree.predict(X), tree.classes_[proba.argmax(axis=1)])
    assert np.mean(tree.predict(X) == names) > 0.8
    leaves = tree.apply(X)
    assert all(tree.tree_[i].is_leaf for i in np.unique(leaves))
    one_class = DecisionTreeClassifier().fit(X, np.full(len(X), 7))
    assert len(one_class.tree_) == 1
    np.testing.assert_array_equal(one_class.predict(X[:3]), [7, 7, 7])


def test_tree_bad_input_names_the_argument():
    X, y = _continuous_data(0, n=20)
    with pytest.raises(UsageError, match="X: empty"):
        DecisionTreeClassifier().fit(np.zeros((0, 4)), [])
    with pytest.raises(UsageError, match="y: 19 labels for 20 samples"):
        DecisionTreeClassifier().fit(X, y[:-1])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(UsageError, match=r"X: NaN .* \(3, 2\)"):
        DecisionTreeClassifier().fit(bad, y)
    with pytest.raises(UsageError, match="not fitted"):
        DecisionTreeClassifier().predict(X)
    with pytest.raises(UsageError, match="not fitted"):
        DecisionTreeClassifier().export_text()
    tree = DecisionTreeClassifier().fit(X, y)
    with pytest.raises(UsageError, match="X: 3 features"):
        tree.predict(X[:, :3])
    with pytest.raises(UsageError, match=r"X: NaN"):
        tree.predict(bad)
    with pytest.raises(UsageError, match="feature_names: 2 names"):
        tree.export_text(feature_names=["a", "b"])
    for settings, name in [(dict(criterion="mse"), "criterion"), (dict(max_depth=0), "max_depth"),
                           (dict(min_samples_split=1), "min_samples_split"),
                           (dict(min_samples_leaf=0), "min_samples_leaf"),
                           (dict(max_depth=2.5), "max_depth")]:
        with pytest.raises(UsageError, match=name):
            DecisionTreeClassifier(**settings).fit(X, y)


def test_tree_compare_row():
    (row,) = compare_tree(seed=0, fast=True)
    assert set(row) == COMPARE_KEYS
    assert row["passed"] and abs(row["ours"] - row["sklearn"]) <= 0.02
    assert 0.8 < row["ours"] <= 1 and row["ours_seconds"] > 0 and "30% held out" in row["dataset"]


# ----------------------------------------------------------------------------- Apriori

# Tan, Steinbach & Kumar's five baskets [apriori.py, ref. 2].
BASKETS = [["bread", "milk"],
           ["bread", "diapers", "beer", "eggs"],
           ["milk", "diapers", "beer", "cola"],
           ["bread", "milk", "diapers", "beer"],
           ["bread", "milk", "diapers", "cola"]]


def test_apriori_hand_worked_example():
    # Counts: bread 4, milk 4, diapers 4, beer 3, cola 2, eggs 1. min_support 0.6 = 3 baskets.
    # Pairs of the frequent items: bread+milk {1,4,5} 3, bread+diapers {2,4,5} 3,
    # milk+diapers {3,4,5} 3, diapers+beer {2,3,4} 3; bread+beer {2,4} 2, milk+beer {3,4} 2.
    # Triples: bread+milk+diapers is the only candidate left after pruning (the others
    # hold bread+beer or milk+beer); it is in {4,5} only: 2/5, not frequent.
    frequent = apriori(BASKETS, min_support=0.6)
    expected = {frozenset(["bread"]): F(4, 5), frozenset(["milk"]): F(4, 5),
                frozenset(["diapers"]): F(4, 5), frozenset(["beer"]): F(3, 5),
                frozenset(["bread", "milk"]): F(3, 5), frozenset(["bread", "diapers"]): F(3, 5),
                frozenset(["diapers", "milk"]): F(3, 5), frozenset(["beer", "diapers"]): F(3, 5)}
    assert len(frequent) == len(expected)
    assert {items: F(s).limit_denominator(5) for items, s in frequent} == expected
    assert all(s == float(expected[items]) for items, s in frequent)
    assert [len(items) for items, _ in frequent] == [1] * 4 + [2] * 4      # level by level

    # Rules: each pair gives two. confidence = supp(pair) / supp(antecedent):
    #   bread->milk = (3/5)/(4/5) = 3/4, lift = (3/4)/(4/5) = 15/16 (and the same for
    #   milk->bread, bread<->diapers, milk<->diapers);
    #   diapers->beer = 3/4, lift = (3/4)/(3/5) = 5/4; beer->diapers = 1, lift = 1/(4/5) = 5/4.
    expected_rules = {(a, c): (F(3, 4), F(15, 16)) for a, c in itertools.permutations(
        ["bread", "milk", "diapers"], 2)}
    expected_rules[("diapers", "beer")] = (F(3, 4), F(5, 4))
    expected_rules[("beer", "diapers")] = (F(1), F(5, 4))
    for min_confidence in (0.7, 0.75):     # 0.75: 0.6 / 0.8 rounds to 0.7499999999999999
        rules = association_rules(frequent, min_confidence)
        got = {(next(iter(r.antecedent)), next(iter(r.consequent))): r for r in rules}
        assert len(rules) == len(got) == len(expected_rules) == 8
        for key, (confidence, lift) in expected_rules.items():
            assert got[key].support == pytest.approx(0.6, abs=1e-15)
            assert got[key].confidence == pytest.approx(float(confidence), abs=1e-12)
            assert got[key].lift == pytest.approx(float(lift), abs=1e-12)
    (only,) = association_rules(frequent, 0.8)                 # only confidence 1 is left
    assert (only.antecedent, only.consequent) == ({"beer"}, {"diapers"})


def test_apriori_hand_worked_triples():
    # min_support 0.4 = 2 baskets. bread+milk+diapers {4,5}: 2/5; milk+diapers+beer
    # {3,4}: 2/5; bread+milk+beer {4}: 1/5, not frequent.
    # {milk, diapers} -> {beer}: confidence (2/5)/(3/5) = 2/3, lift (2/3)/(3/5) = 10/9.
    # {milk, diapers} -> {bread}: confidence 2/3, lift (2/3)/(4/5) = 5/6.
    support = dict(apriori(BASKETS, min_support=0.4))
    assert support[frozenset(["bread", "milk", "diapers"])] == 2 / 5
    assert support[frozenset(["milk", "diapers", "beer"])] == 2 / 5
    assert frozenset(["bread", "milk", "beer"]) not in support
    assert frozenset(["eggs"]) not in support and support[frozenset(["cola"])] == 2 / 5
    rules = {(r.antecedent, r.consequent): r for r in association_rules(support.items(), 0.6)}
    beer = rules[(frozenset(["milk", "diapers"]), frozenset(["beer"]))]
    assert beer.confidence == pytest.approx(2 / 3) and beer.lift == pytest.approx(10 / 9)
    bread = rules[(frozenset(["milk", "diapers"]), frozenset(["bread"]))]
    assert bread.confidence == pytest.approx(2 / 3) and bread.lift == pytest.approx(5 / 6)
    singles = apriori(BASKETS, 0.4, max_len=1)
    assert [len(items) for items, _ in singles] == [1] * 5           # all but eggs


def test_apriori_gen_is_the_papers_example():
    # Agrawal & Srikant 1994, sec. 2.1.1: L3 = {123, 124, 134, 135, 234}. The join gives
    # 1234 and 1345; the prune drops 1345 because 145 is not in L3.
    L3 = [(1, 2, 3), (1, 2, 4), (1, 3, 4), (1, 3, 5), (2, 3, 4)]
    assert apriori_gen(L3) == [(1, 2, 3, 4)]
    assert apriori_gen([(0,), (1,), (2,)]) == [(0, 1), (0, 2), (1, 2)]


def _brute_force(baskets, min_support):
    """Every itemset over the items seen, counted with Python sets: no pruning, no NumPy."""
    items = sorted(set().union(*map(set, baskets)))
    found = {}
    for size in range(1, len(items) + 1):
        for combo in itertools.combinations(items, size):
            count = sum(set(combo) <= set(b) for b in baskets)
            if count / len(baskets) >= min_support:
                found[frozenset(combo)] = count / len(baskets)
    return found


@pytest.mark.parametrize("seed", range(5))
def test_apriori_equals_brute_force_on_random_baskets(seed):
    rng = np.random.default_rng(seed)
    popularity = rng.uniform(0.15, 0.75, size=8)                 # item i in a basket w.p. p_i
    baskets = [[f"item{i}" for i in np.flatnonzero(rng.random(8) < popularity)]
               for _ in range(40)]                               # some baskets may be empty
    for min_support in (0.1, 0.25, 0.5):
        ours = apriori(baskets, min_support)
        reference = _brute_force(baskets, min_support)
        assert dict(ours) == reference and len(ours) == len(reference)
        assert len(reference) > 0
        # rules: every split of every frequent itemset, confidence from the reference
        expected = {}
        for itemset, s in reference.items():
            for size in range(1, len(itemset)):
                for a in map(frozenset, itertools.combinations(itemset, size)):
                    if s / reference[a] >= 0.6:
                        expected[(a, itemset - a)] = (s, s / reference[a],
                                                      s / reference[a] / reference[itemset - a])
        rules = association_rules(ours, 0.6)
        got = {(r.antecedent, r.consequent): tuple(r[2:]) for r in rules}
        assert len(rules) == len(got) and got.keys() == expected.keys()
        for key, values in expected.items():
            assert got[key] == pytest.approx(values, rel=1e-12)


def test_apriori_counts_in_blocks(monkeypatch):
    # Counting is split into blocks of rows x candidates x items to bound memory;
    # with tiny blocks the answer must not change.
    rng = np.random.default_rng(7)
    matrix = rng.random((30, 7)) < 0.5
    whole = apriori(matrix, 0.2)
    # the module by import_module: the package exports the function under the same name
    module = importlib.import_module("tfgraph_lessons.ml_basics.apriori")
    monkeypatch.setattr(module, "_COUNT_BLOCK", 70)
    assert apriori(matrix, 0.2) == whole
    baskets = [list(np.flatnonzero(row)) for row in matrix]
    assert dict(whole) == _brute_force(baskets, 0.2)


def test_apriori_one_hot_matrix_input():
    items = ["beer", "bread", "cola", "diapers", "eggs", "milk"]
    matrix = np.array([[item in b for item in items] for b in BASKETS])
    from_lists = apriori(BASKETS, 0.4)
    assert apriori(matrix, 0.4, item_names=items) == from_lists
    assert apriori(matrix.astype(int), 0.4, item_names=items) == from_lists
    by_column = apriori(matrix, 0.6)                              # default names: column numbers
    assert dict(by_column)[frozenset([0, 3])] == 3 / 5            # beer + diapers


def test_apriori_bad_input_names_the_argument():
    for bad in (0, -0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(UsageError, match="min_support"):
            apriori(BASKETS, bad)
        with pytest.raises(UsageError, match="min_confidence"):
            association_rules(apriori(BASKETS, 0.6), bad)
    with pytest.raises(UsageError, match="transactions: empty"):
        apriori([], 0.5)
    with pytest.raises(UsageError, match="transactions: empty"):
        apriori(np.zeros((0, 3), dtype=bool), 0.5)
    with pytest.raises(UsageError, match=r"transactions\[1\]"):
        apriori([["a"], "bread"], 0.5)
    with pytest.raises(UsageError, match="only 0/1"):
        apriori(np.array([[0, 2], [1, 0]]), 0.5)
    with pytest.raises(UsageError, match="item_names: 1 names for 2 columns"):
        apriori(np.array([[0, 1], [1, 0]]), 0.5, item_names=["a"])
    with pytest.raises(UsageError, match="max_len"):
        apriori(BASKETS, 0.5, max_len=0)
    incomplete = [(frozenset(["bread", "milk"]), 0.6), (frozenset(["bread"]), 0.8)]
    with pytest.raises(UsageError, match="frequent: the subset"):
        association_rules(incomplete, 0.5)


def test_apriori_compare_row():
    (row,) = compare_apriori(seed=0, fast=True)
    assert set(row) == COMPARE_KEYS | {"reference"}
    assert row["passed"] and row["ours"] == row["sklearn"] > 13          # beyond single items
    assert "yes" in row["check"]
