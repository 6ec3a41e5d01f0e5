"""Detection data: images with a variable number of labelled boxes each.

Classification data is one label per image (:class:`tfgraph_lessons.data.Dataset`);
the slides' detection part adds *where*: every image carries its own list of
boxes, each with a class. Images of one set share a size, but box counts vary
(one digit on a canvas, five chairs in a VOC photograph), so boxes and classes
are lists of per-image arrays, and :func:`pad_boxes` turns them into the
fixed-size arrays a ``tf1.placeholder`` takes.

Boxes follow the chapter's convention: **corners** ``[x1, y1, x2, y2]`` in
pixels, x to the right and y down, continuous coordinates (a box covering pixel
columns 3..7 has ``x1 = 3, x2 = 8``; width ``x2 - x1``, no VOC "+1").

Three data sets, by name (:func:`load_detection`):

* ``digits-mnist``: real MNIST digits pasted at random sizes and positions onto
  64x64 canvases (:mod:`tfgraph_lessons.detection.digits`); needs the MNIST test
  set (downloaded if missing), uses the training set too when it is there.
* ``digits-sklearn``: the same canvases from scikit-learn's 1,797 8x8 digits
  [2] (bundled with scikit-learn: works offline).
* ``voc2007``: PASCAL VOC 2007 [1], 20 classes of real photographs
  (:mod:`tfgraph_lessons.detection.voc`); the official ``train`` / ``val`` /
  ``test`` lists, downloaded with their checksums.

[1] M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman. "The
    PASCAL Visual Object Classes (VOC) Challenge." IJCV 88(2), 2010.
[2] E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits." UCI, 1998.

Usage::

    from tfgraph_lessons.detection.dataset import load_detection, pad_boxes
    data = load_detection("digits-sklearn", seed=0)
    train = data["train"]                        # DetectionSet, len(train) canvases
    boxes, classes, counts = pad_boxes(train.boxes, train.classes)
    # boxes float32 [N, M, 4], classes int32 [N, M] (-1 = no box), counts int32 [N]
"""
from dataclasses import dataclass

import numpy as np

from tfgraph_lessons.core.errors import UsageError

__all__ = ["DetectionSet", "pad_boxes", "load_detection", "DETECTION_DATASETS"]

DETECTION_DATASETS = ("digits-mnist", "digits-sklearn", "voc2007")


# ----------------------------------------------------------------------------- the container

@dataclass(repr=False)
class DetectionSet:
    """Images and, for each image, its ground-truth boxes and their classes.

    Attributes:
      images: ``uint8 [N, H, W, C]``.
      boxes: list of N ``float32 [k_i, 4]`` corners ``[x1, y1, x2, y2]`` in pixels
        of the image, inside ``[0, W] x [0, H]``.
      classes: list of N ``int64 [k_i]`` class ids in ``0..num_classes-1``.
      class_names: ``class_names[c]`` names class ``c``.
      difficult: list of N ``bool [k_i]`` (VOC's "difficult" flag: objects that
        the VOC evaluation neither rewards nor penalises), or ``None`` when no
        object is difficult (the digit canvases).
      name: e.g. ``'digits-mnist/train'``.
      sources: list of N ``int64 [k_i]``: for generated sets, the index of the
        source image each object was cut from (so a test can check that splits
        share no source), else ``None``.

    Raises:
      UsageError: shapes that disagree, a box with ``x2 < x1`` or outside the
        image, NaN coordinates, a class id out of range.
    """

    images: np.ndarray
    boxes: list
    classes: list
    class_names: tuple
    difficult: list = None
    name: str = "detection"
    sources: list = None

    def __post_init__(self):
        self.class_names = tuple(str(c) for c in self.class_names)
        self.images = np.asarray(self.images)
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise UsageError(f"{self.name}: images must be uint8 [N, H, W, C], got "
                             f"{self.images.dtype} {list(self.images.shape)}")
        n = self.images.shape[0]
        self.boxes = _per_image(self.boxes, n, np.float32, (-1, 4), "boxes", self.name)
        self.classes = _per_image(self.classes, n, np.int64, (-1,), "classes", self.name)
        if self.difficult is not None:
            self.difficult = _per_image(self.difficult, n, bool, (-1,), "difficult", self.name)
        if self.sources is not None:
            self.sources = _per_image(self.sources, n, np.int64, (-1,), "sources", self.name)
        for field in ("classes", "difficult", "sources"):
            _same_counts(self.boxes, getattr(self, field), field, self.name)
        _check_boxes(self.boxes, self.images.shape[2], self.images.shape[1], self.name)
        _check_classes(self.classes, len(self.class_names), self.name)

    def __len__(self):
        return self.images.shape[0]

    @property
    def num_classes(self):
        """``len(class_names)``."""
        return len(self.class_names)

    @property
    def num_boxes(self):
        """Ground-truth boxes over all images."""
        return int(sum(len(b) for b in self.boxes))

    @property
    def image_shape(self):
        """``(H, W, C)`` of one image."""
        return tuple(self.images.shape[1:])

    def subset(self, indices):
        """The images at ``indices`` (an int array, a slice or a boolean mask) as a new set."""
        order = np.atleast_1d(np.arange(len(self))[indices])
        pick = (lambda items: None if items is None else [items[i] for i in order])
        return DetectionSet(self.images[order], pick(self.boxes), pick(self.classes),
                            self.class_names, pick(self.difficult), self.name, pick(self.sources))

    def summary(self):
        """One line, e.g. ``digits-mnist/test: 1,000 images 64x64x1, 2,480 boxes, 10 classes``."""
        h, w, c = self.image_shape
        return (f"{self.name}: {len(self):,} images {h}x{w}x{c}, {self.num_boxes:,} boxes, "
                f"{self.num_classes} classes")

    def __repr__(self):
        return f"DetectionSet({self.summary()})"


