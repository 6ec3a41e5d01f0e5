"""Hebbian learning: Hebb's rule grows without bound, Oja's finds the first principal component.

The slides' map puts Hebbian learning among the unsupervised algorithms. One
linear neuron with weights ``w`` answers an input ``x`` with ``y = w . x``.

* **Hebb's rule** [1] ("cells that fire together wire together"): strengthen
  each weight in proportion to its input and the output,
  ``dw = lr * y * x``. Averaged over the data this is ``dw = lr * C w`` with
  ``C`` the covariance of centred data, so ``w`` turns towards the leading
  eigenvector of ``C`` but its norm is multiplied by about ``1 + lr * lambda_1``
  at every step: it grows without bound (:func:`weight_norm_history` shows it).
* **Oja's rule** [2] adds a forgetting term that is local too:
  ``dw = lr * y * (x - y w)``. Averaged, ``dw = lr * (C w - (w^T C w) w)``,
  whose stable fixed points are the unit-norm leading eigenvectors of ``C``:
  the neuron learns the first principal component, the direction PCA [3]
  finds with an eigendecomposition, by a rule each synapse can apply on its
  own.

Both rules are update ops on a ``tf1.get_variable`` weight vector, applied to
a batch of inputs (the update averaged over the batch; a batch of one sample
is the textbook online rule)::

    w = tf1.get_variable("w", [n_features], tf.float64)
    x = tf1.placeholder(tf.float64, [None, n_features])
    train_op = oja_rule(w, x, learning_rate=0.05)   # or hebb_rule(...)

:class:`OjaPCA` wraps the Oja neuron in scikit-learn's PCA shape
(``components_``, ``explained_variance_``, ``transform``); the chapter's
comparison checks its direction against ``sklearn.decomposition.PCA``'s first
component. By default it applies the rule to the whole (centred) data set at
each step: online updates keep jittering around the component at a distance
that grows with the learning rate, while the averaged rule converges to it.

References:
  [1] D. O. Hebb, The Organization of Behavior, Wiley, 1949.
  [2] E. Oja, "Simplified neuron model as a principal component analyzer",
      Journal of Mathematical Biology 15, 267-273, 1982.
  [3] K. Pearson, "On lines and planes of closest fit to systems of points in
      space", Philosophical Magazine 2, 559-572, 1901.
"""

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import (Estimator, check_array, check_fitted,
                                            check_positive_int, graph_session, timed)

__all__ = ["hebb_rule", "oja_rule", "HebbianNeuron", "OjaPCA", "weight_norm_history",
           "angle_degrees", "compare"]

# Hebb's norm grows geometrically; past this the lesson has made its point and
# float64 would soon overflow, so training stops and ``diverged_`` says why.
BLOW_UP_NORM = 1e30


def _output(w, x):
    """The neuron's answer ``y = x w`` for a batch: x [batch, n_features] -> y [batch]."""
    import tensorflow as tf

    return tf.linalg.matvec(x, w)


def hebb_rule(w, x, learning_rate, name="hebb_rule"):
    """Hebb's rule as an update op: ``w += lr * mean_n(y_n x_n)``, ``y_n = w . x_n``.

    Args:
      w: a tf1 variable, shape [n_features].
      x: a batch of inputs, tensor [batch, n_features] (a batch of one is the
        classic online rule).
      learning_rate: the step ``lr`` (a float or a scalar tensor).
      name: the op's name scope.
    Returns:
      the assign op; running it applies one update.
    """
    import tensorflow as tf

    with tf.name_scope(name):
        y = _output(w, x)                                        # [batch]
        dw = tf.reduce_mean(y[:, None] * x, axis=0)              # [n_features]
        return w.assign_add(learning_rate * dw)


def oja_rule(w, x, learning_rate, name="oja_rule"):
    """Oja's rule as an update op: ``w += lr * mean_n(y_n (x_n - y_n w))``.

    The ``- y^2 w`` term is what Oja added to Hebb's rule: a decay that keeps
    ``||w||`` at 1, so ``w`` settles on the first principal component.

    Args:
      w: a tf1 variable, shape [n_features].
      x: a batch of (centred) inputs, tensor [batch, n_features].
      learning_rate: the step ``lr`` (a float or a scalar tensor).
      name: the op's name scope.
    Returns:
      the assign op; running it applies one update.
    """
    import tensorflow as tf

    with tf.name_scope(name):
        y = _output(w, x)                                        # [batch]
        dw = tf.reduce_mean(y[:, None] * (x - y[:, None] * w[None, :]), axis=0)
        return w.assign_add(learning_rate * dw)


