"""Detection evaluation: average precision, PASCAL VOC and COCO style.

The slides' last step of the detection pipeline asks "how good are the boxes?".
A detector answers with a ranked list: boxes, each with a class and a score.
Evaluation walks down that list, class by class, from the most to the least
confident box:

1. **Matching** (:func:`match_detections`). A detection is a *true positive*
   when its IoU with a ground-truth box of its class reaches the threshold
   (0.5 in PASCAL VOC) and that object has not already been claimed by a
   higher-scoring detection. A second box on the same object is a *false
   positive* (a duplicate: this is what NMS is there to prevent), and so is a
   box on nothing. Objects marked *difficult* in VOC count neither way.
2. **Precision and recall at every rank.** After the first ``n`` detections,
   ``precision = TP / n`` and ``recall = TP / (number of objects)``. Lowering
   the score threshold walks along this curve: recall only goes up, precision
   zig-zags.
3. **Average precision** (:func:`average_precision`): the area under the
   precision-recall curve, after replacing each precision by the best precision
   reached at that recall or any higher one (the "interpolated" envelope, which
   removes the zig-zag). AP is 1.0 when every object is found before any false
   positive, 0.0 when no detection is right.
4. **Mean AP** (:func:`evaluate_detections`): the mean of the classes' APs
   (mAP). VOC reports mAP at IoU 0.5 (``map_50``); COCO averages it over ten
   IoU thresholds 0.50, 0.55, ..., 0.95 (``map_50_95``), which rewards boxes
   that are not merely near the object but tight around it.

Three ways of measuring the area are in use (``interpolation``):

* ``"all"``: PASCAL VOC 2010 and later [1]: the exact area under the
  interpolated step curve, summed at every recall value where it changes.
* ``"11"``: PASCAL VOC 2007 [1]: the mean of the interpolated precision at the
  11 recalls 0, 0.1, ..., 1.
* ``"101"``: COCO [2]: the same at the 101 recalls 0, 0.01, ..., 1.

Why NumPy and not a graph: the matching is a sequential, data-dependent greedy
loop (whether detection ``n`` is a true positive depends on which objects
detections ``1..n-1`` took), run once per evaluation on a few thousand boxes.
A ``tf.while_loop`` would make it slower to read and no faster to run; the
graph-mode parts of the chapter are the ops a model trains or infers with.

[1] Mark Everingham, Luc Van Gool, Christopher K. I. Williams, John Winn and
    Andrew Zisserman, The PASCAL Visual Object Classes (VOC) Challenge.
    IJCV 88, 303-338 (2010); and the VOC devkit documentation (2007-2012).
[2] Tsung-Yi Lin et al., Microsoft COCO: Common Objects in Context.
    ECCV 2014, arXiv:1405.0312; and the COCO detection evaluation page.

Usage::

    result = evaluate_detections(detections, ground_truth, num_classes=10)
    result["map_50"], result["map_50_95"], result["ap_per_class"]["3"]
    recall, precision = result["pr_curves"]["3"]        # for the figure

A class with no (non-difficult) ground-truth box in the data has no AP: its
entries are NaN, and the means skip it, as VOC and COCO do.
"""
import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.detection.boxes import check_boxes, iou_np

__all__ = ["COCO_IOU_THRESHOLDS", "INTERPOLATIONS", "average_precision",
           "match_detections", "precision_recall", "evaluate_detections"]

# COCO's ten IoU thresholds 0.50, 0.55, ..., 0.95 (k / 20 rounds exactly to the
# nearest double, where 0.5 + k * 0.05 would drift in the last bit).
COCO_IOU_THRESHOLDS = tuple(np.arange(10, 20) / 20)

INTERPOLATIONS = ("all", "101", "11")


def _envelope(precision):
    """Each precision replaced by the best precision at this rank or any later one."""
    # Running maximum from the right: "the best precision once recall is >= r".
    return np.maximum.accumulate(precision[::-1])[::-1]


