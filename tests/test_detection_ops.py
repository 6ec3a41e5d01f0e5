"""Detection ops (boxes, IoU, NMS, anchors, region features) against plain NumPy and TF.

Each graph is built once with placeholders and fed many random cases. The
random boxes lie on an integer grid so that the hard cases happen often:
zero-area boxes, identical boxes, boxes that touch along an edge and boxes
nested inside others.
"""
import importlib
import math

import numpy as np
import pytest

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1

# The modules (the package exports their functions: ``detection.nms`` is the NMS
# function, defined in ``detection.suppression``).
A = importlib.import_module("tfgraph_lessons.detection.anchors")
B = importlib.import_module("tfgraph_lessons.detection.boxes")
N = importlib.import_module("tfgraph_lessons.detection.suppression")
R = importlib.import_module("tfgraph_lessons.detection.regions")


def random_boxes(rng, n, grid=24, max_size=10):
    """[n, 4] corners with many degenerate, identical, touching and nested boxes."""
    xy = rng.integers(0, grid, (n, 2))
    wh = rng.integers(0, max_size, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    for i in range(1, n):
        kind, j = rng.integers(0, 6), rng.integers(0, i)
        if kind == 0:                                   # identical to an earlier box
            boxes[i] = boxes[j]
        elif kind == 1:                                 # touches an earlier box on its right edge
            w = boxes[j, 2] - boxes[j, 0]
            boxes[i] = boxes[j] + [w, 0, w, 0]
        elif kind == 2:                                 # nested inside an earlier box
            boxes[i] = boxes[j] + [1, 1, -1, -1]
            boxes[i, 2:] = np.maximum(boxes[i, 2:], boxes[i, :2])
        elif kind == 3:                                 # zero width
            boxes[i, 2] = boxes[i, 0]
    return boxes


def iou_loop(b1, b2):
    """IoU pair by pair in Python floats: the plainest reference there is."""
    out = np.zeros((len(b1), len(b2)))
    for i, (ax1, ay1, ax2, ay2) in enumerate(b1.tolist()):
        for j, (bx1, by1, bx2, by2) in enumerate(b2.tolist()):
            iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
            ih = max(0.0, min(ay2, by2) - max(ay1, by1))
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - iw * ih
            out[i, j] = iw * ih / union if union > 0 else 0.0
    return out


# --------------------------------------------------------------------------- IoU


def test_iou_equals_numpy_references_on_random_and_special_boxes():
    rng = np.random.default_rng(0)
    with new_graph():
        b1 = tf1.placeholder(tf.float32, [None, 4])
        b2 = tf1.placeholder(tf.float32, [None, 4])
        op = B.iou(b1, b2)
        with tf1.Session() as sess:
            for _ in range(20):
                x, y = random_boxes(rng, 150), random_boxes(rng, 100)
                got = sess.run(op, {b1: x, b2: y})
                np.testing.assert_array_equal(got, B.iou_np(x, y))
                np.testing.assert_allclose(got, iou_loop(x, y), atol=1e-6)
            # Continuous coordinates, thousands of boxes at once.
            x = rng.uniform(0, 100, (3000, 4)).astype(np.float32)
            x[:, 2:] = x[:, :2] + rng.uniform(0, 30, (3000, 2))
            got = sess.run(op, {b1: x, b2: x[:400]})
            np.testing.assert_allclose(got[:300], iou_loop(x[:300], x[:400]), atol=1e-6)
            np.testing.assert_allclose(got, B.iou_np(x, x[:400]), atol=1e-7)
            special = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [4, 0, 8, 4], [1, 1, 3, 3],
                                [2, 2, 2, 2], [2, 2, 2, 2], [0, 0, 0, 9]], np.float32)
            got = sess.run(op, {b1: special, b2: special})
    assert got[0, 1] == 1.0                 # identical
    assert got[0, 2] == 0.0                 # touching along x = 4
    assert got[0, 3] == pytest.approx(4 / 16)   # nested: inner area / outer area
    assert (got[4:, :] == 0).all() and (got[:, 4:] == 0).all()   # zero area, even with itself
    assert np.diag(got)[:4].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_iou_of_empty_lists_has_the_right_shape():
    with new_graph():
        with tf1.Session() as sess:
            out = sess.run(B.iou(np.zeros((0, 4)), [[0, 0, 1, 1], [1, 1, 2, 2]]))
            out2 = sess.run(B.iou([], []))
    assert out.shape == (0, 2) and out2.shape == (0, 0)
    assert B.iou_np([], [[0, 0, 1, 1]]).shape == (0, 1)


