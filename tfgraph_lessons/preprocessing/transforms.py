"""What happens to the data before training: channels, normalisation, augmentation,
mini-batches and epochs, and the train / validation / test split.

* A colour image ``[H, W, 3]`` is three grey images, one per channel (R, G, B):
  :func:`channels`.
* Min-max normalisation, the slide formula ``x' = (x - min(x)) / (max(x) - min(x))``,
  maps the values to [0, 1]; standardisation ``(x - mean) / std`` (per channel,
  with the *training* set's statistics) centres them at 0 with spread 1. Both keep
  the shape of the histogram and change only its axis: :func:`normalisation`, and
  the same min-max as a graph op, :func:`min_max_graph`.
* Augmentation [1, 2] shows the network a slightly different copy of each image
  in every epoch (shifts, mirror images, small rotations and zooms):
  :func:`augmentations`.
* Batch training: one *step* updates the weights from one mini-batch; one *epoch*
  is a pass over the whole training set, ``ceil(N / batch_size)`` steps, in a new
  shuffled order each time: :func:`batch_plan`.
* The data are cut into a training set (to fit the weights), a validation set (to
  choose settings and when to stop) and a test set (looked at once, at the end);
  a stratified cut keeps each class's share equal in all three: :func:`split_report`.

The arithmetic is :mod:`tfgraph_lessons.data.preprocess`'s; this module applies
it to real images and measures the result.

[1] A. Krizhevsky, I. Sutskever, G. Hinton. "ImageNet Classification with Deep
    Convolutional Neural Networks." NIPS 2012, section 4.1.
[2] P. Simard, D. Steinkraus, J. Platt. "Best Practices for Convolutional Neural
    Networks Applied to Visual Document Analysis." ICDAR 2003.
"""
import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.data import preprocess


# ----------------------------------------------------------------------- channels, normalisation


