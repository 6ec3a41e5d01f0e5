"""Linear models of the slides' map: logistic regression and the LASSO, as graphs in a Session.

**Logistic regression** (softmax regression for K classes) [1, §4.3.4]. A
linear score per class, turned into probabilities by the softmax::

    logits = X W + b                       # [n, K]
    p(class k | x) = exp(logits_k) / sum_j exp(logits_j)
    loss = mean cross-entropy + (l2 / 2) ||W||^2     # the intercept b is not penalised

and trained by full-batch gradient descent: every ``Session.run(train_op)`` is
one step ``W <- W - learning_rate * dloss/dW`` on the whole training set.
scikit-learn's ``LogisticRegression(C=C)`` minimises ``C * sum cross-entropy +
||W||^2 / 2``; divide it by ``C * n`` and it is ours with ``l2 = 1 / (C * n)``,
so the two find the same optimum (``compare`` uses exactly that).

**LASSO** (Tibshirani [2]): least squares with an L1 penalty, in
scikit-learn's scaling::

    (1 / (2n)) ||y - X w - b||^2 + alpha ||w||_1

The L1 term has a kink at zero, so the minimiser sets many coefficients to
*exactly* zero: the LASSO selects features. Two solvers, both graph ops:

- **coordinate descent** [3]: minimise over one coefficient w_j at a time with
  the others fixed. That one-dimensional problem has a closed form, the
  *soft-thresholding* operator ``S(z, t) = sign(z) max(|z| - t, 0)``::

      rho_j = x_j . (r + x_j w_j) / n       # r = y - X w, the residual
      w_j   = S(rho_j, alpha) / (x_j . x_j / n)

  One sweep over j = 1..p is a ``tf.while_loop``; the sweeps are an outer
  ``tf.while_loop``, so a whole fit is one ``Session.run``.
- **proximal gradient, FISTA** [4]: a gradient step on the smooth least-squares
  part, then soft-thresholding (the proximal map of the L1 norm), with
  Nesterov's momentum on top.

Both stop when the *duality gap* (primal objective minus the dual objective
at a feasible dual point built from the residual; it bounds how far from the
optimum we are) drops below ``tol * ||y||^2 / n``, the same test scikit-learn
uses, so ``tol`` means the same thing in both. :func:`lasso_path` solves a
descending grid of alphas, each starting from the previous solution (warm
starts), for the regularisation-path figure.

As scikit-learn's ``fit_intercept=True``, X and y are centred first, w is fitted
on the centred data, and ``b = mean(y) - mean(X) . w``.

Taught in ``notebooks/01_ml_basics.ipynb``; ``compare()`` is what
``python -m tfgraph_lessons.ml_basics`` prints for these two algorithms.

[1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer 2006.
[2] R. Tibshirani, "Regression shrinkage and selection via the lasso",
    J. R. Statist. Soc. B 58(1), 1996.
[3] J. Friedman, T. Hastie, R. Tibshirani, "Regularization paths for
    generalized linear models via coordinate descent", J. Stat. Softw. 33(1), 2010.
[4] A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm
    for linear inverse problems", SIAM J. Imaging Sci. 2(1), 2009.
"""
import contextlib
import numbers
import warnings

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import (ClassifierMixin, Estimator, RegressorMixin,
                                            check_array, check_fitted, check_positive_int,
                                            check_X_y, graph_session, timed)

__all__ = ["LogisticRegression", "Lasso", "lasso_path", "soft_threshold", "compare",
           "compare_logistic", "compare_lasso"]


