"""Boxes: coordinates, area, IoU and the regression targets of Faster R-CNN.

The slides' detection part starts here: classification says *what*,
detection says *where*, as a box. This module fixes how a box is written and
gives the measures every later step builds on.

Formats (float32 ``[N, 4]``, pixels, x to the right and y down):

- **corners** ``[x1, y1, x2, y2]``: the library's format, PASCAL VOC's
  ``xmin, ymin, xmax, ymax`` read as continuous coordinates, so
  ``width = x2 - x1`` (no VOC "+1"). Ink on pixel columns 3..7 is x1=3, x2=8.
- **center** ``[cx, cy, w, h]``: what the regression targets are written in.
- **xyhw** ``[x, y, h, w]``: the slides' order, (x, y) the centre as in YOLO.

**IoU** (intersection over union, the Jaccard index) says how well two boxes
agree: ``area(A & B) / area(A | B)``, 1 for the same box, 0 for disjoint or
touching boxes. A zero-area box has IoU 0 with everything, itself included
(``tf.image.non_max_suppression`` follows the same rule).

**Box regression** (Girshick et al. 2014, R-CNN; Ren et al. 2015, Faster
R-CNN, eq. 2) learns a box relative to an anchor (or proposal) ``a``::

    tx = (x - xa) / wa,   ty = (y - ya) / ha,   tw = log(w / wa),   th = log(h / ha)

with (x, y, w, h) in center format. Dividing by the anchor's size makes the
targets scale invariant; the log makes widths multiplicative. :func:`encode`
computes ``(tx, ty, tw, th)`` times ``scales`` and :func:`decode` inverts it.

Every graph op here accepts a NumPy array (validated now, raising
:class:`~tfgraph_lessons.core.errors.UsageError`, a ``ValueError``) or a
tensor whose values are unknown while the graph is built (checked when the
graph runs, by ``tf.debugging`` assertions whose message names the argument).
The NumPy functions ending in ``_np`` are the cheap twins for figures,
notebooks and tests, in the spirit of the TF Object Detection API's
``box_list_ops`` / ``np_box_list_ops`` pair.

Taught in ``notebooks/05_detection.ipynb`` ("box coordinates", "IoU by hand
then as an op").
"""
import math

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError

# Faster R-CNN implementations clamp tw, th before exp() so a wild prediction
# early in training cannot overflow to inf (Detectron's BBOX_XFORM_CLIP).
MAX_LOG_SCALE = math.log(1000.0 / 16.0)

_FIX = "give corners [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1"

# Which columns hold the sizes that must be >= 0, per format.
_SIZE_COLUMNS = {"center": (2, 3), "xyhw": (2, 3)}


# --------------------------------------------------------------------------- NumPy


def _as_array4(boxes, name):
    """``boxes`` as float32 [N, 4] (an empty list gives [0, 4]), all finite."""
    try:
        arr = np.asarray(boxes, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name}: not an array of numbers ({exc}); "
                         "give a float array [N, 4]") from None
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise UsageError(f"{name}: shape {arr.shape}, expected [N, 4]; "
                         "give one row of 4 numbers per box")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        i = int(bad[0])
        raise UsageError(f"{name}: box {i} has a NaN or infinite coordinate ({arr[i].tolist()}); "
                         "give finite coordinates")
    return arr


def check_boxes(boxes, name="boxes"):
    """Validate corner boxes in NumPy and return them as float32 [N, 4].

    Args:
      boxes: array-like [N, 4] of ``[x1, y1, x2, y2]``; an empty list is [0, 4].
      name: the argument's name, used in the error message.
    Returns:
      float32 ndarray [N, 4].
    Raises:
      UsageError: wrong shape, a NaN/inf coordinate, or x2 < x1 / y2 < y1; the
        message names ``name`` and the first bad box.
    """
    arr = _as_array4(boxes, name)
    for lo, hi, axis in ((0, 2, "x"), (1, 3, "y")):
        bad = np.flatnonzero(arr[:, hi] < arr[:, lo])
        if bad.size:
            i = int(bad[0])
            raise UsageError(f"{name}: box {i} has {axis}2 < {axis}1 ({axis}1={float(arr[i, lo])}, "
                             f"{axis}2={float(arr[i, hi])}); {_FIX}")
    return arr


