"""Detection evaluation: AP by hand, the VOC matching rules, mAP, COCO cross-check, bad input."""
import contextlib
import io

import numpy as np
import pytest

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.detection.evaluate import (COCO_IOU_THRESHOLDS, average_precision,
                                                evaluate_detections, match_detections,
                                                precision_recall)

# ---------------------------------------------------------------------------
# The worked case: one class, 2 images, 5 objects, 7 detections.
#
#   image A objects: G1 [0,0,10,10]   G2 [20,0,30,10]   G3 [40,0,50,10]
#   image B objects: G4 [0,0,10,10]   G5 [20,20,30,30]
#
#   rank score image box            best object, IoU         outcome
#    1   0.95   A   [0,0,10,10]     G1, 1                    TP
#    2   0.90   B   [60,60,70,70]   none, 0                  FP (nothing there)
#    3   0.85   A   [20,0,30,10]    G2, 1                    TP
#    4   0.80   B   [0,1,10,11]     G4, 90/110 = 0.82        TP
#    5   0.70   A   [1,0,11,10]     G1, 0.82, already taken  FP (duplicate)
#    6   0.60   A   [45,0,55,10]    G3, 50/150 = 0.33        FP (poorly placed)
#    7   0.50   B   [20,20,30,30]   G5, 1                    TP
#
#   rank      1    2    3    4    5    6    7
#   TP        1    1    2    3    3    3    4      (cumulative)
#   precision 1   1/2  2/3  3/4  3/5  1/2  4/7
#   recall   1/5  1/5  2/5  3/5  3/5  3/5  4/5
#   envelope  1   3/4  3/4  3/4  4/7  4/7  4/7    (max precision from here on;
#                                                  3/5 > 4/7 at rank 5 only)
#
# "all" (VOC 2010+): area at each recall step, at the envelope's height there:
#   (1/5)(1) + (1/5)(3/4) + (1/5)(3/4) + (1/5)(4/7) = 1/5 + 3/10 + 4/35 = 43/70
# "11" (VOC 2007): interpolated precision at recall 0, .1, ..., 1:
#   r <= 0.2: 1 (3 points); 0.3..0.6: 3/4 (4 points; 0.6 reaches recall 3/5
#   exactly); 0.7, 0.8: 4/7; 0.9, 1.0: 0 (never reached)
#   -> (3 + 3 + 8/7) / 11 = 50/77
# "101" (COCO): r = k/100: k 0..20 -> 1 (21 points), 21..60 -> 3/4 (40),
#   61..80 -> 4/7 (20), 81..100 -> 0 (20)
#   -> (21 + 30 + 80/7) / 101 = 437/707
# ---------------------------------------------------------------------------
GT_A = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]
GT_B = [[0, 0, 10, 10], [20, 20, 30, 30]]
DET_A = ([[0, 0, 10, 10], [20, 0, 30, 10], [1, 0, 11, 10], [45, 0, 55, 10]], [0.95, 0.85, 0.70, 0.60])
DET_B = ([[60, 60, 70, 70], [0, 1, 10, 11], [20, 20, 30, 30]], [0.90, 0.80, 0.50])


def _worked(interpolation, iou_thresholds=(0.5,)):
    detections = [(*DET_A, [0] * 4), (*DET_B, [0] * 3)]
    ground_truth = [(GT_A, [0] * 3), (GT_B, [0] * 2)]
    return evaluate_detections(detections, ground_truth, 1, iou_thresholds=iou_thresholds,
                               interpolation=interpolation)


def test_worked_case_matching_per_image():
    tp, ignored = match_detections(DET_A[0], DET_A[1], GT_A)
    assert tp.tolist() == [True, True, False, False]     # ranks 1, 3, 5 (duplicate), 6
    tp, ignored = match_detections(DET_B[0], DET_B[1], GT_B)
    assert tp.tolist() == [False, True, True]            # ranks 2, 4, 7
    assert not ignored.any()