def _check_curve(recall, precision):
    recall = np.asarray(recall, np.float64)
    precision = np.asarray(precision, np.float64)
    if recall.ndim != 1 or precision.shape != recall.shape:
        raise UsageError(f"average_precision: recall and precision must be 1-D of the same length, "
                         f"got shapes {recall.shape} and {precision.shape}")
    for name, values in (("recall", recall), ("precision", precision)):
        if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
            raise UsageError(f"average_precision: {name} must hold finite values in [0, 1]")
    if np.any(np.diff(recall) < 0):
        raise UsageError("average_precision: recall must be non-decreasing (give the values "
                         "in rank order, from the highest score down)")
    return recall, precision


def average_precision(recall, precision, interpolation="all"):
    """The area under one class's precision-recall curve.

    Args:
      recall: float [N], recall after each of the first 1..N ranked detections
        (non-decreasing, in [0, 1]).
      precision: float [N], precision after each of them.
      interpolation: ``"all"`` (VOC 2010+: the exact area under the
        interpolated step curve), ``"101"`` (COCO: mean interpolated precision
        at recall 0, 0.01, ..., 1) or ``"11"`` (VOC 2007: at 0, 0.1, ..., 1).
        The interpolated precision at recall ``r`` is the best precision at any
        recall ``>= r``, and 0 beyond the last recall reached.

    Returns:
      The average precision, a float in [0, 1] (0.0 for an empty curve).
    """
    if interpolation not in INTERPOLATIONS:
        raise UsageError(f"average_precision: interpolation must be one of {INTERPOLATIONS}, "
                         f"got {interpolation!r}")
    recall, precision = _check_curve(recall, precision)
    # The envelope, with a sentinel precision 0 for recalls past the last one reached.
    mpre = _envelope(np.concatenate([precision, [0.0]]))
    if interpolation == "all":
        # Step i runs from recall[i-1] (0 before the first) to recall[i] at the
        # envelope's height there; repeated recalls (false positives) add zero width.
        return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * mpre[:-1]))
    steps = 10 if interpolation == "11" else 100
    # k / steps is the double nearest to the exact recall point, so a recall
    # that equals it as a fraction (3 of 5 objects found, 0.6) compares equal;
    # np.linspace(0, 1, 11)[6] is 0.6000000000000001 and would miss it.
    points = np.arange(steps + 1) / steps
    # The first rank whose recall reaches each point; past the end -> sentinel 0.
    first = np.searchsorted(recall, points, side="left")
    return float(np.mean(mpre[first]))


def _check_threshold(value, name):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{name}: an IoU threshold must be in [0, 1], got {value}")
    return value


def _as_vector(values, count, name, what):
    """``values`` as a 1-D array of ``count`` entries (an empty list is fine when count is 0)."""
    values = np.asarray(values)
    if values.size == 0:
        values = values.reshape(0)
    if values.shape != (count,):
        raise UsageError(f"{name}: expected {count} {what} (one per box) in a 1-D array, "
                         f"got shape {values.shape}")
    return values


def _check_scores(scores, count, name):
    scores = _as_vector(scores, count, name, "scores").astype(np.float32)
    if not np.all(np.isfinite(scores)):
        raise UsageError(f"{name}: scores must be finite (no NaN or inf)")
    return scores


def _check_flags(flags, count, name):
    if flags is None:
        return np.zeros(count, bool)
    return _as_vector(flags, count, name, "difficult flags").astype(bool)


def _best_ground_truth(det_boxes, gt_boxes):
    """For each detection: the index of its highest-IoU ground-truth box and that IoU."""
    if len(gt_boxes) == 0 or len(det_boxes) == 0:
        return np.zeros(len(det_boxes), np.int64), np.full(len(det_boxes), -1.0)
    overlaps = iou_np(det_boxes, gt_boxes)                      # [D, G]
    best = np.argmax(overlaps, axis=1)
    return best, overlaps[np.arange(len(det_boxes)), best]


