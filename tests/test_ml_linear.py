"""Logistic regression and the LASSO (ml_basics.linear) against NumPy and scikit-learn.

Each graph is checked against a reference computed another way: one gradient
step against the NumPy gradient, the fitted softmax model against
scikit-learn's LogisticRegression at the same objective, the LASSO's
coefficients and zeros against scikit-learn's Lasso and lasso_path on the real
diabetes data, soft-thresholding against its NumPy formula.
"""
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.preprocessing import StandardScaler

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics import linear
from tfgraph_lessons.ml_basics.linear import Lasso, LogisticRegression, lasso_path

TIGHT = 1e-12   # the tolerance at which ours and scikit-learn's LASSO agree far below 1e-4
KEYS = {"algorithm", "dataset", "metric", "ours", "sklearn", "ours_seconds", "sklearn_seconds",
        "check", "passed"}


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _softmax_gradient(X, y, W, b, l2):
    """NumPy gradient of mean cross-entropy + (l2/2)||W||^2: X^T (p - onehot) / n + l2 W."""
    logits = X @ W + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return X.T @ p / len(y) + l2 * W, p.mean(0)


# ------------------------------------------------------------------------ logistic regression

def test_one_gradient_step_equals_numpy(wine):
    X, y = wine
    lr, l2 = 0.3, 0.05
    model = LogisticRegression(l2=l2, learning_rate=lr, momentum=0.0, max_iter=1, tol=1e-12)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        model.fit(X, y)
    grad_W, grad_b = _softmax_gradient(X, y, np.zeros((13, 3)), np.zeros(3), l2)
    np.testing.assert_allclose(model.coef_, -lr * grad_W, atol=1e-6)     # from W = 0
    np.testing.assert_allclose(model.intercept_, -lr * grad_b, atol=1e-6)
    assert model.n_iter_ == 1 and model.loss_curve_[0] == pytest.approx(np.log(3), rel=1e-6)


def test_same_optimum_as_sklearn_with_l2_equal_1_over_Cn(wine):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y = wine
    ours = LogisticRegression(l2=1.0 / len(X), tol=1e-5).fit(X, y)
    theirs = SkLogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    assert ours.coef_.shape == (13, 3) and ours.n_iter_ < ours.max_iter
    # The L2 penalty fixes the softmax's free shift of W, so the weights match;
    # the unpenalised intercepts are free up to a constant, so compare probabilities.
    np.testing.assert_allclose(ours.coef_, theirs.coef_.T, atol=2e-3)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3)


