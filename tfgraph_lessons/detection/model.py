"""The chapter's detector: a single-shot grid detector, YOLO v1 in spirit.

[1] J. Redmon, S. Divvala, R. Girshick, A. Farhadi. "You Only Look Once: Unified,
    Real-Time Object Detection." CVPR 2016, arXiv:1506.02640.
[2] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. "Focal Loss for Dense
    Object Detection." ICCV 2017, arXiv:1708.02002 (the objectness prior).

The slides' pipeline is (1) a CNN, (2) region search, (3) training, (4) NMS.
YOLO folds (2) into (1): the image is cut into an ``S x S`` grid, and the cell
that holds a box's *centre* is responsible for that box. One pass of a CNN
gives, for every cell at once:

* an **objectness** logit: "the centre of an object lies in this cell";
* a **box**: ``(tx, ty)`` where in the cell the centre lies (a sigmoid, so it
  stays inside the cell) and ``(tw, th)`` the log of the box's size relative to
  a prior size (the box can be larger than the cell);
* **class** logits, one per class.

Here the backbone halves the image ``log2(stride)`` times (3x3 convolutions,
batch norm, ReLU, 2x2 max pooling; the width doubles at each halving, up to
``4 * width``), two more 3x3 convolutions widen what each cell sees (the
receptive field reaches 47 pixels at stride 8, more than the largest digit),
and three 1x1 convolutions read the three outputs off the last feature map.
One box per cell rather than [1]'s two: the digit canvases keep box centres at
least 12 pixels apart, so no two fall into one 8-pixel cell (their diagonal is
11.3), and a second box would have nothing to learn.

The loss (:func:`detection_loss`), summed over cells and averaged over images:

* objectness: sigmoid cross-entropy on every cell (a cell is positive when a
  centre falls in it). [1] used a squared error with the empty cells' weight
  lowered to 0.5; cross-entropy with the objectness bias starting at
  ``log(0.01 / 0.99)`` [2] keeps the 60-odd empty cells from drowning the
  two or three positive ones at the start, without a hand-set weight;
* box: squared error of ``(sigmoid(tx), sigmoid(ty), tw, th)`` on positive cells,
  weighted by ``lambda_coord = 5`` as in [1] ([1] regresses square roots of the
  width and height so that an error counts more on a small box; the log does
  the same);
* class: softmax cross-entropy on positive cells only.

:func:`decode` turns the grid into boxes in image pixels with a score per box,
``P(object) * P(class | object)`` as in [1], and :func:`detect` keeps the boxes
over a score threshold and runs per-class NMS on each image.
"""
import math

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core import layers
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.detection.suppression import nms_per_class

__all__ = ["grid_detector", "encode_targets", "detection_loss", "decode", "detect",
           "check_image_size", "TARGET_FIELDS"]

TARGET_FIELDS = ("objectness", "tx", "ty", "tw", "th", "class")   # the last axis of a target
LAMBDA_COORD = 5.0          # [1]: the box error counts 5 times the classification's
OBJECTNESS_PRIOR = 0.01     # [2]: at the start every cell says "object" with p = 0.01
MAX_LOG_SIZE = 4.0          # exp(4) = 55 priors: no overflow from an untrained tw, th


def check_image_size(height, width, stride):
    """Refuse an image the grid cannot cut into whole cells, with one line that says why."""
    if stride < 2 or stride & (stride - 1):
        raise UsageError(f"--stride must be a power of two >= 2 (one max pooling per "
                         f"halving), got {stride}")
    if height % stride or width % stride:
        raise UsageError(f"the images ({height}x{width}) must be a whole number of "
                         f"{stride}-pixel cells; use a --canvas-size that is a multiple "
                         f"of --stride {stride}")


