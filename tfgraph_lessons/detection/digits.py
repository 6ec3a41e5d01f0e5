"""A detection data set made from real images: handwritten digits pasted onto canvases.

The slides' detection part asks a network for *what* and *where*. To train one end
to end on two CPU cores in minutes, the images here are small but real: digits of
MNIST [1] (or of scikit-learn's 8x8 digits [2], offline) pasted at random sizes
and positions onto a black 64x64 canvas, one to four per canvas, the way the
"multi-digit MNIST" toy sets of the detection literature are made. The class is
the digit; the box is where its ink is.

How one canvas is made (:func:`make_canvases`):

1. draw how many digits it gets, uniformly in ``digits_per_image`` (inclusive);
2. for each: a source digit at random, resized (bilinear) to a random square
   side in ``digit_size`` (inclusive), and a random position that keeps the
   whole square inside the canvas;
3. the ground-truth box is the tight box of the resized digit's *ink*: the
   pixels ``>= ink_threshold`` (continuous corners: ink in pixel columns 3..7
   gives ``x1 = 3, x2 = 8``);
4. the digit is pasted with ``np.maximum``, so where two digits overlap both
   strokes show (ink on black adds like light, nothing hides anything);
5. placement rules, tried again at a new position up to ``max_tries`` times: the
   new box's IoU with every box already on the canvas is at most ``max_iou``
   (0.3), and box centres are at least ``min_center_distance`` (12 px) apart. A
   digit that still does not fit is left out; the first digit always fits, so
   no canvas is empty.

Why these rules. Overlapping boxes do occur (IoU up to 0.3, a digit's box
cutting into its neighbour's), as in real photographs, but never so much that
the task becomes ill-posed: a true neighbour at IoU <= 0.3 survives NMS at the
usual threshold 0.5, so a perfect detector can reach mAP 1. The centre rule is
for the grid detector (YOLO v1 [3]), where the cell holding an object's centre
predicts it: two points in one 8x8 cell are less than its diagonal, 8 * sqrt(2)
= 11.3 px, apart, so centres 12 px apart always fall in different cells and
every object has a cell of its own.

Train, validation and test canvases are made from *disjoint* source digits
(:func:`digit_detection`), so the test score measures digits the network never
saw, not memorised strokes. With MNIST's training set on disk, training and
validation canvases use its digits (the last 5,000 for validation) and test
canvases the test set's; with only the 10,000 test digits (this project's
``../shared/data``), a stratified split of them: 7,000 / 1,000 / 2,000 source
digits, the same split as the GAN chapter's (``gan_mnist.SPLIT``).

[1] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-Based Learning Applied to
    Document Recognition." Proc. IEEE 86(11), 1998.
[2] E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits." UCI, 1998.
[3] J. Redmon, S. Divvala, R. Girshick, A. Farhadi. "You Only Look Once: Unified,
    Real-Time Object Detection." CVPR 2016.

Usage::

    from tfgraph_lessons.detection import digits
    sources, origin = digits.mnist_sources()        # or digits.sklearn_sources()
    sets = digits.digit_detection(sources, {"train": 12000, "val": 500, "test": 1000})
    sets["train"].images.shape                      # (12000, 64, 64, 1) uint8
"""
import numbers

import numpy as np

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import datasets
from tfgraph_lessons.data.preprocess import held_out_split
from tfgraph_lessons.detection.dataset import DetectionSet

__all__ = ["make_canvases", "digit_detection", "mnist_sources", "sklearn_sources",
           "sklearn_digits_28", "resize_images", "resize_matrix", "DIGIT_CLASSES", "DEFAULT_SIZES",
           "TEST_SPLIT"]

DIGIT_CLASSES = tuple(str(d) for d in range(10))
DEFAULT_SIZES = {"train": 12_000, "val": 500, "test": 1_000}    # canvases per split
# The offline split of MNIST's 10,000 test digits: equal to gan_mnist.SPLIT, so both
# chapters hold out the same 2,000 digits.
TEST_SPLIT = {"test_size": 2_000, "val_size": 1_000, "seed": 0}
MNIST_TRAIN_SIZE = 60_000      # source ids: MNIST's 70,000 digits, training set first
MNIST_VAL_SIZE = 5_000         # the last 5,000 training digits validate (as in gan_mnist)
# scikit-learn's 1,797 digits: about 20 % test, 10 % validation, stratified.
SKLEARN_SPLIT = {"test_size": 360, "val_size": 180, "seed": 0}
SPLITS = ("train", "val", "test")
CANVAS_OPTIONS = ("canvas_size", "digits_per_image", "digit_size", "max_iou",
                  "min_center_distance", "ink_threshold", "max_tries", "progress")


