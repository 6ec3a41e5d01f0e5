"""The slides' preprocessing: normalisation, standardisation, augmentation, splits, batches.

NumPy only and vectorised over the batch (no Python loop per image), so the same
functions feed a ``tf1.placeholder`` on a laptop CPU or a GPU without becoming
the bottleneck.

[1] Min-max normalisation, the slide formula  x' = (x - min(x)) / (max(x) - min(x)).
[2] A. Krizhevsky, I. Sutskever, G. Hinton. "ImageNet Classification with Deep
    Convolutional Neural Networks." NIPS 2012 (data augmentation by random crops
    and horizontal reflections, section 4.1).
[3] K. He, X. Zhang, S. Ren, J. Sun. "Deep Residual Learning for Image
    Recognition." CVPR 2016 (CIFAR-10 recipe: pad 4 pixels, random 32x32 crop,
    random horizontal flip; per-pixel mean subtracted).
[4] P. Simard, D. Steinkraus, J. Platt. "Best Practices for Convolutional Neural
    Networks Applied to Visual Document Analysis." ICDAR 2003 (small random
    distortions of the MNIST training digits).

Usage::

    from tfgraph_lessons.data import load, preprocess as pp
    ds = load("cifar10")
    (x_tr, y_tr), (x_val, y_val) = pp.split(ds.train_images, ds.train_labels, 0.1)
    mean, std = pp.channel_stats(x_tr)                     # training statistics only
    rng = np.random.default_rng(0)
    for images, labels in pp.batches(x_tr, y_tr, 128, rng=rng):
        feed = {x: pp.standardize(pp.augment(images, rng), mean, std), y: labels}

Argument errors (a batch size of 0, a validation fraction of 1.5) raise
:class:`~tfgraph_lessons.core.errors.UsageError` (a ``ValueError``) naming the
function, the value and the allowed range.
"""
import numbers

import numpy as np

from tfgraph_lessons.core.errors import UsageError

__all__ = [
    "min_max",
    "channel_stats",
    "standardize",
    "random_crop",
    "random_flip_lr",
    "augment",
    "distort",
    "split",
    "held_out_split",
    "batches",
    "num_batches",
]