def grid_detector(images, num_classes, is_training, width=32, stride=8,
                  scope="grid_detector"):
    """The network: images in, the ``S x S`` grid of predictions out.

    Args:
      images: float ``[batch, H, W, C]``, standardised.
      num_classes: number of object classes.
      is_training: bool tensor (batch norm's statistics).
      width: channels of the first convolution.
      stride: pixels per grid cell, a power of two (``H / stride`` cells a side).
    Returns:
      ``(outputs, end_points)``: outputs is a dict of ``objectness`` ``[b, S, S]``,
      ``box`` ``[b, S, S, 4]`` (raw ``tx, ty, tw, th``) and ``class_logits``
      ``[b, S, S, num_classes]``; end_points the feature maps by layer name.
    """
    height, w = int(images.shape[1]), int(images.shape[2])
    check_image_size(height, w, stride)
    end_points = {}
    with tf1.variable_scope(scope):
        x = images
        channels = width
        for level in range(int(math.log2(stride))):
            x = conv_bn_relu(x, channels, is_training, f"conv{level + 1}")
            x = layers.max_pool(x, 2, 2, name=f"pool{level + 1}")
            end_points[f"pool{level + 1}"] = x
            channels = min(2 * channels, 4 * width)
        for name in ("conv_a", "conv_b"):
            x = conv_bn_relu(x, channels, is_training, name)
            end_points[name] = x
        prior = math.log(OBJECTNESS_PRIOR / (1 - OBJECTNESS_PRIOR))
        objectness = layers.conv2d(x, 1, 1, activation=None, stddev=0.01, bias_value=prior,
                                   scope="objectness")
        box = layers.conv2d(x, 4, 1, activation=None, stddev=0.01, bias_value=0.0,
                            scope="box")
        class_logits = layers.conv2d(x, num_classes, 1, activation=None, stddev=0.01,
                                     bias_value=0.0, scope="classes")
    outputs = {"objectness": tf.squeeze(objectness, -1), "box": box,
               "class_logits": class_logits}
    end_points.update(outputs)
    return outputs, end_points


def conv_bn_relu(x, channels, is_training, scope):
    """3x3 convolution (no bias: batch norm's beta is one), batch norm, ReLU."""
    with tf1.variable_scope(scope):
        x = layers.conv2d(x, channels, 3, activation=None, use_bias=False,
                          stddev=math.sqrt(2.0 / (9 * int(x.shape[-1]))))   # He et al.
        return tf.nn.relu(layers.batch_norm(x, is_training))


# --------------------------------------------------------------------------- targets


def encode_targets(boxes_list, classes_list, grid_size, stride, prior_size):
    """Ground-truth boxes -> the grid the network is trained to output (NumPy).

    The cell ``(row, col)`` holding a box's centre gets objectness 1, the centre's
    place inside the cell (``tx, ty`` in [0, 1)), ``tw = log(w / prior_size)``,
    ``th = log(h / prior_size)`` and the class. Should two centres share a cell,
    the larger box keeps it (the data set keeps centres apart, so this is rare;
    :func:`cell_collisions` counts it).

    Args:
      boxes_list: per image, float ``[k, 4]`` corners in pixels.
      classes_list: per image, int ``[k]``.
      grid_size: ``(rows, cols)``.
      stride: pixels per cell.
      prior_size: the box size ``tw = th = 0`` stands for, in pixels.
    Returns:
      float32 ``[N, rows, cols, 6]`` with the fields of :data:`TARGET_FIELDS`.
    """
    rows, cols = grid_size
    targets = np.zeros((len(boxes_list), rows, cols, len(TARGET_FIELDS)), np.float32)
    for n, (boxes, classes) in enumerate(zip(boxes_list, classes_list)):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        sizes = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for k in np.argsort(sizes, kind="stable"):      # larger boxes written last win
            x1, y1, x2, y2 = boxes[k]
            cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
            row, col = min(int(cy), rows - 1), min(int(cx), cols - 1)
            w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
            targets[n, row, col] = (1.0, cx - col, cy - row, math.log(w / prior_size),
                                    math.log(h / prior_size), classes[k])
    return targets