def _check_sized(boxes, name, kind):
    """Validate center / xyhw boxes: [N, 4], finite, sizes >= 0."""
    arr = _as_array4(boxes, name)
    for col in _SIZE_COLUMNS[kind]:
        bad = np.flatnonzero(arr[:, col] < 0)
        if bad.size:
            i = int(bad[0])
            raise UsageError(f"{name}: box {i} has a negative size ({arr[i].tolist()}); "
                             f"give {kind} boxes with width and height >= 0")
    return arr


def area_np(boxes):
    """Areas of corner boxes: float32 [N]."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def iou_np(boxes1, boxes2):
    """Pairwise IoU of corner boxes in plain NumPy: float32 [N, M].

    The reference the graph op and the evaluator are tested against. A pair
    whose union has zero area (two zero-area boxes) gets IoU 0, and so does
    any pair with a zero-area box, since its intersection is 0 too.

    Args:
      boxes1: [N, 4] corners.
      boxes2: [M, 4] corners.
    Returns:
      float32 ndarray [N, M].
    """
    b1 = check_boxes(boxes1, "boxes1")
    b2 = check_boxes(boxes2, "boxes2")
    iw = np.minimum(b1[:, None, 2], b2[None, :, 2]) - np.maximum(b1[:, None, 0], b2[None, :, 0])
    ih = np.minimum(b1[:, None, 3], b2[None, :, 3]) - np.maximum(b1[:, None, 1], b2[None, :, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    union = area_np(b1)[:, None] + area_np(b2)[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out.astype(np.float32)


def corners_to_center_np(boxes):
    """[x1, y1, x2, y2] -> [cx, cy, w, h] in NumPy."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                     b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def center_to_corners_np(boxes):
    """[cx, cy, w, h] -> [x1, y1, x2, y2] in NumPy."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2,
                     b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], axis=1)


def corners_to_xyhw_np(boxes):
    """[x1, y1, x2, y2] -> the slides' [x, y, h, w] in NumPy."""
    return corners_to_center_np(boxes)[:, [0, 1, 3, 2]]


def xyhw_to_corners_np(boxes):
    """The slides' [x, y, h, w] -> [x1, y1, x2, y2] in NumPy."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return center_to_corners_np(b[:, [0, 1, 3, 2]])


# --------------------------------------------------------------------------- validation


def _is_tensor(x):
    return isinstance(x, (tf.Tensor, tf.Variable))


def _assert_rows(cond, name, message, values):
    """An assertion op: every row satisfies ``cond``; the message names ``name``."""
    first_bad = tf.where(~cond)[:1, 0]    # [0] or [1]: safe on an empty box list
    return tf.debugging.Assert(
        tf.reduce_all(cond),
        [f"{name}: {message}; first bad box index:", first_bad,
         "value:", tf.gather(values, first_bad)],
        name=f"check_{name}")


def _static_shape_check(t, name):
    shape = t.shape
    if shape.rank is not None and (shape.rank != 2 or shape[1] not in (None, 4)):
        raise UsageError(f"{name}: shape {shape}, expected [N, 4]; "
                         "give one row of 4 numbers per box")


def as_boxes_tensor(boxes, name="boxes", kind="corners"):
    """Boxes as a float32 [N, 4] tensor, validated now or when the graph runs.

    A NumPy array (or list) is checked at once (:func:`check_boxes`) and
    becomes a constant; a tensor gets run-time assertions (finite, and
    x2 >= x1, y2 >= y1 for corners or w, h >= 0 for the other formats) whose
    message starts with ``name``.

    Args:
      boxes: array-like or tensor [N, 4].
      name: the argument's name, for error messages.
      kind: 'corners', 'center' or 'xyhw'.
    Returns:
      float32 tensor [N, 4].
    Raises:
      UsageError: a NumPy input fails a check, or a tensor's static shape is not [N, 4].
    """
    if not _is_tensor(boxes):
        arr = check_boxes(boxes, name) if kind == "corners" else _check_sized(boxes, name, kind)
        return tf.constant(arr, tf.float32, name=name)
    t = tf.cast(boxes, tf.float32)
    _static_shape_check(t, name)
    with tf.name_scope(f"check_{name}"):
        checks = [_assert_rows(tf.reduce_all(tf.math.is_finite(t), axis=1), name,
                               "NaN or infinite coordinate, give finite coordinates", t)]
        if kind == "corners":
            ok = (t[:, 2] >= t[:, 0]) & (t[:, 3] >= t[:, 1])
            checks.append(_assert_rows(ok, name, f"x2 < x1 or y2 < y1, {_FIX}", t))
        else:
            ok = (t[:, 2] >= 0) & (t[:, 3] >= 0)
            checks.append(_assert_rows(ok, name,
                                       f"negative size, give {kind} boxes with sizes >= 0", t))
        with tf.control_dependencies(checks):
            return tf.identity(t, name=name)


# --------------------------------------------------------------------------- conversions


def _columns(t):
    return tf.unstack(t, num=4, axis=1)


def _to_center(t):
    """Unchecked corners -> center on a validated tensor."""
    x1, y1, x2, y2 = _columns(t)
    return tf.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def _to_corners(t):
    """Unchecked center -> corners on a validated tensor."""
    cx, cy, w, h = _columns(t)
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def corners_to_center(boxes, name="corners_to_center"):
    """[x1, y1, x2, y2] -> [cx, cy, w, h]; float32 tensor [N, 4]."""
    with tf.name_scope(name):
        return _to_center(as_boxes_tensor(boxes, "boxes"))


def center_to_corners(boxes, name="center_to_corners"):
    """[cx, cy, w, h] -> [x1, y1, x2, y2]; float32 tensor [N, 4]."""
    with tf.name_scope(name):
        return _to_corners(as_boxes_tensor(boxes, "boxes", kind="center"))


def corners_to_xyhw(boxes, name="corners_to_xyhw"):
    """[x1, y1, x2, y2] -> the slides' [x, y, h, w] (centre, then height, width)."""
    with tf.name_scope(name):
        cx, cy, w, h = _columns(corners_to_center(boxes))
        return tf.stack([cx, cy, h, w], axis=1)