def test_labels_of_any_type_probabilities_and_curve(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    model = LogisticRegression(l2=0.01).fit(X, names)
    assert list(model.classes_) == ["barbera", "barolo", "grignolino"]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    assert list(model.predict(X)) == list(model.classes_[proba.argmax(1)])
    assert model.score(X, names) > 0.95 and model.score(X, names[::-1]) < 0.6
    curve = np.array(model.loss_curve_)
    assert len(curve) == model.n_iter_ and curve[-1] < 0.2 * curve[0]
    codes = np.array([-5, 7, 100])          # integer labels that are not 0..K-1
    base = LogisticRegression(l2=0.01, max_iter=200).fit(X, y)
    shifted = LogisticRegression(l2=0.01, max_iter=200).fit(X, codes[y])
    np.testing.assert_array_equal(shifted.classes_, codes)
    np.testing.assert_array_equal(shifted.predict(X), codes[base.predict(X)])


def test_l2_shrinks_the_weights(wine):
    X, y = wine
    weak = LogisticRegression(l2=0.001).fit(X, y)
    strong = LogisticRegression(l2=0.5).fit(X, y)
    assert np.linalg.norm(strong.coef_) < 0.5 * np.linalg.norm(weak.coef_)


def test_logistic_within_2_points_on_breast_cancer():
    row = linear.compare_logistic("breast_cancer", seed=0)
    assert row["passed"] and abs(row["ours"] - row["sklearn"]) <= 0.02
    assert row["ours"] > 0.9


# --------------------------------------------------------------------------------------- LASSO

def test_soft_threshold_is_exact_zero_inside_the_band():
    from tfgraph_lessons.ml_basics.base import graph_session

    z = np.array([-3.0, -1.0, -0.5, 0.0, 0.2, 1.0, 2.5])
    with graph_session(0) as (_, sess):
        out = sess.run(linear.soft_threshold(z, np.float64(1.0)))
    np.testing.assert_array_equal(out, np.sign(z) * np.maximum(np.abs(z) - 1.0, 0.0))
    assert np.sum(out == 0) == 5     # |z| <= 1: -1, -0.5, 0, 0.2, 1


# alpha = 0.01 (the slow one: 1,300 sweeps) is covered by compare() on the training split.
@pytest.mark.parametrize("method,alphas", [("coordinate", (0.05, 0.5, 1.0)),
                                           ("proximal", (0.05, 1.0))])
def test_lasso_equals_sklearn_coefficients_and_zeros(diabetes, method, alphas):
    from sklearn.linear_model import Lasso as SkLasso

    X, y = diabetes
    for alpha in alphas:
        ours = Lasso(alpha, tol=TIGHT, max_iter=100000, method=method).fit(X, y)
        theirs = SkLasso(alpha=alpha, tol=TIGHT, max_iter=100000).fit(X, y)
        assert np.max(np.abs(ours.coef_ - theirs.coef_)) < 1e-4, (method, alpha)
        assert abs(ours.intercept_ - theirs.intercept_) < 1e-4
        np.testing.assert_array_equal(ours.coef_ == 0, theirs.coef_ == 0)
        assert ours.n_iter_ < 100000
        assert ours.dual_gap_ <= TIGHT * np.sum((y - y.mean()) ** 2) / len(y)
    assert np.sum(ours.coef_ == 0) >= 5   # alpha = 1 on diabetes: most coefficients exactly 0


def test_intercept_is_fitted_on_centred_data(diabetes):
    from sklearn.linear_model import Lasso as SkLasso

    X, y = diabetes
    shifted = X + np.linspace(-3.0, 5.0, 10)     # load_diabetes is centred; this X is not
    ours = Lasso(0.5, tol=TIGHT, max_iter=100000).fit(shifted, y)
    theirs = SkLasso(alpha=0.5, tol=TIGHT, max_iter=100000).fit(shifted, y)
    assert abs(ours.intercept_ - theirs.intercept_) < 1e-4 and abs(ours.intercept_ - y.mean()) > 1
    np.testing.assert_allclose(ours.coef_, Lasso(0.5, tol=TIGHT).fit(X, y).coef_, atol=1e-6)


def test_default_tol_stops_early_and_tight_tol_converges(diabetes):
    X, y = diabetes
    loose = Lasso(0.1).fit(X, y)
    tight = Lasso(0.1, tol=TIGHT, max_iter=100000).fit(X, y)
    assert loose.n_iter_ < tight.n_iter_
    assert loose.dual_gap_ > tight.dual_gap_ >= 0


def test_lasso_score_is_r2_on_held_out_data(diabetes):
    from sklearn.metrics import r2_score

    X, y = diabetes
    model = Lasso(0.1, tol=1e-8).fit(X[:300], y[:300])
    assert model.score(X[300:], y[300:]) == pytest.approx(
        r2_score(y[300:], X[300:] @ model.coef_ + model.intercept_), abs=1e-12)


def test_lasso_path_equals_sklearn_path_with_warm_starts(diabetes):
    from sklearn.linear_model import lasso_path as sk_lasso_path

    X, y = diabetes
    alphas, coefs = lasso_path(X, y, n_alphas=8, eps=1e-2, tol=TIGHT, max_iter=100000)
    Xc, yc = X - X.mean(0), y - y.mean()
    assert alphas[0] == pytest.approx(np.max(np.abs(Xc.T @ yc)) / len(y))
    assert np.all(np.diff(alphas) < 0) and coefs.shape == (10, 8)
    nonzero = np.sum(coefs != 0, axis=0)
    assert nonzero[0] == 0 and nonzero[-1] >= 8    # alpha_max: all zero; features enter as it falls
    _, sk_coefs, _ = sk_lasso_path(Xc, yc, alphas=alphas, tol=TIGHT, max_iter=100000)
    assert np.max(np.abs(coefs - sk_coefs)) < 1e-4
    np.testing.assert_array_equal(coefs == 0, sk_coefs == 0)


# ------------------------------------------------------------------------------ compare, inputs

def test_compare_rows_pass_the_requirements():
    rows = linear.compare(seed=0, fast=True)
    assert [r["algorithm"] for r in rows] == ["logistic regression", "LASSO"]
    for row in rows:
        assert set(row) == KEYS and row["passed"] is True, row
        assert all(isinstance(row[k], float) for k in ("ours", "sklearn", "ours_seconds",
                                                        "sklearn_seconds"))
    assert abs(rows[0]["ours"] - rows[0]["sklearn"]) <= 0.02 and rows[0]["ours"] > 0.9
    assert rows[1]["ours"] == pytest.approx(rows[1]["sklearn"], abs=1e-4)


@pytest.mark.filterwarnings("ignore:.*max_iter")
@pytest.mark.parametrize("make", [LogisticRegression, Lasso])
def test_bad_input_names_the_argument(make):
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(UsageError, match="X: empty"):
        make().fit(np.zeros((0, 3)), [])
    with pytest.raises(UsageError, match="y: 19 labels for 20 samples"):
        make().fit(X, y[:19])
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(UsageError, match="X: NaN"):
        make().fit(bad, y)
    with pytest.raises(UsageError, match="not fitted"):
        make().predict(X)
    with pytest.raises(UsageError, match="max_iter"):
        make(max_iter=0).fit(X, y)
    with pytest.raises(UsageError, match="X: 2 features"):
        make(max_iter=5).fit(X, y).predict(X[:, :2])


def test_bad_settings_name_the_argument():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    for model, name in [(LogisticRegression(l2=-1), "l2"),
                        (LogisticRegression(learning_rate=0), "learning_rate"),
                        (LogisticRegression(momentum=1.0), "momentum"),
                        (LogisticRegression(tol=-1), "tol"),
                        (Lasso(alpha=0), "alpha"), (Lasso(alpha=np.nan), "alpha"),
                        (Lasso(method="lars"), "method")]:
        with pytest.raises(UsageError, match=name):
            model.fit(X, y)
    with pytest.raises(UsageError, match="y: NaN"):
        LogisticRegression().fit(X, np.where(np.arange(20) == 3, np.nan, 1.0))
    with pytest.raises(UsageError, match="y: only one class"):
        LogisticRegression().fit(X, np.zeros(20))
    with pytest.raises(UsageError, match="alpha"):
        lasso_path(X, y, alphas=[0.1, -1.0])
