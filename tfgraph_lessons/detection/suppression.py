"""Non-maximum suppression: the last step of the slides' detection pipeline.

A detector fires many overlapping boxes around each object. Greedy NMS keeps
the best one and drops its near-duplicates::

    sort the boxes by score, highest first (drop those with score <= score_threshold)
    while boxes remain and fewer than max_output_size are kept:
        keep the best remaining box b
        remove every remaining box whose IoU with b is > iou_threshold

It is how R-CNN (Girshick et al. 2014) and Faster R-CNN (Ren et al. 2015)
clean their output, and what the slides' 4-step pipeline ends with.

:func:`nms` writes that loop from graph ops (``tf.argsort``, a
``tf.while_loop`` over picks and the IoU op of :mod:`.boxes`) with the
semantics of ``tf.image.non_max_suppression``, which the tests use as the
reference: strict ``>`` for both thresholds, ties in score kept in index
order, indices returned in decreasing score. An empty box list keeps
nothing (an int32 tensor of shape [0]). :func:`greedy_nms_np` is the same
algorithm in NumPy, recording each step for the notebook's "NMS step by
step".

Taught in ``notebooks/05_detection.ipynb``.
"""
import math
import numbers

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.detection.boxes import (_is_tensor, as_boxes_tensor, check_boxes, iou_np,
                                             pairwise_iou)

# --------------------------------------------------------------------------- validation


def _number(value, name, lo=-math.inf, hi=math.inf, hint=""):
    """A Python number in [lo, hi], or a scalar tensor asserted to be there when run."""
    if _is_tensor(value):
        v = tf.cast(value, tf.float32)
        check = tf.debugging.Assert((v >= lo) & (v <= hi),
                                    [f"{name}: must be in [{lo}, {hi}]{hint}, got", v])
        with tf.control_dependencies([check]):
            return tf.identity(v)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo <= value <= hi:
        raise UsageError(f"{name}: {value!r} is not a number in [{lo}, {hi}]{hint}")
    return tf.constant(float(value), tf.float32)


def _count(value, name):
    """A non-negative int (or scalar int tensor) such as max_output_size."""
    if _is_tensor(value):
        v = tf.cast(value, tf.int32)
        check = tf.debugging.Assert(v >= 0, [f"{name}: must be >= 0, got", v])
        with tf.control_dependencies([check]):
            return tf.identity(v)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise UsageError(f"{name}: {value!r}, expected an integer >= 0")
    return tf.constant(int(value), tf.int32)


def _per_box(values, name, num_boxes, dtype, boxes_known):
    """Scores or classes [N]: checked now (NumPy) or asserted when run (tensor)."""
    if not _is_tensor(values):
        arr = np.asarray(values, dtype.as_numpy_dtype).reshape(-1) if np.size(values) else \
            np.zeros([0], dtype.as_numpy_dtype)
        if np.ndim(values) > 1:
            raise UsageError(f"{name}: shape {np.shape(values)}, expected [N], one per box")
        if dtype.is_floating and not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise UsageError(f"{name}: entry {i} is {arr[i]}; give finite {name}")
        if boxes_known is not None and arr.shape[0] != boxes_known:
            raise UsageError(f"{name}: {arr.shape[0]} values for {boxes_known} boxes; "
                             "give one per box")
        t = tf.constant(arr, dtype)
    else:
        t = tf.cast(values, dtype)
        if t.shape.rank not in (None, 1):
            raise UsageError(f"{name}: shape {t.shape}, expected [N], one per box")
    checks = [tf.debugging.Assert(tf.equal(tf.size(t), num_boxes),
                                  [f"{name}: wrong length, give one per box; got", tf.size(t),
                                   "for boxes:", num_boxes])]
    if dtype.is_floating:
        checks.append(tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(t)),
                                          [f"{name}: NaN or infinite value, give finite {name}"]))
    with tf.control_dependencies(checks):
        return tf.reshape(t, [-1])


