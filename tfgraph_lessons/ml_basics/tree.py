"""The decision tree of the slides' map: CART, recursive binary splits on one feature.

A decision tree asks one yes/no question per node -- "is feature j <= t?" --
and sends a sample left or right until it reaches a leaf, which answers with
the majority class of the training samples that ended there. CART
(Classification And Regression Trees [1]) grows it greedily from the root:

* at a node holding samples S, try every feature j and every threshold t
  halfway between two neighbouring distinct values of x_j in S;
* score a split by the impurity it leaves behind, the children's impurities
  weighted by their share of the samples::

      G(j, t) = n_left / n * H(S_left) + n_right / n * H(S_right)

  with H the Gini index ``1 - sum_k p_k^2`` [1] or the entropy
  ``-sum_k p_k log2 p_k`` (ID3/C4.5's information measure [2]);
* keep the split of lowest G (the largest impurity decrease H(S) - G) and
  recurse into both halves, until a node is pure, is at ``max_depth``, holds
  fewer than ``min_samples_split`` samples, or every split would leave a child
  with fewer than ``min_samples_leaf``.

The search is vectorised the way fast implementations do it: sort the node's
samples by x_j once; then the class counts left of every cut are one
cumulative sum of the one-hot labels, the counts right of it are the total
minus those, and the impurity of all n - 1 cuts comes out of one array
expression instead of n - 1 passes over the data.

Plain NumPy, no TensorFlow graph: growing a tree is recursion over a data
structure and counting, with no tensor algebra or gradient for a graph to
teach; a Session per node would only add overhead (see ``base.py``).

References:
  [1] Leo Breiman, Jerome Friedman, Richard Olshen, Charles Stone.
      Classification and Regression Trees. Wadsworth, 1984.
  [2] J. Ross Quinlan. Induction of decision trees. Machine Learning 1, 81-106, 1986.

Usage::

    tree = DecisionTreeClassifier(criterion="gini", max_depth=3).fit(X_train, y_train)
    tree.score(X_test, y_test)
    print(tree.export_text(feature_names))    # the slide's picture of the tree, as text
"""
from dataclasses import dataclass

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import (ClassifierMixin, Estimator, check_array, check_fitted,
                                            check_positive_int, check_X_y, timed)

__all__ = ["DecisionTreeClassifier", "Node", "gini", "entropy", "compare"]

# Two values closer than this count as one (scikit-learn uses the same 1e-7), so a
# threshold is never placed between two copies of a number that differ by rounding.
FEATURE_THRESHOLD = 1e-7
# Splits whose weighted child impurities differ by less than this are a tie; the
# first in the (seeded) feature order and then the lowest threshold wins, so
# float rounding never decides between two equally good questions.
TIE_TOLERANCE = 1e-12


def gini(counts):
    """The Gini index ``1 - sum_k p_k^2`` of class counts (0: pure; 1 - 1/K: uniform).

    Args:
      counts: class counts, shape [..., n_classes]; the last axis is summed.

    Returns:
      The impurity, shape [...]; 0 where a count vector is all zeros.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=-1)
    p = counts / np.where(n > 0, n, 1.0)[..., None]
    return (1.0 - np.sum(p * p, axis=-1)) * (n > 0)


def entropy(counts):
    """The entropy ``-sum_k p_k log2 p_k`` of class counts, in bits (0 log 0 = 0).

    Args:
      counts: class counts, shape [..., n_classes].

    Returns:
      The impurity in bits, shape [...] (1 bit for two equally common classes).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=-1)
    p = counts / np.where(n > 0, n, 1.0)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return -np.sum(terms, axis=-1)


CRITERIA = {"gini": gini, "entropy": entropy}


@dataclass
class Node:
    """One node of a fitted tree (``tree_[i]``; node 0 is the root, ids in pre-order).

    Attributes:
      feature: the column the node asks about (None at a leaf).
      threshold: samples with ``x[feature] <= threshold`` go left (None at a leaf).
      impurity: H of the node's training samples (Gini or entropy).
      samples: how many training samples reached it.
      value: their class counts, shape [n_classes] in ``classes_`` order
        (scikit-learn's ``tree_.value`` holds these divided by ``samples``).
      left, right: the children's ids in ``tree_`` (None at a leaf).
      depth: the root is at depth 0.
    """

    feature: object
    threshold: object
    impurity: float
    samples: int
    value: np.ndarray
    left: object = None
    right: object = None
    depth: int = 0

    @property
    def is_leaf(self):
        return self.left is None


