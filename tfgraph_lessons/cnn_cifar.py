"""CNN chapter: train the slides' network on CIFAR-10 (the project's main job).

    python -m tfgraph_lessons.cnn_cifar [--dataset cifar10|cifar100|mnist|svhn|digits]
        [--model NAME] [--optimizer momentum|nesterov|adam] [--lr LR]
        [--schedule one-cycle|steps] [--label-smoothing E] [--weight-decay WD]
        [--no-dropout] [--no-augment] [--experiment overfitting] [--recipe slides|fast]
        [--width W] [--eval-steps N] [--log-placement] [shared lesson options]

``--model`` takes any network of the registry (:mod:`tfgraph_lessons.nets`) built
for 32x32 images (``nets.names(cifar=True)``: ``slide_cnn``, the CIFAR ResNets,
NIN, ...); ``python -m tfgraph_lessons.cnn_cifar --help`` lists them. An
ImageNet-size network is refused before any data is loaded (the chapter 06 command
``python -m tfgraph_lessons.architectures --summary NAME`` shows those).

The slides' scheme: ``x_ = placeholder([None, height, width, color_ch])``,
``y_`` for the labels, the network of :mod:`tfgraph_lessons.nets.slide_cnn`
(``w1 [7, 7, color_ch, 28]``, ``w2 [5, 5, 28, 64]``, pooling, a fully
connected layer, dropout, softmax), cross-entropy plus weight decay, then
mini-batch training in a Session (:class:`tfgraph_lessons.core.runner.Trainer`),
validated and tested after every epoch. The default run is 15 epochs of a
one-cycle learning rate (:func:`one_cycle`), which reaches what the slides' step
schedule (``--schedule steps``) reached in 25; ``--recipe fast`` trains the
small residual network of :mod:`tfgraph_lessons.nets.fast_cifar` with the
CIFAR-10 speed records' tricks (:data:`RECIPES`; ``--width`` scales its channels). Every number is labelled with what it
measures: ``train_running_*`` is the mean over the epoch's training batches
with dropout and augmentation on; ``train_accuracy``, ``val_*`` and ``test_*``
are measured in inference mode; every ``*_loss`` is the cross-entropy, and the
weight-decay penalty the optimiser adds to it is reported as ``weight_decay``.

``--experiment overfitting`` reproduces the slides' story ("training set
accuracy 100%, test set accuracy 69%"): the same network trained twice, once
with no regularisation at all (no dropout, no augmentation, no weight decay)
and once with all three, both curves in one figure.

Each run writes into its own folder, ``runs/cnn_cifar/<dataset>_<model>``
(``_fast`` added in fast mode; ``overfitting_<dataset>_<model>`` for the
experiment): ``OUT/metrics.json``, ``OUT/figures/*.png`` (learning curves, confusion
matrix, misclassified test images, first-layer filters, feature maps at each
depth, filters and feature maps over training), ``OUT/snapshots.npz``,
``OUT/logs/`` (TensorBoard) and ``OUT/checkpoints/``.
Taught in ``notebooks/04_cnn.ipynb``.
"""
import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons import nets
from tfgraph_lessons.core import cli, plots
from tfgraph_lessons.core.device import (format_placement, placement_report, resolve_device,
                                         session_config)
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.io import atomic_write_bytes, write_json
from tfgraph_lessons.core.layers import softmax_cross_entropy, weight_decay_loss
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.data import preprocess
from tfgraph_lessons.nets.fast_cifar import whitening_filters

LESSON = "cnn_cifar"
MIRROR_SAFE = {"cifar10", "cifar100"}  # data sets whose labels survive a horizontal flip
EXPERIMENTS = ("overfitting",)
# one-cycle, 15 epochs: 76.8% on CIFAR-10, as much as the slides' step schedule (lr 0.01,
# / 10 at 50% and 75%) reached in 25 epochs (76.7%), in 60% of the steps
DEFAULT_EPOCHS = 15  # 13.6 minutes on two AMD EPYC cores (996 images/s)
SLIDES_LR = 0.01     # the slides' (AlexNet's) rate, the start of the step schedule
FAST_EPOCHS = 1