def _static_rows(boxes):
    """The number of boxes if known now (NumPy input), else None."""
    return None if _is_tensor(boxes) else check_boxes(boxes).shape[0]


# --------------------------------------------------------------------------- the greedy loop


def _greedy_loop(boxes, classes, iou_threshold, max_output_size, max_per_class):
    """Greedy NMS over boxes already sorted by decreasing score.

    Args:
      boxes: float32 [K, 4], validated and sorted.
      classes: int32 [K] or None (one class).
      iou_threshold, max_output_size, max_per_class: scalar tensors
        (max_per_class None for no cap).
    Returns:
      bool [K]: which sorted boxes are kept.
    """
    k = tf.shape(boxes)[0]
    alive = tf.ones([k], tf.bool)   # not yet kept nor suppressed
    kept = tf.zeros([k], tf.bool)

    def cond(alive, kept, count):
        return (count < max_output_size) & tf.reduce_any(alive)

    def body(alive, kept, count):
        # The best remaining box is the first alive one: the boxes are sorted.
        i = tf.cast(tf.where(alive)[0, 0], tf.int32)
        pick = tf.cast(tf.one_hot(i, k, dtype=tf.int32), tf.bool)
        same = tf.ones([k], tf.bool) if classes is None else tf.equal(classes, classes[i])
        overlap = pairwise_iou(boxes[i:i + 1], boxes)[0] > iou_threshold    # [K]
        kept = kept | pick
        # ~pick: a zero-area box has IoU 0 with itself and would stay alive.
        alive = alive & ~(overlap & same) & ~pick
        if max_per_class is not None:
            full = tf.reduce_sum(tf.cast(kept & same, tf.int32)) >= max_per_class
            alive = alive & ~(same & full)
        return alive, kept, count + 1

    # The box count may be known now (NumPy input); the loop body's masks are not.
    _, kept, _ = tf.while_loop(cond, body, [alive, kept, tf.constant(0)],
                               shape_invariants=[tf.TensorShape([None])] * 2 + [tf.TensorShape([])],
                               back_prop=False, name="greedy")
    return kept


def _nms(boxes, scores, classes, max_output_size, iou_threshold, score_threshold, max_per_class):
    """Shared body of :func:`nms` and :func:`nms_per_class` (inside a name scope)."""
    rows = _static_rows(boxes)
    b = as_boxes_tensor(boxes, "boxes")
    n = tf.shape(b)[0]
    s = _per_box(scores, "scores", n, tf.float32, rows)
    c = None if classes is None else _per_box(classes, "classes", n, tf.int32, rows)
    thr = _number(iou_threshold, "iou_threshold", 0.0, 1.0,
                  "; boxes overlapping more are suppressed")
    cap = _count(max_output_size, "max_output_size")
    per_class = None if max_per_class is None else _count(max_per_class, "max_per_class")
    if score_threshold is None:
        candidates = tf.range(n)
    else:
        low = _number(score_threshold, "score_threshold", hint="; boxes scoring <= it are dropped")
        candidates = tf.cast(tf.where(s > low)[:, 0], tf.int32)
    # top-k based descending sort: equal scores stay in index order, as in TF's kernel.
    order = tf.gather(candidates, tf.argsort(tf.gather(s, candidates), direction="DESCENDING",
                                             stable=True))
    kept = _greedy_loop(tf.gather(b, order), None if c is None else tf.gather(c, order),
                        thr, cap, per_class)
    return tf.boolean_mask(order, kept)


def nms(boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=None, name="nms"):
    """Greedy non-maximum suppression as graph ops.

    Args:
      boxes: [N, 4] corners (array or tensor).
      scores: [N] float scores.
      max_output_size: int >= 0 (or scalar tensor), most boxes to keep.
      iou_threshold: in [0, 1]; a box is suppressed when its IoU with a kept
        box is > iou_threshold.
      score_threshold: None keeps every score; else boxes with
        score <= score_threshold are dropped first (TF's rule).
      name: name scope.
    Returns:
      int32 tensor [K] of kept indices into ``boxes``, by decreasing score;
      shape [0] for an empty box list.
    Raises:
      UsageError: scores of the wrong length, a threshold out of range, NaN
        coordinates, x2 < x1, max_output_size < 0 (tensor inputs: an
        InvalidArgumentError naming the argument when the graph runs).
    """
    with tf.name_scope(name):
        return _nms(boxes, scores, None, max_output_size, iou_threshold, score_threshold, None)


