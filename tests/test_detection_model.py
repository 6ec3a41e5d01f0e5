"""The grid detector: targets, loss and decoding agree with each other and with the boxes."""
import math

import numpy as np
import pytest
import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.detection import boxes as box_ops
from tfgraph_lessons.detection import model

STRIDE, PRIOR, GRID = 8, 20.0, (8, 8)


def random_boxes(rng, count):
    """Boxes whose centres fall in distinct cells, as the digit canvases' are."""
    cells = rng.choice(GRID[0] * GRID[1], count, replace=False)
    rows, cols = np.divmod(cells, GRID[1])
    cx = (cols + rng.uniform(0.05, 0.95, count)) * STRIDE
    cy = (rows + rng.uniform(0.05, 0.95, count)) * STRIDE
    w, h = rng.uniform(6, 40, count), rng.uniform(6, 40, count)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)


def logits_for(targets, confident=12.0):
    """The raw outputs a perfect network would give for ``targets``."""
    positive = targets[..., 0]
    tx = np.clip(targets[..., 1:3], 1e-4, 1 - 1e-4)
    box = np.concatenate([np.log(tx / (1 - tx)), targets[..., 3:5]], -1)
    classes = np.eye(10, dtype=np.float32)[targets[..., 5].astype(int)] * 2 * confident
    return {"objectness": np.where(positive > 0, confident, -confident).astype(np.float32),
            "box": box.astype(np.float32), "class_logits": classes - confident}


def test_encode_targets_puts_each_box_in_the_cell_of_its_centre():
    boxes = [np.array([[10, 20, 30, 36], [40, 2, 50, 10]], np.float32)]
    t = model.encode_targets(boxes, [np.array([3, 7])], GRID, STRIDE, PRIOR)
    assert t.shape == (1, 8, 8, 6) and t[..., 0].sum() == 2
    # centre (20, 28): column 2, row 3, at (0.5, 0.5) of the cell
    np.testing.assert_allclose(t[0, 3, 2], [1, 0.5, 0.5, math.log(20 / PRIOR),
                                            math.log(16 / PRIOR), 3], rtol=1e-6)
    np.testing.assert_allclose(t[0, 0, 5], [1, 0.625, 0.75, math.log(10 / PRIOR),
                                            math.log(8 / PRIOR), 7], rtol=1e-6)


def test_shared_cell_goes_to_the_larger_box_and_is_counted():
    boxes = [np.array([[0, 0, 30, 30], [10, 10, 20, 20]], np.float32)]   # both centres (15, 15)
    t = model.encode_targets(boxes, [np.array([1, 2])], GRID, STRIDE, PRIOR)
    assert t[0, 1, 1, 5] == 1 and t[..., 0].sum() == 1
    assert model.cell_collisions(boxes, STRIDE) == 1


def test_decode_inverts_encode_and_the_loss_vanishes_for_perfect_outputs():
    rng = np.random.default_rng(0)
    truth = [random_boxes(rng, k) for k in (1, 3, 5, 2)]
    classes = [rng.integers(0, 10, len(b)) for b in truth]
    targets = model.encode_targets(truth, classes, GRID, STRIDE, PRIOR)
    perfect = logits_for(targets)
    with new_graph():
        outputs = {k: tf.constant(v) for k, v in perfect.items()}
        decoded = model.decode(outputs, STRIDE, PRIOR)
        losses = model.detection_loss(outputs, tf.constant(targets))
        wrong = dict(outputs, class_logits=-outputs["class_logits"])
        wrong_losses = model.detection_loss(wrong, tf.constant(targets))
        with tf1.Session() as sess:
            d, l, lw = sess.run([decoded, losses, wrong_losses])
    for i, (boxes, cls) in enumerate(zip(truth, classes)):
        kept = d["scores"][i] > 0.5
        assert kept.sum() == len(boxes)
        order = np.argsort(box_ops.iou_np(boxes, d["boxes"][i][kept]).argmax(1))
        np.testing.assert_allclose(d["boxes"][i][kept][np.argsort(order)],
                                   boxes, atol=2e-3)
        assert sorted(d["classes"][i][kept]) == sorted(cls)
    assert l["loss"] < 1e-3 and l["class_accuracy"] == 1.0
    assert lw["class_loss"] > 10 and lw["class_accuracy"] == 0.0


def test_detect_keeps_one_box_per_object_and_pads():
    box = np.array([10, 10, 30, 30], np.float32)
    decoded = {"boxes": np.stack([box, box + 1, box + 30, box]).reshape(1, 4, 4),
               "scores": np.array([[0.9, 0.8, 0.7, 0.005]], np.float32),
               "classes": np.array([[1, 1, 1, 2]], np.int32)}
    with new_graph():
        out = model.detect({k: tf.constant(v) for k, v in decoded.items()}, max_detections=5)
        with tf1.Session() as sess:
            got = sess.run(out)
    assert got["count"].tolist() == [2]              # the near copy suppressed, 0.005 below
    np.testing.assert_allclose(got["scores"][0], [0.9, 0.7, 0, 0, 0])
    assert got["classes"][0].tolist() == [1, 1, -1, -1, -1]


def test_network_shapes_and_the_objectness_prior():
    with new_graph():
        images = tf1.placeholder(tf.float32, [None, 64, 64, 1])
        outputs, end_points = model.grid_detector(images, 10, False, width=8)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            got = sess.run(outputs, {images: np.zeros((2, 64, 64, 1), np.float32)})
    assert got["objectness"].shape == (2, 8, 8) and got["box"].shape == (2, 8, 8, 4)
    assert got["class_logits"].shape == (2, 8, 8, 10)
    # every cell starts at P(object) = 0.01: the empty cells do not swamp the loss
    np.testing.assert_allclose(1 / (1 + np.exp(-got["objectness"])), 0.01, atol=1e-3)


@pytest.mark.parametrize("size, stride, fragment", [(60, 8, "whole number"),
                                                    (64, 6, "power of two")])
def test_sizes_the_grid_cannot_take_are_refused(size, stride, fragment):
    with pytest.raises(UsageError, match=fragment):
        model.check_image_size(size, size, stride)