# --------------------------------------------------------------------------- NMS


def _nms_case(rng):
    n = int(rng.choice([0, 1, 5, 40, 120]))
    boxes = random_boxes(rng, n, grid=30)
    # Few distinct score values: many ties, which must resolve by index as in TF.
    scores = rng.integers(0, 12, n).astype(np.float32) / 11 if rng.random() < 0.5 \
        else rng.random(n).astype(np.float32)
    iou_threshold = float(rng.choice([0.0, 0.2, 0.5, 0.7, 1.0]))
    score_threshold = None if rng.random() < 0.5 else float(rng.choice([0.0, 0.3, 0.6]))
    max_output = int(rng.choice([0, 1, 3, 10, 200]))
    return boxes, scores, iou_threshold, score_threshold, max_output


def test_nms_equals_numpy_reference_and_tf_non_max_suppression():
    rng = np.random.default_rng(1)
    with new_graph():
        bp = tf1.placeholder(tf.float32, [None, 4])
        sp = tf1.placeholder(tf.float32, [None])
        thr = tf1.placeholder(tf.float32, [])
        low = tf1.placeholder(tf.float32, [])
        cap = tf1.placeholder(tf.int32, [])
        ours = N.nms(bp, sp, cap, thr, low)
        ours_no_threshold = N.nms(bp, sp, cap, thr)
        # TF's op wants [y1, x1, y2, x2].
        ref = tf.image.non_max_suppression(tf.gather(bp, [1, 0, 3, 2], axis=1), sp, cap, thr, low)
        kept_total = 0
        with tf1.Session() as sess:
            for _ in range(150):
                boxes, scores, t, st, m = _nms_case(rng)
                feed = {bp: boxes, sp: scores, thr: t, cap: m,
                        low: -np.inf if st is None else st}
                got, got_none, tf_ref = sess.run([ours, ours_no_threshold, ref], feed)
                np_ref, _ = N.greedy_nms_np(boxes, scores, t, st, m)
                assert got.dtype == np.int32
                np.testing.assert_array_equal(got, tf_ref)
                np.testing.assert_array_equal(got, np_ref)
                np.testing.assert_array_equal(got_none,
                                              N.greedy_nms_np(boxes, scores, t, None, m)[0])
                kept_total += len(got)
            # Thousands of continuous boxes in one go.
            boxes = rng.uniform(0, 500, (3000, 4)).astype(np.float32)
            boxes[:, 2:] = boxes[:, :2] + rng.uniform(1, 60, (3000, 2))
            scores = rng.random(3000).astype(np.float32)
            feed = {bp: boxes, sp: scores, thr: 0.4, cap: 3000, low: 0.1}
            got, tf_ref = sess.run([ours, ref], feed)
    np.testing.assert_array_equal(got, tf_ref)
    np.testing.assert_array_equal(got, N.greedy_nms_np(boxes, scores, 0.4, 0.1)[0])
    assert kept_total > 500 and 100 < len(got) < 3000    # the cases were not all trivial


def test_nms_on_numpy_input_and_empty_list():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]]
    with new_graph():
        kept = N.nms(np.array(boxes), [0.9, 0.8, 0.7, 0.95], 10, iou_threshold=0.5)
        empty = N.nms(np.zeros((0, 4)), [], 10)
        empty_list = N.nms([], [], 5, score_threshold=0.5)
        with tf1.Session() as sess:
            k, e, e2 = sess.run([kept, empty, empty_list])
    # Box 3 (0.95) suppresses its twin 0 and the shifted 1 (IoU 81/119 > 0.5).
    assert k.tolist() == [3, 2]
    assert e.shape == (0,) and e.dtype == np.int32 and e2.shape == (0,)
    assert N.greedy_nms_np([], []) == ([], [])


def test_greedy_nms_np_records_each_step():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 5], [50, 50, 60, 60]]
    kept, steps = N.greedy_nms_np(boxes, [0.9, 0.8, 0.7, 0.6], iou_threshold=0.55)
    assert kept == [0, 2, 3]
    assert [s["kept"] for s in steps] == kept
    assert steps[0]["suppressed"] == [1] and steps[0]["ious"] == pytest.approx([0.9])
    assert steps[1]["suppressed"] == [] and steps[2]["suppressed"] == []