def test_worked_case_precision_recall_curve():
    recall, precision = _worked("all")["pr_curves"]["0"]
    np.testing.assert_allclose(recall, [1 / 5, 1 / 5, 2 / 5, 3 / 5, 3 / 5, 3 / 5, 4 / 5])
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5, 1 / 2, 4 / 7])


@pytest.mark.parametrize("interpolation, expected", [("all", 43 / 70), ("11", 50 / 77),
                                                     ("101", 437 / 707)])
def test_worked_case_average_precision(interpolation, expected):
    result = _worked(interpolation)
    assert result["map_50"] == pytest.approx(expected, rel=1e-12)
    assert result["ap_per_class"]["0"] == pytest.approx(expected, rel=1e-12)
    recall, precision = result["pr_curves"]["0"]
    assert average_precision(recall, precision, interpolation) == pytest.approx(expected, rel=1e-12)
    assert result["num_ground_truth"].tolist() == [5]
    assert result["num_detections"].tolist() == [7]


def test_average_precision_of_an_empty_curve_is_zero():
    for interpolation in ("all", "11", "101"):
        assert average_precision([], [], interpolation) == 0.0


def test_match_at_exactly_the_threshold():
    # [0,0,10,5] covers half of [0,0,10,10]: IoU 50/100 = 0.5 exactly, which matches at 0.5.
    tp, _ = match_detections([[0, 0, 10, 5]], [0.9], [[0, 0, 10, 10]], iou_threshold=0.5)
    assert tp.tolist() == [True]
    tp, _ = match_detections([[0, 0, 10, 5]], [0.9], [[0, 0, 10, 10]], iou_threshold=0.51)
    assert tp.tolist() == [False]


def test_higher_score_claims_the_object_whatever_the_input_order():
    tp, _ = match_detections([[1, 0, 11, 10], [0, 0, 10, 10]], [0.3, 0.9], [[0, 0, 10, 10]])
    assert tp.tolist() == [False, True]


def _random_scene(rng, num_images, num_classes, max_objects=6):
    """Ground truth with objects on a grid of disjoint 40 x 40 cells (no two overlap)."""
    ground_truth = []
    for _ in range(num_images):
        n = rng.integers(1, max_objects + 1)
        cells = rng.choice(25, size=n, replace=False)
        x1 = (cells % 5) * 40 + rng.uniform(0, 10, n)
        y1 = (cells // 5) * 40 + rng.uniform(0, 10, n)
        boxes = np.stack([x1, y1, x1 + rng.uniform(8, 30, n), y1 + rng.uniform(8, 30, n)], 1)
        ground_truth.append((boxes.astype(np.float32), rng.integers(0, num_classes, n)))
    return ground_truth


def test_perfect_predictions_give_one_at_every_threshold():
    rng = np.random.default_rng(0)
    ground_truth = _random_scene(rng, 20, 4)
    detections = [(b, rng.uniform(0.1, 1, len(b)), c) for b, c in ground_truth]
    for interpolation in ("all", "11", "101"):
        result = evaluate_detections(detections, ground_truth, 4, interpolation=interpolation)
        assert result["ap"].shape == (10, 4)
        np.testing.assert_array_equal(result["ap"], 1.0)
        assert result["map_50"] == result["map_50_95"] == 1.0


def test_no_correct_prediction_gives_zero():
    rng = np.random.default_rng(1)
    ground_truth = _random_scene(rng, 10, 3)
    # Right boxes, wrong class; and right class, boxes far away.
    wrong_class = [(b, np.ones(len(b)), (c + 1) % 3) for b, c in ground_truth]
    far_away = [(b + 1000, np.ones(len(b)), c) for b, c in ground_truth]
    for detections in (wrong_class, far_away):
        result = evaluate_detections(detections, ground_truth, 3)
        np.testing.assert_array_equal(result["ap"], 0.0)
        assert result["map_50"] == result["map_50_95"] == 0.0


def test_no_detections_at_all_gives_zero():
    ground_truth = _random_scene(np.random.default_rng(2), 5, 2)
    detections = [(np.zeros((0, 4)), [], []) for _ in ground_truth]
    result = evaluate_detections(detections, ground_truth, 2)
    np.testing.assert_array_equal(result["ap"], 0.0)
    assert result["num_detections"].tolist() == [0, 0]
    assert result["pr_curves"]["0"][0].size == 0


def test_duplicate_detection_is_a_false_positive():
    objects = [[0, 0, 10, 10], [50, 50, 60, 60]]
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]]     # the first object twice
    tp, _ = match_detections(boxes, [0.9, 0.8, 0.7], objects)
    assert tp.tolist() == [True, False, True]
    # TP FP TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 1/2 + (1/2)(2/3) = 5/6.
    result = evaluate_detections([(boxes, [0.9, 0.8, 0.7], [0, 0, 0])], [(objects, [0, 0])], 1,
                                 iou_thresholds=(0.5,))
    assert result["map_50"] == pytest.approx(5 / 6, rel=1e-12)