# ----------------------------------------------------------------------------- resizing

def resize_matrix(in_size, out_size):
    """The ``[out_size, in_size]`` matrix of a 1-D bilinear resize (PIL's BILINEAR).

    Output pixel ``i`` has its centre at ``(i + 0.5) * in_size / out_size`` in
    input coordinates and averages the input pixels under a triangle (tent)
    filter around it. When shrinking, the tent is widened by the scale factor,
    so every input pixel contributes (antialiasing, as PIL does); when
    enlarging it is the usual two-tap linear interpolation. Each row sums to 1.
    """
    scale = in_size / out_size
    support = max(scale, 1.0)                       # tent half-width in input pixels
    centres = (np.arange(out_size) + 0.5) * scale   # [out]
    taps = np.arange(in_size) + 0.5                 # input pixel centres [in]
    weights = np.maximum(0.0, 1.0 - np.abs(taps[None, :] - centres[:, None]) / support)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def resize_images(images, height, width=None):
    """Resize a batch of grey images with :func:`resize_matrix`, vectorised.

    A separable resize is two matrix products, ``R_h @ image @ R_w^T``; NumPy's
    ``matmul`` broadcasts them over the batch, so 50,000 digits take a fraction
    of a second.

    Args:
      images: ``[N, h, w]`` (any numeric dtype).
      height, width: output size (``width`` defaults to ``height``).

    Returns:
      ``float32 [N, height, width]``.
    """
    images = np.asarray(images, np.float32)
    width = height if width is None else width
    cols = images @ resize_matrix(images.shape[2], width).T             # [N, h, width]
    return np.matmul(resize_matrix(images.shape[1], height), cols)      # [N, height, width]


def _to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- checks

