"""Plots every lesson draws: learning curves, confusion matrix, image grids, filters,
feature maps. Each function takes NumPy arrays and returns a matplotlib Figure;
:func:`save_figure` writes one as a PNG atomically (:func:`save_gif` frames as an
animated GIF) and reproducibly (no
``Software`` or date chunk, so the same figure gives the same bytes).

Every figure is drawn under the library's one style (:mod:`tfgraph_lessons.core.style`,
the ``@styled`` decorator). Nothing here imports pyplot at module import; the figures use the object API
(``matplotlib.figure.Figure``), so they work without a display and show inline
in a notebook when returned from a cell.
"""
import io
import math
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.io import atomic_write_bytes
from tfgraph_lessons.core.style import (CMAPS, DPI, RUN_COLORS, SPLIT_COLORS,  # noqa: F401
                                        SPLIT_STYLES, styled)


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


# what each format would stamp with the date or the version: left out, so a rerun writes
# the same bytes
NO_STAMP = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
            "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}


def save_figure(fig, path, dpi=DPI, fmt="png"):
    """Write ``fig`` to ``path`` as ``fmt`` (png, svg or pdf) via a temporary file and a
    rename, without a date or a software stamp (:data:`NO_STAMP`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=NO_STAMP[fmt])
    atomic_write_bytes(path, buf.getvalue())
    return path


def save_gif(frames, path, fps=25, width=300):
    """Write ``frames`` (``[H, W, 3]`` uint8 arrays) as a looping GIF, atomically.

    Frames are scaled to ``width`` pixels wide to keep the file small.
    """
    from PIL import Image   # Pillow comes with matplotlib

    if not len(frames):
        raise ValueError(f"no frames to write to {path}")
    images = []
    for frame in frames:
        image = Image.fromarray(np.asarray(frame, np.uint8))
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)))
        images.append(image.convert("P", palette=Image.ADAPTIVE, colors=64))
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def plot_curves(ax, runs, metric):
    """Draw ``metric`` (``'accuracy'`` in %, or ``'loss'``) of every split of ``runs``
    (see :func:`learning_curves`) on ``ax``, against the epoch.

    Train, validation and test differ in line style and marker (readable in black and
    white), and in colour when one run is drawn; several runs differ in colour.
    """
    for run_color, (label, history) in zip(RUN_COLORS, runs.items()):
        epochs = [h["epoch"] for h in history]
        every = max(1, len(epochs) // 12)  # at most about a dozen markers per curve
        for split, (style, marker) in SPLIT_STYLES.items():
            color = SPLIT_COLORS[split] if len(runs) == 1 else run_color
            keys = ([f"train_eval_{metric}", f"train_running_{metric}"] if split == "train"
                    else [f"{split}_{metric}"])
            key = next((k for k in keys if all(k in h for h in history)), None)
            if key is None or not history:
                continue
            values = [h[key] * (100 if metric == "accuracy" else 1) for h in history]
            what = ("train (training batches, dropout on)" if "running" in key
                    else f"{split} (inference)")
            name = f"{label}: {what}" if len(runs) > 1 else what
            ax.plot(epochs, values, style, color=color, label=name, marker=marker,
                    markersize=4, markevery=every)


def draw_confusion(ax, cm, class_names, fontsize=7, rotation=45):
    """The confusion matrix on ``ax``: an image, counts written in the cells, rows = true class."""
    cm = np.asarray(cm)
    n = len(class_names)
    ax.imshow(cm, cmap=CMAPS["count"])
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fontsize,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(n), class_names, rotation=rotation, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true")


@styled
def learning_curves(runs, title="Learning curves"):
    """Accuracy and loss (cross-entropy) per evaluation, against the epoch.

    Args:
      runs: ``{label: history}``; a history is a list of per-evaluation dicts
        (``epoch`` may be fractional) with any of ``train_eval_accuracy``,
        ``val_accuracy``, ``test_accuracy`` and the matching ``*_loss`` keys, all
        measured in inference mode (the legend says so). Without
        ``train_eval_*`` the training curve is ``train_running_*``, the mean over
        the training batches with dropout and augmentation on, labelled as such.

    Train, validation and test differ in colour (one run), line style and marker.
    """
    fig = _figure((11, 4.2))
    ax_acc, ax_loss = fig.subplots(1, 2)
    plot_curves(ax_acc, runs, "accuracy")
    plot_curves(ax_loss, runs, "loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="loss (no weight decay)")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def confusion_matrix(labels, predictions, num_classes):
    """``cm[i, j]`` = number of examples of class i predicted as class j."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predictions)), 1)
    return cm