def _greedy_match(order, best_gt, best_iou, gt_difficult, iou_threshold):
    """The VOC greedy loop: detections in ``order`` claim their best ground truth."""
    tp = np.zeros(len(best_gt), bool)
    ignored = np.zeros(len(best_gt), bool)
    claimed = np.zeros(len(gt_difficult), bool)
    for d in order:
        if best_iou[d] < iou_threshold:
            continue                         # overlaps no object enough: false positive
        g = best_gt[d]
        if gt_difficult[g]:
            ignored[d] = True                # a difficult object neither rewards nor punishes
        elif not claimed[g]:
            tp[d] = claimed[g] = True
        # else: its object was already found by a higher score -> duplicate, false positive
    return tp, ignored


def _score_order(scores):
    # Stable, so equal scores keep the order they were given in (as COCO does).
    return np.argsort(-scores, kind="mergesort")


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold=0.5, gt_difficult=None):
    """Which detections of one class in one image are true positives.

    The PASCAL VOC rule: detections are taken in decreasing score; each looks
    at the ground-truth box it overlaps most (over all boxes, claimed or not).
    If that IoU is ``>= iou_threshold`` and the box is unclaimed, the detection
    is a true positive and claims it; if the box was already claimed, the
    detection is a duplicate (false positive); if the box is difficult, the
    detection is ignored. (COCO differs slightly: a detection whose best box is
    taken falls back to the next unclaimed box above the threshold.)

    Args:
      det_boxes: float [D, 4], corners ``[x1, y1, x2, y2]``.
      det_scores: float [D], the detector's confidence.
      gt_boxes: float [G, 4], the ground truth of this class in this image.
      iou_threshold: the IoU needed for a match, in [0, 1].
      gt_difficult: bool [G] or None (none difficult).

    Returns:
      ``(tp, ignored)``, bool [D] each, in the order the detections were given;
      a detection that is neither is a false positive.
    """
    det_boxes = check_boxes(det_boxes, "det_boxes")
    gt_boxes = check_boxes(gt_boxes, "gt_boxes")
    det_scores = _check_scores(det_scores, len(det_boxes), "det_scores")
    gt_difficult = _check_flags(gt_difficult, len(gt_boxes), "gt_difficult")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold")
    best_gt, best_iou = _best_ground_truth(det_boxes, gt_boxes)
    return _greedy_match(_score_order(det_scores), best_gt, best_iou, gt_difficult, iou_threshold)


def precision_recall(scores, tp, ignored, num_ground_truth):
    """Precision and recall after each ranked detection of one class.

    Args:
      scores: float [D], the scores of the class's detections over all images.
      tp: bool [D], whether each is a true positive.
      ignored: bool [D], whether each matched a difficult object (left out).
      num_ground_truth: the number of non-difficult objects of the class (> 0).

    Returns:
      ``(recall, precision)``, float64 [D'] each, one value per rank from the
      highest score down, ignored detections left out (D' <= D).
    """
    order = _score_order(np.asarray(scores))
    kept = order[~np.asarray(ignored, bool)[order]]
    hits = np.asarray(tp, bool)[kept]
    true_positives = np.cumsum(hits)
    ranks = np.arange(1, len(hits) + 1)
    return true_positives / float(num_ground_truth), true_positives / ranks


def _check_classes(classes, count, num_classes, name):
    classes = _as_vector(classes, count, name, "class ids")
    if not np.issubdtype(classes.dtype, np.number):
        raise UsageError(f"{name}: class ids must be integers 0..{num_classes - 1}, got {classes.dtype}")
    if classes.size and (not np.all(np.isfinite(classes.astype(np.float64)))
                         or np.any(classes != np.round(classes))):
        raise UsageError(f"{name}: class ids must be whole numbers 0..{num_classes - 1}")
    classes = classes.astype(np.int64)
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        bad = classes[(classes < 0) | (classes >= num_classes)][0]
        raise UsageError(f"{name}: class id {bad} is out of range; give ids 0..{num_classes - 1} "
                         f"(num_classes={num_classes})")
    return classes


