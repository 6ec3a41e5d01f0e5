"""The detection chapter's registered figures show what the ops compute."""
import numpy as np

from tfgraph_lessons import figures
from tfgraph_lessons.detection import boxes as box_ops
from tfgraph_lessons.detection import suppression
from tfgraph_lessons.figures import detection as det_figures

NAMES = ("detection_bounding_box", "detection_iou", "detection_nms", "detection_anchors",
         "detection_pipeline")


def test_every_slide_topic_of_the_chapter_is_registered():
    figures.load_all()
    assert set(NAMES) <= set(figures.FIGURES)


def test_iou_figure_titles_are_the_numpy_iou_of_its_boxes(made):
    fig = made("detection_iou")
    titles = [ax.get_title() for ax in fig.axes]
    truth = np.array([10, 10, 40, 40], np.float32)
    shifts = [(34, 0), (20, 10), (10, 5), (4, 2), (0, 0)]
    expected = box_ops.iou_np(truth[None], np.array([truth + [dx, dy, dx, dy]
                                                    for dx, dy in shifts]))[0]
    assert titles == [f"IoU {v:.2f}" for v in expected]
    assert titles[0] == "IoU 0.00" and titles[-1] == "IoU 1.00"


def test_nms_figure_keeps_what_greedy_nms_keeps_per_class(made):
    fig = made("detection_nms")
    canvas = det_figures._canvases(1, seed=5)
    boxes, scores, classes = det_figures._proposals(canvas.boxes[0], canvas.classes[0],
                                                    np.random.default_rng(0))
    kept = set()
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        kept |= {int(idx[k]) for k in suppression.greedy_nms_np(boxes[idx], scores[idx])[0]}
    after = fig.axes[1].get_title()
    assert after.endswith(f": {len(kept)}"), after
    assert len(kept) >= len(canvas.boxes[0])          # at least one box per digit survives
    assert fig.axes[0].get_title() == f"before: {len(boxes)} proposals"


def test_bounding_box_figure_states_the_first_box_in_xyhw(made):
    fig = made("detection_bounding_box")
    canvas = det_figures._canvases(1, seed=11)
    x, y, h, w = box_ops.corners_to_xyhw_np(canvas.boxes[0][:1])[0]
    assert f"({x:.1f}, {y:.1f}, {h:.1f}, {w:.1f})" in fig.axes[1].get_title()