def _per_image(items, n, dtype, shape, field, name):
    """``items`` as a list of ``n`` arrays of ``dtype`` reshaped to ``shape``."""
    if len(items) != n:
        raise UsageError(f"{name}: {n:,} images but {len(items):,} entries in {field}; give one "
                         "array per image")
    out = []
    for i, item in enumerate(items):
        a = np.asarray(item, dtype=dtype)
        if a.size == 0:
            a = a.reshape((0,) + shape[1:])
        if a.ndim != len(shape) or a.shape[1:] != shape[1:]:
            want = "[k, 4]" if len(shape) == 2 else "[k]"
            raise UsageError(f"{name}: {field}[{i}] has shape {list(a.shape)}; give {want}")
        out.append(a)
    return out


def _same_counts(boxes, other, field, name):
    if other is None:
        return
    for i, (b, o) in enumerate(zip(boxes, other)):
        if len(b) != len(o):
            raise UsageError(f"{name}: image {i} has {len(b)} boxes but {len(o)} {field}; "
                             "give one entry per box")


def _locate(boxes, flat_index):
    """(image, box within the image) of row ``flat_index`` of the concatenated boxes."""
    ends = np.cumsum([len(b) for b in boxes])
    image = int(np.searchsorted(ends, flat_index, side="right"))
    return image, int(flat_index - (ends[image - 1] if image else 0))


def _check_boxes(boxes, width, height, name):
    """Every box finite, ``x2 >= x1``, ``y2 >= y1`` and inside ``[0, W] x [0, H]``."""
    if not boxes:
        return
    flat = np.concatenate(boxes)
    if not flat.size:
        return
    x1, y1, x2, y2 = flat.T
    tests = ((~np.isfinite(flat).all(axis=1), "has a NaN or infinite coordinate"),
             ((x2 < x1) | (y2 < y1), "has x2 < x1 or y2 < y1"),
             ((x1 < 0) | (y1 < 0) | (x2 > width) | (y2 > height),
              f"is outside the {width}x{height} image"))
    for bad, why in tests:
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            image, j = _locate(boxes, k)
            raise UsageError(f"{name}: boxes[{image}] box {j} {why} ({flat[k].tolist()}); give "
                             f"corners [x1, y1, x2, y2] with 0 <= x1 <= x2 <= {width} and "
                             f"0 <= y1 <= y2 <= {height}")


def _check_classes(classes, num_classes, name):
    flat = np.concatenate(classes) if classes else np.zeros(0, np.int64)
    bad = (flat < 0) | (flat >= num_classes)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        image, j = _locate(classes, k)
        raise UsageError(f"{name}: classes[{image}] entry {j} is {int(flat[k])}; class ids must "
                         f"be in 0..{num_classes - 1} (one per class name)")


# ----------------------------------------------------------------------------- padding