def _unpack(entry, sizes, name, what):
    if not isinstance(entry, (tuple, list)) or len(entry) not in sizes:
        raise UsageError(f"{name}: expected a tuple {what} for one image, got {type(entry).__name__}"
                         + (f" of length {len(entry)}" if isinstance(entry, (tuple, list)) else ""))
    return entry


def _check_images(detections, ground_truth, num_classes):
    """Validated per-image arrays: [(boxes, scores, classes)], [(boxes, classes, difficult)]."""
    for name, value in (("detections", detections), ("ground_truth", ground_truth)):
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"{name}: give a list with one entry per image, got {type(value).__name__}")
    if len(detections) != len(ground_truth):
        raise UsageError(f"detections, ground_truth: {len(detections)} and {len(ground_truth)} "
                         "images; give one entry per image in both, in the same order")
    dets, gts = [], []
    for i, entry in enumerate(detections):
        boxes, scores, classes = _unpack(entry, (3,), f"detections[{i}]", "(boxes, scores, classes)")
        boxes = check_boxes(boxes, f"detections[{i}] boxes")
        dets.append((boxes, _check_scores(scores, len(boxes), f"detections[{i}] scores"),
                     _check_classes(classes, len(boxes), num_classes, f"detections[{i}] classes")))
    for i, entry in enumerate(ground_truth):
        entry = _unpack(entry, (2, 3), f"ground_truth[{i}]", "(boxes, classes[, difficult])")
        boxes = check_boxes(entry[0], f"ground_truth[{i}] boxes")
        classes = _check_classes(entry[1], len(boxes), num_classes, f"ground_truth[{i}] classes")
        difficult = _check_flags(entry[2] if len(entry) == 3 else None, len(boxes),
                                 f"ground_truth[{i}] difficult")
        gts.append((boxes, classes, difficult))
    return dets, gts