def nms_per_class_reference(boxes, scores, classes, t, st, cap, per_class):
    """Per-class greedy NMS by a loop over classes, merged by score then index."""
    kept = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        k, _ = N.greedy_nms_np(boxes[idx], scores[idx], t, st, per_class)
        kept += idx[k].tolist()
    kept.sort(key=lambda i: (-scores[i], i))
    return kept[:cap]


def test_nms_per_class_equals_a_loop_over_classes():
    rng = np.random.default_rng(2)
    with new_graph():
        bp = tf1.placeholder(tf.float32, [None, 4])
        sp = tf1.placeholder(tf.float32, [None])
        cp = tf1.placeholder(tf.int32, [None])
        thr = tf1.placeholder(tf.float32, [])
        low = tf1.placeholder(tf.float32, [])
        cap = tf1.placeholder(tf.int32, [])
        per = tf1.placeholder(tf.int32, [])
        ours = N.nms_per_class(bp, sp, cp, cap, thr, low, max_per_class=per)
        with tf1.Session() as sess:
            for _ in range(80):
                boxes, scores, t, st, m = _nms_case(rng)
                classes = rng.integers(0, 4, len(boxes))
                pc = int(rng.choice([1, 2, 1000]))
                st = -np.inf if st is None else st
                got = sess.run(ours, {bp: boxes, sp: scores, cp: classes, thr: t, low: st,
                                      cap: m, per: pc})
                want = nms_per_class_reference(boxes, scores, classes, t, st, m, pc)
                np.testing.assert_array_equal(got, want)
    # Two identical boxes of different classes both survive.
    with new_graph():
        with tf1.Session() as sess:
            got = sess.run(N.nms_per_class([[0, 0, 5, 5], [0, 0, 5, 5]], [0.5, 0.9], [0, 1], 10))
    assert got.tolist() == [1, 0]


# --------------------------------------------------------------------------- bad input


def _bad_numpy_calls():
    good = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
    nan = good.copy()
    nan[1, 2] = np.nan
    flipped = np.array([[0, 0, 4, 4], [5, 0, 2, 4]], np.float32)
    return [
        ("scores", lambda: N.nms(good, [0.5], 10)),
        ("iou_threshold", lambda: N.nms(good, [0.5, 0.4], 10, iou_threshold=1.5)),
        ("iou_threshold", lambda: N.nms(good, [0.5, 0.4], 10, iou_threshold=-0.1)),
        ("iou_threshold", lambda: N.nms(good, [0.5, 0.4], 10, iou_threshold=float("nan"))),
        ("boxes", lambda: N.nms(nan, [0.5, 0.4], 10)),
        ("boxes", lambda: N.nms(good + [0, 0, np.inf, 0], [0.5, 0.4], 10)),
        ("boxes", lambda: N.nms(flipped, [0.5, 0.4], 10)),
        ("max_output_size", lambda: N.nms(good, [0.5, 0.4], -1)),
        ("scores", lambda: N.nms(good, [0.5, float("nan")], 10)),
        ("classes", lambda: N.nms_per_class(good, [0.5, 0.4], [0], 10)),
        ("boxes2", lambda: B.iou(good, flipped)),
        ("boxes1", lambda: B.iou(nan, good)),
        ("boxes", lambda: B.check_boxes(flipped)),
        ("gt", lambda: B.check_boxes([[0, 0, 1]], "gt")),
        ("boxes", lambda: B.encode([[0, 0, 0, 4]], [[0, 0, 4, 4]])),
        ("anchors", lambda: B.decode([[0, 0, 0, 0]], [[1, 1, 1, 1]])),
        ("positive_iou", lambda: A.match_anchors(good, good, positive_iou=1.2)),
        ("gt_boxes", lambda: A.match_anchors(good, flipped)),
        ("box_indices", lambda: R.roi_pool(np.zeros((1, 4, 4, 1)), good, [0])),
        ("rois", lambda: R.crop_and_resize(np.zeros((1, 4, 4, 1)), flipped, [0, 0])),
    ]


@pytest.mark.parametrize("argument, call", _bad_numpy_calls(),
                         ids=[f"{i}-{a}" for i, (a, _) in enumerate(_bad_numpy_calls())])
def test_bad_numpy_input_raises_usage_error_naming_the_argument(argument, call):
    with new_graph():
        with pytest.raises(UsageError, match=rf"^{argument}\b") as info:
            call()
    assert isinstance(info.value, ValueError)