def _best_cut_of_feature(x_sorted, onehot_sorted, impurity, min_samples_leaf):
    """The best threshold of one feature, all its cuts scored in one array expression.

    Args:
      x_sorted: the node's values of the feature, sorted, shape [n].
      onehot_sorted: their one-hot labels in the same order, shape [n, n_classes].
      impurity: ``gini`` or ``entropy``.
      min_samples_leaf: the fewest samples a child may keep.

    Returns:
      ``(weighted child impurity, position)``: the cut between ``x_sorted[position]``
      and ``x_sorted[position + 1]``; ``(inf, -1)`` if no cut is allowed.
    """
    n = len(x_sorted)
    n_left = np.arange(1, n)                        # [n - 1]: samples left of the cut after i
    # A cut is a real question only between two distinct values, and both sides
    # must keep min_samples_leaf samples; only those cuts are scored.
    cuts = np.flatnonzero((x_sorted[1:] > x_sorted[:-1] + FEATURE_THRESHOLD)
                          & (n_left >= min_samples_leaf) & (n - n_left >= min_samples_leaf))
    if cuts.size == 0:
        return np.inf, -1
    left = np.cumsum(onehot_sorted, axis=0)[cuts]   # [n_cuts, n_classes]: class counts left
    right = onehot_sorted.sum(axis=0) - left        # the node's total minus the left counts
    n_left = n_left[cuts].astype(np.float64)
    child = (n_left * impurity(left) + (n - n_left) * impurity(right)) / n
    best = int(np.flatnonzero(child <= child.min() + TIE_TOLERANCE)[0])
    return float(child[best]), int(cuts[best])


def _midpoint(low, high):
    """The threshold halfway between two neighbouring values, never equal to ``high``.

    Written as ``low / 2 + high / 2`` so two huge values cannot overflow; if
    rounding lands the result on ``high`` the rule ``x <= t`` would send ``high``
    left too, so the threshold falls back to ``low``.
    """
    threshold = low / 2.0 + high / 2.0
    return float(low if threshold == high or not np.isfinite(threshold) else threshold)


def _best_split(X, onehot, feature_order, impurity, min_samples_leaf):
    """The (feature, threshold) of lowest weighted child impurity over all features.

    Args:
      X: the node's samples, shape [n, n_features].
      onehot: their one-hot labels, shape [n, n_classes].
      feature_order: the order features are tried in (ties go to the first).
      impurity: ``gini`` or ``entropy``.
      min_samples_leaf: the fewest samples a child may keep.

    Returns:
      ``(feature, threshold, goes_left)`` with ``goes_left`` a boolean mask of
      shape [n], or None if no feature can be split.
    """
    best_score, best = np.inf, None
    for j in feature_order:
        order = np.argsort(X[:, j], kind="stable")
        x_sorted = X[order, j]
        if x_sorted[-1] <= x_sorted[0] + FEATURE_THRESHOLD:
            continue                                # a constant feature asks nothing
        score, position = _best_cut_of_feature(x_sorted, onehot[order], impurity,
                                               min_samples_leaf)
        if score < best_score - TIE_TOLERANCE:
            best_score = score
            best = (int(j), _midpoint(x_sorted[position], x_sorted[position + 1]))
    if best is None:
        return None
    feature, threshold = best
    return feature, threshold, X[:, feature] <= threshold