def test_difficult_objects_are_ignored():
    objects = [[0, 0, 10, 10], [50, 50, 60, 60]]           # the second is difficult
    difficult = [False, True]
    boxes = [[50, 50, 60, 60], [100, 100, 110, 110], [0, 0, 10, 10]]
    scores = [0.9, 0.85, 0.8]           # on the difficult one, on nothing, on the normal one
    tp, ignored = match_detections(boxes, scores, objects, gt_difficult=difficult)
    assert tp.tolist() == [False, False, True]
    assert ignored.tolist() == [True, False, False]
    # Left with FP, TP over one object: precision 0, 1/2 at recall 0, 1 -> AP 1/2.
    # (Counted as an object: 5/6; counted as a FP: 1/3; ignored but counted: 1/4.)
    result = evaluate_detections([(boxes, scores, [0, 0, 0])], [(objects, [0, 0], difficult)], 1,
                                 iou_thresholds=(0.5,))
    assert result["map_50"] == pytest.approx(1 / 2, rel=1e-12)
    assert result["num_ground_truth"].tolist() == [1]


def test_detection_whose_best_object_is_difficult_is_ignored_even_if_another_matches():
    # The VOC rule looks only at the best-overlapping object (here the difficult one).
    objects = [[0, 0, 10, 10], [2, 0, 12, 10]]
    tp, ignored = match_detections([[0, 0, 10, 10]], [0.9], objects, gt_difficult=[True, False])
    assert tp.tolist() == [False] and ignored.tolist() == [True]


def test_class_without_ground_truth_is_nan_and_left_out_of_the_means():
    ground_truth = [([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1], [False, False]),
                    ([[40, 40, 50, 50]], [2], [True])]           # class 2: only a difficult one
    detections = [([[0, 0, 10, 10], [100, 100, 110, 110]], [0.9, 0.8], [0, 1]),
                  ([[40, 40, 50, 50]], [0.7], [2])]
    result = evaluate_detections(detections, ground_truth, 3, class_names=["a", "b", "c"])
    assert np.isnan(result["ap"][:, 2]).all()
    assert np.isnan(result["ap_per_class"]["c"])
    assert result["ap_per_class"] == pytest.approx({"a": 1.0, "b": 0.0, "c": np.nan}, nan_ok=True)
    assert result["map_50"] == 0.5 and result["map_50_95"] == 0.5
    assert result["num_ground_truth"].tolist() == [1, 1, 0]