def test_bad_tensor_input_fails_at_run_time_naming_the_argument():
    with new_graph():
        bp = tf1.placeholder(tf.float32, [None, 4])
        sp = tf1.placeholder(tf.float32, [None])
        thr = tf1.placeholder(tf.float32, [])
        cap = tf1.placeholder(tf.int32, [])
        kept = N.nms(bp, sp, cap, thr)
        good = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
        ok = {bp: good, sp: [0.5, 0.4], thr: 0.5, cap: 5}
        bad_feeds = [
            ("boxes", {bp: [[0, 0, 4, 4], [0, np.nan, 1, 1]]}),
            ("boxes: NaN or infinite", {bp: [[0, 0, 4, 4], [0, 0, np.inf, 1]]}),
            ("boxes", {bp: [[0, 0, 4, 4], [3, 0, 1, 1]]}),
            ("scores", {sp: [0.5]}),
            ("iou_threshold", {thr: 1.5}),
            ("max_output_size", {cap: -1}),
        ]
        with tf1.Session() as sess:
            assert sess.run(kept, ok).tolist() == [0, 1]
            for argument, change in bad_feeds:
                with pytest.raises(tf.errors.InvalidArgumentError, match=argument):
                    sess.run(kept, {**ok, **change})


# --------------------------------------------------------------------------- formats, encoding


def test_format_conversions_round_trip_and_match_hand_values():
    rng = np.random.default_rng(3)
    corners = random_boxes(rng, 500) + rng.random((500, 1)).astype(np.float32)
    with new_graph():
        bp = tf1.placeholder(tf.float32, [None, 4])
        center = B.corners_to_center(bp)
        xyhw = B.corners_to_xyhw(bp)
        back_c = B.center_to_corners(center)
        back_x = B.xyhw_to_corners(xyhw)
        with tf1.Session() as sess:
            c, x, bc, bx = sess.run([center, xyhw, back_c, back_x], {bp: corners})
            hand = sess.run([B.corners_to_center([[2, 4, 8, 6]]), B.corners_to_xyhw([[2, 4, 8, 6]]),
                             B.area([[2, 4, 8, 6], [1, 1, 1, 5]])])
    np.testing.assert_allclose(bc, corners, atol=1e-5)
    np.testing.assert_allclose(bx, corners, atol=1e-5)
    np.testing.assert_allclose(c, B.corners_to_center_np(corners), atol=1e-6)
    np.testing.assert_allclose(x, B.corners_to_xyhw_np(corners), atol=1e-6)
    np.testing.assert_allclose(B.xyhw_to_corners_np(x), corners, atol=1e-5)
    assert hand[0].tolist() == [[5, 5, 6, 2]]       # centre (5, 5), w 6, h 2
    assert hand[1].tolist() == [[5, 5, 2, 6]]       # the slides' x, y, h, w
    assert hand[2].tolist() == [12, 0]


def test_encode_then_decode_returns_the_boxes():
    rng = np.random.default_rng(4)
    anchors = A.anchors_np(6, 6, 16)
    gt = rng.uniform(0, 90, (len(anchors), 2))
    gt = np.concatenate([gt, gt + rng.uniform(0.5, 80, gt.shape)], axis=1).astype(np.float32)
    with new_graph():
        gp = tf1.placeholder(tf.float32, [None, 4])
        ap = tf1.placeholder(tf.float32, [None, 4])
        scales = (10.0, 10.0, 5.0, 5.0)
        deltas = B.encode(gp, ap, scales)
        back = B.decode(deltas, ap, scales)
        with tf1.Session() as sess:
            d, b = sess.run([deltas, back], {gp: gt, ap: anchors})
            hand = sess.run(B.encode([[0, 0, 10, 20]], [[2, 2, 12, 12]]))
            clipped = sess.run(B.clip_boxes([[-5, 3, 50, 70], [200, 200, 300, 300]], 64, 48))
    np.testing.assert_allclose(b, gt, rtol=1e-5, atol=1e-3)
    # (x - xa) / wa = (5 - 7) / 10, (y - ya) / ha = (10 - 7) / 10, log(10/10), log(20/10)
    np.testing.assert_allclose(hand, [[-0.2, 0.3, 0.0, math.log(2.0)]], rtol=1e-6)
    ca = B.corners_to_center_np(anchors)
    cg = B.corners_to_center_np(gt)
    np.testing.assert_allclose(d[:, 2], 5 * np.log(cg[:, 2] / ca[:, 2]), rtol=1e-4, atol=1e-5)
    assert clipped.tolist() == [[0, 3, 48, 64], [48, 64, 48, 64]]