RULES = {"hebb": hebb_rule, "oja": oja_rule}


def angle_degrees(u, v):
    """The angle between two directions in degrees, sign ignored (0 to 90).

    Args:
      u, v: vectors [n_features] (or [1, n_features]), not zero.
    Returns:
      a float: 0.0 when ``u`` is parallel to ``v`` or to ``-v``.
    """
    u, v = np.ravel(u).astype(np.float64), np.ravel(v).astype(np.float64)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    # atan2(sine, cosine) stays accurate for tiny angles, where arccos(cosine)
    # rounds everything below about 1e-6 degrees to 0.
    along = u @ v
    return float(np.degrees(np.arctan2(np.linalg.norm(u - along * v), abs(along))))


def _learning_rate(learning_rate, X, full_batch):
    """The step: ``learning_rate`` itself, or the ``"auto"`` choice explained below.

    ``"auto"`` picks a step the rule is stable with on this data: the averaged
    update moves ``w`` by ``lr * C w`` and ``lambda_1(C) <= trace(C) =
    mean ||x||^2``, so a full batch uses ``1 / mean ||x||^2``; a small batch
    can be one outlying sample, so it uses ``1 / max ||x||^2``.
    """
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise UsageError(f"learning_rate must be a positive number or 'auto', "
                             f"got {learning_rate!r}")
        squared_norms = np.sum(X ** 2, axis=1)
        scale = squared_norms.mean() if full_batch else squared_norms.max()
        return 1.0 / scale if scale > 0 else 1.0
    if isinstance(learning_rate, bool) or not np.isscalar(learning_rate) or \
            not learning_rate > 0:
        raise UsageError(f"learning_rate must be a positive number or 'auto', "
                         f"got {learning_rate!r}")
    return float(learning_rate)


def _train_neuron(X, rule, learning_rate, n_epochs, batch_size, seed, tol=None,
                  max_steps=None):
    """Run ``rule`` over ``X`` in a Session; one ``Session.run`` per batch.

    Args:
      X: inputs [n_samples, n_features], float64.
      rule: "hebb" or "oja".
      learning_rate: a positive float (already resolved).
      n_epochs: passes over the data.
      batch_size: samples per update (``None``: the whole data set).
      seed: the initial weights (norm 0.1, random direction) and sample order.
      tol: stop once an epoch moves no weight by more than ``tol``.
      max_steps: stop after this many updates (the norm figure counts steps).
    Returns:
      (w [n_features], norms [n_steps + 1] with the initial norm first,
      epochs run, whether the norm passed :data:`BLOW_UP_NORM`).
    """
    import tensorflow as tf

    from tfgraph_lessons.core.graph import tf1

    n_samples, n_features = X.shape
    rng = np.random.RandomState(seed)
    w0 = rng.normal(size=n_features)
    w0 *= 0.1 / np.linalg.norm(w0)   # small start: Oja's norm visibly rises to 1
    batch_size = n_samples if batch_size is None else batch_size
    norms, epochs, diverged = [float(np.linalg.norm(w0))], 0, False
    with graph_session(seed) as (_, sess):
        w = tf1.get_variable("w", initializer=tf.constant(w0, tf.float64))
        # The data live in the graph; a step feeds only the rows of its batch
        # (nothing at all for a full batch), which keeps Session.run cheap.
        data = tf.constant(X, tf.float64, name="data")             # [n_samples, n_features]
        rows = tf1.placeholder_with_default(tf.range(n_samples), [None], name="rows")
        train_op = RULES[rule](w, tf.gather(data, rows), learning_rate)
        sess.run(tf1.global_variables_initializer())
        w_value = w0
        while epochs < n_epochs and not diverged:
            order = rng.permutation(n_samples) if batch_size < n_samples else None
            start_of_epoch = w_value
            for start in range(0, n_samples, batch_size):
                feed = {} if order is None else {rows: order[start:start + batch_size]}
                w_value = sess.run(train_op, feed)
                norms.append(float(np.linalg.norm(w_value)))
                diverged = not norms[-1] < BLOW_UP_NORM
                if diverged or (max_steps is not None and len(norms) > max_steps):
                    break
            epochs += 1
            if max_steps is not None and len(norms) > max_steps:
                break
            if tol is not None and np.max(np.abs(w_value - start_of_epoch)) < tol:
                break
    return np.asarray(w_value, np.float64), np.asarray(norms), epochs, diverged


