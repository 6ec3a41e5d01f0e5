"""Anchors: the reference boxes a region proposal network regresses from.

Faster R-CNN (Ren et al. 2015, section 3.1) replaces the slow region search
of R-CNN (selective search) with a network that slides over the last feature
map. At each of its H x W positions it considers ``A = len(scales) *
len(aspect_ratios)`` *anchors*, boxes centred on that position in image
pixels, and predicts for each an objectness score and the regression
``(tx, ty, tw, th)`` of :func:`~tfgraph_lessons.detection.boxes.encode`.

:func:`generate_anchors` lays the anchors out: position (i, j) of a feature
map with ``stride`` pixels per cell is centred at
``((j + offset) * stride, (i + offset) * stride)``; each scale ``s`` and
aspect ratio ``r = h / w`` gives a box of width ``s / sqrt(r)`` and height
``s * sqrt(r)``, so every ratio of one scale has the same area ``s**2``.

:func:`match_anchors` labels anchors for training by their IoU with the
ground truth, as in the paper: positive when the IoU with some box is
>= ``positive_iou`` (0.7), negative when it is < ``negative_iou`` (0.3) for
every box, ignored in between; and, rule (i), each ground-truth box also
claims the anchor it overlaps most, so no object is left without a
positive anchor (a small or very elongated box may reach 0.7 with none).

Taught in ``notebooks/05_detection.ipynb`` ("anchors").
"""
import numbers

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.detection.boxes import _is_tensor, as_boxes_tensor, pairwise_iou

# --------------------------------------------------------------------------- generation


def _positive_list(values, name):
    arr = np.asarray(values, np.float32).reshape(-1)
    if arr.size == 0 or not (np.isfinite(arr).all() and (arr > 0).all()):
        raise UsageError(f"{name}: {values!r}, expected one or more finite numbers > 0")
    return arr


def base_anchors_np(scales=(32.0, 64.0, 128.0), aspect_ratios=(0.5, 1.0, 2.0)):
    """The A anchor shapes as (width, height): float32 [A, 2], scales x ratios order."""
    s = _positive_list(scales, "scales")
    r = _positive_list(aspect_ratios, "aspect_ratios")
    w = (s[:, None] / np.sqrt(r)[None, :]).reshape(-1)   # [A]: r = h / w, area s**2
    h = (s[:, None] * np.sqrt(r)[None, :]).reshape(-1)
    return np.stack([w, h], axis=1).astype(np.float32)


def _check_grid(feature_height, feature_width, stride, offset):
    for value, name in ((feature_height, "feature_height"), (feature_width, "feature_width")):
        if _is_tensor(value):
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise UsageError(f"{name}: {value!r}, expected an integer >= 0 (feature map cells)")
    if isinstance(stride, bool) or not isinstance(stride, numbers.Real) or not stride > 0:
        raise UsageError(f"stride: {stride!r}, expected a number > 0 "
                         "(image pixels per feature cell)")
    if isinstance(offset, bool) or not isinstance(offset, numbers.Real) or not 0 <= offset <= 1:
        raise UsageError(f"offset: {offset!r}, expected a number in [0, 1] (0.5: cell centres)")


def anchors_np(feature_height, feature_width, stride, scales=(32.0, 64.0, 128.0),
               aspect_ratios=(0.5, 1.0, 2.0), offset=0.5):
    """NumPy twin of :func:`generate_anchors`: float32 [H*W*A, 4] corners."""
    _check_grid(feature_height, feature_width, stride, offset)
    wh = base_anchors_np(scales, aspect_ratios)                           # [A, 2]
    cy, cx = np.meshgrid((np.arange(feature_height) + offset) * stride,
                         (np.arange(feature_width) + offset) * stride, indexing="ij")
    centres = np.stack([cx.reshape(-1), cy.reshape(-1)], axis=1)           # [H*W, 2]
    lo = centres[:, None, :] - wh[None, :, :] / 2                          # [H*W, A, 2]
    hi = centres[:, None, :] + wh[None, :, :] / 2
    return np.concatenate([lo, hi], axis=2).reshape(-1, 4).astype(np.float32)


