"""Chapter 2 figures: the data sets, channels, normalisation, augmentation, batches and
epochs, the split, the ReLU question, overfitting and dropout.

Each figure has a drawing function that takes what :mod:`tfgraph_lessons.preprocessing`
computed (the lesson draws its run's figures with them) and a registered wrapper
that computes it with the lesson's default settings:

* ``data_digits_samples``: scikit-learn's 8x8 digits, always there;
  ``data_mnist_samples``, ``data_cifar10_samples``, ``data_cifar100_samples``,
  ``data_svhn_samples``: the test images of each data set found in the data folder
  (``$TFGRAPH_DATA`` or ``data/``); never downloaded here, so a data set that is
  not on disk raises :class:`~tfgraph_lessons.figures.FigureUnavailable` (rendering
  every figure skips it with a notice);
* ``prep_channels``, ``prep_normalisation``, ``prep_augmentation``: scikit-learn's
  sample photographs (a colour image that works offline);
* ``prep_batches_epochs``, ``prep_split``: the batches of the overfitting demo and a
  stratified split of the digits;
* ``prep_relu_separation``: the decision boundaries of the slide's question
  (a line on two halves, a line on alternating sectors, one ReLU layer);
* ``prep_overfitting_dropout``: the learning curves with and without dropout.

The two trained figures are drawn at the fast run's sizes (seconds each, one thread,
so a re-render writes the same bytes); the lesson's full run draws them at full length.

The CNN chapter's ``relu`` (the function) and ``min_max_normalisation`` (two wine
features) figures in :mod:`~tfgraph_lessons.figures.conv_basics` belong to this
chapter's slides too; they are not repeated here.
"""
import textwrap

import numpy as np

from tfgraph_lessons.core.style import CMAPS, styled
from tfgraph_lessons.figures import FigureUnavailable, register

CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue")
FIGSIZES = {
    "data_samples": (10.0, 3.4),
    "prep_channels": (12.0, 3.2),
    "prep_normalisation": (12.0, 3.6),
    "prep_augmentation": (12.0, 4.8),
    "prep_batches_epochs": (10.0, 3.6),
    "prep_split": (10.0, 3.6),
    "prep_relu_separation": (12.0, 4.3),
    "prep_overfitting_dropout": (11.0, 4.2),
}
SAMPLES = 16   # images in a data set's grid


def figsize(name):
    """The size of figure ``name`` (every ``data_*_samples`` shares one)."""
    return FIGSIZES["data_samples" if name.startswith("data_") else name]