def nms_per_class(boxes, scores, classes, max_output_size, iou_threshold=0.5,
                  score_threshold=None, max_per_class=None, name="nms_per_class"):
    """NMS in which boxes of different classes never suppress each other.

    Neither the offset trick nor a loop over classes: the greedy loop of
    :func:`nms` suppresses only boxes whose IoU is > iou_threshold *and*
    whose class equals the kept box's. That is exact (shifting boxes by
    class * offset costs float32 precision on large coordinates, which can
    flip a borderline IoU), needs no class count when the graph is built,
    and still runs one loop whose steps are the kept boxes.

    Args:
      boxes: [N, 4] corners.
      scores: [N] float scores.
      classes: [N] int class ids.
      max_output_size: int >= 0, most boxes to keep over all classes.
      iou_threshold: in [0, 1], as in :func:`nms`.
      score_threshold: None, or drop boxes with score <= it.
      max_per_class: None, or keep at most this many boxes per class.
      name: name scope.
    Returns:
      int32 tensor [K] of kept indices, by decreasing score over all classes.
    """
    with tf.name_scope(name):
        return _nms(boxes, scores, classes, max_output_size, iou_threshold, score_threshold,
                    max_per_class)


# --------------------------------------------------------------------------- NumPy twin


def greedy_nms_np(boxes, scores, iou_threshold=0.5, score_threshold=None, max_output_size=None):
    """Greedy NMS in NumPy, recording every step.

    Args:
      boxes: [N, 4] corners.
      scores: [N] scores.
      iou_threshold: in [0, 1]; suppress IoU > iou_threshold.
      score_threshold: None, or drop boxes with score <= it first.
      max_output_size: None (no limit) or int >= 0.
    Returns:
      (kept, steps): ``kept`` an int list of indices by decreasing score;
      ``steps`` one dict per pick, ``{"kept": i, "suppressed": [j, ...],
      "ious": [IoU(i, j), ...]}``.
    """
    b = check_boxes(boxes, "boxes")
    s = np.asarray(scores, np.float32).reshape(-1)
    if s.shape[0] != b.shape[0] or not np.isfinite(s).all():
        raise UsageError(f"scores: {s.shape[0]} values for {b.shape[0]} boxes (must be finite); "
                         "give one finite score per box")
    if isinstance(iou_threshold, bool) or not 0.0 <= iou_threshold <= 1.0:
        raise UsageError(f"iou_threshold: {iou_threshold!r} is not a number in [0, 1]")
    limit = b.shape[0] if max_output_size is None else max_output_size
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0:
        raise UsageError(f"max_output_size: {max_output_size!r}, expected an integer >= 0")
    # Compare in float32, as the graph op does: 0.3 and float32(0.3) differ,
    # and an IoU of exactly float32(0.3) must not be suppressed by 0.3.
    iou_threshold = np.float32(iou_threshold)
    order = np.argsort(-s, kind="stable")
    if score_threshold is not None:
        order = order[s[order] > np.float32(score_threshold)]
    alive = list(order)
    kept, steps = [], []
    while alive and len(kept) < limit:
        i, rest = alive[0], np.asarray(alive[1:], np.int64)
        ious = iou_np(b[i:i + 1], b[rest])[0] if rest.size else np.zeros([0], np.float32)
        gone = ious > iou_threshold
        kept.append(int(i))
        steps.append({"kept": int(i), "suppressed": rest[gone].tolist(),
                      "ious": ious[gone].tolist()})
        alive = rest[~gone].tolist()
    return kept, steps