def _rng(rng):
    """A ``np.random.Generator`` from a Generator, a seed or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_batch_of_images(images, fn):
    images = np.asarray(images)
    if images.ndim < 3:
        raise UsageError(f"[{fn}] images must be [N, H, W] or [N, H, W, C], got shape {images.shape}")
    return images


# ----------------------------------------------------------------------------- normalisation

def min_max(x, lo=None, hi=None):
    """Min-max normalisation: ``x' = (x - min(x)) / (max(x) - min(x))``, as float32.

    Args:
      x: array of any shape (images ``[N, H, W, C]``, features ``[N, D]``, ...).
      lo, hi: the minimum and maximum to use; default ``x.min()`` and ``x.max()``.
        Pass the *training set's* values when normalising validation or test data
        (``lo=train.min(), hi=train.max()``) so all splits get the same mapping;
        such data may then fall slightly outside [0, 1] and is not clipped.
        Arrays broadcastable to ``x`` work too (per-feature min-max).

    Returns:
      float32 array shaped like ``x``; 0 wherever ``hi == lo`` (a constant input
      has no range to divide by).
    """
    x = np.asarray(x)
    lo = np.min(x) if lo is None else lo
    hi = np.max(x) if hi is None else hi
    lo = np.asarray(lo, np.float32)
    span = np.asarray(hi, np.float32) - lo
    flat = span == 0
    out = (x.astype(np.float32) - lo) / np.where(flat, np.float32(1), span)
    if np.any(flat):
        out = np.where(flat, np.float32(0), out).astype(np.float32, copy=False)
    return out


def channel_stats(images, chunk_size=2048):
    """Per-channel mean and standard deviation over N, H and W.

    Accumulated in float64, ``chunk_size`` images at a time, and merged with
    Chan et al.'s pairwise update (count, mean, sum of squared deviations), so
    CIFAR-10's 50,000 x 32 x 32 x 3 uint8 images never become a 1.2 GB float64
    copy and the variance does not suffer from cancellation.

    Args:
      images: ``[N, H, W, C]`` (or ``[N, ..., C]``) array, any numeric dtype.
      chunk_size: images per chunk.

    Returns:
      (mean, std): float64 ``[C]`` each; ``std`` is the population std (ddof=0).
    """
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] == 0:
        raise UsageError(f"[channel_stats] need a non-empty [N, ..., C] array, got shape {images.shape}")
    if chunk_size <= 0:
        raise UsageError(f"[channel_stats] chunk_size must be positive, got {chunk_size}")
    c = images.shape[-1]
    count, mean, m2 = 0, np.zeros(c), np.zeros(c)
    for start in range(0, images.shape[0], chunk_size):
        chunk = images[start:start + chunk_size].reshape(-1, c).astype(np.float64)
        n_b = chunk.shape[0]
        mean_b = chunk.mean(axis=0)
        chunk -= mean_b
        m2_b = np.einsum("ij,ij->j", chunk, chunk)
        delta = mean_b - mean
        total = count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta ** 2 * (count * n_b / total)
        count = total
    return mean, np.sqrt(m2 / count)


def standardize(images, mean, std):
    """``(images - mean) / std`` per channel, as float32.

    Args:
      images: ``[N, H, W, C]`` array (any numeric dtype).
      mean, std: ``[C]`` (from :func:`channel_stats` on the training set) or
        anything broadcastable to ``images``. A zero std is treated as 1 (the
        channel is only centred).

    Returns:
      float32 array shaped like ``images``.
    """
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    std = np.where(std == 0, np.float32(1), std)
    return (np.asarray(images, np.float32) - mean) / std


# ----------------------------------------------------------------------------- augmentation

def random_crop(images, padding, rng):
    """Pad each image with ``padding`` zero pixels per side, then crop back to H x W at a random offset.

    The offset ``(dy, dx)`` is drawn per image from ``0..2*padding``; output pixel
    ``(i, j)`` is padded pixel ``(i + dy, j + dx)``, i.e. source pixel
    ``(i + dy - padding, j + dx - padding)`` or 0 where that lies outside the image.
    Done by index arithmetic on the unpadded batch (one gather, no padded copy).

    Args:
      images: ``[N, H, W, C]`` (or ``[N, H, W]``) array.
      padding: non-negative int; 0 returns an unchanged copy.
      rng: ``np.random.Generator`` or a seed.

    Returns:
      array of the same shape and dtype.
    """
    images = _check_batch_of_images(images, "random_crop")
    if not isinstance(padding, numbers.Integral) or padding < 0:
        raise UsageError(f"[random_crop] padding must be a non-negative int, got {padding!r}")
    if padding == 0 or images.shape[0] == 0:
        return images.copy()
    rng = _rng(rng)
    n, h, w = images.shape[:3]
    dy = rng.integers(0, 2 * padding + 1, size=n)
    dx = rng.integers(0, 2 * padding + 1, size=n)
    rows = dy[:, None] - padding + np.arange(h)            # [N, H] source rows
    cols = dx[:, None] - padding + np.arange(w)            # [N, W] source cols
    row_ok = (rows >= 0) & (rows < h)
    col_ok = (cols >= 0) & (cols < w)
    out = images[np.arange(n)[:, None, None],
                 np.clip(rows, 0, h - 1)[:, :, None],
                 np.clip(cols, 0, w - 1)[:, None, :]]      # [N, H, W(, C)]
    inside = row_ok[:, :, None] & col_ok[:, None, :]       # [N, H, W]
    out[~inside] = 0
    return out


def random_flip_lr(images, rng, prob=0.5):
    """Mirror each image left-right with probability ``prob`` (one draw per image).

    Args:
      images: ``[N, H, W, C]`` (or ``[N, H, W]``) array.
      rng: ``np.random.Generator`` or a seed.
      prob: chance of a flip, in [0, 1].

    Returns:
      a new array of the same shape and dtype.
    """
    images = _check_batch_of_images(images, "random_flip_lr")
    if not 0.0 <= prob <= 1.0:
        raise UsageError(f"[random_flip_lr] prob must be in [0, 1], got {prob}")
    flip = _rng(rng).random(images.shape[0]) < prob        # [N] bool
    out = images.copy()
    out[flip] = images[flip, :, ::-1]
    return out


def augment(images, rng, crop_padding=4, flip=True):
    """The CIFAR augmentation of [3]: random crop after ``crop_padding`` zero padding, then random flip.

    Args:
      images: ``[N, H, W, C]`` batch (apply to training batches only).
      rng: ``np.random.Generator`` or a seed.
      crop_padding: pixels of padding for :func:`random_crop` (0 disables it).
      flip: whether to apply :func:`random_flip_lr`.

    Returns:
      a new array of the same shape and dtype.
    """
    rng = _rng(rng)
    out = random_crop(images, crop_padding, rng)
    if flip:
        out = random_flip_lr(out, rng)
    return out


def distort(images, rng, rotation=10.0, scale=0.1, shift=2.0):
    """Small random affine distortions of a batch of images [4], the classic cure for a
    small MNIST: each image turned by up to ``rotation`` degrees, scaled by up to
    ``1 +- scale`` and moved by up to ``shift`` pixels, about its centre.

    Per image, in this order: the angle, the zoom, then ``(dy, dx)``, each uniform
    in its range. Output pixel ``p`` is the input at the inverse map of ``p``,
    resampled bilinearly; whatever comes from outside the image is 0.

    Args:
      images: ``[N, H, W]`` or ``[N, H, W, C]`` array (the same map for every channel).
      rng: ``np.random.Generator`` or a seed.
      rotation: largest angle in degrees (>= 0).
      scale: largest relative change of size, in [0, 1).
      shift: largest move in pixels along each axis (>= 0).
        All three 0: the images come back unchanged (as a copy).

    Returns:
      a new array of the same shape and dtype; integer images are rounded and
      clipped to their dtype's range.
    """
    images = _check_batch_of_images(images, "distort")
    if images.ndim != 3 and images.ndim != 4:
        raise UsageError(f"[distort] images must be [N, H, W] or [N, H, W, C], got shape {images.shape}")
    for name, value, top in (("rotation", rotation, None), ("scale", scale, 1.0), ("shift", shift, None)):
        if not isinstance(value, numbers.Real) or value < 0 or (top is not None and value >= top):
            allowed = f"in [0, {top:g})" if top is not None else ">= 0"
            raise UsageError(f"[distort] {name} must be a number {allowed}, got {value!r}")
    rng = _rng(rng)
    n, h, w = images.shape[:3]
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))[:, None, None]
    zoom = rng.uniform(1.0 - scale, 1.0 + scale, n)[:, None, None]
    dy, dx = (rng.uniform(-shift, shift, (2, n))[:, :, None, None])
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yy, xx = yy[None] - cy - dy, xx[None] - cx - dx          # output pixel, centred
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom    # the inverse map, source <- output
    src_y, src_x = cos * yy - sin * xx + cy, sin * yy + cos * xx + cx   # [N, H, W]
    out = _bilinear(images, src_y, src_x)
    if np.issubdtype(images.dtype, np.integer):
        info = np.iinfo(images.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(images.dtype)


def _bilinear(images, src_y, src_x):
    """``images`` ``[N, H, W(, C)]`` read at the fractional positions ``src_y, src_x``
    ``[N, H, W]``: the four neighbours weighted by closeness, 0 outside the image."""
    n, h, w = images.shape[:3]
    y0, x0 = np.floor(src_y).astype(np.int64), np.floor(src_x).astype(np.int64)
    fy, fx = src_y - y0, src_x - x0
    if images.ndim == 4:                                     # one weight for all channels
        fy, fx = fy[..., None], fx[..., None]
    border = ((0, 0), (1, 1), (1, 1)) + ((0, 0),) * (images.ndim - 3)
    padded = np.pad(images.astype(np.promote_types(images.dtype, np.float32)), border)
    batch = np.arange(n)[:, None, None]

    def pixel(y, x):  # zero outside the image: index into the 1-pixel zero border
        return padded[batch, np.clip(y + 1, 0, h + 1), np.clip(x + 1, 0, w + 1)]
    return ((1 - fy) * (1 - fx) * pixel(y0, x0) + (1 - fy) * fx * pixel(y0, x0 + 1)
            + fy * (1 - fx) * pixel(y0 + 1, x0) + fy * fx * pixel(y0 + 1, x0 + 1))


# ----------------------------------------------------------------------------- splits and batches

def split(images, labels, val_fraction, seed=0):
    """Hold out a stratified validation set: each class contributes ``val_fraction`` of its examples.

    The number of validation examples is ``round(val_fraction * N)``, shared out
    over the classes in proportion to their sizes (largest remainders first), so
    class frequencies match between the two parts. Deterministic for a given seed;
    both parts keep the original order of the examples.

    Args:
      images: ``[N, ...]`` array.
      labels: ``[N]`` integer class labels.
      val_fraction: in [0, 1); 0 gives an empty validation set.
      seed: seed of the shuffle inside each class.

    Returns:
      ((train_images, train_labels), (val_images, val_labels)).
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if not isinstance(val_fraction, numbers.Real) or not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"[split] val_fraction must be in [0, 1), got {val_fraction!r}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise UsageError(f"[split] need labels [N] for images [N, ...]; got images {images.shape}, "
                         f"labels {labels.shape}")
    n = labels.shape[0]
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * float(val_fraction)
    take = np.floor(exact).astype(np.int64)
    short = int(round(val_fraction * n)) - int(take.sum())
    if short > 0:   # hand the remaining examples to the classes with the largest remainders
        order = np.argsort(-(exact - take), kind="stable")
        take[order[:short]] += 1
    take = np.minimum(take, counts)
    rng = np.random.default_rng(seed)
    # One shuffle for all classes: a random key per example, then sort by (class, key);
    # the first take[c] examples of each class in that order go to validation.
    key = rng.random(n)
    order = np.lexsort((key, inverse))                          # grouped by class, shuffled within
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, counts)      # position within its class
    is_val = rank < take[inverse]
    val_idx = np.flatnonzero(is_val)
    train_idx = np.flatnonzero(~is_val)
    return ((images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx]))