def pad_boxes(boxes_list, classes_list, max_boxes=None):
    """Per-image box lists as fixed-size arrays, for a placeholder ``[None, M, 4]``.

    Args:
      boxes_list: N arrays ``[k_i, 4]``.
      classes_list: N arrays ``[k_i]``.
      max_boxes: M, the padded length; ``None`` means the largest ``k_i`` (0 when
        every list is empty). An image with more than M boxes is an error, never
        silently cut.

    Returns:
      ``(boxes float32 [N, M, 4], classes int32 [N, M], counts int32 [N])``: the
      first ``counts[i]`` rows of image ``i`` are its boxes; padding rows have
      boxes 0 and class -1.

    Raises:
      UsageError: lists of different lengths, mismatched counts, or more than
        ``max_boxes`` boxes in an image.
    """
    if len(boxes_list) != len(classes_list):
        raise UsageError(f"pad_boxes: {len(boxes_list)} box arrays but {len(classes_list)} class "
                         "arrays; give one of each per image")
    boxes_list = [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes_list]
    classes_list = [np.asarray(c).reshape(-1) for c in classes_list]
    counts = np.array([len(b) for b in boxes_list], np.int32)
    for i, (b, c) in enumerate(zip(boxes_list, classes_list)):
        if len(b) != len(c):
            raise UsageError(f"pad_boxes: image {i} has {len(b)} boxes but {len(c)} classes")
    m = int(counts.max(initial=0)) if max_boxes is None else int(max_boxes)
    if m < 0 or (counts > m).any():
        worst = int(np.argmax(counts)) if counts.size else 0
        raise UsageError(f"pad_boxes: max_boxes={max_boxes} but image {worst} has "
                         f"{int(counts.max(initial=0))} boxes; raise max_boxes or pass None")
    n = len(boxes_list)
    boxes = np.zeros((n, m, 4), np.float32)
    classes = np.full((n, m), -1, np.int32)
    for i, (b, c) in enumerate(zip(boxes_list, classes_list)):
        boxes[i, :len(b)] = b
        classes[i, :len(c)] = c
    return boxes, classes, counts


# ----------------------------------------------------------------------------- registry

def _canonical(name):
    key = str(name).strip().lower().replace("_", "-")
    if key not in DETECTION_DATASETS:
        raise UsageError(f"unknown detection data set {name!r}; use one of "
                         f"{', '.join(DETECTION_DATASETS)}")
    return key


def _voc_splits(data_dir, download, options):
    """VOC 2007's official lists: ``train`` and ``val`` (trainval halves), ``test``."""
    from tfgraph_lessons.detection import voc

    image_size = options.pop("image_size", options.pop("canvas_size", voc.DEFAULT_IMAGE_SIZE))
    sizes = options.pop("sizes", None) or {}
    limit = options.pop("limit", None)
    progress = options.pop("progress", True)
    if options:
        raise UsageError(f"voc2007 takes image_size / canvas_size, sizes, limit and progress, "
                         f"got {sorted(options)}")
    out = {part: voc.load_voc(data_dir, "2007", part, image_size=image_size, download=download,
                              limit=sizes.get(part, limit), progress=progress)
           for part in ("train", "val", "test")}
    out["source"] = "voc2007"
    return out


def load_detection(name, data_dir=None, *, download=True, seed=0, **options):
    """A detection data set by name, split into train, validation and test parts.

    Args:
      name: ``'digits-mnist'``, ``'digits-sklearn'`` or ``'voc2007'`` (case and
        ``_`` / ``-`` ignored).
      data_dir: the data folder (``--data-dir``; ``None``: ``$TFGRAPH_DATA`` or ``data/``).
      download: fetch missing files (MNIST, VOC), checksum-verified.
      seed: seed of the generated canvases (digits); VOC ignores it.
      **options: digits: ``sizes`` (canvases per split, dict with ``train``,
        ``val``, ``test``), the canvas options of
        :func:`tfgraph_lessons.detection.digits.make_canvases` (``canvas_size``,
        ``digits_per_image``, ``digit_size``, ``max_iou``,
        ``min_center_distance``, ``ink_threshold``, ``progress``). voc2007:
        ``image_size`` (or ``canvas_size``), ``sizes`` (at most this many images
        per split), ``limit``, ``progress``.

    Returns:
      ``{'train', 'val', 'test'}``: :class:`DetectionSet` each, plus ``'source'``:
      where the images came from (``'mnist'``: train/val canvases from MNIST's
      training digits, test from its test digits; ``'mnist-test-split'``: all
      three from disjoint parts of the MNIST test set; ``'sklearn-digits'``;
      ``'voc2007'``).

    Raises:
      UsageError: unknown name or option. OfflineError: files missing and no
        network (the message names the path and what to download).
    """
    key = _canonical(name)
    if key == "voc2007":
        return _voc_splits(data_dir, download, dict(options))
    from tfgraph_lessons.detection import digits

    if key == "digits-mnist":
        sources, origin = digits.mnist_sources(data_dir, download)
    else:
        sources, origin = digits.sklearn_sources()
    out = digits.digit_detection(sources, seed=seed, name=key, **options)
    out["source"] = origin
    return out
