"""CNN chapter figures drawn from a finished ``cnn_cifar`` run.

``python -m tfgraph_lessons.cnn_cifar`` writes ``metrics.json`` (the learning curves,
the test confusion matrix) and ``snapshots.npz`` (the first-layer filters and the
feature maps of one test image at chosen steps and at the end) into its run folder.
These figures read them from the run chosen by :func:`chosen_run` among those
:func:`tfgraph_lessons.figures.runs.find_runs` gives (``--run DIR``, ``runs/cnn_cifar``,
or a fast-mode run trained by ``--train-missing``), and name it in their titles:

* ``cnn_filters_over_time``: "iteration 1,000 vs 200,000". With the slides'
  initialisation (``w1`` truncated normal, stddev 0.1) the filters keep much of their
  initial noise, shrunk by weight decay, on top of what they learn; the figure draws
  each filter minus its best-fitting multiple of its initial value
  (:func:`filter_changes`), where the oriented edges and colour blobs show;
* ``cnn_feature_maps_by_depth``: the feature maps of one test image at every depth of the
  trained network, smaller and more abstract deeper down;
* ``cnn_results``: results and analysis: the learning curves, the test confusion matrix
  and each class's test accuracy.
"""
import numpy as np

from tfgraph_lessons.core.plots import draw_confusion, plot_curves
from tfgraph_lessons.core.style import CMAPS, styled
from tfgraph_lessons.figures import FigureUnavailable, register, runs

LESSON = "cnn_cifar"
COMMAND = "python -m tfgraph_lessons.cnn_cifar"


def _preference(run):
    """Which run a figure shows when several are found: a full-length run over a fast one,
    the slides' network on CIFAR-10 over others, then the longest."""
    m = run.metrics
    return (not m.get("fast"), m.get("model") == "slide_cnn", m.get("dataset") == "cifar10",
            m.get("steps") or 0, str(run.path))


def chosen_run(snapshots=False):
    """The ``cnn_cifar`` run the figures draw from (:func:`_preference` among those found;
    with ``snapshots``, only runs that have a ``snapshots.npz``).

    Raises:
      FigureUnavailable: none found; the message says where it looked and what to run.
    """
    return runs.chosen(LESSON, COMMAND, "snapshots.npz" if snapshots else None, _preference)


def _what(run):
    m = run.metrics
    return f"{m.get('model', '?')} on {m.get('dataset', '?')}"


# ----------------------------------------------------------------------------- filters


def read_snapshots(path):
    """``snapshots.npz`` -> ``(steps, kernels, image, maps)``: the recorded steps, the
    first-layer kernel ``[kh, kw, c, n]`` at each, the probe image, and
    ``{step: {layer: [h, w, c]}}`` in depth order."""
    with np.load(path) as f:
        steps = [int(s) for s in f["steps"]]
        kernels = [f[f"kernel_{s}"] for s in steps]
        image = f["image"]
        maps = {}
        for s in steps:
            prefix = f"map_{s}_"
            maps[s] = {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}
    return steps, kernels, image, maps


def filter_changes(kernels):
    """What training added to each filter since the first snapshot, and how far they moved.

    Weight decay shrinks the initial noise without changing its pattern, so the plain
    difference ``w(t) - w(1)`` is mostly ``-(1 - a) w(1)``: noise again. Each filter's
    change is therefore measured past its best-fitting multiple of where it started:
    ``w(t) - a w(1)`` with ``a = <w(t), w(1)> / <w(1), w(1)>`` (least squares, per filter),
    the part of the filter that is not a scaled copy of its initial noise.

    Returns:
      ``(changes, moved, kept)``: ``changes[i]`` as above for snapshot ``i`` (``[kh, kw,
      c, n]``); ``moved[i] = |w(i) - w(0)| / |w(0)|`` over all filters; ``kept[i]`` the
      per-filter ``a`` (``[n]``).
    """
    first = np.asarray(kernels[0], np.float64)
    norms = np.maximum((first * first).sum(axis=(0, 1, 2)), 1e-24)
    size = max(np.linalg.norm(first), 1e-12)
    changes, moved, kept = [], [], []
    for kernel in kernels:
        k = np.asarray(kernel, np.float64)
        a = (k * first).sum(axis=(0, 1, 2)) / norms
        changes.append(k - a * first)
        moved.append(float(np.linalg.norm(k - first) / size))
        kept.append(a)
    return changes, moved, kept