def test_shifted_boxes_score_lower_over_the_coco_thresholds():
    rng = np.random.default_rng(3)
    ground_truth = _random_scene(rng, 20, 3)
    # Shift each box by 10% of its size: IoU about 0.8, above 0.5, below 0.85.
    detections = []
    for boxes, classes in ground_truth:
        size = boxes[:, 2:] - boxes[:, :2]
        shift = np.tile(0.1 * size, 2)
        detections.append((boxes + shift, rng.uniform(size=len(boxes)), classes))
    result = evaluate_detections(detections, ground_truth, 3)
    assert result["map_50"] == 1.0
    assert 0.0 < result["map_50_95"] < result["map_50"]
    np.testing.assert_array_equal(result["ap"][-1], 0.0)     # none reaches IoU 0.95


def test_map_50_is_evaluated_even_when_0_5_is_not_among_the_thresholds():
    result = _worked("all", iou_thresholds=(0.9,))
    assert result["ap"].shape == (1, 1)
    # At IoU 0.9 rank 4 (IoU 0.82) is a FP too: T F T F F F T, precision 1, 1/2, 2/3, ..., 3/7
    # at recall 1/5, 1/5, 2/5, ..., 3/5 -> (1/5)(1) + (1/5)(2/3) + (1/5)(3/7) = 44/105.
    assert result["ap"][0, 0] == pytest.approx(44 / 105, rel=1e-12)
    assert result["map_50"] == pytest.approx(43 / 70, rel=1e-12)
    assert result["iou_thresholds"] == [0.9]


def test_precision_recall_leaves_ignored_detections_out():
    recall, precision = precision_recall([0.2, 0.9, 0.5], [True, False, False],
                                         [False, False, True], 2)
    np.testing.assert_allclose(recall, [0, 1 / 2])          # ranks 0.9 (FP), 0.2 (TP)
    np.testing.assert_allclose(precision, [0, 1 / 2])