def _check_settings(estimator):
    """The settings shared by both estimators, checked at ``fit`` time."""
    if estimator.batch_size is not None:
        check_positive_int(estimator.batch_size, "batch_size")
    check_positive_int(estimator.n_epochs, "n_epochs")


class HebbianNeuron(Estimator):
    """One linear neuron ``y = w . x`` trained by Hebb's or Oja's rule (a TF graph).

    The update is the graph op of :func:`hebb_rule` / :func:`oja_rule`, run
    once per batch in a Session; the loop over batches is Python. Give it
    centred data (Hebb's rule on raw data mostly learns the mean).

    Args:
      rule: "oja" (converges to the unit-norm first principal component) or
        "hebb" (the norm grows without bound; training stops once it passes
        1e30 and ``diverged_`` is True).
      learning_rate: the step, or "auto" (see :func:`_learning_rate`).
      n_epochs: passes over the data.
      batch_size: samples per update; 1 is the online rule; None, the whole
        data set (the averaged rule).
      seed: initial weights and sample order.

    Attributes:
      w_: learned weights [n_features].
      norm_history_: ``||w||`` before training and after every update.
      learning_rate_: the step used.
      n_iter_: epochs run. diverged_: whether the norm blew up.
    """

    def __init__(self, rule="oja", learning_rate="auto", n_epochs=100, batch_size=None, seed=0):
        self.rule = rule
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y=None):
        """Train the neuron on X [n_samples, n_features]; ``y`` is ignored. Returns self."""
        if self.rule not in RULES:
            raise UsageError(f"rule must be one of {sorted(RULES)}, got {self.rule!r}")
        _check_settings(self)
        X = check_array(X, "X")
        self.learning_rate_ = _learning_rate(self.learning_rate, X, self.batch_size is None)
        self.w_, self.norm_history_, self.n_iter_, self.diverged_ = _train_neuron(
            X, self.rule, self.learning_rate_, self.n_epochs, self.batch_size, self.seed)
        return self

    def transform(self, X):
        """The neuron's output ``y = X w`` as [n_samples, 1]."""
        check_fitted(self, "w_")
        X = _check_features(X, len(self.w_))
        return (X @ self.w_)[:, None]


def _check_features(X, n_features):
    """X checked and with the number of features seen in ``fit``."""
    X = check_array(X, "X")
    if X.shape[1] != n_features:
        raise UsageError(f"X: {X.shape[1]} features, but the model was fitted on "
                         f"{n_features}; give the same columns")
    return X


class OjaPCA(Estimator):
    """The first principal component found by Oja's rule, in scikit-learn's PCA shape.

    ``fit`` centres the data (as PCA does), then trains an Oja neuron
    (:func:`oja_rule`, a TF update op per batch). By default each update sees
    the whole data set, so ``w`` converges to the component instead of
    jittering around it; ``batch_size=1`` is the online rule of the paper.

    Args:
      learning_rate: the step, or "auto" (``1 / mean ||x||^2`` for full
        batches, ``1 / max ||x||^2`` otherwise).
      n_epochs: at most this many passes over the data.
      batch_size: samples per update (None: all of them).
      tol: stop when an epoch changes no weight by more than this.
      seed: initial weights and sample order.

    Attributes:
      components_: the unit direction [1, n_features] (sign chosen as
        scikit-learn does: the largest absolute entry positive).
      weight_norm_: ``||w||`` at the end (Oja's rule drives it to 1).
      mean_: the feature means removed before training.
      explained_variance_: variance of the data along the direction (ddof=1).
      explained_variance_ratio_: that variance over the total variance.
      norm_history_, n_iter_, learning_rate_: as in :class:`HebbianNeuron`.
    """

    def __init__(self, learning_rate="auto", n_epochs=2000, batch_size=None, tol=1e-7,
                 seed=0):
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.tol = tol
        self.seed = seed

    def fit(self, X, y=None):
        """Learn the first principal component of X [n_samples, n_features]. Returns self."""
        _check_settings(self)
        X = check_array(X, "X")
        mean = X.mean(axis=0)
        centred = X - mean
        lr = _learning_rate(self.learning_rate, centred, self.batch_size is None)
        w, norms, n_iter, diverged = _train_neuron(
            centred, "oja", lr, self.n_epochs, self.batch_size, self.seed, tol=self.tol)
        norm = float(np.linalg.norm(w))
        if diverged or not norm > 0:
            raise UsageError(f"learning_rate={lr:g} made Oja's rule diverge (||w|| = {norm:.3g});"
                             " use a smaller step or 'auto'")
        direction = w / norm
        direction *= np.sign(direction[np.argmax(np.abs(direction))])
        self.mean_, self.learning_rate_, self.norm_history_, self.n_iter_ = mean, lr, norms, n_iter
        self.weight_norm_, self.components_ = norm, direction[None, :]
        # What PCA reports beside the direction: the variance along it (ddof=1).
        ddof = 1 if len(X) > 1 else 0
        total = centred.var(axis=0, ddof=ddof).sum()
        self.explained_variance_ = np.array([(centred @ direction).var(ddof=ddof)])
        self.explained_variance_ratio_ = self.explained_variance_ / total if total > 0 \
            else np.zeros(1)
        return self

    def transform(self, X):
        """The projection on the component, ``(X - mean_) @ components_.T``: [n_samples, 1]."""
        check_fitted(self, "components_")
        X = _check_features(X, self.components_.shape[1])
        return (X - self.mean_) @ self.components_.T