@dataclass
class CNNConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    dataset: str = "cifar10"
    model: str = "slide_cnn"
    epochs: int = None           # None: DEFAULT_EPOCHS (FAST_EPOCHS in fast mode)
    steps: int = None            # overrides epochs when set
    batch_size: int = 128
    optimizer: str = "momentum"  # SGD with momentum 0.9 (AlexNet's), or adam
    lr: float = 0.03             # one-cycle's peak; the slides' step schedule starts at 0.01
    momentum: float = 0.9
    schedule: str = "one-cycle"  # up to lr, then down to 0; "steps": lr / 10 at each lr_drops
    lr_drops: tuple = (0.5, 0.75)  # fractions of the run after which lr is divided by 10
    warmup: float = 0.15         # one-cycle: fraction of the run spent rising to lr
    label_smoothing: float = 0.0  # training target (1 - e) on the true class + e / classes
    weight_decay: float = 5e-4   # slides (AlexNet): 0.0005
    dropout: bool = True
    keep_prob: float = 0.5       # slides: dropout 0.5
    augment: bool = True         # random shifts (pad H/8, crop) + flips where labels allow
    val_size: int = 5000         # held out of the training set for validation
    train_eval_size: int = 5000  # training examples re-evaluated in inference mode each epoch
    eval_steps: int = None       # evaluate every this many steps (None: after each epoch)
    checkpoint_steps: int = None  # checkpoint every this many steps (None: after each epoch)
    train_limit: int = 0         # use only the first N training examples (0: all)
    test_limit: int = 0
    snapshot_steps: tuple = (1, 200, 1000)  # record filters + feature maps here (and at the end)
    experiment: str = None       # "overfitting": train without and with dropout + augmentation
    log_placement: bool = False  # print which device each op ran on
    recipe: str = "slides"       # "fast": the fast CIFAR-10 recipe (RECIPES["fast"])
    crop_padding: int = None     # augmentation shifts up to this many pixels (None: H/8)
    tta: bool = False            # test-time flips: inference averages image and mirror
    target: float = None         # test accuracy whose first crossing is timed (seconds_to_target)
    width: float = None          # fast_cifar's width multiplier (None: the network's default)


RECIPES = {
    # the slides' run: the defaults of CNNConfig
    "slides": {},
    # the fast CIFAR-10 recipe: the speed records' tricks on a small residual network
    # (nets/fast_cifar.py), trained on all 50,000 training images, tested with flips
    "fast": dict(model="fast_cifar", batch_size=512, optimizer="nesterov", lr=0.4,
                 momentum=0.9, schedule="one-cycle", warmup=0.2, label_smoothing=0.2,
                 weight_decay=5e-4, dropout=False, crop_padding=2, tta=True, target=0.90,
                 val_size=0, train_eval_size=0, snapshot_steps=(1, 100),
                 # test (with flips: two passes) every 2 epochs of 97 steps, not every epoch:
                 # each evaluation costs about a fifth of an epoch's training
                 eval_steps=2 * (50_000 // 512)),
}


# a recipe's length when none is given (DEFAULT_EPOCHS otherwise); the fast recipe's 15
# epochs measured 88.1% in 26 min 56 s on two quiet cores (10 epochs: 86.3%)
RECIPE_EPOCHS = {"fast": 15}


def recipe_config(config, given=()):
    """``config`` with its recipe's settings, except those named in ``given`` (the
    flags typed on the command line win over the recipe). The command line applies
    it; in code, ``run(recipe_config(CNNConfig(recipe='fast')))``."""
    if config.recipe not in RECIPES:
        raise UsageError(f"unknown --recipe {config.recipe!r}; known: {', '.join(RECIPES)}")
    changes = {k: v for k, v in RECIPES[config.recipe].items() if k not in given}
    return dataclasses.replace(config, **changes)


def fast_config(config):
    """The smoke-sized version of ``config`` (``--fast``): seconds on two cores.

    2,000 training images, one epoch, evaluated every 3 steps so even this run
    draws a curve. A length given explicitly (``epochs``, ``steps``) wins.
    """
    explicit = config.epochs is not None or config.steps is not None
    return dataclasses.replace(
        config, epochs=config.epochs if explicit else FAST_EPOCHS, train_limit=2000,
        val_size=500, test_limit=1000, train_eval_size=500, snapshot_steps=(1, 5),
        eval_steps=config.eval_steps or 3, fast=True)


def fast_experiment_config(config):
    """The fast overfitting experiment: 100 training images, 40 epochs of one batch,
    evaluated every 4: the unregularised arm learns them by heart in seconds (a
    small set overfits fast)."""
    explicit = config.epochs is not None or config.steps is not None
    return dataclasses.replace(
        config, epochs=config.epochs if explicit else 40, train_limit=200, val_size=100,
        batch_size=min(config.batch_size, 100), test_limit=500, train_eval_size=100,
        snapshot_steps=(1,), eval_steps=config.eval_steps or 4, checkpoint_steps=20, fast=True)


def fast_summary(config):
    """The first line of a fast run: what it shrinks (before the data set is loaded)."""
    return (f"up to {config.train_limit:,} training images ({config.val_size:,} of them held "
            f"out for validation), up to {config.test_limit:,} test images, "
            f"{cli.length_text(config)}")


# --------------------------------------------------------------------------- the graph


def build_graph(config, image_shape, num_classes, mean, std, train_steps, net_options=None):
    """Draw the lesson's graph.

    Args:
      config: a :class:`CNNConfig`.
      image_shape: ``(height, width, color_ch)`` of the data set.
      num_classes: number of labels.
      mean, std: per-channel statistics of the training images (0..255 scale),
        baked into the graph as constants, so uint8 batches are fed as they are
        (a quarter of the bytes of float32, and no float64 anywhere).
      train_steps: the run's total steps (for the learning-rate schedule).
      net_options: more keyword arguments for the network's builder (the fast
        recipe's whitening filters).
    Returns:
      dict of named tensors: images (the ``x_`` placeholder), labels (``y_``),
      is_training, logits, predictions, loss (cross_entropy + weight_decay, the
      objective), cross_entropy, weight_decay (the L2 penalty), accuracy,
      train_op, global_step, learning_rate, end_points.
    Raises:
      UsageError: the network cannot take images of this size.
    """
    height, width, color_ch = image_shape
    x_ = tf1.placeholder(tf.uint8, [None, height, width, color_ch], name="x_")  # raw pixels
    y_ = tf1.placeholder(tf.int64, [None], name="y_")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    with tf.name_scope("standardize"):
        images = (tf.cast(x_, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)                                  # [b, H, W, C], mean 0, std 1
    builder = cifar_model(config.model)
    keep_prob = config.keep_prob if config.dropout else 1.0
    try:
        logits, end_points = builder(images, num_classes, is_training, keep_prob=keep_prob,
                                     wd=config.weight_decay or None, **(net_options or {}))
    except ValueError as e:
        raise UsageError(f"--model {config.model} cannot take the {config.dataset} images "
                         f"({height}x{width}x{color_ch}): {e}") from None
    # what inference reports: the logits, or with --tta their mean over the image and
    # its mirror (training steps still see one image each)
    seen = mirrored_logits(builder, images, logits, num_classes, is_training, net_options,
                           flip=config.tta)
    with tf.name_scope("loss"):
        xent = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=seen))
        penalty = weight_decay_loss()
        # what the optimiser minimises; with label smoothing its data term is the
        # smoothed cross-entropy, while ``cross_entropy`` (what every split reports)
        # stays the plain one, so losses compare across settings
        data_term = (softmax_cross_entropy(y_, logits, config.label_smoothing, name="smoothed")
                     if config.label_smoothing else xent)
        loss = data_term + penalty
    with tf.name_scope("accuracy"):
        predictions = tf.argmax(seen, 1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, y_), tf.float32))
    global_step = tf1.train.get_or_create_global_step()
    learning_rate = learning_rate_tensor(config, global_step, train_steps)
    if config.optimizer in ("momentum", "nesterov"):
        opt = tf1.train.MomentumOptimizer(learning_rate, config.momentum,
                                          use_nesterov=config.optimizer == "nesterov")
    elif config.optimizer == "adam":
        opt = tf1.train.AdamOptimizer(learning_rate)
    else:
        raise UsageError(f"unknown --optimizer {config.optimizer!r}; use momentum, nesterov "
                         "or adam")
    train_op = opt.minimize(loss, global_step=global_step)
    tf1.summary.scalar("learning_rate", learning_rate)
    tf1.summary.image("inputs", x_, max_outputs=4)
    return {"images": x_, "labels": y_, "is_training": is_training, "logits": logits,
            "predictions": predictions, "loss": loss, "cross_entropy": xent,
            "weight_decay": penalty, "accuracy": accuracy, "train_op": train_op, "global_step": global_step,
            "learning_rate": learning_rate, "end_points": end_points}


