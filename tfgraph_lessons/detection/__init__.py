"""Detection chapter: boxes, IoU, NMS, anchors and region features as graph ops, a grid
detector trained end to end, and VOC / COCO average precision.

Classification says *what* is in an image; detection says *what and where*, as
a box. The parts, in the slides' order:

* :mod:`.boxes`: the box formats (corners, centre, the slides' ``(x, y, h, w)``),
  area, IoU, and Faster R-CNN's box encoding;
* :mod:`.suppression`: ``nms``, greedy non-maximum suppression written from graph ops, per class;
* :mod:`.anchors`: anchors over a feature map and matching them to ground truth;
* :mod:`.regions`: region features, SPPNet's pyramid pooling, Fast R-CNN's RoI
  pooling and crop-and-resize;
* :mod:`.dataset`, :mod:`.digits`, :mod:`.voc`: the data (digit canvases made
  from real MNIST digits; PASCAL VOC 2007);
* :mod:`.model`: the single-shot grid detector (YOLO v1 in spirit);
* :mod:`.evaluate`: average precision, VOC and COCO style;
* :mod:`.lesson`: ``python -m tfgraph_lessons.detection``.
"""
from tfgraph_lessons.detection.anchors import anchors_np, generate_anchors, match_anchors
from tfgraph_lessons.detection.boxes import (area, center_to_corners, check_boxes, clip_boxes,
                                             corners_to_center, corners_to_xyhw, decode,
                                             encode, iou, iou_np, xyhw_to_corners)
from tfgraph_lessons.detection.dataset import DetectionSet, load_detection, pad_boxes
from tfgraph_lessons.detection.evaluate import (average_precision, evaluate_detections,
                                                match_detections)
from tfgraph_lessons.detection.suppression import greedy_nms_np, nms, nms_per_class
from tfgraph_lessons.detection.regions import crop_and_resize, roi_pool, spatial_pyramid_pool

__all__ = [
    "area", "center_to_corners", "check_boxes", "clip_boxes", "corners_to_center",
    "corners_to_xyhw", "decode", "encode", "iou", "iou_np", "xyhw_to_corners",
    "nms", "nms_per_class", "greedy_nms_np",
    "generate_anchors", "anchors_np", "match_anchors",
    "roi_pool", "crop_and_resize", "spatial_pyramid_pool",
    "DetectionSet", "load_detection", "pad_boxes",
    "average_precision", "evaluate_detections", "match_detections",
    "main", "parse_config", "run",
]


def __getattr__(name):
    """The lesson's entry points (main, parse_config, run), imported on first use, so that
    ``python -m tfgraph_lessons.detection.lesson`` does not find its module already imported."""
    if name in ('main', 'parse_config', 'run'):
        from tfgraph_lessons.detection import lesson

        return getattr(lesson, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