def xyhw_to_corners(boxes, name="xyhw_to_corners"):
    """The slides' [x, y, h, w] -> [x1, y1, x2, y2]."""
    with tf.name_scope(name):
        x, y, h, w = _columns(as_boxes_tensor(boxes, "boxes", kind="xyhw"))
        return tf.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)


# --------------------------------------------------------------------------- area and IoU


def _area(t):
    return (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])


def area(boxes, name="area"):
    """Areas ``(x2 - x1) * (y2 - y1)`` of corner boxes: float32 tensor [N]."""
    with tf.name_scope(name):
        return _area(as_boxes_tensor(boxes, "boxes"))


def pairwise_iou(b1, b2):
    """IoU of two already-validated float32 corner tensors: [N, M].

    The unchecked core of :func:`iou`, for loops (NMS) that call it many
    times on boxes checked once. Written in the same order as TF's NMS kernel
    (``inter / (area1 + area2 - inter)``) so both round alike.
    """
    x1a, y1a, x2a, y2a = [c[:, None] for c in _columns(b1)]
    x1b, y1b, x2b, y2b = [c[None, :] for c in _columns(b2)]
    iw = tf.maximum(tf.minimum(x2a, x2b) - tf.maximum(x1a, x1b), 0.0)
    ih = tf.maximum(tf.minimum(y2a, y2b) - tf.maximum(y1a, y1b), 0.0)
    inter = iw * ih                                            # [N, M]
    union = _area(b1)[:, None] + _area(b2)[None, :] - inter
    # Zero union only for two zero-area boxes; dividing by 1 there keeps the
    # gradient finite (a tf.where over a NaN still back-propagates NaN).
    positive = union > 0
    return tf.where(positive, inter / tf.where(positive, union, tf.ones_like(union)),
                    tf.zeros_like(inter))


def iou(boxes1, boxes2, name="iou"):
    """Pairwise intersection over union of corner boxes as a graph op.

    Args:
      boxes1: [N, 4] corners (array or tensor).
      boxes2: [M, 4] corners (array or tensor).
      name: name scope of the op.
    Returns:
      float32 tensor [N, M]: 1 for identical non-degenerate boxes, 0 for
      disjoint or touching ones and for any pair with a zero-area box.
    """
    with tf.name_scope(name):
        return pairwise_iou(as_boxes_tensor(boxes1, "boxes1"), as_boxes_tensor(boxes2, "boxes2"))


# --------------------------------------------------------------------------- regression targets