def mirrored_logits(builder, images, logits, num_classes, is_training, net_options, flip):
    """Test-time augmentation by flips: in inference, the mean of the logits of each
    image and of its mirror image (the network run a second time, with the same
    variables, on ``images`` reversed left to right); in training, ``logits``.
    ``flip=False`` returns ``logits`` itself."""
    if not flip:
        return logits

    def mean_of_both():
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            mirror, _ = builder(tf.reverse(images, axis=[2]), num_classes, False,
                                keep_prob=1.0, wd=None, **(net_options or {}))
        return (logits + mirror) / 2.0

    return tf.cond(is_training, lambda: logits, mean_of_both, name="tta")


def learning_rate_schedule(config, train_steps):
    """The step schedule: ``config.lr`` divided by 10 after each fraction of the run in
    ``config.lr_drops`` (slides, after AlexNet: 0.01 -> 0.001 -> 0.0001).

    Returns:
      ``(boundaries, values)`` for ``tf1.train.piecewise_constant``: the rate is
      ``values[i]`` while ``boundaries[i-1] < global_step <= boundaries[i]``.
    """
    boundaries = sorted({max(1, int(f * train_steps)) for f in config.lr_drops})
    return boundaries, [config.lr * 0.1 ** i for i in range(len(boundaries) + 1)]


def one_cycle(global_step, peak, train_steps, warmup):
    """The one-cycle schedule (Smith 2018, arXiv:1803.09820, as in Page's fast CIFAR-10
    runs): the rate rises linearly from ``peak / 10`` to ``peak`` over the first
    ``warmup`` fraction of the run, then falls linearly to 0 at its last step.

    A large rate early moves fast while the loss surface is rough; the long fall to
    zero lets the last epochs settle, which a short run needs most.
    """
    with tf.name_scope("one_cycle"):
        total = float(max(1, train_steps))
        top = max(1.0, warmup * total)                  # the step at which lr = peak
        step = tf.cast(global_step, tf.float32)
        rising = peak * (0.1 + 0.9 * step / top)
        falling = peak * tf.maximum(0.0, (total - step) / max(1.0, total - top))
        return tf.where(step < top, rising, falling, name="learning_rate")


