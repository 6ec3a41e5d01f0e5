"""Detection chapter: a grid detector trained end to end, evaluated with VOC and COCO mAP.

    python -m tfgraph_lessons.detection [--dataset digits-mnist|digits-sklearn|voc2007]
        [--canvas-size N] [--train-images N] [--width N] [--stride N] [--lr LR]
        [--nms-iou T] [--score-threshold S] [--max-detections N] [shared lesson options]

The slides' pipeline, step by step: (1) a CNN reads the image; (2) region search,
here YOLO's grid, where each cell proposes one box (:mod:`.model`); (3) training
on the boxes with the three-part loss; (4) NMS keeps one box per object
(:func:`tfgraph_lessons.detection.suppression.nms_per_class`).

Data (:mod:`.dataset`): ``digits-mnist``, real MNIST digits pasted at random sizes
and positions onto 64x64 canvases, one to four per canvas, their boxes possibly
overlapping; train, validation and test canvases are cut from disjoint source
digits. ``digits-sklearn`` does the same with scikit-learn's 8x8 digits (no
download). ``voc2007`` trains on PASCAL VOC 2007's photographs (the official
``train`` list, ``val`` for validation) and evaluates on its ``test`` list, each
photograph resized to ``--canvas-size`` (VOC's "difficult" objects are neither
rewarded nor penalised), downloaded with its checksum.

Evaluation (:mod:`.evaluate`) on the held-out test images: average precision per
class and its mean at IoU 0.5 (PASCAL VOC, all-point interpolation), and the
mean over IoU 0.5, 0.55, ..., 0.95 (COCO). The validation canvases' mAP@0.5 is
measured after every epoch.

Writes ``runs/detection/<dataset>`` (``_fast`` in fast mode): ``metrics.json``
(``map_50``, ``map_50_95``, ``ap_per_class``, ``images_per_second``,
``inference_images_per_second``, ``history``, ``config``), ``figures/``
(``detections.png``: boxes before and after NMS, ``pr_curves.png``, ``iou.png``,
``anchors.png``, ``learning_curves.png``), ``checkpoints/``, ``logs/``.
"""
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core import cli, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.data import preprocess
from tfgraph_lessons.detection import dataset as detection_data
from tfgraph_lessons.detection import evaluate, model, report

LESSON = "detection"
DATASETS = ("digits-mnist", "digits-sklearn", "voc2007")
DEFAULT_EPOCHS = 8
FAST = {"epochs": 1, "train_images": 600, "val_images": 100, "test_images": 100}
DIGIT_DEFAULTS = {"canvas_size": 64, "train_images": 12_000, "val_images": 500,
                  "test_images": 1_000}
VOC_DEFAULTS = {"canvas_size": 160}   # the image counts: every image of each official list


@dataclass
class DetectionConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    dataset: str = "digits-mnist"
    epochs: int = None           # None: DEFAULT_EPOCHS (fast: 1)
    steps: int = None
    batch_size: int = 64
    lr: float = 2e-3             # Adam, cosine decay to 0 over the run
    width: int = 16              # channels of the first convolution (32: 2.7x slower per image)
    stride: int = 8              # pixels per grid cell
    canvas_size: int = None      # None: 64 (digit canvases), 160 (VOC's resized photographs)
    train_images: int = None     # None: 12,000 canvases / all of VOC's train list
    val_images: int = None       # None: 500 canvases / all of VOC's val list
    test_images: int = None      # None: 1,000 canvases / all of VOC's test list
    nms_iou: float = 0.5         # NMS: suppress a box overlapping a kept one by more than this
    score_threshold: float = 0.01   # low, so the precision-recall curve runs to high recall
    max_detections: int = 20     # per image, after NMS
    progress: bool = True


# --------------------------------------------------------------------------- data


def load_data(config):
    """The three splits (:class:`~.dataset.DetectionSet`) and where they came from."""
    sizes = {part: getattr(config, f"{part}_images") for part in ("train", "val", "test")}
    sizes = {part: n for part, n in sizes.items() if n is not None}
    return detection_data.load_detection(config.dataset, config.data_dir, seed=config.seed,
                                         canvas_size=config.canvas_size, sizes=sizes,
                                         progress=config.progress)