def _check_range(value, name, low, high):
    """``value`` as ``(lo, hi)`` ints with ``low <= lo <= hi <= high`` (an int means ``(v, v)``)."""
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if (len(pair) != 2 or not all(isinstance(v, numbers.Integral) for v in pair)
            or not low <= pair[0] <= pair[1] <= high):
        raise UsageError(f"make_canvases: {name} must be (lo, hi) integers with {low} <= lo <= hi "
                         f"<= {high}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_digits(digit_images, digit_labels):
    images = np.asarray(digit_images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.dtype != np.uint8 or images.shape[0] == 0:
        raise UsageError(f"make_canvases: digit_images must be non-empty uint8 [N, h, w] (or "
                         f"[N, h, w, 1]), got {images.dtype} {list(images.shape)}")
    labels = np.asarray(digit_labels)
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"make_canvases: digit_labels must be integers [{images.shape[0]}], "
                         f"got {labels.dtype} {list(labels.shape)}")
    return images, labels.astype(np.int64)


def _check_scalars(count, canvas_size, max_iou, min_center_distance, ink_threshold, max_tries):
    checks = (
        (isinstance(count, numbers.Integral) and count >= 0, "count", "an integer >= 0", count),
        (isinstance(canvas_size, numbers.Integral) and canvas_size >= 1, "canvas_size",
         "an integer >= 1", canvas_size),
        (isinstance(max_iou, numbers.Real) and 0.0 <= max_iou <= 1.0, "max_iou", "in [0, 1]",
         max_iou),
        (isinstance(min_center_distance, numbers.Real) and 0.0 <= min_center_distance < np.inf,
         "min_center_distance", "a finite number >= 0", min_center_distance),
        (isinstance(ink_threshold, numbers.Integral) and 1 <= ink_threshold <= 255,
         "ink_threshold", "an integer in 1..255", ink_threshold),
        (isinstance(max_tries, numbers.Integral) and max_tries >= 1, "max_tries",
         "an integer >= 1", max_tries),
    )
    for ok, name, rule, value in checks:
        if not ok:
            raise UsageError(f"make_canvases: {name} must be {rule}, got {value!r}")


# ----------------------------------------------------------------------------- the canvases

def _resized_digits(digit_images, picks, sides, side_max, ink_threshold):
    """Every slot's digit at its side: ``uint8 [S, side_max, side_max]`` (top-left aligned),
    its ink box ``[S, 4]`` in patch pixels (corners) and whether it has ink at all."""
    n = len(picks)
    patches = np.zeros((n, side_max, side_max), np.uint8)
    ink_boxes = np.zeros((n, 4), np.float64)
    has_ink = np.zeros(n, bool)
    for side in np.unique(sides):
        slots = np.flatnonzero(sides == side)
        resized = _to_uint8(resize_images(digit_images[picks[slots]], int(side)))  # [n_s, s, s]
        patches[slots, :side, :side] = resized
        ink = resized >= ink_threshold
        rows, cols = ink.any(axis=2), ink.any(axis=1)                            # [n_s, s] each
        has_ink[slots] = rows.any(axis=1)
        # first and last inked row / column; +1 turns the last pixel index into an edge
        ink_boxes[slots] = np.stack([cols.argmax(1), rows.argmax(1),
                                     side - cols[:, ::-1].argmax(1),
                                     side - rows[:, ::-1].argmax(1)], axis=1)
    return patches, ink_boxes, has_ink


def _fits(box, placed, max_iou, min_distance_sq):
    """Whether ``box`` keeps IoU <= max_iou and centre distance >= min with every placed box."""
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    for a1, b1, a2, b2 in placed:
        if (cx - (a1 + a2) / 2) ** 2 + (cy - (b1 + b2) / 2) ** 2 < min_distance_sq:
            return False
        inter = max(0.0, min(x2, a2) - max(x1, a1)) * max(0.0, min(y2, b2) - max(y1, b1))
        union = area + (a2 - a1) * (b2 - b1) - inter
        if union > 0 and inter / union > max_iou:
            return False
    return True


def _place_canvas(slots, sides, ink_boxes, has_ink, tries, max_tries, canvas_size, max_iou,
                  min_distance_sq):
    """Positions for one canvas's slots: a list of ``(slot, x0, y0, box)`` that obey the rules.

    ``tries`` is the flat list of ``[slots, max_tries, 2]`` uniform numbers in [0, 1).
    """
    placed, out = [], []
    for j in slots:
        if not has_ink[j]:
            continue
        span = canvas_size - sides[j] + 1       # top-left positions keeping it inside
        bx1, by1, bx2, by2 = ink_boxes[j]
        for t in range(2 * j * max_tries, 2 * (j + 1) * max_tries, 2):
            x0, y0 = int(tries[t] * span), int(tries[t + 1] * span)
            box = (bx1 + x0, by1 + y0, bx2 + x0, by2 + y0)
            if _fits(box, placed, max_iou, min_distance_sq):
                placed.append(box)
                out.append((j, x0, y0, box))
                break
    return out


def make_canvases(digit_images, digit_labels, count, *, canvas_size=64, digits_per_image=(1, 4),
                  digit_size=(14, 30), max_iou=0.3, min_center_distance=12.0, ink_threshold=64,
                  max_tries=10, seed=0, source_ids=None, class_names=DIGIT_CLASSES,
                  name="digits", progress=False):
    """Canvases with one or more digits each, and the digits' tight ink boxes.

    See the module docstring for the recipe and the placement rules. Seeded and
    deterministic: the same arguments give identical arrays (one
    ``np.random.default_rng(seed)``, all random numbers drawn up front).

    Args:
      digit_images: the source digits, ``uint8 [N, h, w]`` (or ``[N, h, w, 1]``),
        white ink on black.
      digit_labels: their classes, ``int [N]``.
      count: canvases to make.
      canvas_size: canvas side in pixels.
      digits_per_image: ``(lo, hi)``: digits drawn per canvas, inclusive.
      digit_size: ``(lo, hi)``: side of the resized square digit, inclusive.
      max_iou: the most two boxes of one canvas may overlap (IoU).
      min_center_distance: the least distance between two box centres, pixels.
      ink_threshold: a pixel ``>=`` this is ink (it defines the box).
      max_tries: positions tried per digit before it is left out.
      seed: the random seed.
      source_ids: ``[N]`` ids recorded per object in ``DetectionSet.sources``
        (default ``0..N-1``).
      class_names: names of the label values.
      name: the set's name.
      progress: show a progress bar over the canvases.

    Returns:
      :class:`DetectionSet`: images ``uint8 [count, canvas_size, canvas_size, 1]``,
      per canvas ``float32 [k, 4]`` boxes, ``int64 [k]`` classes and sources.

    Raises:
      UsageError: a bad argument (named), or source digits with no pixel
        ``>= ink_threshold`` left for a canvas.
    """
    images, labels = _check_digits(digit_images, digit_labels)
    _check_scalars(count, canvas_size, max_iou, min_center_distance, ink_threshold, max_tries)
    k_lo, k_hi = _check_range(digits_per_image, "digits_per_image", 1, 10 ** 6)
    s_lo, s_hi = _check_range(digit_size, "digit_size", 1, canvas_size)
    ids = np.arange(len(images)) if source_ids is None else np.asarray(source_ids, np.int64)
    if ids.shape != (len(images),):
        raise UsageError(f"make_canvases: source_ids must be [{len(images)}], got {list(ids.shape)}")

    rng = np.random.default_rng(seed)
    per_canvas = rng.integers(k_lo, k_hi + 1, size=count)
    total = int(per_canvas.sum())
    picks = rng.integers(0, len(images), size=total)
    sides = rng.integers(s_lo, s_hi + 1, size=total)
    tries = rng.random((total, max_tries, 2))                   # positions, as fractions of the span
    patches, ink_boxes, has_ink = _resized_digits(images, picks, sides, s_hi, ink_threshold)

    canvases, chosen, boxes, counts = _paint(patches, sides, ink_boxes, has_ink, tries, per_canvas,
                                             canvas_size, (max_iou, float(min_center_distance) ** 2),
                                             progress, name)
    if (counts == 0).any():
        raise UsageError(f"make_canvases: canvas {int(np.argmin(counts))} got no digit: its source "
                         f"digits have no pixel >= ink_threshold={ink_threshold} after resizing; "
                         "lower ink_threshold or give brighter digits")
    cuts = np.cumsum(counts)[:-1]
    per_image = (lambda values: np.split(values, cuts) if count else [])
    chosen = picks[chosen]
    return DetectionSet(canvases[..., None], per_image(boxes), per_image(labels[chosen]),
                        class_names, None, name, per_image(ids[chosen]))


def _paint(patches, sides, ink_boxes, has_ink, tries, per_canvas, canvas_size, rules, progress,
           name):
    """Place and paste every canvas's digits.

    Returns:
      ``canvases uint8 [count, S, S]``, the placed slots ``int64 [K]`` in canvas
      order, their boxes ``float32 [K, 4]`` and the digits per canvas ``int64 [count]``.
    """
    count = len(per_canvas)
    canvases = np.zeros((count, canvas_size, canvas_size), np.uint8)
    starts = np.concatenate([[0], np.cumsum(per_canvas)]).tolist()
    # plain Python lists: the placement loop touches single numbers, where NumPy is slow
    side_list = sides.tolist()
    slot_args = (side_list, ink_boxes.tolist(), has_ink.tolist(), tries.ravel().tolist(),
                 tries.shape[1], canvas_size, *rules)
    chosen, boxes, counts = [], [], []
    for c in _progress(range(count), progress, name):
        placed = _place_canvas(range(starts[c], starts[c + 1]), *slot_args)
        for j, x0, y0, box in placed:
            s = side_list[j]
            view = canvases[c, y0:y0 + s, x0:x0 + s]
            np.maximum(view, patches[j, :s, :s], out=view)     # overlapping ink: both show
            chosen.append(j)
            boxes.append(box)
        counts.append(len(placed))
    return (canvases, np.asarray(chosen, np.int64), np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(counts, np.int64))


def _progress(iterable, enabled, name):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=f"{name} canvases", unit="canvas", leave=False)