def learning_rate_tensor(config, global_step, train_steps):
    """``config.schedule`` as a tensor of ``global_step``: ``'steps'`` (the slides') or
    ``'one-cycle'``."""
    if config.schedule == "steps":
        boundaries, values = learning_rate_schedule(config, train_steps)
        return tf1.train.piecewise_constant(global_step, boundaries, values)
    if config.schedule == "one-cycle":
        return one_cycle(global_step, config.lr, train_steps, config.warmup)
    raise UsageError(f"unknown --schedule {config.schedule!r}; use steps or one-cycle")


def conv_end_points(end_points):
    """The 4-D end points (convolutions and poolings) in depth order."""
    return {k: v for k, v in end_points.items() if v.shape.rank == 4}


def first_layer_kernel():
    """The first trainable 4-D variable of the graph: the first layer's filters."""
    return next(v for v in tf1.trainable_variables() if v.shape.rank == 4)


# --------------------------------------------------------------------------- data


def load_splits(config):
    """Load the data set and cut train / validation / test as the config says."""
    ds = datasets.load(config.dataset, config.data_dir)
    train_images, train_labels = ds.train_images, ds.train_labels
    if config.train_limit:
        train_images = train_images[:config.train_limit]
        train_labels = train_labels[:config.train_limit]
    val_fraction = min(config.val_size / len(train_images), 0.5) if config.val_size else 0.0
    if val_fraction:
        train, val = preprocess.split(train_images, train_labels, val_fraction, seed=config.seed)
    else:
        train, val = (train_images, train_labels), None
    test_images, test_labels = ds.test_images, ds.test_labels
    if config.test_limit:
        test_images, test_labels = test_images[:config.test_limit], test_labels[
            :config.test_limit]
    return ds, train, val, (test_images, test_labels)


def augmenter(dataset, image_shape, crop_padding=None):
    """The batch augmentation for a data set: ``fn(images, labels, rng)``.

    Shifts by up to ``crop_padding`` pixels, by default 1/8 of the image (4 pixels
    on CIFAR's 32, 1 on the 8x8 digits); mirrors only natural images, since a
    flipped digit is another symbol.
    """
    pad = crop_padding if crop_padding is not None else max(1, round(image_shape[0] / 8))
    flip = dataset in MIRROR_SAFE

    def augment(images, labels, rng):
        return preprocess.augment(images, rng, crop_padding=pad, flip=flip), labels
    return augment


# --------------------------------------------------------------------------- snapshots


class Snapshots:
    """First-layer filters and feature maps of one image, recorded at chosen steps.

    The slides' "Iteration 1000 vs Iteration 200,000": what the filters look
    like early and late in one run. Saved to ``OUT/snapshots.npz`` as they are
    taken, so a resumed run keeps the ones taken before it was killed.
    """

    def __init__(self, path, steps, kernel, end_points, image, resume=False):
        self.path, self.steps = Path(path), set(int(s) for s in steps)
        self.kernel, self.image = kernel, image
        self.layers = conv_end_points(end_points)
        self.records = {}
        if resume and self.path.is_file():
            with np.load(self.path) as f:
                for step in f["steps"]:
                    self.records[int(step)] = {
                        "kernel": f[f"kernel_{step}"],
                        "maps": {k: f[f"map_{step}_{k}"] for k in self.layers if
                                 f"map_{step}_{k}" in f}}

    def take(self, trainer, step):
        kernel, maps = trainer.sess.run([self.kernel, self.layers],
                                        {trainer.model["images"]: self.image[None]})
        self.records[step] = {"kernel": kernel, "maps": {k: v[0] for k, v in maps.items()}}
        self.save()

    def on_step(self, trainer, step):
        if step in self.steps:
            self.take(trainer, step)

    def save(self):
        arrays = {"steps": np.array(sorted(self.records)), "image": self.image}
        for step, rec in self.records.items():
            arrays[f"kernel_{step}"] = rec["kernel"]
            for name, fmap in rec["maps"].items():
                arrays[f"map_{step}_{name}"] = fmap
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(self.path)


# --------------------------------------------------------------------------- one run


def run_identity(config, ds, train, val, test):
    """What makes a checkpoint belong to this run: ``--resume`` refuses any difference."""
    return {"lesson": LESSON, "dataset": config.dataset, "model": config.model,
            "seed": config.seed, "batch_size": config.batch_size,
            "train_size": len(train[0]), "val_size": len(val[0]) if val else 0,
            "test_size": len(test[0]), "image_shape": list(ds.image_shape),
            "num_classes": ds.num_classes, "dropout": config.dropout,
            "weight_decay": config.weight_decay}