def held_out_split(labels, test_size, val_size, seed=0):
    """A stratified three-way split of one labelled set: :func:`split` twice, each class
    in proportion (e.g. MNIST's 10,000 test images when there is no training set).

    Args:
      labels: ``[N]`` integer class labels.
      test_size: examples for the test part (> 0).
      val_size: examples for the validation part (>= 0).
      seed: the test part is drawn with ``seed``, the validation part with ``seed + 1``.

    Returns:
      ``{'train', 'val', 'test'}``: sorted index arrays into ``labels``, disjoint and
      together all of them; the training part gets what the other two leave.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if test_size <= 0 or val_size < 0 or test_size + val_size >= n:
        raise UsageError(f"[held_out_split] test_size {test_size} and val_size {val_size} must "
                         f"be > 0 and >= 0 and leave training examples out of {n:,}")
    idx = np.arange(n)
    (rest, rest_labels), (test, _) = split(idx, labels, test_size / n, seed=seed)
    (train, _), (val, _) = split(rest, rest_labels, val_size / len(rest), seed=seed + 1)
    return {"train": train, "val": val, "test": test}


def num_batches(n, batch_size, drop_remainder=False):
    """How many batches :func:`batches` yields for ``n`` examples."""
    if not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise UsageError(f"batch_size must be a positive int, got {batch_size!r}")
    if n < 0:
        raise UsageError(f"number of examples must be >= 0, got {n}")
    return n // batch_size if drop_remainder else -(-n // batch_size)


def batches(images, labels, batch_size, *, shuffle=True, rng=None, drop_remainder=False):
    """One epoch of ``(images, labels)`` mini-batches.

    Arguments are checked when called, not at the first ``next()``.

    Args:
      images: ``[N, ...]`` array.
      labels: ``[N]`` array (or ``[N, ...]``).
      batch_size: positive int; the last batch is smaller unless ``drop_remainder``.
      shuffle: visit examples in a random order (a fresh permutation per call).
      rng: ``np.random.Generator`` or seed for the shuffle; ``None`` draws fresh entropy.
      drop_remainder: skip the last, incomplete batch (fixed-shape placeholders).

    Returns:
      a generator of ``(images[batch], labels[batch])``; every example appears
      exactly once per epoch (without ``drop_remainder``). Shuffled batches are
      copies; unshuffled ones are views into ``images`` (do not modify them in place).
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.shape[0] != labels.shape[0]:
        raise UsageError(f"[batches] {images.shape[0]} images but {labels.shape[0]} labels")
    count = num_batches(images.shape[0], batch_size, drop_remainder)
    order = _rng(rng).permutation(images.shape[0]) if shuffle else None

    def generate():
        for b in range(count):
            if order is None:
                sl = slice(b * batch_size, (b + 1) * batch_size)
                yield images[sl], labels[sl]
            else:
                idx = order[b * batch_size:(b + 1) * batch_size]
                yield images[idx], labels[idx]

    return generate()
