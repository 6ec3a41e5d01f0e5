"""Chapter 1 figures, drawn from the chapter's own list and estimators.

* ``ml_map``: the slides' machine-learning map, generated from
  :data:`tfgraph_lessons.ml_basics.lesson.ALGORITHMS` (each box says where the
  library teaches it; a box the slide puts on the other side is marked);
* ``kmeans_steps``: Lloyd's algorithm on two features of the iris flowers, the
  assignment and the centres after each step (:class:`~tfgraph_lessons.ml_basics.cluster.KMeans`);
* ``rbm_features``: what a restricted Boltzmann machine trained with CD-1 on
  binarised digits learned (its weights as images) and its reconstructions;
* ``lasso_path``: LASSO's coefficients against the penalty, reaching exact zeros;
* ``hebb_vs_oja``: the weight norm under Hebb's rule (grows without bound) and
  Oja's rule (settles at 1).

All data ships with scikit-learn: every figure works offline.
"""
import numpy as np

from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.figures import register

COLORS = {"supervised": "#d8e8f8", "unsupervised": "#e4f4dc", "reinforcement": "#fbe7cf"}


@register("ml_map", "the machine-learning map of the slides, from the library's list of "
                    "algorithms", figsize=(10.0, 5.6))
def ml_map_figure():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from tfgraph_lessons.ml_basics.lesson import ALGORITHMS

    groups = ("supervised", "unsupervised", "reinforcement")
    fig, ax = plt.subplots()
    ax.set(xlim=(0, 3), ylim=(0, 1), xticks=[], yticks=[])
    ax.set_axis_off()
    for col, group in enumerate(groups):
        members = [a for a in ALGORITHMS if a.learning == group]
        ax.text(col + 0.5, 0.96, f"{group} learning", ha="center", va="top",
                fontsize=13, weight="bold")
        step = min(0.11, 0.76 / max(len(members), 1))   # leaves room for the footnote
        for i, a in enumerate(members):
            y = 0.86 - (i + 1) * step
            moved = a.slide != a.learning
            ax.add_patch(FancyBboxPatch((col + 0.06, y), 0.88, step * 0.82,
                                        boxstyle="round,pad=0.005", facecolor=COLORS[group],
                                        edgecolor="tab:red" if moved else "#888888",
                                        linewidth=1.5 if moved else 0.8))
            ax.text(col + 0.1, y + step * 0.52, a.name + (" *" if moved else ""),
                    fontsize=10, va="center", weight="bold")
            ax.text(col + 0.1, y + step * 0.2, a.where, fontsize=7.5, va="center",
                    color="#444444")
    moved = [a for a in ALGORITHMS if a.slide != a.learning]
    ax.text(0.02, 0.0, "\n".join(f"* the slide lists {a.name} under {a.slide} learning; "
                                  f"{a.note}" for a in moved), fontsize=8, va="bottom")
    return fig


@register("kmeans_steps", "K-means step by step: assign each point to its nearest centre, "
                          "move each centre to its points' mean", figsize=(11.0, 3.4))
def kmeans_steps_figure():
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_iris

    from tfgraph_lessons.ml_basics.cluster import KMeans

    X = load_iris().data[:, 2:4]                       # petal length, petal width (cm)
    model = KMeans(n_clusters=3, init="random", n_init=1, seed=4, record_history=True).fit(X)
    steps = model.history_
    shown = sorted({0, 1, 2, len(steps) - 1})
    fig, axes = plt.subplots(1, len(shown), sharex=True, sharey=True)
    for ax, k in zip(axes, shown):
        centers, labels = steps[k]
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=CMAPS["labels"], s=10, alpha=0.8)
        ax.scatter(centers[:, 0], centers[:, 1], marker="X", s=160, c="tab:red",
                   edgecolors="white")
        ax.set_title("start: random centres" if k == 0 else
                     f"step {k}" + (" (converged)" if k == len(steps) - 1 else ""))
        ax.set_xlabel("petal length (cm)")
    axes[0].set_ylabel("petal width (cm)")
    fig.suptitle(f"K-means (k = 3) on the iris flowers: inertia {model.inertia_:.1f} after "
                 f"{len(steps) - 1} steps", fontsize=11)
    return fig


@register("rbm_features", "a restricted Boltzmann machine (CD-1) on binarised digits: its "
                          "learned features and reconstructions", figsize=(10.0, 5.0))
def rbm_features_figure():
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    from tfgraph_lessons.ml_basics.rbm import BernoulliRBM

    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    rbm = BernoulliRBM(n_components=36, learning_rate=0.05, n_iter=20, seed=0).fit(X)
    fig = plt.figure()
    left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.0])
    feats = left.subplots(6, 6)
    for ax, w in zip(feats.ravel(), rbm.components_):
        ax.imshow(w.reshape(8, 8), cmap=CMAPS["signed"])
        ax.set_axis_off()
    left.suptitle("36 hidden units' weights", fontsize=11)
    rec = right.subplots(2, 6)
    shown = X[:6]
    for i in range(6):
        rec[0, i].imshow(shown[i].reshape(8, 8), cmap=CMAPS["image"])
        rec[1, i].imshow(rbm.reconstruct(shown[i:i + 1]).reshape(8, 8), cmap=CMAPS["image"])
        rec[0, i].set_axis_off()
        rec[1, i].set_axis_off()
    right.suptitle("binarised digits (top), one Gibbs step's reconstruction p(v | h) "
                   "(bottom)", fontsize=10)
    return fig


@register("lasso_path", "LASSO's regularisation path: coefficients reach exact zeros as the "
                        "L1 penalty grows", figsize=(7.5, 4.5))
def lasso_path_figure():
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_diabetes

    from tfgraph_lessons.ml_basics.linear import lasso_path

    data = load_diabetes()
    alphas, coefs = lasso_path(data.data, data.target, n_alphas=40)
    fig, ax = plt.subplots()
    for name, path in zip(data.feature_names, coefs):
        ax.plot(alphas, path, label=name)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set(xlabel="alpha (L1 penalty), strong to weak", ylabel="coefficient",
           title="LASSO on the diabetes data: features enter one by one")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


@register("hebb_vs_oja", "Hebb's rule grows the weights without bound; Oja's rule keeps them "
                         "at unit length, on the first principal component",
          figsize=(7.5, 4.0))
def hebb_vs_oja_figure():
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_iris

    from tfgraph_lessons.ml_basics import hebbian

    X = load_iris().data
    X = (X - X.mean(0)) / X.std(0)
    curves = hebbian.weight_norm_history(X, n_steps=300, seed=0)
    fig, ax = plt.subplots()
    for rule, label in (("hebb", "Hebb: dw = lr y x"), ("oja", "Oja: dw = lr y (x - y w)")):
        norms = curves[rule]
        ax.plot(np.arange(1, len(norms) + 1), norms, label=label)
    ax.set_yscale("log")
    ax.set(xlabel="update", ylabel="|w|", title="one linear neuron y = w.x on the "
                                                "standardised iris flowers")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