def _check_number(value, name, low=0.0, low_ok=False):
    """A real number > ``low`` (or >= with ``low_ok``), else a UsageError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < low or (value == low and not low_ok):
        sign = ">=" if low_ok else ">"
        raise UsageError(f"{name} must be a number {sign} {low}, got {value!r}")
    return float(value)


def _label_dtype(y):
    """Numbers keep their dtype (so NaN labels are caught); anything else (strings) is object."""
    dtype = np.asarray(y).dtype
    return dtype if dtype.kind in "iubf" else object


def _check_n_features(X, expected):
    if X.shape[1] != expected:
        raise UsageError(f"X: {X.shape[1]} features, but the model was fitted on {expected}; "
                         "give the same columns as in fit")
    return X


# --------------------------------------------------------------------------- logistic regression

class LogisticRegression(ClassifierMixin, Estimator):
    """Multinomial (softmax) logistic regression, full-batch gradient descent in a Session.

    The graph: the data as constants, ``W`` [n_features, n_classes] and ``b``
    [n_classes] from ``tf1.get_variable`` (zeros: the loss is convex, so no
    random start is needed), ``tf.nn.sparse_softmax_cross_entropy_with_logits``,
    and ``tf1.train.MomentumOptimizer(use_nesterov=True)``. Plain gradient
    descent (``momentum=0``) is the slide's method and works, but on digits it
    needs thousands of steps to reach scikit-learn's optimum; with Nesterov's
    momentum and the same step size, a few hundred reach its accuracy and
    about a thousand reach ``tol``. It is still full-batch gradient descent,
    without Adam's per-coordinate rescaling that would hide what the step size means. ``predict_proba`` is NumPy:
    one matrix product and a softmax, where a graph would teach nothing new.

    The caller standardises the features (``compare`` fits scikit-learn's
    ``StandardScaler`` on the training split only and applies it to both
    models): gradient descent converges slowly on badly scaled features.

    Args:
      l2: the L2 penalty ``(l2 / 2) ||W||^2`` (``1 / (C * n_samples)`` is
        scikit-learn's ``C``).
      learning_rate: the step size, or "auto" for ``1 / L`` with L the
        Lipschitz constant of the gradient, ``0.5 * lambda_max([X 1]^T [X 1]) / n + l2``
        (the softmax's curvature is at most 1/2): with it, every plain gradient
        step provably lowers the loss.
      momentum: Nesterov momentum in [0, 1); 0 is plain gradient descent.
      max_iter: the most gradient steps.
      tol: stop when the largest gradient entry is below this.
      seed: the graph's random seed (nothing here is random; kept for the contract).

    Fitted attributes: ``classes_`` (the sorted labels, of any type), ``coef_``
    [n_features, n_classes], ``intercept_`` [n_classes], ``n_iter_``,
    ``loss_curve_`` (the loss before each step, for the figure).
    """

    def __init__(self, l2=0.0, learning_rate="auto", momentum=0.9, max_iter=2000, tol=1e-4,
                 seed=0):
        self.l2 = l2
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def _check_settings(self):
        _check_number(self.l2, "l2", low_ok=True)
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            _check_number(self.learning_rate, "learning_rate")
        momentum = _check_number(self.momentum, "momentum", low_ok=True)
        if momentum >= 1:
            raise UsageError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_positive_int(self.max_iter, "max_iter")
        _check_number(self.tol, "tol")

    def _step_size(self, X):
        if self.learning_rate != "auto":
            return float(self.learning_rate)
        augmented = np.hstack([X, np.ones((len(X), 1))])      # the intercept is a feature of 1s
        lipschitz = 0.5 * np.linalg.norm(augmented, 2) ** 2 / len(X) + self.l2
        return 1.0 / lipschitz

    def _build_graph(self, X, labels, n_classes, learning_rate):
        """The softmax-regression graph; returns its named tensors and ops."""
        from tfgraph_lessons.core.graph import tf1
        import tensorflow as tf

        features = tf.constant(X, tf.float32, name="X")            # [n, p]
        targets = tf.constant(labels, tf.int32, name="labels")     # [n]
        with tf1.variable_scope("softmax_regression"):
            W = tf1.get_variable("weights", [X.shape[1], n_classes],
                                 initializer=tf1.zeros_initializer())
            b = tf1.get_variable("biases", [n_classes], initializer=tf1.zeros_initializer())
        logits = tf.matmul(features, W) + b                       # [n, K]
        cross_entropy = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))
        loss = cross_entropy + 0.5 * float(self.l2) * tf.reduce_sum(tf.square(W))
        if self.momentum > 0:
            optimizer = tf1.train.MomentumOptimizer(learning_rate, float(self.momentum),
                                                    use_nesterov=True)
        else:
            optimizer = tf1.train.GradientDescentOptimizer(learning_rate)
        grads_and_vars = optimizer.compute_gradients(loss, [W, b])
        # The stopping test: the largest |gradient| entry (scikit-learn's lbfgs uses the same).
        grad_max = tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(g)) for g, _ in grads_and_vars]))
        train_op = optimizer.apply_gradients(grads_and_vars)
        return {"W": W, "b": b, "loss": loss, "grad_max": grad_max, "train_op": train_op,
                "init": tf1.global_variables_initializer()}

    def fit(self, X, y):
        """Learn ``W`` and ``b`` by gradient descent on the whole of (X, y).

        Args:
          X: [n_samples, n_features] features (standardised, see the class docstring).
          y: [n_samples] labels, any values (at least two distinct).
        Returns:
          self.
        """
        self._check_settings()
        X, y = check_X_y(X, y, y_dtype=_label_dtype(y))
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise UsageError(f"y: only one class ({self.classes_[0]!r}); logistic regression "
                             "needs at least two")
        learning_rate = self._step_size(X)
        with graph_session(self.seed) as (_, sess):
            g = self._build_graph(X, labels, len(self.classes_), learning_rate)
            sess.run(g["init"])
            self.loss_curve_, self.n_iter_ = [], 0
            for _ in range(int(self.max_iter)):
                loss, grad_max, _ = sess.run([g["loss"], g["grad_max"], g["train_op"]])
                self.loss_curve_.append(float(loss))
                self.n_iter_ += 1
                if grad_max < self.tol:   # measured before this step: already converged
                    break
            else:
                warnings.warn(f"LogisticRegression: max_iter={self.max_iter} steps without "
                              f"reaching tol={self.tol} (largest gradient {grad_max:.2g}); "
                              "raise max_iter or standardise X", RuntimeWarning, stacklevel=2)
            W, b = sess.run([g["W"], g["b"]])
        self.coef_, self.intercept_ = W.astype(np.float64), b.astype(np.float64)
        self.learning_rate_ = learning_rate
        return self

    def decision_function(self, X):
        """The logits ``X W + b``, [n_samples, n_classes]."""
        check_fitted(self, "coef_")
        X = _check_n_features(check_array(X), self.coef_.shape[0])
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        """Class probabilities [n_samples, n_classes], columns in the order of ``classes_``."""
        logits = self.decision_function(X)
        logits = logits - logits.max(axis=1, keepdims=True)   # exp never overflows
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row, as a label from ``classes_``."""
        best = np.argmax(self.decision_function(X), axis=1)   # checks fit first
        return self.classes_[best]

    def score(self, X, y):
        """Accuracy; unlike the shared mixin's, it accepts labels of any type (strings too)."""
        X, y = check_X_y(X, y, y_dtype=_label_dtype(y))
        return float(np.mean(self.predict(X) == y))


# --------------------------------------------------------------------------------------- LASSO

def soft_threshold(z, threshold):
    """The soft-thresholding op ``sign(z) * max(|z| - threshold, 0)``, the L1 norm's proximal map.

    Everything within ``threshold`` of zero becomes exactly 0: that is where
    the LASSO's zeros come from. Args: ``z`` a tensor, ``threshold`` >= 0 of
    the same dtype. Returns: a tensor shaped like ``z``.
    """
    import tensorflow as tf

    return tf.sign(z) * tf.maximum(tf.abs(z) - threshold, tf.zeros_like(z))


def _duality_gap(X, y, w, residual, alpha):
    """Primal minus dual objective at w, with the dual point scaled from the residual.

    ``theta = c * r`` with ``c = min(1, alpha / max|X^T r / n|)`` is dual-feasible,
    and (scaled by 1/n) the gap is ``(1 + c^2) ||r||^2 / (2n) + alpha ||w||_1 - c r.y / n``:
    never negative, zero at the optimum (scikit-learn's ``enet_coordinate_descent``
    computes the same quantity without the 1/n).
    """
    import tensorflow as tf

    n = tf.cast(tf.shape(X)[0], X.dtype)
    correlation = tf.reduce_max(tf.abs(tf.linalg.matvec(X, residual, transpose_a=True))) / n
    c = tf.minimum(tf.ones([], X.dtype), tf.math.divide_no_nan(alpha, correlation))
    rr = tf.reduce_sum(tf.square(residual)) / n
    return (0.5 * rr * (1.0 + c * c) + alpha * tf.reduce_sum(tf.abs(w))
            - c * tf.reduce_sum(residual * y) / n)


def _coordinate_sweep(X, w, residual, alpha):
    """One cyclic pass of coordinate descent over every w_j; returns the new (w, residual)."""
    import tensorflow as tf

    n, p = tf.cast(tf.shape(X)[0], X.dtype), tf.shape(X)[1]
    squared_norms = tf.reduce_sum(tf.square(X), axis=0) / n     # [p], x_j . x_j / n

    def update(j, w, r):
        x_j, w_j = X[:, j], w[j]
        rho = tf.tensordot(x_j, r, 1) / n + w_j * squared_norms[j]   # fit of x_j to r + x_j w_j
        w_new = tf.math.divide_no_nan(soft_threshold(rho, alpha), squared_norms[j])  # 0-column: 0
        r = r + x_j * (w_j - w_new)                                  # keep r = y - X w
        return j + 1, tf.tensor_scatter_nd_update(w, [[j]], [w_new]), r

    _, w, residual = tf.while_loop(lambda j, w, r: j < p, update, [tf.constant(0), w, residual])
    return w, residual


def _build_lasso_graph(X, y, method, lipschitz):
    """The whole LASSO solve as one op: ``Session.run(g["solve"], {alpha, tol, max_iter})``.

    ``coef`` is a variable, so solving again at another alpha starts from the
    last solution (the path's warm start). X, y are centred, float64 (1e-4 on
    coefficients in the hundreds needs double precision).
    """
    from tfgraph_lessons.core.graph import tf1
    import tensorflow as tf

    f64 = tf.float64
    X, y = tf.constant(X, f64, name="X"), tf.constant(y, f64, name="y")
    alpha = tf1.placeholder(f64, [], name="alpha")
    tol = tf1.placeholder(f64, [], name="tol")
    max_iter = tf1.placeholder(tf.int32, [], name="max_iter")
    coef = tf1.get_variable("coef", [X.shape[1]], f64, initializer=tf1.zeros_initializer())
    n = tf.cast(tf.shape(X)[0], f64)
    threshold = tol * tf.reduce_sum(tf.square(y)) / n

    def residual(w):
        return y - tf.linalg.matvec(X, w)

    def coordinate(it, w, v, t, gap):
        w, r = _coordinate_sweep(X, w, residual(w), alpha)
        return it + 1, w, v, t, _duality_gap(X, y, w, r, alpha)

    def fista(it, w, v, t, gap):
        gradient = -tf.linalg.matvec(X, residual(v), transpose_a=True) / n   # of the smooth part
        w_next = soft_threshold(v - gradient / lipschitz, alpha / lipschitz)  # the prox step
        t_next = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        v_next = w_next + ((t - 1.0) / t_next) * (w_next - w)   # Nesterov's extrapolation
        return it + 1, w_next, v_next, t_next, _duality_gap(X, y, w_next, residual(w_next), alpha)

    start = coef.read_value()
    it, w, _, _, gap = tf.while_loop(
        lambda it, w, v, t, gap: tf.logical_and(it < max_iter, gap > threshold),
        coordinate if method == "coordinate" else fista,
        [tf.constant(0), start, start, tf.ones([], f64), tf.constant(np.inf, f64)])
    with tf.control_dependencies([tf1.assign(coef, w)]):
        solve = {"n_iter": tf.identity(it), "gap": tf.identity(gap), "coef": tf.identity(w)}
    return {"alpha": alpha, "tol": tol, "max_iter": max_iter, "coef": coef, "solve": solve,
            "threshold": threshold, "init": tf1.global_variables_initializer()}


@contextlib.contextmanager
def _lasso_solver(X, y, method, seed=0):
    """Centre (X, y), open the LASSO graph: ``with _lasso_solver(..) as (solve, X_mean, y_mean)``.

    ``solve(alpha, tol, max_iter)`` returns ``(coef, n_iter, gap, threshold)`` and
    keeps the coefficients for the next call.
    """
    X_mean, y_mean = X.mean(axis=0), y.mean()
    Xc, yc = X - X_mean, y - y_mean
    # FISTA's step 1/L, L = lambda_max(Xc^T Xc) / n: the gradient's Lipschitz constant.
    lipschitz = max(np.linalg.norm(Xc, 2) ** 2 / len(X), 1e-300)
    with graph_session(seed) as (_, sess):
        g = _build_lasso_graph(Xc, yc, method, lipschitz)
        sess.run(g["init"])

        def solve(alpha, tol, max_iter):
            out, threshold = sess.run([g["solve"], g["threshold"]],
                                      {g["alpha"]: alpha, g["tol"]: tol, g["max_iter"]: max_iter})
            return out["coef"], int(out["n_iter"]), float(out["gap"]), float(threshold)

        yield solve, X_mean, y_mean


_METHODS = ("coordinate", "proximal")


def _check_lasso_settings(alpha, max_iter, tol, method):
    _check_number(alpha, "alpha")
    check_positive_int(max_iter, "max_iter")
    _check_number(tol, "tol")
    if method not in _METHODS:
        raise UsageError(f"method must be one of {_METHODS}, got {method!r}")


class Lasso(RegressorMixin, Estimator):
    """L1-penalised least squares (scikit-learn's objective), solved by a TensorFlow graph.

    See the module docstring for the objective, the two solvers and the
    duality-gap stopping test. A fit is one ``Session.run`` of a
    ``tf.while_loop``; ``predict`` is NumPy (``X w + b``).

    Args:
      alpha: the L1 weight, > 0 (for alpha = 0 use ordinary least squares).
      max_iter: the most sweeps (coordinate) or proximal steps (proximal).
      tol: stop when the duality gap < ``tol * ||y - mean(y)||^2 / n``. scikit-learn's
        default 1e-4 leaves coefficients off by more than 1e-4 on load_diabetes;
        1e-10 or lower makes ours and scikit-learn's agree far below it.
      method: "coordinate" (coordinate descent) or "proximal" (FISTA).

    Fitted attributes: ``coef_`` [n_features] (exact zeros), ``intercept_``,
    ``n_iter_``, ``dual_gap_`` (the final gap, scaled by 1/n).
    """

    def __init__(self, alpha=1.0, max_iter=1000, tol=1e-4, method="coordinate"):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.method = method

    def fit(self, X, y):
        """Fit w on centred data, then ``intercept_ = mean(y) - mean(X) . w``. Returns self."""
        _check_lasso_settings(self.alpha, self.max_iter, self.tol, self.method)
        X, y = check_X_y(X, y)
        with _lasso_solver(X, y, self.method) as (solve, X_mean, y_mean):
            coef, self.n_iter_, self.dual_gap_, threshold = solve(self.alpha, self.tol,
                                                                  self.max_iter)
        if self.dual_gap_ > threshold:
            warnings.warn(f"Lasso: max_iter={self.max_iter} without reaching tol={self.tol} "
                          f"(duality gap {self.dual_gap_:.2g}); raise max_iter",
                          RuntimeWarning, stacklevel=2)
        self.coef_ = coef
        self.intercept_ = float(y_mean - X_mean @ coef)
        return self

    def predict(self, X):
        """``X coef_ + intercept_``, [n_samples]."""
        check_fitted(self, "coef_")
        X = _check_n_features(check_array(X), len(self.coef_))
        return X @ self.coef_ + self.intercept_


def lasso_path(X, y, alphas=None, n_alphas=100, eps=1e-3, method="coordinate", tol=1e-8,
               max_iter=10000):
    """The regularisation path: the LASSO's coefficients along a descending grid of alphas.

    Starts at ``alpha_max = max |Xc^T yc| / n``, the smallest alpha whose
    solution is all zeros, and goes down a log grid to ``eps * alpha_max``;
    each solve starts from the previous one's coefficients (warm start), so
    the whole path costs little more than one fit at the smallest alpha.
    X and y are centred as in :class:`Lasso`, so column i equals
    ``Lasso(alphas[i]).fit(X, y).coef_``.

    Args:
      X: [n_samples, n_features]; y: [n_samples].
      alphas: the alphas to solve (sorted descending here), or None for the grid.
      n_alphas, eps: the grid's length and its smallest alpha relative to alpha_max.
      method, tol, max_iter: as in :class:`Lasso`.
    Returns:
      (alphas [n_alphas] descending, coefs [n_features, n_alphas]).
    """
    X, y = check_X_y(X, y)
    if alphas is None:
        check_positive_int(n_alphas, "n_alphas")
        _check_number(eps, "eps")
        alpha_max = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(X)
        if alpha_max == 0:
            raise UsageError("y: constant, or uncorrelated with every column of X; the path "
                             "is all zeros")
        alphas = np.geomspace(alpha_max, alpha_max * eps, n_alphas)
    else:
        alphas = np.sort(check_array(alphas, "alphas", ndim=1))[::-1]
    for a in alphas:
        _check_lasso_settings(a, max_iter, tol, method)
    coefs = np.zeros((X.shape[1], len(alphas)))
    with _lasso_solver(X, y, method) as (solve, _, _):
        for i, a in enumerate(alphas):
            coefs[:, i] = solve(float(a), tol, max_iter)[0]   # warm: coef stays in the variable
    return alphas, coefs


# ------------------------------------------------------------------------- against scikit-learn

_CLASSIFICATION_DATA = {
    "digits": ("load_digits", "digits (scikit-learn, 1,797 8x8 images, 10 classes)"),
    "breast_cancer": ("load_breast_cancer", "breast cancer (scikit-learn, 569 samples, 2 classes)"),
    "wine": ("load_wine", "wine (scikit-learn, 178 samples, 3 classes)"),
    "iris": ("load_iris", "iris (scikit-learn, 150 samples, 3 classes)"),
}


def compare_logistic(dataset="digits", seed=0, fast=False):
    """Ours against ``sklearn.linear_model.LogisticRegression(C=1)`` on one data set.

    Same standardised split for both (StandardScaler fitted on the 70%
    training part), ours with ``l2 = 1 / n_train`` so both minimise the same
    objective. ``fast`` keeps a stratified half of digits before splitting.
    Returns one row of :func:`compare` (``passed``: within 2 accuracy points).
    """
    import sklearn.datasets
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if dataset not in _CLASSIFICATION_DATA:
        raise UsageError(f"dataset must be one of {sorted(_CLASSIFICATION_DATA)}, got {dataset!r}")
    loader, description = _CLASSIFICATION_DATA[dataset]
    X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    if fast and dataset == "digits":
        X, _, y, _ = train_test_split(X, y, train_size=0.5, random_state=seed, stratify=y)
        description += ", a stratified half (fast)"
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ours, theirs = {}, {}
    with timed(ours):
        model = LogisticRegression(l2=1.0 / len(X_train), seed=seed).fit(X_train, y_train)
        ours["accuracy"] = float(np.mean(model.predict(X_test) == y_test))
    with timed(theirs):
        reference = SkLogisticRegression(C=1.0, max_iter=1000).fit(X_train, y_train)
        theirs["accuracy"] = float(np.mean(reference.predict(X_test) == y_test))
    points = 100 * abs(ours["accuracy"] - theirs["accuracy"])
    return {"algorithm": "logistic regression", "dataset": f"{description}, 30% held out",
            "metric": "test accuracy", "ours": ours["accuracy"], "sklearn": theirs["accuracy"],
            "ours_seconds": ours["seconds"], "sklearn_seconds": theirs["seconds"],
            "check": f"within 2 points: {'yes' if points <= 2 else 'no'} ({points:.1f}); "
                     f"{model.n_iter_} steps",
            "passed": bool(points <= 2)}


def compare_lasso(seed=0, fast=False, alphas=(0.01, 0.1, 1.0), tol=1e-12):
    """Ours against ``sklearn.linear_model.Lasso`` on diabetes, several alphas, the same tol.

    Both fit the 70% training split at each alpha with ``tol`` (1e-12: tight
    enough that both solvers are converged far below the 1e-4 asked for);
    the check is the largest |coefficient difference| (intercepts included)
    and identical zero patterns at every alpha. ``ours``/``sklearn`` are the
    test R^2 at the middle alpha. The data are small, so ``fast`` changes nothing.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso as SkLasso
    from sklearn.model_selection import train_test_split

    del fast   # 442 samples: the full comparison takes about a second
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
    ours, theirs, worst, same_zeros, r2 = {}, {}, 0.0, True, {}
    with timed(ours):
        mine = [Lasso(a, max_iter=100000, tol=tol).fit(X_train, y_train) for a in alphas]
        r2["ours"] = mine[len(alphas) // 2].score(X_test, y_test)
    with timed(theirs):
        refs = [SkLasso(alpha=a, max_iter=100000, tol=tol).fit(X_train, y_train) for a in alphas]
        r2["sklearn"] = float(refs[len(alphas) // 2].score(X_test, y_test))
    for m, r in zip(mine, refs):
        worst = max(worst, np.max(np.abs(m.coef_ - r.coef_)), abs(m.intercept_ - r.intercept_))
        same_zeros &= bool(np.array_equal(m.coef_ == 0, r.coef_ == 0))
    passed = bool(worst <= 1e-4 and same_zeros)
    zeros = "/".join(str(int(np.sum(m.coef_ == 0))) for m in mine)
    return {"algorithm": "LASSO",
            "dataset": "diabetes (scikit-learn, 442 samples, 10 features), 30% held out",
            "metric": f"test R^2 (alpha={alphas[len(alphas) // 2]:g})",
            "ours": r2["ours"], "sklearn": r2["sklearn"],
            "ours_seconds": ours["seconds"], "sklearn_seconds": theirs["seconds"],
            "check": f"coefficients within 1e-4 and same zeros ({zeros} of 10) at alpha "
                     f"{', '.join(f'{a:g}' for a in alphas)}: {'yes' if passed else 'no'} "
                     f"(max |difference| {worst:.1e})",
            "passed": passed}


def compare(seed=0, fast=False):
    """Both linear models against scikit-learn: logistic regression on digits, LASSO on diabetes.

    Returns:
      a list of two dicts with the keys the lesson's table reads (see
      :func:`compare_logistic` and :func:`compare_lasso`).
    """
    return [compare_logistic("digits", seed=seed, fast=fast), compare_lasso(seed=seed, fast=fast)]