def _show(ax, image):
    """One image without ticks: grey ``[H, W]``/``[H, W, 1]`` on 0..255, or colour."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        ax.imshow(image, cmap=CMAPS["image"], vmin=0, vmax=255)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def mosaic(images, cols, pad=2):
    """Tile ``images`` ``[N, H, W, C]`` (uint8) into one RGB picture, ``cols`` per row,
    ``pad`` white pixels apart: one ``imshow`` instead of one axes per image, which
    keeps a grid of dozens of images quick to draw.

    Returns:
      ``(picture uint8 [rows * (H + pad) - pad, cols * (W + pad) - pad, 3], (H, W))``.
    """
    images = np.asarray(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)                        # grey -> RGB
    n, h, w = images.shape[:3]
    rows = -(-n // cols)
    picture = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), 255, np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        picture[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = image
    return picture, (h, w)


# --------------------------------------------------------------------------- the data sets


@styled
def samples_figure(name, images, labels, class_names, count=SAMPLES, cols=8):
    """The first ``count`` images of a data set, each labelled with its class name."""
    import matplotlib.pyplot as plt

    shown = np.asarray(images[:count])
    pad = h_pad(shown)
    picture, (h, w) = mosaic(shown, cols, pad)
    fig, ax = plt.subplots()
    ax.imshow(picture)
    ax.set_axis_off()
    for k in range(len(shown)):
        r, c = divmod(k, cols)
        ax.text(c * (w + pad) + w / 2, r * (h + pad) - pad / 2, class_names[labels[k]],
                ha="center", va="bottom", fontsize=8)
    n, hh, ww, cc = np.asarray(images).shape
    fig.suptitle(f"{name}: {n:,} images of {hh}x{ww}x{cc} {images.dtype}, "
                 f"{len(class_names)} classes")
    return fig


def h_pad(images):
    """Tile spacing for a grid of ``images``: room for a label above each (1/4 of the height)."""
    return max(1, np.asarray(images).shape[1] // 4)


def _registered_samples(name):
    from tfgraph_lessons.core.errors import DataError
    from tfgraph_lessons.data import datasets, paths
    from tfgraph_lessons.preprocessing.sets import class_names

    try:
        images, labels = datasets.load_split(name, "test", download=False)
    except DataError:
        raise FigureUnavailable(
            f"{name} is not in {paths.data_dir()}; fetch it with python -m "
            "tfgraph_lessons.preprocessing --download, or point TFGRAPH_DATA at a folder "
            "that has it") from None
    return samples_figure(f"{name} (test split)", images, labels, class_names(name))


@register("data_digits_samples", "scikit-learn's 8x8 digits (offline): 16 test images "
          "with their labels", figsize=FIGSIZES["data_samples"])
def digits_samples():
    return _registered_samples("digits")


@register("data_mnist_samples", "MNIST's first 16 test digits (when MNIST is on disk)",
          figsize=FIGSIZES["data_samples"])
def mnist_samples():
    return _registered_samples("mnist")


@register("data_cifar10_samples", "CIFAR-10's first 16 test images and classes (when on "
          "disk)", figsize=FIGSIZES["data_samples"])
def cifar10_samples():
    return _registered_samples("cifar10")


@register("data_cifar100_samples", "CIFAR-100's first 16 test images and fine classes "
          "(when on disk)", figsize=FIGSIZES["data_samples"])
def cifar100_samples():
    return _registered_samples("cifar100")


@register("data_svhn_samples", "SVHN's first 16 test house-number digits (when on disk)",
          figsize=FIGSIZES["data_samples"])
def svhn_samples():
    return _registered_samples("svhn")


# ----------------------------------------------------------------------- channels, normalisation


@styled
def channels_figure(image, source):
    """A colour image and its R, G and B channels, each a grey image of its own."""
    import matplotlib.pyplot as plt

    from tfgraph_lessons.preprocessing.transforms import channels

    split = channels(image)
    fig, axes = plt.subplots(1, 4)
    _show(axes[0], image)
    axes[0].set_title(f"colour image {image.shape[0]}x{image.shape[1]}x3")
    for ax, name, colour, mean in zip(axes[1:], "RGB", CHANNEL_COLOURS, split["means"]):
        _show(ax, split[name])
        ax.set_title(f"{name} channel, mean {mean:.0f}", color=colour)
    fig.suptitle(f"One image = three channels ({source}): image[..., 0], [..., 1], [..., 2]")
    return fig


@styled
def normalisation_figure(norm, source):
    """Pixel histograms per channel: raw, after min-max, after standardisation."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    panels = (("raw", "pixel value"), ("min_max", "(x - min) / (max - min)"),
              ("standardized", "(x - mean) / std, per channel"))
    for ax, (key, xlabel) in zip(axes, panels):
        values = np.asarray(norm[key]).reshape(-1, 3)
        for c, colour in enumerate(CHANNEL_COLOURS):
            ax.hist(values[:, c], bins=64, histtype="step", color=colour, label="RGB"[c])
        ax.set_xlabel(xlabel)
        ax.set_yticks([])
    lo, hi = norm["after_min_max"]
    after = norm["after_standardize"]
    axes[0].set_title(f"raw: {norm['min']:.0f} .. {norm['max']:.0f}")
    axes[1].set_title(f"min-max: {lo:.0f} .. {hi:.0f}")
    axes[2].set_title("standardised: mean " + "/".join(f"{m:.2f}" for m in after["mean"])
                      + ", std " + "/".join(f"{s:.2f}" for s in after["std"]), fontsize=10)
    axes[0].legend(fontsize=8)
    n = np.asarray(norm["raw"]).shape[0]
    fig.suptitle(f"Normalisation of {n:,} {source} image(s): the same histogram, a new axis")
    return fig


def _colour_images():
    from tfgraph_lessons.preprocessing.sets import colour_images

    return colour_images({})   # nothing loaded: scikit-learn's sample photos, always offline


@register("prep_channels", "a colour photo split into its R, G and B channels",
          figsize=FIGSIZES["prep_channels"])
def channels_registered():
    images, source = _colour_images()
    return channels_figure(images[0], source)


@register("prep_normalisation", "pixel histograms before and after min-max normalisation "
          "and per-channel standardisation", figsize=FIGSIZES["prep_normalisation"])
def normalisation_registered():
    from tfgraph_lessons.preprocessing.transforms import normalisation

    images, source = _colour_images()
    return normalisation_figure(normalisation(images), source)


# --------------------------------------------------------------------------- augmentation


AUGMENTATION_TITLES = {"shift": "shift (pad, random crop)", "flip": "flip left-right (p 0.5)",
                       "distort": "rotate, zoom, shift", "all": "all of them"}


