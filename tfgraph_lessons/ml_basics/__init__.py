"""Chapter 1: the machine-learning map's classical algorithms, each with scikit-learn's shape.

Supervised: :class:`LogisticRegression` and :class:`Lasso` (:mod:`.linear`),
:class:`KNeighborsClassifier` (:mod:`.neighbors`), :class:`DecisionTreeClassifier`
(CART, :mod:`.tree`). Unsupervised: :class:`KMeans` (:mod:`.cluster`),
:class:`BernoulliRBM` (a restricted Boltzmann machine, :mod:`.rbm`), Hebb's and
Oja's rules (:class:`OjaPCA`, :mod:`.hebbian`), :func:`apriori` and
:func:`association_rules` (:mod:`.apriori`). Each builds and runs its TensorFlow
graph inside ``fit`` (or says why it is NumPy); ``python -m tfgraph_lessons.ml_basics``
compares every one with scikit-learn's counterpart (:mod:`.lesson`).
"""
from tfgraph_lessons.ml_basics.apriori import apriori, association_rules
from tfgraph_lessons.ml_basics.cluster import KMeans
from tfgraph_lessons.ml_basics.hebbian import HebbianNeuron, OjaPCA, hebb_rule, oja_rule
from tfgraph_lessons.ml_basics.linear import Lasso, LogisticRegression, lasso_path
from tfgraph_lessons.ml_basics.neighbors import KNeighborsClassifier
from tfgraph_lessons.ml_basics.rbm import BernoulliRBM
from tfgraph_lessons.ml_basics.tree import DecisionTreeClassifier

__all__ = ["LogisticRegression", "Lasso", "lasso_path", "KNeighborsClassifier", "KMeans",
           "DecisionTreeClassifier", "apriori", "association_rules", "BernoulliRBM",
           "HebbianNeuron", "OjaPCA", "hebb_rule", "oja_rule", "ALGORITHMS", "main",
           "parse_config", "run"]


def __getattr__(name):
    """The lesson's entry points (ALGORITHMS, main, parse_config, run), imported on first use, so that
    ``python -m tfgraph_lessons.ml_basics.lesson`` does not find its module already imported."""
    if name in ('ALGORITHMS', 'main', 'parse_config', 'run'):
        from tfgraph_lessons.ml_basics import lesson

        return getattr(lesson, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
