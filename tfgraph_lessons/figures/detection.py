"""Detection chapter figures, computed by the chapter's own ops on digit canvases.

The canvases are made from scikit-learn's 8x8 digits (bundled, no download) by
:func:`tfgraph_lessons.detection.digits.make_canvases`, so every figure here
works offline and needs no trained model:

* ``detection_bounding_box``: classification (what) beside detection (what and
  where), one box annotated in the slides' ``(x, y, h, w)``;
* ``detection_iou``: pairs of boxes from disjoint to identical, the IoU of each
  computed by the ``iou`` graph op;
* ``detection_nms``: jittered proposals around each digit (a stand-in for a
  detector's many guesses), before and after per-class NMS;
* ``detection_anchors``: Faster R-CNN's anchors, 3 scales x 3 aspect ratios per
  grid cell;
* ``detection_pipeline``: the slides' four steps: CNN grid, region proposals,
  the training targets, NMS.

A trained detector's own boxes before and after NMS are drawn by the lesson
(``OUT/figures/detections.png``).
"""
import numpy as np

from tfgraph_lessons.figures import register

STRIDE = 8
CANVAS = 64


def _canvases(count=4, seed=3):
    from tfgraph_lessons.detection import digits

    images, labels = digits.sklearn_digits_28()
    return digits.make_canvases(images, labels, count, canvas_size=CANVAS,
                                digits_per_image=(2, 4), seed=seed)


def _proposals(truth, classes, rng, per_box=6):
    """Jittered copies of each true box, scored by their IoU with it (plus noise): what
    a detector's neighbouring cells and anchors propose before NMS."""
    from tfgraph_lessons.detection import boxes as box_ops

    out, scores, labels = [], [], []
    for box, c in zip(truth, classes):
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        jitter = rng.normal(0, 0.12, (per_box, 4)) * size
        jittered = np.sort((box + jitter).reshape(per_box, 2, 2), axis=1).reshape(per_box, 4)
        jittered = np.clip(jittered, 0, CANVAS).astype(np.float32)
        quality = box_ops.iou_np(box[None], jittered)[0]
        out.append(jittered)
        scores.append(np.clip(quality + rng.normal(0, 0.05, per_box), 0.01, 0.99))
        labels.append(np.full(per_box, c))
    return (np.concatenate(out), np.concatenate(scores).astype(np.float32),
            np.concatenate(labels).astype(np.int32))


def _run(fetch_fn):
    """Build ``fetch_fn()`` in a fresh graph and run it once."""
    from tfgraph_lessons.core.graph import new_graph, tf1

    with new_graph():
        fetches = fetch_fn()
        with tf1.Session() as sess:
            return sess.run(fetches)


def _draw_grid(ax, size, stride, color="white"):
    for k in range(stride, size, stride):
        ax.axhline(k, color=color, lw=0.5, alpha=0.5)
        ax.axvline(k, color=color, lw=0.5, alpha=0.5)


@register("detection_bounding_box",
          "classification says what, detection what and where: a box as (x, y, h, w)",
          figsize=(9.0, 4.5))
def bounding_box_figure():
    import matplotlib.pyplot as plt

    from tfgraph_lessons.detection import boxes as box_ops, digits, report

    images, labels = digits.sklearn_digits_28()
    canvas = _canvases(1, seed=11)
    fig, (left, right) = plt.subplots(1, 2)
    report.draw_image(left, images[7][..., None])
    left.set_title(f"classification: \"{labels[7]}\"")
    report.draw_image(right, canvas.images[0])
    report.draw_boxes(right, canvas.boxes[0], canvas.classes[0], class_names=canvas.class_names)
    box = canvas.boxes[0][0]
    x, y, h, w = box_ops.corners_to_xyhw_np(box[None])[0]
    right.plot([x], [y], "o", color="gold", ms=5)
    right.annotate("", (box[2], box[3] + 2), (box[0], box[3] + 2),
                   arrowprops=dict(arrowstyle="<->", color="gold"))
    right.annotate("", (box[2] + 2, box[3]), (box[2] + 2, box[1]),
                   arrowprops=dict(arrowstyle="<->", color="gold"))
    right.set_xlim(-2, CANVAS + 8)
    right.set_ylim(CANVAS + 8, -2)
    right.set_title(f"detection: what and where\nthe first box as (x, y, h, w): "
                    f"({x:.1f}, {y:.1f}, {h:.1f}, {w:.1f})", fontsize=10)
    return fig


@register("detection_iou", "IoU = intersection / union, from disjoint to identical boxes "
                           "(the iou graph op)", figsize=(10.0, 3.2))