# --------------------------------------------------------------------------- anchors


def test_generate_anchors_layout_and_sizes():
    with new_graph():
        hp = tf1.placeholder(tf.int32, [])
        wp = tf1.placeholder(tf.int32, [])
        dynamic = A.generate_anchors(hp, wp, 16)
        with tf1.Session() as sess:
            got = sess.run(dynamic, {hp: 3, wp: 5})
    assert got.shape == (3 * 5 * 9, 4)
    np.testing.assert_allclose(got, A.anchors_np(3, 5, 16), atol=1e-4)
    # Position (i=1, j=2), scale 64, ratio 1: row (1 * 5 + 2) * 9 + 4, centre (40, 24).
    np.testing.assert_allclose(got[(1 * 5 + 2) * 9 + 4], [8, -8, 72, 56], atol=1e-4)
    w = got[:9, 2] - got[:9, 0]
    h = got[:9, 3] - got[:9, 1]
    np.testing.assert_allclose(h / w, [0.5, 1, 2] * 3, rtol=1e-5)
    np.testing.assert_allclose(w * h, np.repeat([32.0 ** 2, 64.0 ** 2, 128.0 ** 2], 3), rtol=1e-5)


def _random_gt(rng, n):
    """Ground truth inside a 128 x 128 image, many tiny and very elongated."""
    kind = rng.integers(0, 3, n)
    w = np.where(kind == 0, rng.uniform(1, 4, n), np.where(kind == 1, rng.uniform(60, 120, n),
                                                           rng.uniform(8, 60, n)))
    h = np.where(kind == 0, rng.uniform(1, 4, n), np.where(kind == 1, rng.uniform(1, 5, n),
                                                           rng.uniform(8, 60, n)))
    swap = rng.random(n) < 0.5                   # half the elongated ones stand upright
    w, h = np.where(swap, h, w), np.where(swap, w, h)
    x1 = rng.uniform(0, 128 - w)
    y1 = rng.uniform(0, 128 - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)


def test_match_anchors_gives_every_gt_a_positive_anchor():
    rng = np.random.default_rng(5)
    anchors = A.anchors_np(8, 8, 16, scales=(16.0, 32.0, 64.0))
    with new_graph():
        gp = tf1.placeholder(tf.float32, [None, 4])
        matched, labels = A.match_anchors(anchors, gp)
        plain = A.match_anchors(anchors, gp, force_match=False)
        with tf1.Session() as sess:
            for _ in range(40):
                gt = _random_gt(rng, int(rng.integers(1, 12)))
                m, lab = sess.run([matched, labels], {gp: gt})
                m0, lab0 = sess.run(plain, {gp: gt})
                overlaps = B.iou_np(anchors, gt)
                best = overlaps.max(axis=1)
                for g in range(len(gt)):
                    assert ((m == g) & (lab == 1)).any(), f"gt box {g} {gt[g]} has no anchor"
                # Without forcing: exactly the thresholds, matched to the best box.
                want = np.where(best >= 0.7, 1, np.where(best < 0.3, 0, -1))
                np.testing.assert_array_equal(lab0, want)
                np.testing.assert_array_equal(m0[lab0 == 1], overlaps.argmax(axis=1)[lab0 == 1])
                # Forcing only turns anchors positive; it never drops a positive.
                assert (lab[lab0 == 1] == 1).all() and ((lab == 1) == (m >= 0)).all()
                assert (m[lab != 1] == -1).all()
            # Two identical boxes share one best anchor: both must still get one.
            twins = np.array([[10, 10, 14, 40]] * 2, np.float32)
            m, lab = sess.run([matched, labels], {gp: twins})
            empty_m, empty_lab = sess.run([matched, labels], {gp: np.zeros((0, 4))})
    assert ((m == 0) & (lab == 1)).any() and ((m == 1) & (lab == 1)).any()
    assert (empty_lab == 0).all() and (empty_m == -1).all()


# --------------------------------------------------------------------------- region features