def prior_size(train):
    """The box size the network's ``tw = th = 0`` stands for: the median side of the
    training boxes (geometric mean of width and height), so the log-sizes it learns
    are centred on 0."""
    boxes = np.concatenate([b.reshape(-1, 4) for b in train.boxes])
    sides = np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 1) *
                    np.maximum(boxes[:, 3] - boxes[:, 1], 1))
    return float(np.median(sides))


# --------------------------------------------------------------------------- the graph


def build_graph(config, image_shape, num_classes, mean, std, train_steps, prior):
    """The detector, its loss, its optimiser and its decoded, NMS-filtered detections.

    Returns:
      dict of named tensors: ``images`` (uint8 placeholder), ``labels`` (the target
      grid placeholder, :func:`.model.encode_targets`), ``is_training``, ``loss``
      and its three parts, ``class_accuracy``, ``train_op``, ``global_step``,
      ``learning_rate``, ``decoded`` (one box per cell, before NMS) and
      ``detections`` (after NMS), ``end_points``.
    """
    height, width, channels = image_shape
    rows, cols = height // config.stride, width // config.stride
    images = tf1.placeholder(tf.uint8, [None, height, width, channels], name="images")
    targets = tf1.placeholder(tf.float32, [None, rows, cols, len(model.TARGET_FIELDS)],
                              name="targets")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    with tf.name_scope("standardize"):
        x = (tf.cast(images, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)
    outputs, end_points = model.grid_detector(x, num_classes, is_training, config.width,
                                              config.stride)
    losses = model.detection_loss(outputs, targets)
    global_step = tf1.train.get_or_create_global_step()
    learning_rate = tf1.train.cosine_decay(config.lr, global_step, max(train_steps, 1))
    train_op = tf1.train.AdamOptimizer(learning_rate).minimize(losses["loss"],
                                                              global_step=global_step)
    for key in ("objectness_loss", "box_loss", "class_loss", "class_accuracy"):
        tf1.summary.scalar(f"parts/{key}", losses[key])
    tf1.summary.scalar("learning_rate", learning_rate)
    decoded = model.decode(outputs, config.stride, prior)
    detections = model.detect(decoded, config.max_detections, config.nms_iou,
                              config.score_threshold)
    return {"images": images, "labels": targets, "is_training": is_training,
            **losses, "train_op": train_op, "global_step": global_step,
            "learning_rate": learning_rate, "decoded": decoded, "detections": detections,
            "end_points": end_points}


def targets_for(data, config, prior):
    rows = data.images.shape[1] // config.stride
    cols = data.images.shape[2] // config.stride
    return model.encode_targets(data.boxes, data.classes, (rows, cols), config.stride, prior)


# --------------------------------------------------------------------------- detecting


def run_detections(sess, m, images, batch_size=200, key="detections"):
    """Detections for every image: a list of ``(boxes, scores, classes)`` per image,
    and the images per second of the whole forward pass with NMS."""
    found, start = [], time.perf_counter()
    for first in range(0, len(images), batch_size):
        out = sess.run(m[key], {m["images"]: images[first:first + batch_size]})
        for i in range(len(out["boxes"])):
            n = int(out["count"][i]) if "count" in out else len(out["boxes"][i])
            found.append((out["boxes"][i][:n], out["scores"][i][:n], out["classes"][i][:n]))
    seconds = time.perf_counter() - start
    return found, (len(images) / seconds if seconds else None)


def score(data, found):
    """VOC and COCO numbers of ``found`` against ``data``'s ground truth."""
    truth = (list(zip(data.boxes, data.classes)) if data.difficult is None else
             list(zip(data.boxes, data.classes, data.difficult)))
    return evaluate.evaluate_detections(found, truth, data.num_classes,
                                        class_names=data.class_names)


def val_map_hook(m, val):
    """``on_epoch_end``: the validation canvases' mAP@0.5 into the epoch's entry."""
    def hook(trainer, entry):
        found, _ = run_detections(trainer.sess, m, val.images)
        entry["val_map_50"] = round(float(score(val, found)["map_50"]), 4)
    return hook


# --------------------------------------------------------------------------- one run


def run_identity(config, data, image_shape):
    """What makes a checkpoint belong to this run (``--resume`` refuses another)."""
    return {"lesson": LESSON, "dataset": config.dataset, "source": data["source"],
            "seed": config.seed, "batch_size": config.batch_size, "width": config.width,
            "stride": config.stride, "image_shape": list(image_shape),
            "train_images": len(data["train"]), "val_images": len(data["val"]),
            "test_images": len(data["test"]), "lr": config.lr}


def train_and_evaluate(config, out):
    """Train the detector, evaluate it on the test images, write metrics and figures."""
    wall_start = time.time()
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    data = load_data(config)
    train, val, test = data["train"], data["val"], data["test"]
    image_shape = tuple(int(d) for d in train.images.shape[1:])
    model.check_image_size(image_shape[0], image_shape[1], config.stride)
    mean, std = preprocess.channel_stats(train.images)
    prior = prior_size(train)
    spe = max(1, len(train) // config.batch_size)
    steps = config.steps if config.steps is not None else config.epochs * spe
    collisions = model.cell_collisions(train.boxes, config.stride)
    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            m = build_graph(config, image_shape, train.num_classes, mean, std, steps, prior)
        with Trainer(graph, m, out, resume=config.resume, seed=config.seed,
                     config=session_config(**cli.session_options(config)),
                     progress=config.progress, histograms=False,
                     identity=run_identity(config, data, image_shape),
                     show=(("val_map_50", "val mAP@0.5"),)) as trainer:
            history = trainer.fit(
                (train.images, targets_for(train, config, prior)),
                (val.images, targets_for(val, config, prior)),
                epochs=None if config.steps is not None else config.epochs,
                steps=config.steps, batch_size=config.batch_size, warmup_steps=5,
                on_epoch_end=val_map_hook(m, val))
            found, inference_ips = run_detections(trainer.sess, m, test.images)
            shown = test.images[:6]
            before = trainer.sess.run(m["decoded"], {m["images"]: shown})
            after = trainer.sess.run(m["detections"], {m["images"]: shown})
            train_ips, done = trainer.images_per_second, trainer.step
    results = score(test, found)
    metrics = {
        "lesson": LESSON, "dataset": config.dataset, "source": data["source"],
        "fast": config.fast, "map_50": results["map_50"], "map_50_95": results["map_50_95"],
        "ap_per_class": results["ap_per_class"],
        "ap_per_iou": dict(zip([f"{t:.2f}" for t in results["iou_thresholds"]],
                               np.nanmean(results["ap"], axis=1).round(4).tolist())),
        "val_map_50": history[-1].get("val_map_50") if history else None,
        "images_per_second": train_ips, "inference_images_per_second": inference_ips,
        "wall_seconds": round(time.time() - wall_start, 2), "device": device,
        "steps": done, "epochs": round(done / spe, 3), "prior_size": prior,
        "train_images": len(train), "val_images": len(val), "test_images": len(test),
        "test_boxes": int(sum(len(b) for b in test.boxes)),
        "train_cell_collisions": collisions, "history": history,
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    report.write_run_figures(out / "figures", metrics, results, test, before, after,
                             config, prior)
    print(f"{config.dataset} ({data['source']}): test mAP@0.5 {metrics['map_50']:.3f}, "
          f"mAP@[.5:.95] {metrics['map_50_95']:.3f} on {len(test):,} images "
          f"({metrics['test_boxes']:,} boxes); {done:,} steps, {train_ips or 0:.0f} "
          f"training images/s, {inference_ips or 0:.0f} detected images/s, "
          f"{metrics['wall_seconds']:.0f} s on {device}; wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- entry points


def check_settings(config):
    if config.dataset not in DATASETS:
        raise UsageError(f"unknown --dataset {config.dataset!r}; use one of "
                         f"{', '.join(DATASETS)}")
    cli.check_positive("--lr", config.lr)
    for name in ("nms_iou", "score_threshold"):
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
    for name in ("batch_size", "width", "canvas_size", "train_images", "val_images",
                 "test_images", "max_detections"):
        value = getattr(config, name)
        if value is None and name.endswith("_images"):
            continue                       # VOC: the whole list
        if not isinstance(value, int) or value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number > 0, "
                             f"got {value}")
    model.check_image_size(config.canvas_size, config.canvas_size, config.stride)


def resolve_config(config):
    """Apply fast mode and the default length; check what argparse could not."""
    if config.fast:
        fill = {k: v for k, v in FAST.items()
                if getattr(config, k) == getattr(DetectionConfig, k)}
        if config.steps is not None:
            fill.pop("epochs", None)
        config = dataclasses.replace(config, **fill)
    if config.epochs is None and config.steps is None:
        config = dataclasses.replace(config, epochs=DEFAULT_EPOCHS)
    defaults = VOC_DEFAULTS if config.dataset == "voc2007" else DIGIT_DEFAULTS
    config = dataclasses.replace(config, **{k: v for k, v in defaults.items()
                                            if getattr(config, k) is None})
    check_settings(config)
    return config


def default_out(config):
    return cli.default_out(LESSON, config.dataset, fast=config.fast)


def run(config):
    """Train and evaluate; returns the metrics dict (also in ``OUT/metrics.json``)."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    resolve_device(config.device, notice=lambda msg: None, soft_placement=config.soft_placement)
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite)
    if config.fast:
        cli.announce_fast(config, f"{cli.length_text(config)}, {config.train_images:,} "
                                  f"training, {config.val_images} validation and "
                                  f"{config.test_images} test images; writes to {out}")
    return train_and_evaluate(config, out)


def parse_config(argv=None):
    """The command line -> a :class:`DetectionConfig`."""
    c = DetectionConfig
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=c.batch_size,
                               default_length=f"{DEFAULT_EPOCHS}; {FAST['epochs']} with --fast")
    parser.add_argument("--dataset", default=c.dataset, choices=DATASETS,
                        help="digit canvases from MNIST, from scikit-learn's 8x8 digits "
                             "(offline), or PASCAL VOC 2007's photographs")
    parser.add_argument("--canvas-size", type=cli.positive_int, default=None,
                        help="side of the digit canvases, default 64 (VOC: of the resized "
                             "photographs, default 160)")
    for part, name in (("train", "training"), ("val", "validation"), ("test", "test")):
        parser.add_argument(f"--{part}-images", type=cli.positive_int, default=None,
                            help=f"{name} images, default {DIGIT_DEFAULTS[part + '_images']:,} "
                                 f"canvases or VOC's whole {part} list ({FAST[part + '_images']} "
                                 "with --fast)")
    parser.add_argument("--width", type=cli.positive_int, default=c.width,
                        help="channels of the first convolution (doubling at each halving)")
    parser.add_argument("--stride", type=cli.positive_int, default=c.stride,
                        help="pixels per grid cell, a power of two")
    cli.add_lr_argument(parser, c.lr, help="Adam's initial learning rate (cosine decay to 0)")
    parser.add_argument("--nms-iou", type=float, default=c.nms_iou,
                        help="NMS drops a box whose IoU with a kept box of its class is "
                             "above this")
    parser.add_argument("--score-threshold", type=float, default=c.score_threshold,
                        help="boxes scoring below this are dropped before NMS")
    parser.add_argument("--max-detections", type=cli.positive_int, default=c.max_detections,
                        help="boxes kept per image after NMS")
    args = parser.parse_args(argv)
    return DetectionConfig(
        dataset=args.dataset, canvas_size=args.canvas_size, train_images=args.train_images,
        val_images=args.val_images, test_images=args.test_images, width=args.width,
        stride=args.stride, lr=args.lr, nms_iou=args.nms_iou,
        score_threshold=args.score_threshold, max_detections=args.max_detections,
        batch_size=args.batch_size, epochs=args.epochs, steps=args.steps,
        **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