def cell_collisions(boxes_list, stride):
    """How many boxes lose their cell to another box's centre (see :func:`encode_targets`)."""
    lost = 0
    for boxes in boxes_list:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        cells = {(int((b[1] + b[3]) / 2 // stride), int((b[0] + b[2]) / 2 // stride))
                 for b in boxes}
        lost += len(boxes) - len(cells)
    return lost


# --------------------------------------------------------------------------- loss


def detection_loss(outputs, targets):
    """YOLO's three-part loss (see the module docstring).

    Args:
      outputs: :func:`grid_detector`'s dict.
      targets: float ``[b, S, S, 6]`` from :func:`encode_targets`.
    Returns:
      dict of scalar tensors: ``loss`` (the sum), ``objectness_loss``, ``box_loss``,
      ``class_loss`` (each summed over cells, averaged over images) and
      ``class_accuracy`` (the class right, over positive cells).
    """
    with tf.name_scope("detection_loss"):
        positive = targets[..., 0]                          # [b, S, S], 1 at a centre
        images = tf.cast(tf.shape(targets)[0], tf.float32)
        objectness = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=positive, logits=outputs["objectness"])) / images
        box = outputs["box"]
        predicted = tf.concat([tf.sigmoid(box[..., :2]), box[..., 2:]], -1)
        squared = tf.reduce_sum(tf.square(predicted - targets[..., 1:5]), -1)
        box_loss = LAMBDA_COORD * tf.reduce_sum(positive * squared) / images
        labels = tf.cast(targets[..., 5], tf.int32)
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=outputs["class_logits"])
        class_loss = tf.reduce_sum(positive * xent) / images
        right = tf.cast(tf.equal(tf.argmax(outputs["class_logits"], -1, output_type=tf.int32),
                                 labels), tf.float32)
        class_accuracy = tf.reduce_sum(positive * right) / tf.maximum(
            tf.reduce_sum(positive), 1.0)
        return {"loss": objectness + box_loss + class_loss, "objectness_loss": objectness,
                "box_loss": box_loss, "class_loss": class_loss,
                "class_accuracy": class_accuracy}


# --------------------------------------------------------------------------- decoding


def decode(outputs, stride, prior_size):
    """The grid -> one box per cell in image pixels, its class and its score.

    Returns:
      dict: ``boxes`` float ``[b, S*S, 4]`` corners, ``scores`` ``[b, S*S]`` =
      ``P(object) * P(class | object)`` of the most likely class, ``classes``
      int32 ``[b, S*S]``, and ``objectness`` ``[b, S*S]``.
    """
    with tf.name_scope("decode"):
        box = outputs["box"]
        shape = tf.shape(box)
        rows, cols = shape[1], shape[2]
        col, row = tf.meshgrid(tf.range(cols), tf.range(rows))      # [S, S] each
        cx = (tf.cast(col, tf.float32) + tf.sigmoid(box[..., 0])) * stride
        cy = (tf.cast(row, tf.float32) + tf.sigmoid(box[..., 1])) * stride
        w = prior_size * tf.exp(tf.minimum(box[..., 2], MAX_LOG_SIZE))
        h = prior_size * tf.exp(tf.minimum(box[..., 3], MAX_LOG_SIZE))
        corners = tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        objectness = tf.sigmoid(outputs["objectness"])
        probabilities = tf.nn.softmax(outputs["class_logits"])
        classes = tf.argmax(probabilities, -1, output_type=tf.int32)
        scores = objectness * tf.reduce_max(probabilities, -1)
        flat = [shape[0], rows * cols]
        return {"boxes": tf.reshape(corners, [shape[0], rows * cols, 4]),
                "scores": tf.reshape(scores, flat), "classes": tf.reshape(classes, flat),
                "objectness": tf.reshape(objectness, flat)}


def detect(decoded, max_detections=20, iou_threshold=0.5, score_threshold=0.01):
    """Per-class NMS on each image of the batch (the slides' step 4).

    Returns:
      dict of ``boxes`` ``[b, max_detections, 4]``, ``scores``, ``classes``
      (padded with zeros and -1) and ``count`` ``[b]``: image ``i`` has
      ``count[i]`` detections, in decreasing score.
    """
    def one_image(args):
        boxes, scores, classes = args
        keep = nms_per_class(boxes, scores, classes, max_detections,
                                     iou_threshold=iou_threshold,
                                     score_threshold=score_threshold)
        count = tf.shape(keep)[0]
        pad = [[0, max_detections - count]]
        return (tf.pad(tf.gather(boxes, keep), pad + [[0, 0]]),
                tf.pad(tf.gather(scores, keep), pad),
                tf.pad(tf.gather(classes, keep), pad, constant_values=-1), count)

    with tf.name_scope("detect"):
        boxes, scores, classes, count = tf.map_fn(
            one_image, (decoded["boxes"], decoded["scores"], decoded["classes"]),
            fn_output_signature=(tf.float32, tf.float32, tf.int32, tf.int32))
        return {"boxes": boxes, "scores": scores, "classes": classes, "count": count}