def _coco_ap(detections, ground_truth, num_classes):
    """AP [T, C] from pycocotools' COCOeval (101 recall points, all areas, 100 detections)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    images, annotations, results = [], [], []
    for i, ((g_boxes, g_classes), (d_boxes, d_scores, d_classes)) in enumerate(
            zip(ground_truth, detections)):
        images.append({"id": i})
        for box, c in zip(np.asarray(g_boxes, float), g_classes):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c) + 1,
                                "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        for box, s, c in zip(np.asarray(d_boxes, float), d_scores, d_classes):
            results.append({"image_id": i, "category_id": int(c) + 1, "score": float(s),
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": annotations,
                           "categories": [{"id": c + 1} for c in range(num_classes)]}
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, :, 0, -1]      # [T, R, K], area "all", 100 dets
    return precision.mean(axis=1)


def test_agrees_with_pycocotools():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(4)
    ground_truth = _random_scene(rng, 30, 3)
    detections = []
    for boxes, classes in ground_truth:
        # Noisy copies (some duplicates, some misses) plus a few boxes of random class.
        keep = rng.uniform(size=len(boxes)) < 0.8
        copies = np.concatenate([boxes[keep], boxes[keep][: 2]])
        noisy = copies + rng.normal(0, 2.0, copies.shape)
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 1)
        extra = rng.uniform(0, 150, (2, 2))
        extra = np.hstack([extra, extra + 20])
        det_boxes = np.vstack([noisy, extra]).astype(np.float32)
        det_classes = np.concatenate([classes[keep], classes[keep][:2], rng.integers(0, 3, 2)])
        detections.append((det_boxes, rng.uniform(size=len(det_boxes)), det_classes))
    ours = evaluate_detections(detections, ground_truth, 3, interpolation="101")["ap"]
    # Objects never overlap here, so VOC's and COCO's matching rules coincide.
    np.testing.assert_allclose(ours, _coco_ap(detections, ground_truth, 3), atol=1e-9)
    assert 0.05 < ours.mean() < 0.95          # a case with both hits and misses


# ---------------------------------------------------------------------------
# Bad input: a UsageError (a ValueError) that names the argument.
# ---------------------------------------------------------------------------
ONE_GT = [([[0, 0, 10, 10]], [0])]
ONE_DET = [([[0, 0, 10, 10]], [0.9], [0])]


@pytest.mark.parametrize("kwargs, match", [
    ({"detections": ONE_DET * 2}, "detections, ground_truth: 2 and 1 images"),
    ({"detections": [([[0, 0, 10, 10]], [0.9, 0.8], [0])]}, r"detections\[0\] scores: expected 1"),
    ({"detections": [([[0, 0, 10, 10]], [np.nan], [0])]}, r"detections\[0\] scores: .*finite"),
    ({"detections": [([[0, 0, 10, 10]], [0.9], [2])]}, r"detections\[0\] classes: class id 2"),
    ({"detections": [([[0, 0, 10, 10]], [0.9], [-1])]}, r"detections\[0\] classes: class id -1"),
    ({"detections": [([[0, 0, 10, 10]], [0.9], [0.5])]}, r"detections\[0\] classes: .*whole"),
    ({"detections": [([[5, 0, 2, 10]], [0.9], [0])]}, r"detections\[0\] boxes: box 0 has x2 < x1"),
    ({"detections": [([[0, 0, 10, 10]], [0.9])]}, r"detections\[0\]: expected a tuple"),
    ({"detections": {"a": 1}}, "detections: give a list"),
    ({"ground_truth": [([[0, 0, 10, 10]], [5])]}, r"ground_truth\[0\] classes: class id 5"),
    ({"ground_truth": [([[0, 0, 10, 10]], [0], [True, False])]}, r"ground_truth\[0\] difficult"),
    ({"iou_thresholds": (0.5, 1.5)}, "iou_thresholds: .* in \\[0, 1\\], got 1.5"),
    ({"iou_thresholds": (-0.1,)}, "iou_thresholds: .* in \\[0, 1\\]"),
    ({"iou_thresholds": ()}, "iou_thresholds: give at least one"),
    ({"interpolation": "voc"}, "interpolation: must be one of"),
    ({"num_classes": 0}, "num_classes: must be a positive integer"),
    ({"class_names": ["a"]}, "class_names: give 2 distinct names .* got 1"),
    ({"class_names": ["a", "a"]}, "class_names: give 2 distinct"),
])
def test_evaluate_detections_rejects_bad_input(kwargs, match):
    args = {"detections": ONE_DET, "ground_truth": ONE_GT, "num_classes": 2}
    args.update(kwargs)
    with pytest.raises(UsageError, match=match):
        evaluate_detections(**args)


def test_bad_input_errors_are_value_errors():
    with pytest.raises(ValueError):
        evaluate_detections(ONE_DET * 2, ONE_GT, 1)


@pytest.mark.parametrize("call, match", [
    (lambda: match_detections([[0, 0, 1, 1]], [0.9, 0.1], [[0, 0, 1, 1]]), "det_scores: expected 1"),
    (lambda: match_detections([[0, 0, 1, 1]], [0.9], [[0, 0, 1, 1]], iou_threshold=1.01),
     "iou_threshold: .* in \\[0, 1\\]"),
    (lambda: match_detections([[0, 0, 1, 1]], [0.9], [[0, 0, 1, np.nan]]), "gt_boxes"),
    (lambda: match_detections([[0, 0, 1, 1]], [0.9], [[0, 0, 1, 1]], gt_difficult=[1, 0]),
     "gt_difficult: expected 1"),
    (lambda: average_precision([0.5, 0.2], [1, 1]), "recall must be non-decreasing"),
    (lambda: average_precision([0.5], [1, 1]), "same length"),
    (lambda: average_precision([0.5], [1.5]), "precision must hold finite values in \\[0, 1\\]"),
    (lambda: average_precision([0.5], [1], "12"), "interpolation must be one of"),
])
def test_match_and_average_precision_reject_bad_input(call, match):
    with pytest.raises(UsageError, match=match):
        call()


def test_coco_thresholds_are_the_ten_from_0_5_to_0_95():
    assert COCO_IOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