# ----------------------------------------------------------------------------- the splits

def digit_detection(sources, sizes=None, *, seed=0, name="digits", **canvas_options):
    """Train, validation and test canvases, each from its own source digits.

    Args:
      sources: ``{'train', 'val', 'test'}``: ``(images uint8 [N, h, w(, 1)],
        labels [N], ids [N])`` per split, from :func:`mnist_sources` or
        :func:`sklearn_sources`; the ids of different splits must not overlap.
      sizes: canvases per split (default :data:`DEFAULT_SIZES`: 12,000 / 500 / 1,000);
        missing keys take the default.
      seed: canvas seed; the splits use ``seed``, ``seed + 1``, ``seed + 2``.
      name: prefix of the sets' names (``'digits-mnist'`` gives ``'digits-mnist/train'``).
      **canvas_options: passed to :func:`make_canvases`.

    Returns:
      ``{'train', 'val', 'test'}``: :class:`DetectionSet` each.

    Raises:
      UsageError: an unknown split in ``sizes`` or ``sources``, or sources whose
        ids overlap (a test canvas would show a training digit).
    """
    unknown_options = sorted(set(canvas_options) - set(CANVAS_OPTIONS))
    if unknown_options:
        raise UsageError(f"digit_detection: unknown canvas options {unknown_options}; use "
                         f"{', '.join(CANVAS_OPTIONS)}")
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    unknown = sorted(set(sizes) - set(SPLITS)) + sorted(set(sources) ^ set(SPLITS))
    if unknown:
        raise UsageError(f"digit_detection: sizes and sources take the splits train, val, test; "
                         f"got {unknown}")
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            shared = np.intersect1d(sources[a][2], sources[b][2])
            if shared.size:
                raise UsageError(f"digit_detection: {a} and {b} sources share {shared.size} "
                                 f"digits (ids {shared[:3].tolist()} ...); give disjoint sources")
    return {part: make_canvases(*sources[part][:2], sizes[part], seed=seed + i,
                                source_ids=sources[part][2], name=f"{name}/{part}",
                                **canvas_options)
            for i, part in enumerate(SPLITS)}