def train_and_evaluate(config, out, splits=None, label=None, figures="all"):
    """Train one network and evaluate it; write ``out/metrics.json`` and ``out/figures``.

    Args:
      config: a :class:`CNNConfig` with its length resolved (``run`` does it).
      out: the run's folder, checked by :func:`~tfgraph_lessons.core.rundir.prepare_run_dir`.
      splits: ``(dataset, train, val, test)`` already loaded, or None to load them.
      label: a name for this run in printed lines (the experiment's arms).
      figures: ``'all'`` the run figures, ``'curves'`` only the learning curves.
    Returns:
      the metrics dict.
    """
    out = Path(out)
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    ds, train, val, test = splits or load_splits(config)
    mean, std = preprocess.channel_stats(train[0])
    steps_per_epoch = max(1, len(train[0]) // config.batch_size)
    n_steps = config.steps if config.steps is not None else config.epochs * steps_per_epoch
    start = time.time()
    probe = test[0][0]  # the test image whose feature maps the figures show
    net_options = {}
    if config.model == "fast_cifar":  # its first layer whitens 2x2 patches of these images
        net_options["whitening"] = whitening_filters(
            (train[0][:5000].astype(np.float32) - mean) / std)
        if config.width is not None:
            net_options["width"] = config.width
    reached = {}  # the first evaluation at or above config.target

    def time_to_target(trainer, entry):
        acc = entry.get("test_accuracy")
        if config.target is not None and "seconds" not in reached and acc is not None \
                and acc >= config.target:
            reached.update(seconds=round(time.time() - start, 2), step=entry["step"],
                           epoch=entry["epoch"])

    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model = build_graph(config, ds.image_shape, ds.num_classes, mean, std, n_steps,
                                net_options)
        end_points = model["end_points"]
        snaps = Snapshots(out / "snapshots.npz", spread_steps(config.snapshot_steps, n_steps),
                          first_layer_kernel(), end_points, probe, resume=config.resume)
        sess_config = session_config(soft_placement=config.soft_placement,
                                     intra_threads=config.intra_threads,
                                     inter_threads=config.inter_threads)
        with Trainer(graph, model, out, resume=config.resume, seed=config.seed,
                     config=sess_config,
                     identity=run_identity(config, ds, train, val, test)) as trainer:
            if config.log_placement:
                placed = placement_report(trainer.sess, model["loss"], {
                    model["images"]: train[0][:2], model["labels"]: train[1][:2]})
                report = format_placement(placed)
                print(f"placement of the {config.model} ops (device requested: {device}):\n"
                      f"{report}")
                atomic_write_bytes(out / "placement.txt", (report + "\n").encode())

            history = trainer.fit(
                train, val, test, epochs=None if config.steps is not None else config.epochs,
                steps=config.steps, batch_size=config.batch_size,
                batch_fn=(augmenter(config.dataset, ds.image_shape, config.crop_padding)
                          if config.augment else None), on_epoch_end=time_to_target,
                train_eval_size=config.train_eval_size, eval_steps=config.eval_steps,
                checkpoint_steps=config.checkpoint_steps, on_step=snaps.on_step)
            snaps.take(trainer, trainer.step)  # the final filters
            final = trainer.evaluate(*test)
            penalty = trainer.sess.run(model["weight_decay"])
            predictions = trainer.predict(test[0], fetch="predictions")
            maps = trainer.sess.run(conv_end_points(end_points),
                                    {model["images"]: probe[None]})
            kernel = trainer.sess.run(first_layer_kernel())
            ips, steps = trainer.images_per_second, trainer.step

    last = history[-1] if history else {}
    cm = plots.confusion_matrix(test[1], predictions, ds.num_classes)
    metrics = {
        "lesson": LESSON,
        "dataset": config.dataset,
        "model": config.model,
        "fast": config.fast,
        "test_accuracy": final.get("accuracy"),
        "test_loss": final["loss"],                       # cross-entropy, nats
        "val_accuracy": last.get("val_accuracy"),
        "val_loss": last.get("val_loss"),
        # inference mode (no dropout, no augmentation) on train_eval_size training images
        "train_accuracy": last.get("train_eval_accuracy"),
        "train_loss": last.get("train_eval_loss"),
        # the mean over the last epoch's training batches, dropout and augmentation on
        "train_running_accuracy": last.get("train_running_accuracy"),
        "weight_decay": float(penalty),                   # the L2 penalty added to the loss
        "images_per_second": ips,
        # seconds from the start of training set-up to the first evaluation whose test
        # accuracy reached config.target (None: not reached, or no target)
        "target": config.target,
        "seconds_to_target": reached.get("seconds"),
        "epochs_to_target": reached.get("epoch"),
        "wall_seconds": round(time.time() - start, 2),
        "device": device,
        "steps": steps,
        "epochs": round(steps / steps_per_epoch, 3),
        "train_examples": len(train[0]),
        "val_examples": len(val[0]) if val else 0,
        "test_examples": len(test[0]),
        "confusion_matrix": cm,
        "class_names": list(ds.class_names),             # the confusion matrix's rows
        "history": history,
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    if figures == "all":
        write_run_figures(out / "figures", metrics, ds, test, predictions, cm, kernel, probe,
                          maps, out / "snapshots.npz", title=label)
    else:
        write_learning_curves(out / "figures", metrics, title=label)
    name = f"[{label}] " if label else ""
    train_text = (f"{100 * metrics['train_accuracy']:.1f}%"
                  if metrics["train_accuracy"] is not None else "not measured")
    print(f"{name}{config.dataset} {config.model}: test accuracy "
          f"{100 * metrics['test_accuracy']:.1f}% ({len(test[0]):,} images), train accuracy "
          f"{train_text} (inference mode), {metrics['wall_seconds']:.0f} s, "
          f"{ips or 0:.0f} images/s on {device}; wrote {out / 'metrics.json'}")
    if config.target is not None:
        print(f"time to {100 * config.target:g}% test accuracy: " + (
            f"{reached['seconds']:.0f} s (epoch {reached['epoch']:g})" if reached
            else f"not reached in {metrics['epochs']:g} epochs"))
    return metrics


def spread_steps(steps, total):
    """The snapshot steps that fall inside a run of ``total`` steps; when a short run
    leaves fewer than two before the end, steps at 1/4 and 1/2 of it instead."""
    inside = sorted({int(s) for s in steps if 0 < int(s) < total})
    if len(inside) < 2 and total >= 8:
        inside = sorted({1, total // 4, total // 2})
    return inside


def write_learning_curves(fig_dir, metrics, title=None):
    """``learning_curves.png``: accuracy and loss of train (inference mode), val and test."""
    what = f"{metrics['model']} on {metrics['dataset']}" + (f" ({title})" if title else "")
    plots.save_figure(plots.learning_curves({what: metrics["history"]},
                                            title=f"Learning curves: {what}"),
                      Path(fig_dir) / "learning_curves.png")


def write_run_figures(fig_dir, metrics, ds, test, predictions, cm, kernel, probe, maps,
                      snapshots_path, title=None):
    """The run's figures: learning curves, confusion matrix, misclassified examples,
    first-layer filters, feature maps at each depth, filters over training."""
    fig_dir = Path(fig_dir)
    names = list(ds.class_names)
    write_learning_curves(fig_dir, metrics, title)
    plots.save_figure(plots.confusion_figure(cm, names), fig_dir / "confusion_matrix.png")
    wrong = np.flatnonzero(predictions != test[1])[:24]
    if len(wrong):
        titles = [f"{names[test[1][i]]}\n-> {names[predictions[i]]}" for i in wrong]
        plots.save_figure(plots.image_grid(test[0][wrong], titles, cols=8,
                                           title="Misclassified test images (true -> predicted)"),
                          fig_dir / "misclassified.png")
    plots.save_figure(plots.filters_figure([kernel], ["final"],
                                           suptitle=f"First-layer filters {kernel.shape}"),
                      fig_dir / "filters.png")
    plots.save_figure(plots.feature_maps_figure(
        probe, {k: v[0] for k, v in maps.items()},
        suptitle="Feature maps of one test image, layer by layer "
                 "(deeper layers: smaller, more abstract)"), fig_dir / "feature_maps.png")
    if Path(snapshots_path).is_file():
        from tfgraph_lessons.figures.cnn import filters_change_figure

        what = f"First-layer filters of {metrics['model']} on {metrics['dataset']}" + (
            f" ({title})" if title else "")
        plots.save_figure(filters_change_figure(snapshots_path, what),
                          fig_dir / "filters_over_time.png")


# --------------------------------------------------------------------------- the experiment

OVERFITTING_ARMS = {
    # name: what the arm switches (everything else is the same run)
    "no_regularization": {"dropout": False, "augment": False, "weight_decay": 0.0},
    "regularized": {"dropout": True, "augment": True, "weight_decay": CNNConfig.weight_decay},
}
ARM_TITLES = {"no_regularization": "no dropout, no augmentation, no weight decay",
              "regularized": "dropout + augmentation + weight decay"}


def arm_configs(config):
    """The experiment's two runs: ``{arm: CNNConfig}`` differing only in regularisation."""
    return {arm: dataclasses.replace(config, experiment=None, **switches)
            for arm, switches in OVERFITTING_ARMS.items()}


def overfitting_experiment(config, out):
    """The slides' overfitting story: the same network without and with regularisation.

    Each arm is a full run in ``out/<arm>/``; ``out/metrics.json`` holds both
    arms' final numbers and ``out/figures/overfitting.png`` both curves. The
    gap is training accuracy minus test accuracy, both in inference mode.
    When the unregularised arm's gap is not clearly larger (a data set too easy
    for the run, like the 8x8 digits), the summary says so instead of claiming it.
    """
    out = Path(out)
    splits = load_splits(config)  # loaded once, shared by both arms
    arms = {}
    for arm, arm_config in arm_configs(config).items():
        rundir.prepare_run_dir(out / arm, resume=config.resume, overwrite=config.overwrite)
        arms[arm] = train_and_evaluate(arm_config, out / arm, splits=splits, label=arm,
                                       figures="curves")
    summary = {
        "lesson": LESSON,
        "experiment": "overfitting",
        "dataset": config.dataset,
        "model": config.model,
        "fast": config.fast,
        "arms": {arm: {k: m[k] for k in ("train_accuracy", "val_accuracy", "test_accuracy",
                                          "test_loss", "images_per_second", "wall_seconds",
                                          "epochs", "steps", "train_examples")}
                 | {"gap": m["train_accuracy"] - m["test_accuracy"]}
                 | {k: m["config"][k] for k in OVERFITTING_ARMS[arm]}
                 for arm, m in arms.items()},
        "slides": {"train_accuracy": 1.00, "test_accuracy": 0.69},
        "wall_seconds": round(sum(m["wall_seconds"] for m in arms.values()), 2),
        "device": arms["no_regularization"]["device"],
        "history": {arm: m["history"] for arm, m in arms.items()},
        "config": dataclasses.asdict(config),
    }
    gaps = {arm: m["gap"] for arm, m in summary["arms"].items()}
    summary.update(overfitting_verdict(gaps["no_regularization"], gaps["regularized"]))
    verdict = summary["verdict"]
    write_json(out / "metrics.json", summary)
    fig = plots.learning_curves({ARM_TITLES[arm]: m["history"] for arm, m in arms.items()},
                                title=f"Overfitting on {config.dataset}:\n{verdict}")
    plots.save_figure(fig, out / "figures" / "overfitting.png")
    for arm, m in summary["arms"].items():
        print(f"{arm:18s} train {100 * m['train_accuracy']:.1f}%  test "
              f"{100 * m['test_accuracy']:.1f}%  gap {100 * m['gap']:.1f} points "
              f"({m['train_examples']:,} training images)")
    print("slides             train 100%  test 69%")
    print(f"verdict: {verdict}")
    return summary


OVERFITTING_GAP = 0.10     # train - test accuracy past which a run has overfitted
REGULARIZATION_MARGIN = 0.02  # regularisation must narrow the gap by more than this


def overfitting_verdict(gap_plain, gap_regularized):
    """What the two arms' gaps (train - test accuracy, inference mode) show, in words.

    Returns:
      ``{'shows_overfitting': bool, 'regularization_narrows_gap': bool, 'verdict': str}``.
    """
    overfits = gap_plain >= OVERFITTING_GAP
    narrows = gap_plain > gap_regularized + REGULARIZATION_MARGIN
    plain, regular = f"{100 * gap_plain:.1f}", f"{100 * gap_regularized:.1f}"
    if overfits and narrows:
        text = (f"without regularisation training accuracy runs away from test accuracy "
                f"(gap {plain} points); regularisation narrows it to {regular}")
    elif overfits:
        text = (f"both arms overfit (gaps {plain} and {regular} points): on this training "
                "set regularisation does not close the gap")
    else:
        text = (f"this run does not show overfitting (gap {plain} points without "
                f"regularisation, under {100 * OVERFITTING_GAP:.0f})")
    return {"shows_overfitting": overfits, "regularization_narrows_gap": narrows,
            "verdict": text}


# --------------------------------------------------------------------------- entry points


def resolve_config(config):
    """Apply fast mode and the default length; check what argparse could not."""
    if config.experiment not in (None, *EXPERIMENTS):
        raise UsageError(f"unknown --experiment {config.experiment!r}; known: "
                         f"{', '.join(EXPERIMENTS)}")
    if config.fast:
        config = (fast_experiment_config if config.experiment else fast_config)(config)
    if config.epochs is None and config.steps is None:
        config = dataclasses.replace(config, epochs=RECIPE_EPOCHS.get(config.recipe,
                                                                      DEFAULT_EPOCHS))
    if config.epochs is not None and config.epochs < 0:
        raise UsageError(f"--epochs must be >= 0, got {config.epochs}")
    if config.width is not None and (config.model != "fast_cifar" or config.width <= 0):
        raise UsageError(f"--width {config.width:g}: a positive multiplier of the fast "
                         f"recipe's network's channels (--model fast_cifar), not of "
                         f"--model {config.model}")
    if config.experiment and (config.epochs == 0 or config.steps == 0):
        raise UsageError("--experiment overfitting compares two trained networks; give it "
                         "at least one epoch (--epochs 1 or more)")
    return config


def cifar_model(name):
    """The registry's builder for ``--model name``, if it is a CIFAR-size network.

    Raises:
      UsageError: ``name`` is not registered, or is an ImageNet-size network (the
        message names the CIFAR-size choices).
    """
    choices = ", ".join(nets.names(cifar=True))
    if name not in nets.names():
        raise UsageError(f"unknown --model {name!r}; the CIFAR-size networks: {choices}")
    info = nets.info(name)
    if not info.cifar:
        size = "x".join(str(d) for d in info.input_shape)
        raise UsageError(f"--model {name} is an ImageNet-size network ({size} input); "
                         f"this lesson trains the CIFAR-size ones (32x32): {choices}")
    return nets.get(name)


def default_out(config):
    """``runs/cnn_cifar/<dataset>_<model>`` (``overfitting_...`` for the experiment)."""
    return cli.default_out(LESSON, config.experiment, config.dataset, config.model,
                           fast=config.fast)


def run(config):
    """Run the lesson as configured; returns the metrics dict (also in ``OUT/metrics.json``)."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    resolve_device(config.device, notice=lambda msg: None,  # bad --device: fail before data
                   soft_placement=config.soft_placement)
    cifar_model(config.model)  # unknown or ImageNet-size --model: fail before loading data
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=tuple(OVERFITTING_ARMS) if config.experiment else ())
    if config.fast:
        cli.announce_fast(config, fast_summary(config) + f"; writes to {out}")
    if config.experiment == "overfitting":
        return overfitting_experiment(config, out)
    return train_and_evaluate(config, out)


def parse_config(argv=None):
    """The command line -> a :class:`CNNConfig`."""
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_length=f"{DEFAULT_EPOCHS}; {FAST_EPOCHS} with --fast, "
                                              "30 for the fast experiment")
    cli.add_dataset_argument(parser, CNNConfig.dataset,
                             help="cifar10, cifar100, mnist, svhn or digits (offline)")
    parser.add_argument("--model", default=CNNConfig.model,
                        help="a CIFAR-size network from the registry (32x32 images): "
                             + ", ".join(nets.names(cifar=True)))
    parser.add_argument("--recipe", default=CNNConfig.recipe, choices=sorted(RECIPES),
                        help="slides: the slides' run (the defaults below); fast: the fast "
                             f"CIFAR-10 recipe, {RECIPE_EPOCHS['fast']} epochs of "
                             + ", ".join(f"{k}={v}" for k, v in RECIPES["fast"].items())
                             + "; flags given win over a recipe")
    parser.add_argument("--optimizer", default=CNNConfig.optimizer,
                        choices=["momentum", "nesterov", "adam"],
                        help="SGD with momentum 0.9 (the slides'), with Nesterov momentum, "
                             "or Adam")
    cli.add_lr_argument(parser, CNNConfig.lr,
                        help=f"the one-cycle's peak; with --schedule steps the starting rate, "
                             f"{SLIDES_LR} (the slides') unless given")
    parser.add_argument("--schedule", default=CNNConfig.schedule, choices=["steps", "one-cycle"],
                        help="one-cycle: rise from lr/10 to lr over 15%% of the run, then fall "
                             "linearly to 0; steps: lr / 10 after 50%% and 75%% of the run "
                             "(the slides')")
    parser.add_argument("--label-smoothing", type=float, default=CNNConfig.label_smoothing,
                        help="train towards (1 - e) on the true class and e / classes on "
                             "every class (0 turns it off; reported losses stay plain "
                             "cross-entropy)")
    parser.add_argument("--weight-decay", type=float, default=CNNConfig.weight_decay,
                        help="L2 penalty on every weight tensor (0 turns it off)")
    parser.add_argument("--no-dropout", action="store_true",
                        help=f"no dropout (default: keep_prob {CNNConfig.keep_prob} in training)")
    parser.add_argument("--no-augment", action="store_true",
                        help="no random shifts or flips (default: shifts, and flips where "
                             "the labels allow)")
    parser.add_argument("--width", type=float, default=None,
                        help="--model fast_cifar only: multiplies its channels (64, 256, 256 "
                             "at width 1; default: the recipe's)")
    parser.add_argument("--eval-steps", type=cli.positive_int, default=None,
                        help="evaluate every N steps instead of after each epoch (default: "
                             "after each epoch; every 3 steps with --fast)")
    parser.add_argument("--experiment", choices=EXPERIMENTS, default=None,
                        help="overfitting: train without and with dropout + augmentation + "
                             "weight decay")
    parser.add_argument("--log-placement", action="store_true",
                        help="print (and save to OUT/placement.txt) the device of every op")
    args = parser.parse_args(argv)
    if args.weight_decay < 0:
        parser.error(f"--weight-decay must be >= 0, got {args.weight_decay}")
    if not 0 <= args.label_smoothing < 1:
        parser.error(f"--label-smoothing must be in [0, 1), got {args.label_smoothing}")
    given = given_fields(parser, argv)
    lr = args.lr if "lr" in given or args.schedule != "steps" else SLIDES_LR
    return recipe_config(CNNConfig(
        recipe=args.recipe,
        dataset=args.dataset, model=args.model, optimizer=args.optimizer, lr=lr,
        schedule=args.schedule, label_smoothing=args.label_smoothing,
        weight_decay=args.weight_decay, dropout=not args.no_dropout,
        augment=not args.no_augment, experiment=args.experiment, eval_steps=args.eval_steps,
        width=args.width,
        log_placement=args.log_placement, batch_size=args.batch_size,
        epochs=args.epochs, steps=args.steps, **cli.shared_settings(args)), given)


def given_fields(parser, argv):
    """The :class:`CNNConfig` fields whose flags were typed on the command line (these
    win over a recipe), even when the value typed is the default one."""
    unset = object()
    # argparse fills in a default only where the namespace has no value yet
    seen, _ = parser.parse_known_args(argv, argparse.Namespace(
        **{dest: unset for dest in FLAG_FIELDS}))
    return {field for dest, field in FLAG_FIELDS.items() if getattr(seen, dest) is not unset}


# command-line destinations -> the CNNConfig fields they set (for recipe_config)
FLAG_FIELDS = {"model": "model", "optimizer": "optimizer", "lr": "lr", "schedule": "schedule",
               "label_smoothing": "label_smoothing", "weight_decay": "weight_decay",
               "no_dropout": "dropout", "no_augment": "augment", "eval_steps": "eval_steps",
               "batch_size": "batch_size", "width": "width"}


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