@styled
def confusion_figure(cm, class_names, title="Confusion matrix (test set)"):
    """The confusion matrix as an image, counts written in the cells, rows = true class."""
    n = len(class_names)
    fig = _figure((1.0 + 0.6 * n, 0.8 + 0.55 * n))
    ax = fig.subplots()
    draw_confusion(ax, cm, class_names)
    ax.set_title(title)
    return fig


@styled
def image_grid(images, titles=None, cols=8, title=None, cmap=None):
    """A grid of images (``[N, H, W, C]`` uint8 or float, or ``[N, H, W]``)."""
    images = np.asarray(images)
    n = len(images)
    cols = min(cols, n) or 1
    rows = math.ceil(n / cols) or 1
    fig = _figure((1.4 * cols, 1.5 * rows + (0.4 if title else 0)))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for k, ax in enumerate(axes):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or (CMAPS["image"] if img.ndim == 2 else None))
        if titles is not None:
            ax.set_title(titles[k], fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def normalise_filters(kernel):
    """First-layer filters ``[kh, kw, c, n]`` -> ``n`` images ``[kh, kw, c]`` in 0..1 (each min-max scaled)."""
    k = np.moveaxis(np.asarray(kernel, np.float64), -1, 0)  # [n, kh, kw, c]
    lo = k.min(axis=(1, 2, 3), keepdims=True)
    hi = k.max(axis=(1, 2, 3), keepdims=True)
    return (k - lo) / np.where(hi > lo, hi - lo, 1.0)


@styled
def filters_figure(kernels, titles, suptitle="First-layer filters"):
    """One row of filters per snapshot: ``kernels`` is a list of ``[kh, kw, c, n]`` arrays."""
    rows = len(kernels)
    n = kernels[0].shape[-1]
    cols = min(n, 14)
    fig = _figure((0.75 * cols + 1.2, 0.85 * rows + 0.6))
    axes = np.array(fig.subplots(rows, cols)).reshape(rows, cols)
    for r, (kernel, row_title) in enumerate(zip(kernels, titles)):
        imgs = normalise_filters(kernel)
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            img = imgs[c]
            ax.imshow(img[..., 0] if img.shape[-1] != 3 else img,
                      cmap=CMAPS["image"] if img.shape[-1] != 3 else None)
            if c == 0:
                ax.set_ylabel(row_title, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(suptitle)
    return fig


@styled
def feature_maps_figure(image, maps, channels=8, suptitle="Feature maps, layer by layer"):
    """The input image, then the first ``channels`` maps of each layer, one row per layer.

    Args:
      image: ``[H, W, C]`` the input.
      maps: ``{layer name: [h, w, c]}`` in depth order.
    """
    rows = len(maps)
    fig = _figure((1.2 * (channels + 1) + 0.5, 1.3 * rows + 0.5))
    axes = np.array(fig.subplots(rows, channels + 1)).reshape(rows, channels + 1)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    img = np.asarray(image)
    axes[0, 0].imshow(img[..., 0] if img.shape[-1] == 1 else img,
                      cmap=CMAPS["image"] if img.shape[-1] == 1 else None)
    axes[0, 0].set_title("input", fontsize=8)
    for r in range(1, rows):
        axes[r, 0].axis("off")
    for r, (name, fmap) in enumerate(maps.items()):
        axes[r, 1].set_ylabel(f"{name}\n{fmap.shape[0]}x{fmap.shape[1]}x{fmap.shape[2]}",
                              fontsize=8, rotation=0, ha="right", va="center")
        for c in range(min(channels, fmap.shape[-1])):
            axes[r, c + 1].imshow(fmap[..., c], cmap=CMAPS["activation"])
    fig.suptitle(suptitle)
    return fig