class DecisionTreeClassifier(ClassifierMixin, Estimator):
    """CART classification tree [1], grown greedily with Gini or entropy.

    Plain NumPy (no TensorFlow graph): the algorithm is recursion and counting,
    with nothing for a graph to teach.

    Args:
      criterion: ``"gini"`` or ``"entropy"``, the impurity H a split lowers.
      max_depth: the deepest a leaf may sit (root = depth 0); None grows until
        the leaves are pure or too small to split.
      min_samples_split: a node with fewer samples is a leaf (a whole number >= 2).
      min_samples_leaf: a split may not leave a child with fewer samples.
      seed: the order features are tried in at each node is a seeded shuffle,
        as in scikit-learn; it only matters when two splits are exactly as good.

    Attributes (after ``fit``):
      tree_: list of :class:`Node`, ``tree_[0]`` the root, children by id.
      classes_: the sorted distinct labels; ``n_classes_``, ``n_features_in_``.
      depth_: the depth of the deepest leaf; ``n_leaves_``: how many leaves.
      feature_importances_: each feature's total impurity decrease (weighted by
        samples), normalised to sum to 1 -- scikit-learn's "Gini importance".
    """

    def __init__(self, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, seed=0):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed

    def _check_settings(self):
        if self.criterion not in CRITERIA:
            raise UsageError(f"criterion must be one of {sorted(CRITERIA)}, got {self.criterion!r}")
        if self.max_depth is not None:
            check_positive_int(self.max_depth, "max_depth")
        check_positive_int(self.min_samples_leaf, "min_samples_leaf")
        if check_positive_int(self.min_samples_split, "min_samples_split") < 2:
            raise UsageError("min_samples_split must be a whole number >= 2 (a split needs "
                             f"two samples), got {self.min_samples_split!r}")

    def fit(self, X, y):
        """Grow the tree on ``X`` [n_samples, n_features] and labels ``y`` [n_samples]."""
        self._check_settings()
        X, y = check_X_y(X, y, y_dtype=np.asarray(y).dtype)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        self.n_features_in_ = X.shape[1]
        self.tree_ = self._grow(X, y_index, np.random.default_rng(self.seed))
        self._compile()
        return self

    def _is_leaf(self, counts, depth):
        """Stop here? Pure, too deep, or too few samples to split (sklearn's rules)."""
        n = counts.sum()
        return (np.count_nonzero(counts) <= 1 or n < self.min_samples_split
                or n < 2 * self.min_samples_leaf
                or (self.max_depth is not None and depth >= self.max_depth))

    def _grow(self, X, y_index, rng):
        """Build the nodes depth first with an explicit stack (no recursion limit).

        The left child is pushed last so it is popped next: node ids come out in
        pre-order (root, its left subtree, its right subtree), as in scikit-learn.
        """
        impurity = CRITERIA[self.criterion]
        onehot = np.eye(self.n_classes_)[y_index]                 # [n, n_classes]
        nodes = []
        stack = [(np.arange(len(X)), 0, None, "left")]            # (samples, depth, parent, side)
        while stack:
            ids, depth, parent, side = stack.pop()
            counts = onehot[ids].sum(axis=0)
            node = Node(None, None, float(impurity(counts)), len(ids),
                        counts.astype(np.int64), depth=depth)
            nodes.append(node)
            if parent is not None:
                setattr(nodes[parent], side, len(nodes) - 1)
            if self._is_leaf(counts, depth):
                continue
            split = _best_split(X[ids], onehot[ids], rng.permutation(X.shape[1]), impurity,
                                self.min_samples_leaf)
            if split is None:                                       # every feature constant here
                continue
            node.feature, node.threshold, goes_left = split
            stack.append((ids[~goes_left], depth + 1, len(nodes) - 1, "right"))
            stack.append((ids[goes_left], depth + 1, len(nodes) - 1, "left"))
        return nodes

    def _compile(self):
        """Arrays of the node fields, for vectorised prediction, and the summaries."""
        nodes = self.tree_
        self._left = np.array([-1 if n.is_leaf else n.left for n in nodes])
        self._right = np.array([-1 if n.is_leaf else n.right for n in nodes])
        self._feature = np.array([-1 if n.is_leaf else n.feature for n in nodes])
        self._threshold = np.array([np.nan if n.is_leaf else n.threshold for n in nodes])
        self._value = np.array([n.value for n in nodes], dtype=np.float64)
        self.depth_ = max(n.depth for n in nodes)
        self.n_leaves_ = sum(n.is_leaf for n in nodes)
        importances = np.zeros(self.n_features_in_)
        for n in nodes:
            if not n.is_leaf:
                left, right = nodes[n.left], nodes[n.right]
                importances[n.feature] += (n.samples * n.impurity - left.samples * left.impurity
                                           - right.samples * right.impurity)
        total = importances.sum()
        self.feature_importances_ = importances / total if total > 0 else importances

    def _check_X(self, X):
        check_fitted(self, "tree_")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise UsageError(f"X: {X.shape[1]} features, but the tree was fitted on "
                             f"{self.n_features_in_}; give the same columns")
        return X

    def apply(self, X):
        """The id of the leaf each sample lands in, shape [n_samples].

        All samples walk down together: one step per level moves every sample
        still at an internal node to the child its question picks.
        """
        X = self._check_X(X)
        node = np.zeros(len(X), dtype=np.int64)
        for _ in range(self.depth_):
            inside = np.flatnonzero(self._left[node] >= 0)
            if inside.size == 0:
                break
            at = node[inside]
            goes_left = X[inside, self._feature[at]] <= self._threshold[at]
            node[inside] = np.where(goes_left, self._left[at], self._right[at])
        return node

    def predict_proba(self, X):
        """Class probabilities: the class shares of each sample's leaf, [n_samples, n_classes]."""
        leaves = self.apply(X)                          # checks fit and X first
        value = self._value[leaves]
        return value / value.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The majority class of each sample's leaf (ties: the first class in ``classes_``)."""
        proba = self.predict_proba(X)                   # checks fit and X first
        return self.classes_[np.argmax(proba, axis=1)]

    def _subtree_depth(self, node_id):
        """Levels in the subtree under ``node_id``, counting it (a leaf: 1)."""
        deepest, todo = 0, [node_id]
        while todo:
            node = self.tree_[todo.pop()]
            deepest = max(deepest, node.depth)
            if not node.is_leaf:
                todo += [node.left, node.right]
        return deepest - self.tree_[node_id].depth + 1

    def export_text(self, feature_names=None, class_names=None, decimals=2, max_depth=10,
                    show_weights=False, spacing=3):
        """The tree as indented text, in the layout of ``sklearn.tree.export_text``.

        Args:
          feature_names: one name per column (default ``feature_0``, ``feature_1`` ...).
          class_names: one name per class (default ``classes_``).
          decimals: digits of the thresholds (and weights).
          max_depth: deeper levels print as "truncated branch of depth d".
          show_weights: print each leaf's class counts too.
          spacing: width of one indentation step.

        Returns:
          The text, one line per question or leaf.
        """
        check_fitted(self, "tree_")
        names = (list(feature_names) if feature_names is not None
                 else [f"feature_{j}" for j in range(self.n_features_in_)])
        if len(names) != self.n_features_in_:
            raise UsageError(f"feature_names: {len(names)} names for {self.n_features_in_} "
                             "features; give one per column")
        classes = list(class_names) if class_names is not None else list(self.classes_)
        if len(classes) != self.n_classes_:
            raise UsageError(f"class_names: {len(classes)} names for {self.n_classes_} classes")
        lines = []

        def leaf_line(node, indent):
            weights = ""
            if show_weights:
                weights = " weights: [" + ", ".join(f"{v:.{decimals}f}" for v in node.value) + "]"
            lines.append(f"{indent}{weights} class: {classes[int(np.argmax(node.value))]}")

        def walk(node_id, depth):
            node = self.tree_[node_id]
            indent = ("|" + " " * spacing) * depth
            indent = indent[:-spacing] + "-" * spacing
            if depth > max_depth + 1:
                levels = self._subtree_depth(node_id)
                if levels == 1:
                    leaf_line(node, indent)
                else:
                    lines.append(f"{indent} truncated branch of depth {levels}")
            elif node.is_leaf:
                leaf_line(node, indent)
            else:
                name, threshold = names[node.feature], f"{node.threshold:.{decimals}f}"
                lines.append(f"{indent} {name} <= {threshold}")
                walk(node.left, depth + 1)
                lines.append(f"{indent} {name} >  {threshold}")
                walk(node.right, depth + 1)

        walk(0, 1)
        return "\n".join(lines) + "\n"