def weight_norm_history(X, learning_rate="auto", n_steps=200, batch_size=1, seed=0):
    """``||w||`` step by step under Hebb's and Oja's rules (for the slide figure).

    Both neurons start from the same weights and see the same samples in the
    same order, so the curves differ only by Oja's forgetting term.

    Args:
      X: centred inputs [n_samples, n_features].
      learning_rate: the step, or "auto".
      n_steps: updates to record.
      batch_size: samples per update (1: the online rules).
      seed: initial weights and sample order.
    Returns:
      {"hebb": norms, "oja": norms}, each [n_steps + 1] from the initial norm
      (Hebb's stops early if it passes 1e30).
    """
    X = check_array(X, "X")
    check_positive_int(n_steps, "n_steps")
    check_positive_int(batch_size, "batch_size")
    lr = _learning_rate(learning_rate, X, full_batch=batch_size >= len(X))
    n_epochs = -(-n_steps * batch_size // len(X))   # enough passes for n_steps updates
    return {rule: _train_neuron(X, rule, lr, n_epochs, batch_size, seed,
                                max_steps=n_steps)[1] for rule in ("hebb", "oja")}


def compare(seed=0, fast=False):
    """Oja's direction against scikit-learn's PCA on the standardised wine data.

    PCA is unsupervised and has no test score, so the check is geometric: the
    angle between our component and ``PCA(n_components=1).components_[0]``
    (0 degrees for scikit-learn by definition), required within 1 degree.
    Both are fitted on the same rows: the 70% training split (stratified by
    cultivar, seeded), standardised with that split's means and deviations.

    Args:
      seed: the split and the initial weights.
      fast: unused here (the full run takes well under a second); kept for
        the shared ``compare`` signature.
    Returns:
      a one-element list with the comparison dict of the chapter's table.
    """
    from sklearn.datasets import load_wine
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    wine = load_wine()
    X_train, _ = train_test_split(wine.data, test_size=0.3, random_state=seed,
                                  stratify=wine.target)
    X_train = StandardScaler().fit_transform(X_train)
    ours, theirs = {}, {}
    with timed(ours):
        model = OjaPCA(seed=seed).fit(X_train)
    with timed(theirs):
        pca = PCA(n_components=1).fit(X_train)
    angle = angle_degrees(model.components_, pca.components_)
    passed = angle <= 1.0
    return [{
        "algorithm": "Oja's rule (Hebbian learning)",
        "dataset": f"wine (scikit-learn, 178 samples, 13 features), standardised, "
                   f"{len(X_train)}-sample training split",
        "metric": "angle to PCA's first component (degrees)",
        "ours": angle, "sklearn": 0.0,
        "ours_seconds": ours["seconds"], "sklearn_seconds": theirs["seconds"],
        "check": f"within 1 degree: {'yes' if passed else 'NO'} ({angle:.2g} degrees, "
                 f"{model.n_iter_} steps, ||w|| = {model.weight_norm_:.4f})",
        "passed": bool(passed),
    }]