def _check_scales(scales):
    try:
        s = np.asarray(scales, np.float32).reshape(4)
    except ValueError:
        raise UsageError(f"scales: {scales!r}, expected 4 numbers (sx, sy, sw, sh)") from None
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise UsageError(f"scales: {s.tolist()}, expected 4 finite numbers > 0")
    return tf.constant(s)


def _positive_sizes(t, name):
    """Assert every box in a validated tensor has width and height > 0 (log needs it)."""
    ok = (t[:, 2] > t[:, 0]) & (t[:, 3] > t[:, 1])
    check = _assert_rows(ok, name,
                         "zero width or height, encode/decode need boxes of positive size", t)
    with tf.control_dependencies([check]):
        return tf.identity(t)


def _sized(boxes, name):
    """Corner boxes that must have positive sizes, checked now (NumPy) or at run time."""
    if not _is_tensor(boxes):
        arr = check_boxes(boxes, name)
        bad = np.flatnonzero((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1]))
        if bad.size:
            i = int(bad[0])
            raise UsageError(f"{name}: box {i} has zero width or height ({arr[i].tolist()}); "
                             "encode/decode need boxes of positive size")
    return _positive_sizes(as_boxes_tensor(boxes, name), name)


def encode(boxes, anchors, scales=(1.0, 1.0, 1.0, 1.0), name="encode"):
    """Regression targets of ``boxes`` relative to ``anchors`` (Faster R-CNN eq. 2).

    Args:
      boxes: [N, 4] corners, width and height > 0 (e.g. the matched ground truth).
      anchors: [N, 4] corners, width and height > 0, one per box.
      scales: (sx, sy, sw, sh) multiplying (tx, ty, tw, th); Faster R-CNN
        code often uses (10, 10, 5, 5) so the targets have unit-ish variance.
      name: name scope.
    Returns:
      float32 tensor [N, 4] of ``(tx, ty, tw, th) * scales``.
    """
    with tf.name_scope(name):
        s = _check_scales(scales)
        x, y, w, h = _columns(_to_center(_sized(boxes, "boxes")))
        xa, ya, wa, ha = _columns(_to_center(_sized(anchors, "anchors")))
        t = tf.stack([(x - xa) / wa, (y - ya) / ha, tf.math.log(w / wa), tf.math.log(h / ha)],
                     axis=1)
        return t * s


def decode(deltas, anchors, scales=(1.0, 1.0, 1.0, 1.0), max_log_scale=MAX_LOG_SCALE,
           name="decode"):
    """Boxes from regression outputs: the inverse of :func:`encode`.

    Args:
      deltas: [N, 4] ``(tx, ty, tw, th) * scales`` (a network's output).
      anchors: [N, 4] corners, width and height > 0.
      scales: the same (sx, sy, sw, sh) given to :func:`encode`.
      max_log_scale: tw, th are clipped to this before exp() (default
        log(1000/16) as in Detectron), so a wild prediction gives a large box,
        not inf.
      name: name scope.
    Returns:
      float32 tensor [N, 4] of corner boxes.
    """
    with tf.name_scope(name):
        s = _check_scales(scales)
        d = tf.convert_to_tensor(deltas, tf.float32)
        _static_shape_check(d, "deltas")
        tx, ty, tw, th = _columns(d / s)
        xa, ya, wa, ha = _columns(_to_center(_sized(anchors, "anchors")))
        tw = tf.minimum(tw, max_log_scale)
        th = tf.minimum(th, max_log_scale)
        center = tf.stack([tx * wa + xa, ty * ha + ya, tf.exp(tw) * wa, tf.exp(th) * ha], axis=1)
        return _to_corners(center)


def clip_boxes(boxes, height, width, name="clip_boxes"):
    """Clip corner boxes to the image ``[0, width] x [0, height]``: float32 [N, 4].

    A box wholly outside the image becomes a zero-area box on its border.
    ``height`` and ``width`` may be numbers or scalar tensors.
    """
    with tf.name_scope(name):
        t = as_boxes_tensor(boxes, "boxes")
        h = tf.cast(height, tf.float32)
        w = tf.cast(width, tf.float32)
        x1, y1, x2, y2 = _columns(t)
        return tf.stack([tf.clip_by_value(x1, 0.0, w), tf.clip_by_value(y1, 0.0, h),
                         tf.clip_by_value(x2, 0.0, w), tf.clip_by_value(y2, 0.0, h)], axis=1)