def signed_images(kernel, floor=0.0):
    """Filters ``[kh, kw, c, n]`` -> ``n`` images in 0..1 with 0 at 0.5 (grey): each filter
    divided by twice its largest absolute value (at least ``floor``, so a change that is
    only rounding stays grey), so the sign survives and an unchanged filter is flat grey."""
    k = np.moveaxis(np.asarray(kernel, np.float64), -1, 0)
    scale = np.maximum(np.abs(k).max(axis=(1, 2, 3), keepdims=True), floor)
    return 0.5 + k / (2 * np.where(scale > 0, scale, 1.0))


def _show_filter(ax, img, rgb_cmap=None):
    ax.imshow(img if img.shape[-1] == 3 else img[..., 0],
              cmap=None if img.shape[-1] == 3 else (rgb_cmap or CMAPS["image"]), vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


@styled
def filters_change_figure(path, title, n_filters=12):
    """The first-layer filters at each step recorded in ``snapshots.npz`` (one row each),
    then what training changed in them since the first step (one row per later step).

    Also the run's own ``figures/filters_over_time.png`` (``cnn_cifar`` draws it).
    """
    from matplotlib.figure import Figure

    from tfgraph_lessons.core.plots import normalise_filters

    steps, kernels, _, _ = read_snapshots(path)
    changes, moved, kept = filter_changes(kernels)
    n = min(n_filters, kernels[0].shape[-1])
    later = list(range(1, len(steps)))
    rows = len(steps) + len(later)
    fig = Figure(figsize=(0.95 * n + 2.2, 0.95 * rows + 1.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[len(steps), max(len(later), 0.01)])
    axes = np.array(top.subplots(len(steps), n, squeeze=False))
    for r, (step, kernel) in enumerate(zip(steps, kernels)):
        for c, img in enumerate(normalise_filters(kernel)[:n]):
            _show_filter(axes[r, c], img)
        label = f"w at step {step:,}" + (f"\nmoved {100 * moved[r]:.0f}%" if r else "")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    top.suptitle("the filters, each scaled to its own range", fontsize=11)
    if later:
        axes = np.array(bottom.subplots(len(later), n, squeeze=False))
        for r, i in enumerate(later):
            floor = 1e-6 * np.abs(kernels[0]).max()
            for c, img in enumerate(signed_images(changes[i], floor)[:n]):
                _show_filter(axes[r, c], img, rgb_cmap=CMAPS["signed"])
            axes[r, 0].set_ylabel(f"w({steps[i]:,}) - a w({steps[0]:,})\n"
                                  f"a = {kept[i].min():.2f} to {kept[i].max():.2f}", rotation=0,
                                  ha="right", va="center", fontsize=9)
        bottom.suptitle("what training added: each filter minus its best-fitting multiple "
                        "a of where it started (what weight decay only shrank); grey: "
                        "nothing added", fontsize=11)
    fig.suptitle(f"{title}\nmoved: the change of all filters since step {steps[0]:,}, "
                 "relative to their size")
    return fig


@register("cnn_filters_over_time",
          "first-layer filters at the run's snapshot steps, and their change since the "
          "first one (where the learned edges and colour blobs show)", figsize=(14, 6))
def filters_over_time():
    run = chosen_run(snapshots=True)
    steps = read_snapshots(run.path / "snapshots.npz")[0]
    return filters_change_figure(run.path / "snapshots.npz", f"First-layer filters of "
                                 f"{_what(run)}: {runs.describe(run, steps[-1])}")


# ----------------------------------------------------------------------------- feature maps


@register("cnn_feature_maps_by_depth",
          "the feature maps of one test image at every depth of a trained cnn_cifar "
          "network: smaller and more abstract deeper down", figsize=(13, 6.5))
def feature_maps_by_depth(channels=8):
    from tfgraph_lessons.core.plots import feature_maps_figure

    run = chosen_run(snapshots=True)
    steps, _, image, maps = read_snapshots(run.path / "snapshots.npz")
    layers = maps[steps[-1]]
    if not layers:
        raise FigureUnavailable(f"{run.path / 'snapshots.npz'} holds no feature maps; run "
                                f"{COMMAND} again to record them")
    return feature_maps_figure(image, layers, channels, suptitle=(
        f"Feature maps of one test image by depth (smaller and more abstract deeper down), "
        f"{_what(run)}: {runs.describe(run, steps[-1])}"))


# ----------------------------------------------------------------------------- results


def results_summary(metrics):
    """What the results figure shows, from a run's ``metrics.json``.

    Returns:
      dict with ``per_class`` (each class's test accuracy, the confusion matrix's diagonal
      over its row sums), ``class_names``, ``confusion`` (``[k, k]`` ints), ``accuracy``
      (the run's test accuracy), ``confused`` (the three largest off-diagonal cells as
      ``(true, predicted, count)``).
    """
    cm = np.asarray(metrics.get("confusion_matrix") or [], np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0:
        raise FigureUnavailable("the run's metrics.json has no confusion matrix; run "
                                f"{COMMAND} again (runs of this library since its first "
                                "release write one)")
    from tfgraph_lessons.data.datasets import CIFAR10_CLASSES

    # runs made before metrics.json recorded class_names: CIFAR-10's are known
    known = {"cifar10": CIFAR10_CLASSES} if len(cm) == len(CIFAR10_CLASSES) else {}
    names = list(metrics.get("class_names") or known.get(metrics.get("dataset"))
                 or [str(k) for k in range(len(cm))])
    per_class = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:3]
    confused = [(names[i], names[j], int(off[i, j])) for i, j in
                zip(*np.unravel_index(order, off.shape)) if off[i, j] > 0]
    return {"per_class": per_class, "class_names": names, "confusion": cm,
            "accuracy": metrics.get("test_accuracy"), "confused": confused}


@register("cnn_results",
          "results and analysis of a cnn_cifar run: learning curves, the test confusion "
          "matrix and each class's test accuracy", figsize=(15, 5))
def results():
    import matplotlib.pyplot as plt

    run = chosen_run()
    summary = results_summary(run.metrics)
    history = run.metrics.get("history") or []
    fig, (ax_curve, ax_cm, ax_class) = plt.subplots(1, 3, width_ratios=[1.1, 1.0, 0.8])
    plot_curves(ax_curve, {_what(run): history}, "accuracy")
    ax_curve.set(xlabel="epoch", ylabel="accuracy (%)", title="learning curves")
    ax_curve.grid(alpha=0.3)
    if ax_curve.lines:
        ax_curve.legend(fontsize=9)
    cm, names = summary["confusion"], summary["class_names"]
    draw_confusion(ax_cm, cm, names, fontsize=6, rotation=60)
    ax_cm.set_title("test confusion matrix")
    y = np.arange(len(names))
    ax_class.barh(y, 100 * summary["per_class"], color="0.45")
    ax_class.set_yticks(y, names, fontsize=8)
    ax_class.invert_yaxis()
    ax_class.set(xlim=(0, 100), xlabel="test accuracy (%)", title="per class")
    if summary["accuracy"] is not None:
        ax_class.axvline(100 * summary["accuracy"], color="k", ls="--", lw=1,
                         label=f"all: {100 * summary['accuracy']:.1f}%")
        ax_class.legend(fontsize=8, loc="lower right")
    worst = "; ".join(f"{t} -> {p}: {n}" for t, p, n in summary["confused"])
    fig.suptitle(f"Results of {_what(run)}: {runs.describe(run)}"
                 + (f"\nmost confused: {worst}" if worst else ""))
    return fig