def roi_pool_loop(features, rois, box_indices, ph, pw, scale):
    """Fast R-CNN's RoI max pooling with Python loops (continuous corners, x2 exclusive)."""
    _, height, width, channels = features.shape
    out = np.zeros((len(rois), ph, pw, channels), np.float32)
    for r, (box, b) in enumerate(zip(rois, box_indices)):
        x1, y1, x2, y2 = [int(math.floor(v * scale + 0.5)) for v in box]
        rh, rw = max(y2 - y1, 1), max(x2 - x1, 1)
        for p in range(ph):
            h0 = min(max(y1 + math.floor(p * rh / ph), 0), height)
            h1 = min(max(y1 + math.ceil((p + 1) * rh / ph), 0), height)
            for q in range(pw):
                w0 = min(max(x1 + math.floor(q * rw / pw), 0), width)
                w1 = min(max(x1 + math.ceil((q + 1) * rw / pw), 0), width)
                if h1 > h0 and w1 > w0:
                    out[r, p, q] = features[b, h0:h1, w0:w1].max(axis=(0, 1))
    return out


def test_roi_pool_equals_a_numpy_loop():
    rng = np.random.default_rng(6)
    with new_graph():
        fp = tf1.placeholder(tf.float32, [None, None, None, 3])
        rp = tf1.placeholder(tf.float32, [None, 4])
        ip = tf1.placeholder(tf.int32, [None])
        pooled = R.roi_pool(fp, rp, ip, output_size=(3, 4), spatial_scale=1 / 8)
        with tf1.Session() as sess:
            for _ in range(10):
                feats = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
                # Image of 72 x 88 pixels; some rois stick out of it, some are tiny.
                xy = rng.uniform(-20, 90, (12, 2))
                rois = np.concatenate([xy, xy + rng.uniform(0, 70, (12, 2))], 1).astype(np.float32)
                idx = rng.integers(0, 2, 12)
                got = sess.run(pooled, {fp: feats, rp: rois, ip: idx})
                np.testing.assert_array_equal(got, roi_pool_loop(feats, rois, idx, 3, 4, 1 / 8))


def test_crop_and_resize_on_constant_and_ramp_maps():
    # Channels: a constant 3, the column index (x ramp), the row index (y ramp).
    x_ramp = np.tile(np.arange(10, dtype=np.float32)[None, :], (8, 1))
    y_ramp = np.tile(np.arange(8, dtype=np.float32)[:, None], (1, 10))
    feats = np.stack([np.full((8, 10), 3.0, np.float32), x_ramp, y_ramp], axis=-1)[None]
    rois = np.array([[16, 16, 96, 80], [0, 0, 160, 128], [40, 8, 41, 120]], np.float32)
    with new_graph():
        with tf1.Session() as sess:
            got = sess.run(R.crop_and_resize(feats, rois, [0, 0, 0], crop_size=(2, 4),
                                             spatial_scale=1 / 16))
    for r, (x1, y1, x2, y2) in enumerate(rois / 16):
        # Cell k sits at continuous k + 0.5: bin centres, shifted by -0.5, clamped to the map.
        xs = np.clip(x1 + (np.arange(4) + 0.5) * (x2 - x1) / 4 - 0.5, 0, 9)
        ys = np.clip(y1 + (np.arange(2) + 0.5) * (y2 - y1) / 2 - 0.5, 0, 7)
        np.testing.assert_allclose(got[r, :, :, 0], 3.0, rtol=1e-6)
        np.testing.assert_allclose(got[r, :, :, 1], np.tile(xs, (2, 1)), atol=1e-5)
        np.testing.assert_allclose(got[r, :, :, 2], np.tile(ys[:, None], (1, 4)), atol=1e-5)


def test_spatial_pyramid_pool_has_a_fixed_length_and_pools_bins():
    rng = np.random.default_rng(7)
    with new_graph():
        fp = tf1.placeholder(tf.float32, [None, None, None, 5])
        spp = R.spatial_pyramid_pool(fp, levels=(1, 2, 4))
        assert spp.shape.as_list() == [None, 5 * 21]
        with tf1.Session() as sess:
            for height, width in [(13, 13), (7, 20), (3, 2), (16, 8)]:
                feats = rng.normal(size=(2, height, width, 5)).astype(np.float32)
                got = sess.run(spp, {fp: feats})
                assert got.shape == (2, 105)
                np.testing.assert_array_equal(got[:, :5], feats.max(axis=(1, 2)))      # level 1
                level2 = got[:, 5:25].reshape(2, 2, 2, 5)
                h0, w0 = -(-height // 2), -(-width // 2)                               # ceil(H/2)
                np.testing.assert_array_equal(level2[:, 0, 0], feats[:, :h0, :w0].max(axis=(1, 2)))
                np.testing.assert_array_equal(level2[:, 1, 1],
                                              feats[:, height // 2:, width // 2:].max(axis=(1, 2)))