@styled
def augmentation_figure(image, augs):
    """One row per augmentation: the original, then its random copies."""
    import matplotlib.pyplot as plt

    rows = [np.concatenate([np.asarray(image)[None], batch]) for batch in augs.values()]
    cols = len(rows[0])
    pad = max(2, h_pad(rows[0]) // 2)
    picture, (h, w) = mosaic(np.concatenate(rows), cols, pad)
    fig, ax = plt.subplots()
    ax.imshow(picture)
    ax.set_xticks([w / 2, (w + pad) * (1 + (cols - 1) / 2) - pad / 2],
                  ["original", f"{cols - 1} random copies"])
    ax.xaxis.tick_top()
    ax.set_yticks([r * (h + pad) + h / 2 for r in range(len(rows))],
                  [AUGMENTATION_TITLES.get(name, name) for name in augs])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle("Data augmentation: a new random copy of each training image in every epoch")
    return fig


@register("prep_augmentation", "each augmentation (shift, flip, distortion) and all together: "
          "8 random copies of one photo", figsize=FIGSIZES["prep_augmentation"])
def augmentation_registered():
    from tfgraph_lessons.preprocessing.transforms import augmentations

    images, _ = _colour_images()
    return augmentation_figure(images[0], augmentations(images[0], copies=8, seed=0))


# --------------------------------------------------------------------------- batches, epochs, split


@styled
def batches_figure(plan):
    """Each shown epoch as a strip of the examples in the order visited, cut into batches."""
    import matplotlib.pyplot as plt

    epochs = plan["epoch_batches"]
    n, size = plan["examples"], plan["batch_size"]
    fig, axes = plt.subplots(len(epochs), 1, squeeze=False)
    for e, (ax, batches) in enumerate(zip(axes[:, 0], epochs)):
        order = np.concatenate(batches)[None]                      # [1, n] example ids
        ax.imshow(order, aspect="auto", cmap=CMAPS["activation"], vmin=0, vmax=n - 1)
        start = 0
        for b, batch in enumerate(batches):
            ax.axvline(start - 0.5, color="white", linewidth=3)
            ax.text(start + len(batch) / 2 - 0.5, 0, f"step {e * len(batches) + b + 1}",
                    ha="center", va="center", color="white", fontsize=9, weight="bold")
            start += len(batch)
        ax.set_yticks([])
        ax.set_ylabel(f"epoch {e + 1}", rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("position in the epoch (colour: which example, 0 .. "
                           f"{n - 1}: a new shuffled order every epoch)")
    fig.suptitle(f"{n} examples, batches of {size}: 1 epoch = ceil({n}/{size}) = "
                 f"{plan['batches_per_epoch']} steps; {plan['epochs']} epochs = "
                 f"{plan['steps']:,} steps")
    return fig


@styled
def split_figure(split):
    """Class shares of the whole set and of each part of a stratified split."""
    import matplotlib.pyplot as plt

    fractions = split["class_fractions"]
    parts = ["all", "train", "val", "test"]
    sizes = {"all": sum(split["sizes"].values()), **split["sizes"]}
    fig, ax = plt.subplots()
    colours = plt.get_cmap("tab10")
    for row, part in enumerate(parts):
        left = 0.0
        for k, share in enumerate(fractions[part]):
            ax.barh(row, share, left=left, color=colours(k % 10), edgecolor="white")
            left += share
    ax.set_yticks(range(len(parts)), [f"{p} ({sizes[p]:,})" for p in parts])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of each class (one colour per class)")
    dev = split["max_class_deviation"]
    for k, share in enumerate(fractions["all"]):   # name each class once, in the top bar
        ax.text(sum(fractions["all"][:k]) + share / 2, 0, str(k), ha="center", va="center",
                color="white", weight="bold")
    ax.set_title(f"Stratified: every class's share in every part is within "
                 f"{dev['stratified']:.3f} of its share in the whole set (a random cut: "
                 f"{dev['random']:.3f})", fontsize=10)
    fig.suptitle("Train (fit the weights) / validation (choose settings) / test (report once)")
    return fig


def _digits_labels():
    from tfgraph_lessons.data import datasets

    digits = datasets.load_digits()
    return np.concatenate([digits.train_labels, digits.test_labels])


@register("prep_batches_epochs", "mini-batches and epochs: the overfitting demo's 100 "
          "examples in batches of 20, two epochs", figsize=FIGSIZES["prep_batches_epochs"])
def batches_registered():
    from tfgraph_lessons.preprocessing.lesson import DEFAULT_EPOCHS, PrepConfig
    from tfgraph_lessons.preprocessing.transforms import batch_plan

    config = PrepConfig()
    return batches_figure(batch_plan(config.train_size, config.batch_size, DEFAULT_EPOCHS,
                                     seed=config.seed))


@register("prep_split", "a stratified train / validation / test split of the 1,797 digits "
          "(70/10/20): the class shares per part", figsize=FIGSIZES["prep_split"])
def split_registered():
    from tfgraph_lessons.preprocessing.transforms import split_report

    return split_figure(split_report(_digits_labels(), 0.2, 0.1, seed=0))


# --------------------------------------------------------------------------- ReLU, overfitting


def _boundary_panel(ax, run, title, max_points=500):
    """A classifier's regions (class 1 shaded), its boundary (p = 0.5) and test points."""
    from tfgraph_lessons.preprocessing.networks import GRID, GRID_EXTENT

    axis = np.linspace(-GRID_EXTENT, GRID_EXTENT, GRID)
    ax.contourf(axis, axis, run["grid"], levels=[0, 0.5, 1], colors=["#dbe8f6", "#fbe3cc"])
    ax.contour(axis, axis, run["grid"], levels=[0.5], colors="black", linewidths=1.5)
    X, y = run["test"][0][:max_points], run["test"][1][:max_points]
    ax.scatter(*X[y == 0].T, s=6, color="tab:blue")
    ax.scatter(*X[y == 1].T, s=6, color="tab:orange")
    if "hidden_weights" in run:   # each ReLU unit is zero on one side of its line w.x + b = 0
        t = np.linspace(-GRID_EXTENT, GRID_EXTENT, 2)
        for (w1, w2), b in zip(run["hidden_weights"].T, run["hidden_biases"]):
            if abs(w2) > abs(w1):
                ax.plot(t, -(w1 * t + b) / w2, color="0.4", linewidth=0.6, linestyle="--")
            else:
                ax.plot(-(w2 * t + b) / w1, t, color="0.4", linewidth=0.6, linestyle="--")
    ax.set(xlim=(-GRID_EXTENT, GRID_EXTENT), ylim=(-GRID_EXTENT, GRID_EXTENT), xticks=[],
           yticks=[], aspect="equal")
    ax.set_title(f"{title}\ntest accuracy {run['test_accuracy']:.1%}", fontsize=10)


@styled
def relu_figure(relu):
    """The slide's question: a line on two halves, a line on alternating sectors, one
    hidden ReLU layer on the same sectors (dashed: each unit's line)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    k, units = relu["linear"]["sectors"], relu["relu"]["hidden_units"]
    _boundary_panel(axes[0], relu["halves"], "two halves, one line: yes")
    _boundary_panel(axes[1], relu["linear"], f"{k} alternating sectors, one line: no")
    _boundary_panel(axes[2], relu["relu"], f"{k} sectors, {units} ReLUs, then one line")
    fig.suptitle("Could you divide two sorted sectors using just one line?")
    return fig


def overfitting_figure(demo):
    """Training and test accuracy/loss (inference mode) with and without dropout."""
    from tfgraph_lessons.core.plots import learning_curves

    keep = demo["arms"]["dropout"]["keep_prob"]
    runs = {"no dropout": demo["history"]["no_dropout"],
            f"dropout, keep_prob {keep}": demo["history"]["dropout"]}
    gaps = ", ".join(f"{arm.replace('_', ' ')} {100 * m['gap']:.1f}"
                     for arm, m in demo["arms"].items())
    title = (f"{demo['train_examples']} training digits, {demo['parameters']:,} weights; "
             f"gap train - test (points): {gaps}\n" + textwrap.fill(demo["verdict"], 110))
    return learning_curves(runs, title=title)


def _fast_settings():
    """The lesson's settings in fast mode: the trained figures take seconds, not minutes
    (``python -m tfgraph_lessons.preprocessing`` draws them at full length)."""
    from tfgraph_lessons.preprocessing.lesson import PrepConfig, resolve_config

    return resolve_config(PrepConfig(fast=True))


def _session_config():
    from tfgraph_lessons.core.device import session_config

    # one thread each: the same sums in the same order, so a re-render gives the same bytes
    return session_config(intra_threads=1, inter_threads=1)


@register("prep_relu_separation", "could one line divide two sorted sectors? The boundaries "
          "of a linear classifier and of one hidden ReLU layer, trained as graphs",
          figsize=FIGSIZES["prep_relu_separation"])
def relu_registered():
    from tfgraph_lessons.preprocessing.networks import relu_question

    c = _fast_settings()
    return relu_figure(relu_question(c.sectors, c.relu_units, c.relu_steps, c.relu_lr,
                                     c.relu_points, c.relu_test_points, seed=c.seed,
                                     config=_session_config()))


@register("prep_overfitting_dropout", "overfitting 100 digits with and without dropout: "
          "training and test curves (the fast run's length)",
          figsize=FIGSIZES["prep_overfitting_dropout"])
def overfitting_registered():
    from tfgraph_lessons.preprocessing.networks import overfitting_demo

    c = _fast_settings()
    return overfitting_figure(overfitting_demo(
        c.train_size, c.epochs, None, c.batch_size, c.keep_prob, c.hidden_units,
        c.init_stddev, c.lr, c.seed, config=_session_config()))