def iou_figure():
    import matplotlib.pyplot as plt

    from tfgraph_lessons.detection import boxes as box_ops, report

    truth = np.array([10, 10, 40, 40], np.float32)
    shifts = [(34, 0), (20, 10), (10, 5), (4, 2), (0, 0)]
    guesses = np.array([truth + [dx, dy, dx, dy] for dx, dy in shifts], np.float32)
    ious = _run(lambda: box_ops.iou(truth[None], guesses))[0]
    fig, axes = plt.subplots(1, len(shifts))
    for ax, guess, value in zip(axes, guesses, ious):
        ax.set(xlim=(0, 80), ylim=(55, 0), xticks=[], yticks=[], aspect="equal")
        ax.set_axis_off()
        report.shade_intersection(ax, truth, guess)
        report.draw_boxes(ax, [truth], color="limegreen")
        report.draw_boxes(ax, [guess], color="tab:red", linestyle="--")
        ax.set_title(f"IoU {value:.2f}")
    fig.suptitle("ground truth green, prediction red, intersection shaded; PASCAL VOC counts a "
                 "detection right at IoU >= 0.5", fontsize=10)
    return fig


@register("detection_nms", "non-maximum suppression: many overlapping proposals, one box "
                           "per object after per-class NMS (the nms graph op)",
          figsize=(9.0, 4.5))
def nms_figure():
    import matplotlib.pyplot as plt

    from tfgraph_lessons.detection import report
    from tfgraph_lessons.detection.suppression import nms_per_class

    canvas = _canvases(1, seed=5)
    boxes, scores, classes = _proposals(canvas.boxes[0], canvas.classes[0],
                                        np.random.default_rng(0))
    keep = _run(lambda: nms_per_class(boxes, scores, classes, 20, iou_threshold=0.5))
    fig, (before, after) = plt.subplots(1, 2)
    for ax, pick, title in ((before, np.arange(len(boxes)), f"before: {len(boxes)} proposals"),
                            (after, keep, f"after NMS (IoU > 0.5 suppressed): {len(keep)}")):
        report.draw_image(ax, canvas.images[0])
        report.draw_boxes(ax, boxes[pick], classes[pick], scores[pick], linewidth=1,
                          alpha=0.7 if len(pick) > len(keep) else 1.0, fontsize=6)
        ax.set_title(title, fontsize=10)
    fig.suptitle("greedy NMS: keep the best-scoring box, drop the boxes of its class that "
                 "overlap it, repeat", fontsize=10)
    return fig


@register("detection_anchors", "anchors (Faster R-CNN): 3 scales x 3 aspect ratios at every "
                               "grid cell", figsize=(5.5, 5.5))
def anchors_figure():
    from tfgraph_lessons.detection import report

    canvas = _canvases(1, seed=7)
    return report.anchors_figure(canvas.images[0], STRIDE, prior=16.0,
                                 positions=((2, 2), (5, 5)))


@register("detection_pipeline", "the detection pipeline: CNN grid, region proposals, "
                                "training targets, NMS", figsize=(12.0, 3.6))
def pipeline_figure():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from tfgraph_lessons.detection import model, report
    from tfgraph_lessons.detection.suppression import nms_per_class

    canvas = _canvases(1, seed=5)
    image, truth, classes = canvas.images[0], canvas.boxes[0], canvas.classes[0]
    boxes, scores, labels = _proposals(truth, classes, np.random.default_rng(0))
    keep = _run(lambda: nms_per_class(boxes, scores, labels, 20, iou_threshold=0.5))
    targets = model.encode_targets([truth], [classes], (CANVAS // STRIDE,) * 2, STRIDE, 16.0)
    fig, axes = plt.subplots(1, 4)
    for ax in axes:
        report.draw_image(ax, image)
    _draw_grid(axes[0], CANVAS, STRIDE)
    axes[0].set_title("1. CNN: an 8x8 grid of cells", fontsize=10)
    report.draw_boxes(axes[1], boxes, linewidth=0.8, alpha=0.6)
    axes[1].set_title(f"2. region search: {len(boxes)} proposals", fontsize=10)
    _draw_grid(axes[2], CANVAS, STRIDE)
    for row, col in zip(*np.nonzero(targets[0, ..., 0])):
        axes[2].add_patch(Rectangle((col * STRIDE, row * STRIDE), STRIDE, STRIDE,
                                    color="gold", alpha=0.6, lw=0))
    report.draw_boxes(axes[2], truth, classes, color="limegreen")
    axes[2].set_title("3. training: the centre's cell learns the box", fontsize=10)
    report.draw_boxes(axes[3], boxes[keep], labels[keep], scores[keep], fontsize=6)
    axes[3].set_title(f"4. NMS: {len(keep)} boxes kept", fontsize=10)
    return fig