def _check_settings(num_classes, iou_thresholds, interpolation, class_names):
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise UsageError(f"num_classes: must be a positive integer, got {num_classes!r}")
    thresholds = np.asarray(iou_thresholds, np.float64).reshape(-1)
    if thresholds.size == 0:
        raise UsageError("iou_thresholds: give at least one IoU threshold, e.g. (0.5,)")
    for t in thresholds:
        _check_threshold(t, "iou_thresholds")
    if interpolation not in INTERPOLATIONS:
        raise UsageError(f"interpolation: must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    if len(class_names) != num_classes or len(set(class_names)) != num_classes:
        raise UsageError(f"class_names: give {num_classes} distinct names (one per class), "
                         f"got {len(class_names)}")
    return thresholds, [str(n) for n in class_names]


def _match_all_thresholds(det_boxes, det_scores, gt_boxes, gt_difficult, thresholds):
    """:func:`match_detections` at every threshold, sharing the IoU matrix: bool [T, D] twice."""
    best_gt, best_iou = _best_ground_truth(det_boxes, gt_boxes)
    order = _score_order(det_scores)
    pairs = [_greedy_match(order, best_gt, best_iou, gt_difficult, t) for t in thresholds]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _collect(dets, gts, c, thresholds):
    """Class ``c`` over all images: its scores [D], tp and ignored [T, D], objects counted."""
    scores, tps, ignoreds, num_gt = [], [], [], 0
    for (d_boxes, d_scores, d_classes), (g_boxes, g_classes, g_difficult) in zip(dets, gts):
        d, g = d_classes == c, g_classes == c
        num_gt += int(np.sum(~g_difficult[g]))
        if not np.any(d):
            continue
        tp, ignored = _match_all_thresholds(d_boxes[d], d_scores[d], g_boxes[g], g_difficult[g],
                                            thresholds)
        scores.append(d_scores[d])
        tps.append(tp)
        ignoreds.append(ignored)
    if not scores:
        empty = np.zeros((len(thresholds), 0), bool)
        return np.zeros(0, np.float32), empty, empty, num_gt
    return np.concatenate(scores), np.hstack(tps), np.hstack(ignoreds), num_gt


def _nanmean(values):
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def evaluate_detections(detections, ground_truth, num_classes, iou_thresholds=COCO_IOU_THRESHOLDS,
                        interpolation="all", class_names=None):
    """Average precision per class and IoU threshold, and the two mAPs.

    Args:
      detections: one entry per image, ``(boxes [k, 4], scores [k], classes [k])``
        (corners; an image without detections: ``k = 0``).
      ground_truth: one entry per image, in the same order,
        ``(boxes [g, 4], classes [g])`` or ``(boxes, classes, difficult [g])``.
      num_classes: the number of classes; ids are ``0 .. num_classes - 1``.
      iou_thresholds: the IoU thresholds to evaluate at, each in [0, 1]
        (default COCO's 0.50, 0.55, ..., 0.95). IoU 0.5 is always evaluated
        too, for ``map_50``, ``ap_per_class`` and ``pr_curves``.
      interpolation: how AP measures the area, see :func:`average_precision`
        (``"all"``: VOC 2010+; ``"101"``: COCO; ``"11"``: VOC 2007).
      class_names: ``num_classes`` names for the dictionaries' keys
        (default ``"0"``, ``"1"``, ...).

    Returns:
      A dict with
      ``"ap"``: float [T, C], AP at each threshold for each class (NaN for a
      class without non-difficult ground truth: it has no recall);
      ``"ap_per_class"``: {name: AP at IoU 0.5};
      ``"map_50"``: the mean over classes of AP at IoU 0.5 (VOC);
      ``"map_50_95"``: the mean of ``"ap"`` over thresholds and classes (COCO's
      mAP@[.5:.95] with the default thresholds); both means skip NaN classes
      and are NaN only when no class has ground truth;
      ``"pr_curves"``: {name: (recall, precision)} at IoU 0.5, float [D'] each,
      one point per ranked detection, before interpolation (empty arrays for a
      class without ground truth);
      ``"num_ground_truth"``: int [C], non-difficult objects per class;
      ``"num_detections"``: int [C], detections per class;
      ``"iou_thresholds"``: the thresholds of ``"ap"``'s rows, as floats.
    """
    thresholds, names = _check_settings(num_classes, iou_thresholds, interpolation, class_names)
    dets, gts = _check_images(detections, ground_truth, num_classes)
    at_50 = np.flatnonzero(np.isclose(thresholds, 0.5))
    evaluated = thresholds if at_50.size else np.append(thresholds, 0.5)
    row_50 = int(at_50[0]) if at_50.size else len(thresholds)
    ap = np.full((len(evaluated), num_classes), np.nan)
    pr_curves, num_gt, num_det = {}, np.zeros(num_classes, np.int64), np.zeros(num_classes, np.int64)
    for c, name in enumerate(names):
        scores, tp, ignored, num_gt[c] = _collect(dets, gts, c, evaluated)
        num_det[c] = len(scores)
        pr_curves[name] = (np.zeros(0), np.zeros(0))
        if num_gt[c] == 0:
            continue                    # no objects: recall, and so AP, undefined
        for t in range(len(evaluated)):
            recall, precision = precision_recall(scores, tp[t], ignored[t], num_gt[c])
            ap[t, c] = average_precision(recall, precision, interpolation)
            if t == row_50:
                pr_curves[name] = (recall, precision)
    return {"ap": ap[:len(thresholds)],
            "ap_per_class": {name: float(ap[row_50, c]) for c, name in enumerate(names)},
            "map_50": _nanmean(ap[row_50]),
            "map_50_95": _nanmean(ap[:len(thresholds)]),
            "pr_curves": pr_curves,
            "num_ground_truth": num_gt,
            "num_detections": num_det,
            "iou_thresholds": [float(t) for t in thresholds]}
