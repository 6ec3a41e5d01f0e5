"""What every estimator of chapter 1 shares: scikit-learn's shape, the input checks, a Session.

Each algorithm of the slides' machine-learning map is a class with
scikit-learn's interface, so a student can put ours and scikit-learn's side
by side with the same lines::

    model = LogisticRegression(l2=1e-3).fit(X_train, y_train)
    model.predict(X_test)           # NumPy in, NumPy out
    model.score(X_test, y_test)     # accuracy (classifiers) or R^2 (regressors)

Conventions (scikit-learn's): settings go to ``__init__`` and are stored
unchanged; what ``fit`` learns ends with an underscore (``coef_``,
``cluster_centers_``); ``fit`` returns ``self``. Inside, an estimator builds its
TensorFlow graph in a fresh ``tf.Graph`` (:func:`graph_session`) and runs it in
a Session; where a graph would teach nothing (a tree's recursive splits,
Apriori's counting) it is plain NumPy, and its docstring says so.

Bad input raises :class:`~tfgraph_lessons.core.errors.UsageError` (a
``ValueError``) with one line naming the argument: an empty array, labels that
do not match the samples, NaN or infinite features, ``k`` larger than the data,
``predict`` before ``fit``.
"""
import contextlib
import time

import numpy as np

from tfgraph_lessons.core.errors import UsageError

__all__ = ["Estimator", "ClassifierMixin", "RegressorMixin", "check_array", "check_X_y",
           "check_positive_int", "check_fitted", "graph_session", "timed", "comparison_digits"]


def check_array(X, name="X", ndim=2, dtype=np.float64, allow_empty=False):
    """``X`` as a finite ``dtype`` array of ``ndim`` dimensions, or a UsageError naming ``name``."""
    try:
        X = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{name}: not a numeric array ({e}); give numbers") from None
    if X.ndim != ndim:
        shape = "[n_samples, n_features]" if ndim == 2 else "[n_samples]"
        raise UsageError(f"{name}: expected a {ndim}-D array {shape}, got shape {X.shape}")
    if not allow_empty and (X.shape[0] == 0 or (ndim == 2 and X.shape[1] == 0)):
        raise UsageError(f"{name}: empty array (shape {X.shape}); fit and predict need at "
                         "least one sample and one feature")
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise UsageError(f"{name}: NaN or infinite value at index {tuple(int(i) for i in bad)}; "
                         "drop or impute those samples first")
    return X


def check_X_y(X, y, y_dtype=None):
    """Both checked, and as many labels as samples."""
    X = check_array(X, "X")
    y = check_array(y, "y", ndim=1, dtype=y_dtype or np.float64)
    if len(y) != len(X):
        raise UsageError(f"y: {len(y)} labels for {len(X)} samples in X; give one label per row")
    return X, y


def check_positive_int(value, name, upper=None, upper_name="the number of samples"):
    """A whole number >= 1 (and <= ``upper``), else a UsageError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{name} must be a whole number >= 1, got {value!r}")
    if upper is not None and value > upper:
        raise UsageError(f"{name}={value} is larger than {upper_name} ({upper}); "
                         f"use at most {upper}")
    return int(value)


def check_fitted(estimator, attribute):
    """``predict`` before ``fit`` is a UsageError that says so."""
    if getattr(estimator, attribute, None) is None:
        raise UsageError(f"{type(estimator).__name__} is not fitted yet; call fit(X, y) "
                         "before predict, transform or score")


@contextlib.contextmanager
def graph_session(seed=None):
    """A fresh graph and a Session on it: ``with graph_session(0) as (graph, sess):``.

    Estimators build every graph here, never in the default graph, so a notebook
    can refit and re-run cells in any order.
    """
    from tfgraph_lessons.core.graph import new_graph, tf1

    with new_graph(seed=seed) as graph:
        with tf1.Session(graph=graph) as sess:
            yield graph, sess


@contextlib.contextmanager
def timed(into, key="seconds"):
    """``with timed(result):`` stores the block's wall time in ``result[key]``."""
    start = time.perf_counter()
    yield into
    into[key] = time.perf_counter() - start


class Estimator:
    """scikit-learn's estimator contract: settings in ``__init__``, ``get_params``, ``repr``."""

    def get_params(self):
        """The constructor's settings, as scikit-learn's ``get_params(deep=False)``."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class ClassifierMixin:
    """``score`` = accuracy of ``predict``."""

    def score(self, X, y):
        X = check_array(X, "X")
        y = np.asarray(y)                   # any label values: ints, strings
        if y.ndim != 1 or len(y) != len(X):
            raise UsageError(f"y: {y.shape} labels for {len(X)} samples in X; give one "
                             "label per row")
        return float(np.mean(self.predict(X) == y))


class RegressorMixin:
    """``score`` = the coefficient of determination R^2 of ``predict``."""

    def score(self, X, y):
        X, y = check_X_y(X, y)
        residual = np.sum((y - self.predict(X)) ** 2)
        total = np.sum((y - y.mean()) ** 2)
        return float(1.0 - residual / total) if total > 0 else 0.0


def comparison_digits(seed=0, fast=False):
    """scikit-learn's 1,797 digits for a ``compare``, or with ``fast`` a stratified
    600-image subset: ``(X, y, dataset)``, the last naming what was used."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    if not fast:
        return X, y, "digits (scikit-learn, 1,797 8x8 images), 30% held out"
    X, _, y, _ = train_test_split(X, y, train_size=600, random_state=seed, stratify=y)
    return X, y, "digits (a stratified 600-image subset of scikit-learn's 1,797), 30% held out"