def channels(image):
    """A colour image ``[H, W, 3]`` as its three grey images, and each one's mean.

    Returns:
      ``{'R': [H, W], 'G': [H, W], 'B': [H, W], 'means': [3]}``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise UsageError(f"[channels] need one colour image [H, W, 3], got shape {image.shape}")
    split = {c: image[..., k] for k, c in enumerate("RGB")}
    split["means"] = image.reshape(-1, 3).mean(axis=0)
    return split


def min_max_graph(x):
    """The slide's formula as graph ops, run in a Session:
    ``(x - reduce_min(x)) / (reduce_max(x) - reduce_min(x))`` (0 for a constant input)."""
    x = np.asarray(x, np.float32)
    with new_graph() as graph:
        x_ = tf1.placeholder(tf.float32, x.shape, name="x")
        lo, hi = tf.reduce_min(x_), tf.reduce_max(x_)
        normalised = tf.math.divide_no_nan(x_ - lo, hi - lo, name="min_max")
        with tf1.Session(graph=graph) as sess:
            return sess.run(normalised, {x_: x})


def normalisation(images):
    """Min-max normalisation and per-channel standardisation of a set of images.

    Args:
      images: ``[N, H, W, C]``, any numeric dtype.
    Returns:
      dict: the arrays ``raw``, ``min_max`` (float32, [0, 1]) and ``standardized``
      (float32, mean 0 and std 1 per channel), and the numbers ``min``, ``max``,
      ``mean``, ``std`` (per channel, before), ``after_min_max`` and
      ``after_standardize`` (range / per-channel mean and std after), and
      ``graph_vs_numpy`` (largest difference between the graph op and NumPy).
    """
    images = np.asarray(images)
    scaled = preprocess.min_max(images)
    mean, std = preprocess.channel_stats(images)
    standardized = preprocess.standardize(images, mean, std)
    axes = tuple(range(images.ndim - 1))
    return {"raw": images, "min_max": scaled, "standardized": standardized,
            "min": float(images.min()), "max": float(images.max()),
            "mean": mean.tolist(), "std": std.tolist(),
            "after_min_max": [float(scaled.min()), float(scaled.max())],
            "after_standardize": {"mean": standardized.mean(axis=axes, dtype=np.float64).tolist(),
                                  "std": standardized.std(axis=axes, dtype=np.float64).tolist()},
            "graph_vs_numpy": float(np.max(np.abs(min_max_graph(images) - scaled)))}


# --------------------------------------------------------------------------- augmentation


def augmentations(image, copies=8, seed=0):
    """``copies`` randomly augmented versions of one image, for each augmentation.

    Shifts pad by 1/8 of the height and crop back (4 pixels on CIFAR's 32); the
    distortion turns by up to 15 degrees, zooms by up to 10% and moves by up to
    1/16 of the height.

    Returns:
      ``{name: array [copies, H, W, C]}`` with ``shift``, ``flip``, ``distort`` and
      ``all`` (shift, flip, then distort).
    """
    batch = np.repeat(np.asarray(image)[None], copies, axis=0)   # [copies, H, W, C]
    h = batch.shape[1]
    pad, shift = max(1, round(h / 8)), max(1.0, h / 16)
    rng = np.random.default_rng(seed)
    return {"shift": preprocess.random_crop(batch, pad, rng),
            "flip": preprocess.random_flip_lr(batch, rng),
            "distort": preprocess.distort(batch, rng, rotation=15.0, scale=0.1, shift=shift),
            "all": preprocess.distort(preprocess.augment(batch, rng, crop_padding=pad), rng,
                                      rotation=15.0, scale=0.1, shift=shift)}


def changed_fraction(original, copies):
    """The share of ``copies`` that differ from ``original`` in at least one pixel."""
    diff = copies.reshape(len(copies), -1) != np.asarray(original).reshape(1, -1)
    return float(np.mean(diff.any(axis=1)))


# --------------------------------------------------------------------------- batches and epochs


def batch_plan(n, batch_size, epochs, seed=0, shown_epochs=2):
    """How ``n`` examples are cut into mini-batches, epoch after epoch.

    The batches are :func:`tfgraph_lessons.data.preprocess.batches` of the example
    indices themselves, so the plan is exactly what training iterates over.

    Args:
      n: training examples.
      batch_size: examples per step.
      epochs: passes over the training set.
      seed: the shuffle of epoch ``e`` uses the seed ``[seed, e]``.
      shown_epochs: epochs whose batches are returned (for the figure).
    Returns:
      dict: ``examples``, ``batch_size``, ``batches_per_epoch`` (``ceil(n / batch_size)``),
      ``last_batch_size``, ``batches_per_epoch_drop_remainder``, ``epochs``, ``steps``,
      ``each_example_once_per_epoch`` (checked over the shown epochs),
      ``orders_differ`` (the shown epochs visit the examples in different orders) and
      ``epoch_batches``: for each shown epoch, a list of index arrays, one per batch.
    """
    per_epoch = preprocess.num_batches(n, batch_size)
    ids = np.arange(n)
    shown = []
    for epoch in range(min(shown_epochs, max(epochs, 1))):
        rng = np.random.default_rng([seed, epoch])
        shown.append([b for b, _ in preprocess.batches(ids, ids, batch_size, rng=rng)])
    once = all(np.array_equal(np.sort(np.concatenate(e)), ids) for e in shown)
    orders = [np.concatenate(e) for e in shown]
    return {"examples": n, "batch_size": batch_size, "batches_per_epoch": per_epoch,
            "last_batch_size": n - (per_epoch - 1) * batch_size if n else 0,
            "batches_per_epoch_drop_remainder": preprocess.num_batches(n, batch_size, True),
            "epochs": epochs, "steps": per_epoch * epochs,
            "each_example_once_per_epoch": bool(once),
            "orders_differ": len(orders) > 1 and not np.array_equal(orders[0], orders[1]),
            "epoch_batches": shown}


# --------------------------------------------------------------------------- the split


def class_fractions(labels, num_classes):
    """Each class's share of ``labels``: ``[num_classes]`` summing to 1."""
    return np.bincount(labels, minlength=num_classes) / max(len(labels), 1)


def split_report(labels, test_fraction=0.2, val_fraction=0.1, seed=0):
    """A stratified train / validation / test split, and what a plain random cut does.

    Args:
      labels: ``[N]`` integer class labels of the whole labelled set.
      test_fraction, val_fraction: shares of ``N`` for the test and validation parts.
      seed: the split's seed (the random cut uses it too).
    Returns:
      dict: ``sizes`` per part, ``class_fractions`` (per part and ``all``), and
      ``max_class_deviation``: the largest difference between a class's share in a
      part and in the whole set, for the ``stratified`` split and for a
      ``random`` cut of the same sizes; ``indices``: the parts' index arrays.
    """
    labels = np.asarray(labels)
    n, k = len(labels), int(labels.max()) + 1
    if not (0 < test_fraction and 0 <= val_fraction and test_fraction + val_fraction < 1):
        raise UsageError(f"[split_report] test_fraction {test_fraction} and val_fraction "
                         f"{val_fraction} must be > 0, >= 0 and leave a training part")
    test_size, val_size = round(test_fraction * n), round(val_fraction * n)
    parts = preprocess.held_out_split(labels, test_size, val_size, seed=seed)
    order = np.random.default_rng(seed).permutation(n)
    cut = {"test": order[:test_size], "val": order[test_size:test_size + val_size],
           "train": order[test_size + val_size:]}
    whole = class_fractions(labels, k)

    def deviation(split):
        return float(max(np.abs(class_fractions(labels[idx], k) - whole).max()
                         for idx in split.values()))

    return {"sizes": {p: int(len(idx)) for p, idx in parts.items()},
            "class_fractions": {"all": whole.tolist(),
                                **{p: class_fractions(labels[idx], k).tolist()
                                   for p, idx in parts.items()}},
            "max_class_deviation": {"stratified": deviation(parts), "random": deviation(cut)},
            "indices": parts}
