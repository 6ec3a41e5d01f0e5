"""Drawing boxes, and the figures a detection run writes to ``OUT/figures``.

* ``detections.png``: test images with every cell's box before NMS, then the
  boxes NMS keeps, the ground truth dashed;
* ``pr_curves.png``: precision against recall per class at IoU 0.5 (the area
  under each curve is that class's AP);
* ``iou.png``: ground-truth boxes beside the detections that matched them,
  their intersection shaded and the IoU written;
* ``anchors.png``: Faster R-CNN anchors (3 scales x 3 aspect ratios) over a
  test image, at the run's stride;
* ``learning_curves.png``: the loss and the validation mAP@0.5 per epoch.

:func:`draw_image` and :func:`draw_boxes` are shared with the registered slide
figures (:mod:`tfgraph_lessons.figures.detection`). Images are drawn with
``extent=(0, W, H, 0)`` so that pixel ``i`` covers ``[i, i + 1]``, the
continuous coordinates the boxes are written in.
"""
import numpy as np

from tfgraph_lessons.core import plots
from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.detection import boxes as box_ops

__all__ = ["draw_image", "draw_boxes", "shade_intersection", "write_run_figures",
           "BEFORE_SCORE", "AFTER_SCORE"]

BEFORE_SCORE = 0.02    # the before-NMS row draws every cell's box scoring at least this,
AFTER_SCORE = 0.25     # the after-NMS row the kept boxes scoring at least this


def draw_image(ax, image):
    """An image (uint8 ``[H, W, C]``) in the boxes' continuous pixel coordinates."""
    h, w = image.shape[:2]
    gray = image.shape[-1] == 1
    ax.imshow(image[..., 0] if gray else image, cmap=CMAPS["image"] if gray else None,
              extent=(0, w, h, 0), interpolation="nearest")
    ax.set(xlim=(0, w), ylim=(h, 0), xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set_visible(False)


def draw_boxes(ax, boxes, classes=None, scores=None, class_names=None, color="tab:red",
               linestyle="-", linewidth=1.5, fontsize=7, alpha=1.0):
    """Rectangles for corners ``boxes`` ``[N, 4]``, labelled ``class score`` above each."""
    from matplotlib.patches import Rectangle

    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linestyle=linestyle, linewidth=linewidth, alpha=alpha))
        text = []
        if classes is not None:
            c = int(classes[i])
            text.append(class_names[c] if class_names else str(c))
        if scores is not None:
            text.append(f"{float(scores[i]):.2f}")
        if text:
            ax.text(x1, y1, " ".join(text), color="white", fontsize=fontsize, va="bottom",
                    bbox=dict(facecolor=color, edgecolor="none", pad=0.5, alpha=0.8))


def shade_intersection(ax, a, b, color="gold"):
    """Fill the intersection of corners boxes ``a`` and ``b`` (nothing if they miss)."""
    from matplotlib.patches import Rectangle

    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x2 > x1 and y2 > y1:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, color=color, alpha=0.5, lw=0))


# --------------------------------------------------------------------------- run figures


@plots.styled
def detections_figure(test, before, after, class_names, nms_iou):
    """Row 1: every cell's box scoring >= BEFORE_SCORE; row 2: the boxes NMS keeps that
    score >= AFTER_SCORE, labelled with class and score."""
    count = len(before["boxes"])
    fig = plots._figure((2.0 * count, 4.6))
    axes = fig.subplots(2, count, squeeze=False)
    for i in range(count):
        for row, (found, least) in enumerate(((before, BEFORE_SCORE), (after, AFTER_SCORE))):
            ax = axes[row, i]
            draw_image(ax, test.images[i])
            draw_boxes(ax, test.boxes[i], color="limegreen", linestyle="--", linewidth=1)
            n = int(found["count"][i]) if "count" in found else len(found["boxes"][i])
            keep = found["scores"][i][:n] >= least
            if row == 0:
                draw_boxes(ax, found["boxes"][i][:n][keep], linewidth=0.8, alpha=0.6)
            else:
                draw_boxes(ax, found["boxes"][i][:n][keep], found["classes"][i][:n][keep],
                           found["scores"][i][:n][keep], class_names)
        if i == 0:
            axes[0, 0].set_ylabel(f"before NMS\n(score >= {BEFORE_SCORE})")
            axes[1, 0].set_ylabel(f"after NMS\n(score >= {AFTER_SCORE})")
    fig.suptitle(f"every grid cell's box (top) and what per-class NMS at IoU {nms_iou} keeps "
                 "(bottom); ground truth dashed green", fontsize=10)
    return fig