def generate_anchors(feature_height, feature_width, stride, scales=(32.0, 64.0, 128.0),
                     aspect_ratios=(0.5, 1.0, 2.0), offset=0.5, name="anchors"):
    """Faster R-CNN anchors over a feature map, as a graph op.

    Args:
      feature_height, feature_width: the feature map's H and W (ints, or
        scalar int tensors for an input size known only when run).
      stride: image pixels per feature cell (16 for VGG-16's conv5).
      scales: anchor sizes in pixels (sqrt of the area).
      aspect_ratios: ratios r = height / width.
      offset: where in a cell the centre sits (0.5: the cell's centre).
      name: name scope.
    Returns:
      float32 tensor [H*W*A, 4] of corners; row-major over positions (i, then
      j), then scales, then ratios: anchor k of position (i, j) is row
      ``(i * W + j) * A + k``.
    """
    _check_grid(feature_height, feature_width, stride, offset)
    with tf.name_scope(name):
        wh = tf.constant(base_anchors_np(scales, aspect_ratios))                 # [A, 2]
        ys = (tf.cast(tf.range(feature_height), tf.float32) + offset) * stride
        xs = (tf.cast(tf.range(feature_width), tf.float32) + offset) * stride
        cy, cx = tf.meshgrid(ys, xs, indexing="ij")                                # [H, W]
        centres = tf.stack([tf.reshape(cx, [-1]), tf.reshape(cy, [-1])], axis=1)  # [H*W, 2]
        lo = centres[:, None, :] - wh[None, :, :] / 2                             # [H*W, A, 2]
        hi = centres[:, None, :] + wh[None, :, :] / 2
        return tf.reshape(tf.concat([lo, hi], axis=2), [-1, 4])


# --------------------------------------------------------------------------- matching


def _check_thresholds(positive_iou, negative_iou):
    for value, name in ((positive_iou, "positive_iou"), (negative_iou, "negative_iou")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise UsageError(f"{name}: {value!r}, expected a number in [0, 1]")
    if negative_iou > positive_iou:
        raise UsageError(f"negative_iou: {negative_iou} > positive_iou {positive_iou}; "
                         "give negative_iou <= positive_iou")


def _force_match(overlaps, matched):
    """Rule (i): give each ground-truth box its best still-free anchor.

    Greedy over the gt boxes in index order; an anchor taken by one box is
    not offered to the next, so two boxes whose best anchor is the same both
    end up with a positive anchor. A box that overlaps no free anchor at all
    (IoU 0 everywhere, e.g. a zero-area box) cannot be matched and is skipped.

    Args:
      overlaps: float32 [A, G] IoU.
      matched: int32 [A] from the thresholds.
    Returns:
      int32 [A]: ``matched`` with the forced anchors set to their box.
    """
    num_anchors = tf.shape(overlaps)[0]

    def body(g, matched, free):
        column = tf.where(free, overlaps[:, g], -tf.ones_like(free, tf.float32))
        best = tf.cast(tf.argmax(column), tf.int32)
        ok = column[best] > 0
        hit = tf.cast(tf.one_hot(best, num_anchors, dtype=tf.int32), tf.bool) & ok
        return g + 1, tf.where(hit, tf.fill([num_anchors], g), matched), free & ~hit

    free = tf.ones([num_anchors], tf.bool)
    _, matched, _ = tf.while_loop(lambda g, m, f: g < tf.shape(overlaps)[1], body,
                                  [tf.constant(0), matched, free],
                                  shape_invariants=[tf.TensorShape([]), tf.TensorShape([None]),
                                                    tf.TensorShape([None])], back_prop=False,
                                  name="force_match")
    return matched


def match_anchors(anchors, gt_boxes, positive_iou=0.7, negative_iou=0.3, force_match=True,
                  name="match_anchors"):
    """Label anchors against ground-truth boxes by IoU (Faster R-CNN, section 3.1.2).

    Args:
      anchors: [A, 4] corners (array or tensor).
      gt_boxes: [G, 4] corners; G may be 0.
      positive_iou: an anchor with IoU >= this with some box is positive.
      negative_iou: an anchor with IoU < this with every box is negative.
      force_match: also make each box's best anchor positive (rule (i)), so
        every box with any overlap gets at least one positive anchor.
      name: name scope.
    Returns:
      (matched, labels), int32 tensors [A]: ``matched`` the index of the gt
      box a positive anchor regresses to, -1 for the others; ``labels`` 1
      positive, 0 negative, -1 ignored. No gt boxes: every anchor negative.
    """
    _check_thresholds(positive_iou, negative_iou)
    with tf.name_scope(name):
        a = as_boxes_tensor(anchors, "anchors")
        g = as_boxes_tensor(gt_boxes, "gt_boxes")
        overlaps = pairwise_iou(a, g)                                      # [A, G]
        # A column of -1 lets max/argmax work when G = 0 (then all negative).
        padded = tf.concat([overlaps, -tf.ones([tf.shape(a)[0], 1])], axis=1)
        best_iou = tf.reduce_max(padded, axis=1)                           # [A]
        best_gt = tf.cast(tf.argmax(padded, axis=1), tf.int32)
        matched = tf.where(best_iou >= positive_iou, best_gt, -tf.ones_like(best_gt))
        if force_match:
            matched = _force_match(overlaps, matched)
        labels = tf.where(matched >= 0, tf.ones_like(matched),
                          tf.where(best_iou < negative_iou, tf.zeros_like(matched),
                                   -tf.ones_like(matched)))
        return matched, labels