def compare(seed=0, fast=False, criterion="gini", max_depth=None):
    """Our CART tree against ``sklearn.tree.DecisionTreeClassifier`` on breast cancer.

    Both are fitted on the same stratified 70% of the 569 samples and scored on
    the 30% held out, with the same criterion and depth limit.

    Args:
      seed: the split's ``random_state``, and both trees' seed.
      fast: unused: the whole data set fits in well under a second.
      criterion, max_depth: as for :class:`DecisionTreeClassifier`, for both.

    Returns:
      A list with one dict (the keys of the chapter's comparison table).
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier as SklearnTree

    del fast
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=seed)
    ours, theirs = {}, {}
    with timed(ours):
        ours["accuracy"] = np.mean(
            DecisionTreeClassifier(criterion, max_depth, seed=seed).fit(X_train, y_train)
            .predict(X_test) == y_test)
    with timed(theirs):
        theirs["accuracy"] = np.mean(
            SklearnTree(criterion=criterion, max_depth=max_depth, random_state=seed)
            .fit(X_train, y_train).predict(X_test) == y_test)
    gap = 100 * abs(ours["accuracy"] - theirs["accuracy"])
    passed = gap <= 2.0
    return [dict(
        algorithm="CART decision tree",
        dataset=f"breast cancer (scikit-learn, {len(X)} samples, {X.shape[1]} features), "
                "30% held out",
        metric=f"test accuracy ({criterion}, max_depth={max_depth})",
        ours=float(ours["accuracy"]), sklearn=float(theirs["accuracy"]),
        ours_seconds=ours["seconds"], sklearn_seconds=theirs["seconds"],
        check=f"within 2 points: {'yes' if passed else 'no'} ({gap:.1f})", passed=bool(passed))]