@plots.styled
def pr_figure(results, title):
    """Precision against recall at IoU 0.5, one line per class, AP in the legend."""
    fig = plots._figure((6.5, 5))
    ax = fig.subplots()
    for name, (recall, precision) in results["pr_curves"].items():
        ap = results["ap_per_class"].get(name)
        if ap is None or np.isnan(ap):
            continue
        ax.plot(recall, precision, lw=1.2, label=f"{name}: AP {ap:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def best_matches(test, found, count=4):
    """``(image index, gt box, detection box, IoU)`` for the first ``count`` ground-truth
    boxes that a detection of the right class overlaps."""
    pairs = []
    for i in range(len(test)):
        boxes, classes = found[0][i], found[2][i]
        for gt, c in zip(test.boxes[i], test.classes[i]):
            same = boxes[classes == c]
            if len(same):
                ious = box_ops.iou_np(gt[None], same)[0]
                j = int(np.argmax(ious))
                if ious[j] > 0:
                    pairs.append((i, gt, same[j], float(ious[j])))
                    break
        if len(pairs) == count:
            break
    return pairs


@plots.styled
def iou_figure(test, after):
    """Ground truth (green) and the detection that matched it (red), intersection shaded."""
    found = (after["boxes"], after["scores"], after["classes"])
    counts = after["count"]
    trimmed = tuple([f[i][:int(counts[i])] for i in range(len(counts))] for f in found)
    pairs = best_matches(test.subset(range(len(counts))), trimmed)
    fig = plots._figure((2.4 * max(len(pairs), 1), 2.9))
    axes = np.atleast_1d(fig.subplots(1, max(len(pairs), 1)))
    for ax, (i, gt, det, value) in zip(axes, pairs):
        draw_image(ax, test.images[i])
        shade_intersection(ax, gt, det)
        draw_boxes(ax, [gt], color="limegreen")
        draw_boxes(ax, [det], color="tab:red")
        ax.set_title(f"IoU {value:.2f}", fontsize=10)
    fig.suptitle("IoU = intersection (shaded) / union: ground truth green, detection red",
                 fontsize=10)
    return fig


@plots.styled
def anchors_figure(image, stride, prior, positions=((2, 2), (5, 4))):
    """3 scales x 3 aspect ratios of anchors at a few grid positions over ``image``."""
    from tfgraph_lessons.detection import anchors

    h, w = image.shape[:2]
    scales = (prior / 2, prior, prior * 2)
    ratios = (0.5, 1.0, 2.0)
    grid = anchors.anchors_np(h // stride, w // stride, stride, scales, ratios)
    per_cell = len(scales) * len(ratios)
    fig = plots._figure((5, 5))
    ax = fig.subplots()
    draw_image(ax, image)
    centres = (grid[::per_cell, :2] + grid[::per_cell, 2:]) / 2
    ax.plot(centres[:, 0], centres[:, 1], ".", color="tab:orange", ms=3)
    colors = ("tab:blue", "tab:red", "tab:purple")
    cols = w // stride
    for row, col in positions:
        first = (row * cols + col) * per_cell
        for k in range(per_cell):
            draw_boxes(ax, grid[first + k:first + k + 1], color=colors[k // len(ratios)],
                       linewidth=1)
    ax.set_xlim(-prior, w + prior)
    ax.set_ylim(h + prior, -prior)
    ax.set_title(f"anchors: one set per {stride}-pixel cell (dots), two sets drawn\n"
                 f"scales {', '.join(f'{s:.0f}' for s in scales)} px (blue, red, purple) x "
                 "height:width 1:2, 1:1, 2:1", fontsize=9)
    return fig


@plots.styled
def curves_figure(history, title):
    """Training and validation loss, and validation mAP@0.5, against the epoch."""
    fig = plots._figure((7, 5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    epochs = [h["epoch"] for h in history]
    top.plot(epochs, [h["train_running_loss"] for h in history], "o-", label="training batches")
    top.plot(epochs, [h.get("val_loss") for h in history], "s-", label="validation")
    top.set(ylabel="loss", title=title)
    bottom.plot(epochs, [h.get("val_map_50") for h in history], "o-", color="tab:green")
    bottom.set(xlabel="epoch", ylabel="validation mAP@0.5", ylim=(0, 1.02))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize=8)
    return fig


def write_run_figures(folder, metrics, results, test, before, after, config, prior):
    """All of a run's figures into ``folder``."""
    names = test.class_names
    plots.save_figure(detections_figure(test, before, after, names, config.nms_iou),
                      folder / "detections.png")
    plots.save_figure(pr_figure(results, f"{config.dataset}: mAP@0.5 {metrics['map_50']:.3f}, "
                                         f"mAP@[.5:.95] {metrics['map_50_95']:.3f}"),
                      folder / "pr_curves.png")
    plots.save_figure(iou_figure(test, after), folder / "iou.png")
    plots.save_figure(anchors_figure(test.images[0], config.stride, prior),
                      folder / "anchors.png")
    if metrics["history"]:
        plots.save_figure(curves_figure(metrics["history"], f"grid detector on "
                                                            f"{config.dataset}"),
                          folder / "learning_curves.png")