def _test_split(images, labels, ids, parts_spec):
    parts = held_out_split(labels, parts_spec["test_size"], parts_spec["val_size"],
                           parts_spec["seed"])
    return {part: (images[parts[part]], labels[parts[part]], ids[parts[part]]) for part in SPLITS}


def mnist_sources(data_dir=None, download=True):
    """MNIST source digits for :func:`digit_detection`, and where they came from.

    With the training set (on disk, or downloaded): train from its first 55,000
    digits, val from its last 5,000, test from the 10,000 test digits
    (``'mnist'``). Without it: a stratified split of the test digits,
    :data:`TEST_SPLIT` (7,000 / 1,000 / 2,000), with a printed notice
    (``'mnist-test-split'``). Ids number MNIST's 70,000 digits training set
    first: test digit ``i`` is ``60,000 + i``.

    Returns:
      ``(sources, origin)``: ``{'train', 'val', 'test'}: (images, labels, ids)``
      and ``'mnist'`` or ``'mnist-test-split'``.

    Raises:
      OfflineError: not even the test set is on disk and it cannot be downloaded.
    """
    hint = "or use digits-sklearn (scikit-learn's 8x8 digits, no download)"
    try:
        test_images, test_labels = datasets.load_split("mnist", "test", data_dir, download)
    except OfflineError as e:
        raise OfflineError(str(e).replace(datasets.OFFLINE_HINT, hint)) from None
    test_ids = MNIST_TRAIN_SIZE + np.arange(len(test_labels))
    try:
        train_images, train_labels = datasets.load_split("mnist", "train", data_dir, download)
    except DataError as e:
        # Missing (offline, or download=False): fall back. A corrupt file that could
        # be downloaded again is fetch's business and does not reach here.
        if download and not isinstance(e, OfflineError):
            raise
        why = str(e).split(";")[0]
    else:
        ids = np.arange(len(train_labels))
        cut = len(train_labels) - MNIST_VAL_SIZE
        if cut < 1:
            raise DataError(f"MNIST: the training set has only {len(train_labels):,} digits, fewer "
                            f"than the {MNIST_VAL_SIZE:,} validation digits plus one; it is not "
                            "the official file (delete it to download it again)")
        return {"train": (train_images[:cut], train_labels[:cut], ids[:cut]),
                "val": (train_images[cut:], train_labels[cut:], ids[cut:]),
                "test": (test_images, test_labels, test_ids)}, "mnist"
    sources = _test_split(test_images, test_labels, test_ids, TEST_SPLIT)
    n = {part: len(sources[part][1]) for part in SPLITS}
    print(f"data: no MNIST training set ({why}); using a stratified split of the "
          f"{len(test_labels):,} test images: {n['train']:,} source digits for the training "
          f"canvases, {n['val']:,} for validation, {n['test']:,} held out for the test canvases "
          "(data_source mnist-test-split)", flush=True)
    return sources, "mnist-test-split"


def sklearn_digits_28():
    """scikit-learn's 1,797 8x8 digits in MNIST's framing: ``uint8 [1797, 28, 28]``, labels.

    Values 0..16 become 0..255; each digit is enlarged (bilinear) to 20x20 and
    centred in a 28x28 frame with a 4-pixel black margin, which is how MNIST
    framed its digits (size-normalised to 20x20 inside 28x28 [1]), so both
    sources give digits of the same apparent size at the same ``digit_size``.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    big = resize_images(d.images * (255.0 / 16.0), 20)                   # [1797, 20, 20]
    framed = np.zeros((len(big), 28, 28), np.uint8)
    framed[:, 4:24, 4:24] = _to_uint8(big)
    return framed, d.target.astype(np.int64)


def sklearn_sources():
    """scikit-learn's digits as sources: a stratified split (:data:`SKLEARN_SPLIT`,
    about 1,257 / 180 / 360); ids index its 1,797 digits.

    Returns:
      ``(sources, 'sklearn-digits')``.
    """
    images, labels = sklearn_digits_28()
    return _test_split(images, labels, np.arange(len(labels)), SKLEARN_SPLIT), "sklearn-digits"
