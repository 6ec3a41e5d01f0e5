"""RNN chapter: MNIST read row by row, 28 time steps of 28 pixels, by an LSTM.

    python -m tfgraph_lessons.rnn_mnist [--cell rnn|lstm|gru] [--units N] [--layers N]
        [--lr LR] [--dataset mnist|digits] [--no-distort] [shared lesson options]

The slides' sequence view of an image: row ``t`` of the digit is the input
``x_t`` (28 pixels), the cell reads the rows one after the other, and only its
last output ``h_28``, which has seen the whole digit, goes to a fully
connected softmax layer::

    x_ [b, 28, 28] uint8 -> /255 -> unroll(cell) -> h_t [b, 28, units] -> h_28 -> logits [b, 10]

Trained with Adam, the learning rate decayed along a cosine to 1/100, the
gradients clipped by their global norm (Pascanu et al. 2013; the norm is
logged), each training image slightly turned, scaled and moved (Simard et al.
2003; :func:`tfgraph_lessons.data.preprocess.distort`). Cells:
:mod:`tfgraph_lessons.rnn.cells` (vanilla RNN, LSTM, GRU).

Data. The full MNIST training set (60,000 images, 5,000 of them held out for
validation) when it is on disk or can be downloaded; otherwise, with only the
10,000 real test images at hand (``t10k-*``), a stratified split of them:
2,000 held-out test images and 8,000 for training, 1,000 of which are kept
apart for validation, so the test accuracy is never used for any choice. The
run says which (``data_source``: ``"full"`` or ``"test-split"``, printed and in
``metrics.json``), and ``OUT/split.json`` lists which test images went where.
``--dataset digits`` reads scikit-learn's 8x8 digits as 8 steps of 8 pixels and
needs no file at all.

Each run writes into ``runs/rnn_mnist/<dataset>_<cell>`` (``_fast`` in fast mode):
``OUT/metrics.json``, ``OUT/figures/`` (learning curves, confusion matrix,
misclassified digits, the hidden state over the rows of one digit),
``OUT/logs/`` (TensorBoard, with the gradient norm) and ``OUT/checkpoints/``.
Taught in ``notebooks/07_rnn.ipynb``.
"""
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons.core import cli, plots, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import OfflineError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.data import preprocess
from tfgraph_lessons.data.preprocess import distort, held_out_split
from tfgraph_lessons.rnn import CELLS, make_cell, minimize_clipped, unroll

LESSON = "rnn_mnist"
DATASET_CHOICES = ("mnist", "digits")
SPLIT_FILE = "split.json"  # which of the 10,000 test images went where (test-split runs)
# The run's length and validation size by data source, chosen on the validation
# accuracy: LSTM(128) on two shared CPU cores takes about 4 minutes for 25 epochs of
# the test split's 7,000 training images (its validation accuracy levels off at ~97.7%
# from epoch 16); 6 epochs of the full 55,000 are ~2,600 steps, about 6 minutes (the
# full set was not at hand to measure); the 8x8 digits still gain up to epoch 100 (~1 min).
SOURCE_DEFAULTS = {
    "full": {"epochs": 6, "val_size": 5000},
    "test-split": {"epochs": 25, "val_size": 1000},
    "digits": {"epochs": 100, "val_size": 200},
}
FAST_EPOCHS = 1
FLAGS = ("units", "layers", "batch_size", "lr")  # config fields with a flag of their own


@dataclass
class RNNMnistConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    dataset: str = "mnist"       # mnist (28 rows of 28 pixels) or digits (8 of 8, offline)
    cell: str = "lstm"           # rnn, lstm or gru
    units: int = 128             # the Keras/TF tutorials' LSTM(128) for MNIST rows
    layers: int = 1
    keep_prob: float = 1.0       # dropout between stacked layers (layers > 1), 1: none
    epochs: int = None           # None: SOURCE_DEFAULTS (FAST_EPOCHS in fast mode)
    steps: int = None            # overrides epochs when set
    batch_size: int = 128
    lr: float = 2e-3             # Adam; decayed along a cosine to lr * lr_floor
    lr_floor: float = 0.01
    clip_norm: float = 5.0       # global-norm clipping of the gradients
    rotation: float = 10.0       # training images turned by up to this many degrees,
    scale: float = 0.1           # scaled by up to 1 +- this,
    shift: float = 2.0           # and moved by up to this many pixels of 28 (all 0: none)
    test_size: int = 2000        # held out of the 10,000 test images without a training set
    val_size: int = None         # None: SOURCE_DEFAULTS
    train_eval_size: int = 2000  # training images re-evaluated (inference mode) each time
    eval_steps: int = None       # evaluate every N steps (None: after each epoch)
    train_limit: int = 0         # use only the first N training images (0: all)
    test_limit: int = 0
    figures: bool = True         # draw OUT/figures (a few seconds; tests switch it off)


def fast_config(config):
    """The smoke-sized run (``--fast``): 1,000 training images, one epoch, evaluated
    every 2 steps so it still draws a curve. A length given explicitly wins."""
    explicit = config.epochs is not None or config.steps is not None
    return dataclasses.replace(
        config, epochs=config.epochs if explicit else FAST_EPOCHS, train_limit=1000,
        test_limit=1000, train_eval_size=500, eval_steps=config.eval_steps or 2, fast=True)


def fast_summary(config):
    """The first line of a fast run: what it shrinks."""
    return (f"up to {config.train_limit:,} training images, up to {config.test_limit:,} test "
            f"images, {cli.length_text(config)}")


# --------------------------------------------------------------------------- the graph


def build_graph(config, sequence_shape, num_classes, train_steps):
    """Draw the lesson's graph.

    Args:
      config: an :class:`RNNMnistConfig` (cell, units, layers, lr, clip_norm ...).
      sequence_shape: ``(time, features)`` of one example: ``(28, 28)`` for MNIST
        (28 rows of 28 pixels), ``(8, 8)`` for the digits.
      num_classes: number of labels.
      train_steps: the run's total steps (the learning-rate schedule ends there).
    Returns:
      dict of named tensors: images (the ``x_`` placeholder, uint8 ``[b, T, F]``),
      labels (``y_``), is_training, hidden_states (``h_t``, ``[b, T, units]``),
      logits (from the last step), step_probabilities (softmax after each row,
      ``[b, T, classes]``, for the figures), predictions, loss, accuracy,
      train_op, global_step, learning_rate, gradient_norm (before clipping), summary.
    Raises:
      UsageError: ``sequence_shape`` is not ``(time, features)`` of positive sizes.
    """
    steps, features = check_sequence_shape(sequence_shape)
    x_ = tf1.placeholder(tf.uint8, [None, steps, features], name="x_")   # raw pixels
    y_ = tf1.placeholder(tf.int64, [None], name="y_")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    inputs = tf.cast(x_, tf.float32) / 255.0                             # [b, T, F] in 0..1
    keep_prob = 1.0
    if config.layers > 1 and config.keep_prob < 1.0:  # dropout between layers in training only
        keep_prob = tf1.where(is_training, config.keep_prob, 1.0)
    cell = make_cell(config.cell, config.units, config.layers, keep_prob=keep_prob)
    hidden, _ = unroll(cell, inputs)                                      # [b, T, units]
    logits, step_probs = softmax_layer(hidden, num_classes)
    # scopes not named "loss" / "accuracy": those names are the summaries' tags, as in
    # the Trainer's val and test logs, so TensorBoard overlays the curves
    with tf.name_scope("cross_entropy"):
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    with tf.name_scope("evaluation"):
        predictions = tf.argmax(logits, 1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, y_), tf.float32))
    global_step = tf1.train.get_or_create_global_step()
    learning_rate = tf1.train.cosine_decay(config.lr, global_step, max(1, train_steps),
                                           alpha=config.lr_floor)
    opt = tf1.train.AdamOptimizer(learning_rate)
    # the gradients through all 28 steps, scaled down together when their norm is too big
    train_op, norm = minimize_clipped(opt, loss, config.clip_norm, global_step)
    summary = tf1.summary.merge([
        tf1.summary.scalar("loss", loss), tf1.summary.scalar("accuracy", accuracy),
        tf1.summary.scalar("gradient_global_norm", norm),
        tf1.summary.scalar("learning_rate", learning_rate)])
    return {"images": x_, "labels": y_, "is_training": is_training, "hidden_states": hidden,
            "logits": logits, "step_probabilities": step_probs, "predictions": predictions,
            "loss": loss, "accuracy": accuracy, "train_op": train_op,
            "global_step": global_step, "learning_rate": learning_rate,
            "gradient_norm": norm, "summary": summary}


def softmax_layer(hidden, num_classes, scope="softmax"):
    """The fully connected softmax layer on the last step's ``h_T`` (the logits), and the
    same layer after every step (what the network would guess from the rows so far).

    Args:
      hidden: ``[b, T, units]``, the hidden states of every step.
    Returns:
      ``(logits [b, classes], step_probabilities [b, T, classes])``.
    """
    units = hidden.shape[-1]
    with tf1.variable_scope(scope):
        w = tf1.get_variable("weights", [units, num_classes], tf.float32,
                             initializer=tf1.glorot_uniform_initializer())
        b = tf1.get_variable("biases", [num_classes], tf.float32,
                             initializer=tf1.zeros_initializer())
        logits = tf.matmul(hidden[:, -1], w) + b                          # [b, classes]
        step_probs = tf.nn.softmax(tf.tensordot(hidden, w, 1) + b)        # [b, T, classes]
    return logits, step_probs


def check_sequence_shape(sequence_shape):
    """``(time, features)`` as two positive ints, or a UsageError naming the argument."""
    shape = tuple(sequence_shape)
    if len(shape) != 2 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
        raise UsageError(f"sequence_shape must be (time, features), two positive sizes such as "
                         f"(28, 28) for MNIST rows; got {shape!r} (rank {len(shape)})")
    return int(shape[0]), int(shape[1])


def as_sequences(images, name="images"):
    """Images ``[N, H, W, 1]`` (or ``[N, H, W]``) -> sequences ``[N, T=H, F=W]``: row t is step t."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise UsageError(f"{name} must be grey images [N, H, W, 1] or sequences [N, time, "
                         f"features]; got shape {images.shape} (rank {images.ndim})")
    return images


# --------------------------------------------------------------------------- data


@dataclass
class Splits:
    """The data of one run: ``(images [N, T, F] uint8, labels [N])`` per part."""

    source: str          # "full", "test-split" or "digits"
    train: tuple
    val: tuple
    test: tuple
    class_names: tuple
    indices: dict = None  # test-split: {"train", "val", "test"} indices into the 10,000


def load_mnist_parts(data_dir):
    """The MNIST test set, and the training set when it is on disk or downloadable.

    Returns:
      ``(train or None, test, why)``: ``why`` says why the training set is missing.
    Raises:
      OfflineError / DataError: the test set is missing, or a file is corrupt.
    """
    test = datasets.load_split("mnist", "test", data_dir)
    try:
        return datasets.load_split("mnist", "train", data_dir), test, None
    except OfflineError as e:  # missing and not downloadable; a corrupt file still raises
        return None, test, str(e).split(";")[0]


def load_data(config):
    """The train / validation / test parts as ``config`` and the disk allow (see the module
    docstring); says on stdout when the run falls back to the split of the test set."""
    indices, why = None, None
    if config.dataset == "digits":
        ds = datasets.load("digits")
        source, train, test = "digits", (ds.train_images, ds.train_labels), (ds.test_images,
                                                                             ds.test_labels)
    else:
        train, test, why = load_mnist_parts(config.data_dir)
        source = "full" if train is not None else "test-split"
    val_size = for_source(config, source).val_size
    if source == "test-split":
        indices = held_out_split(test[1], config.test_size, val_size, config.seed)
        train, val, test = ((test[0][indices[k]], test[1][indices[k]])
                            for k in ("train", "val", "test"))
    elif 0 < val_size < len(train[0]):
        train, val = preprocess.split(*train, val_size / len(train[0]), seed=config.seed)
    elif val_size == 0:
        val = None
    else:
        raise UsageError(f"val_size {val_size} leaves none of the {len(train[0]):,} "
                         "training images to train on")
    train, test = _limit(train, config.train_limit), _limit(test, config.test_limit)
    if indices is not None:
        indices = {"train": indices["train"][:len(train[0])], "val": indices["val"],
                   "test": indices["test"][:len(test[0])]}
        print(f"data: no MNIST training set ({why}); using a stratified split of the 10,000 "
              f"test images instead: {len(train[0]):,} train + {len(val[0]):,} validation, "
              f"{len(test[0]):,} held-out test images (data_source test-split)", flush=True)
    what = f"{config.dataset} images"
    train, test = [(as_sequences(x, what), y) for x, y in (train, test)]
    val = (as_sequences(val[0], what), val[1]) if val is not None and len(val[0]) else None
    return Splits(source, train, val, test, tuple(str(d) for d in range(10)), indices)


def _limit(part, n):
    """The first ``n`` examples of ``(images, labels)`` (all of them when ``n`` is 0)."""
    return (part[0][:n], part[1][:n]) if n else part


# --------------------------------------------------------------------------- one run

# settings that change the network: a checkpoint made with others cannot be resumed
ARCHITECTURE_FLAGS = {"cell": "--cell", "units": "--units", "layers": "--layers",
                      "dataset": "--dataset"}


def run_identity(config, splits):
    """What makes a checkpoint belong to this run: ``--resume`` refuses any difference."""
    return {"lesson": LESSON, "dataset": config.dataset, "data_source": splits.source,
            "cell": config.cell, "units": config.units, "layers": config.layers,
            "seed": config.seed, "batch_size": config.batch_size,
            "train_size": len(splits.train[0]),
            "val_size": len(splits.val[0]) if splits.val else 0,
            "test_size": len(splits.test[0]),
            "sequence_shape": list(splits.train[0].shape[1:])}


def check_resume_flags(config, out):
    """Before any data is loaded: ``--resume`` of a run made with another ``--cell``,
    ``--units``, ``--layers`` or ``--dataset`` is refused, naming the flag."""
    ckpt_dir = Path(out) / "checkpoints"
    state = rundir.read_state(ckpt_dir) if config.resume and ckpt_dir.is_dir() else None
    saved = (state or {}).get("run") or {}
    for key, flag in ARCHITECTURE_FLAGS.items():
        if key in saved and saved[key] != getattr(config, key):
            raise UsageError(f"--resume: the run in {out} was made with {flag} {saved[key]}, "
                             f"this one has {flag} {getattr(config, key)}; resume with "
                             f"{flag} {saved[key]}, or start a new run with another --out "
                             "or --overwrite")


def train_and_evaluate(config, out, splits):
    """Train one network and evaluate it; write ``out/metrics.json`` and ``out/figures``.

    Args:
      config: an :class:`RNNMnistConfig` with its length resolved (:func:`run` does it).
      out: the run's folder, checked by :func:`~tfgraph_lessons.core.rundir.prepare_run_dir`.
      splits: the :class:`Splits` of :func:`load_data`.
    Returns:
      the metrics dict.
    """
    out = Path(out)
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    train, val, test = splits.train, splits.val, splits.test
    steps_per_epoch = max(1, len(train[0]) // config.batch_size)
    n_steps = config.steps if config.steps is not None else config.epochs * steps_per_epoch
    start = time.time()
    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model = build_graph(config, train[0].shape[1:], len(splits.class_names), n_steps)
        sess_config = session_config(soft_placement=config.soft_placement,
                                     intra_threads=config.intra_threads,
                                     inter_threads=config.inter_threads)
        with Trainer(graph, model, out, resume=config.resume, seed=config.seed,
                     config=sess_config, identity=run_identity(config, splits)) as trainer:
            history = trainer.fit(
                train, val, test, epochs=None if config.steps is not None else config.epochs,
                steps=config.steps, batch_size=config.batch_size,
                batch_fn=distorter(config, train[0].shape[1]),
                train_eval_size=min(config.train_eval_size, len(train[0])),
                eval_steps=config.eval_steps, warmup_steps=min(5, n_steps // 10))
            final = trainer.evaluate(*test)
            predictions = trainer.predict(test[0], fetch="predictions")
            probe = {k: trainer.sess.run(model[k], {model["images"]: test[0][:1]})[0]
                     for k in ("hidden_states", "step_probabilities")}
            measured = {"images_per_second": trainer.images_per_second,
                        "wall_seconds": round(time.time() - start, 2), "device": device,
                        "steps": trainer.step,
                        "epochs": round(trainer.step / steps_per_epoch, 3)}
    metrics = collect_metrics(config, splits, history, final, predictions, measured)
    if splits.indices is not None:
        write_json(out / SPLIT_FILE, {"source": "MNIST t10k (the 10,000 test images)",
                                      "seed": config.seed, **splits.indices})
    write_json(out / "metrics.json", metrics)
    if config.figures:
        write_figures(out / "figures", metrics, splits, predictions, probe)
    print(summary_line(metrics, out))
    return metrics


def collect_metrics(config, splits, history, final, predictions, measured):
    """``metrics.json``: the test numbers of the final network, the last evaluation's
    validation and training numbers, and the run's facts (``measured``)."""
    last = history[-1] if history else {}
    train, val, test = splits.train, splits.val, splits.test
    return {
        "lesson": LESSON, "dataset": config.dataset, "cell": config.cell,
        "units": config.units, "layers": config.layers, "fast": config.fast,
        "data_source": splits.source,
        "test_accuracy": final["accuracy"], "test_loss": final["loss"],
        "val_accuracy": last.get("val_accuracy"), "val_loss": last.get("val_loss"),
        "train_accuracy": last.get("train_eval_accuracy"),   # inference mode, undistorted
        "train_loss": last.get("train_eval_loss"),
        "train_running_accuracy": last.get("train_running_accuracy"),  # distorted batches
        **measured,
        "train_examples": len(train[0]), "val_examples": len(val[0]) if val else 0,
        "test_examples": len(test[0]),
        "confusion_matrix": plots.confusion_matrix(test[1], predictions,
                                                   len(splits.class_names)),
        "history": history, "config": dataclasses.asdict(config),
    }


def distorter(config, size):
    """The training batches' augmentation as a Trainer ``batch_fn`` (None: no distortion);
    ``config.shift`` is in pixels of a 28-pixel image, scaled to ``size`` (8 for the digits)."""
    if not (config.rotation or config.scale or config.shift):
        return None
    shift = config.shift * size / 28.0

    def distort_batch(sequences, labels, rng):
        return distort(sequences, rng, config.rotation, config.scale, shift), labels
    return distort_batch


def summary_line(m, out):
    """The last line of a run: what was measured on what."""
    train = f"{100 * m['train_accuracy']:.1f}%" if m["train_accuracy"] is not None else "-"
    return (f"{m['dataset']} {m['cell']}({m['units']}) x {m['layers']}: test accuracy "
            f"{100 * m['test_accuracy']:.2f}% on {m['test_examples']:,} test images "
            f"(data_source {m['data_source']}), train accuracy {train} (inference mode, "
            f"{m['train_examples']:,} training images), {m['wall_seconds']:.0f} s, "
            f"{m['images_per_second'] or 0:.0f} images/s on {m['device']}; "
            f"wrote {Path(out) / 'metrics.json'}")


# --------------------------------------------------------------------------- figures


@plots.styled
def hidden_state_figure(image, hidden, step_probs, label, class_names):
    """One digit read row by row: the image, its hidden state ``h_t`` (units x time)
    and the softmax of the output layer after each row.

    Args:
      image: ``[T, F]`` the sequence (an image's rows).
      hidden: ``[T, units]`` the last layer's ``h_t``.
      step_probs: ``[T, classes]``.
      label: the true class.
    """
    from matplotlib.figure import Figure

    steps = hidden.shape[0]
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    ax_img, ax_h, ax_p = fig.subplots(1, 3, width_ratios=[1, 2.2, 1.6])
    ax_img.imshow(image, cmap=CMAPS["image"])
    ax_img.set(title=f"input: row t is x_t (true {class_names[label]})", xlabel="pixel",
               ylabel="time step t (row)")
    lim = max(float(np.abs(hidden).max()), 1e-6)
    im = ax_h.imshow(hidden.T, aspect="auto", cmap=CMAPS["signed"], vmin=-lim, vmax=lim,
                     extent=(0.5, steps + 0.5, hidden.shape[1] - 0.5, -0.5))
    fig.colorbar(im, ax=ax_h, shrink=0.8)
    ax_h.set(title="hidden state h_t (last layer)", xlabel="time step t (row read)",
             ylabel="unit")
    t = np.arange(1, steps + 1)
    top = np.argsort(-step_probs[-1])[:3]
    for k in top:
        ax_p.plot(t, step_probs[:, k], marker=".", label=f"p({class_names[k]})")
    ax_p.set(title="softmax of h_t: the guess so far", xlabel="time step t (row read)",
             ylim=(-0.02, 1.02))
    ax_p.grid(alpha=0.3)
    ax_p.legend(fontsize=8)
    fig.suptitle("The sequence view: an RNN reads the digit one row per time step; only "
                 f"h_{steps} is classified")
    return fig


def write_figures(fig_dir, metrics, splits, predictions, probe):
    """Learning curves, confusion matrix, misclassified test digits, hidden state."""
    fig_dir = Path(fig_dir)
    names = list(splits.class_names)
    what = f"{metrics['cell']}({metrics['units']}) on {metrics['dataset']} rows"
    plots.save_figure(plots.learning_curves({what: metrics["history"]},
                                            title=f"Learning curves: {what}"),
                      fig_dir / "learning_curves.png")
    cm = np.asarray(metrics["confusion_matrix"])
    plots.save_figure(plots.confusion_figure(cm, names), fig_dir / "confusion_matrix.png")
    images, labels = splits.test
    wrong = np.flatnonzero(predictions != labels)[:24]
    if len(wrong):
        titles = [f"{names[labels[i]]} -> {names[predictions[i]]}" for i in wrong]
        plots.save_figure(plots.image_grid(images[wrong], titles, cols=8,
                                           title="Misclassified test digits (true -> predicted)"),
                          fig_dir / "misclassified.png")
    plots.save_figure(hidden_state_figure(images[0], probe["hidden_states"],
                                          probe["step_probabilities"], labels[0], names),
                      fig_dir / "hidden_state.png")


# --------------------------------------------------------------------------- entry points


def resolve_config(config):
    """Apply fast mode; check what argparse could not (a config built in Python)."""
    for flag, value, known in (("--dataset", config.dataset, DATASET_CHOICES),
                               ("--cell", config.cell, tuple(CELLS))):
        if value not in known:
            raise UsageError(f"unknown {flag} {value!r}; use {', '.join(known)}")
    for name in ("units", "layers", "batch_size", "lr", "clip_norm", "test_size"):
        flag = f"--{name.replace('_', '-')}" if name in FLAGS else name
        cli.check_positive(flag, getattr(config, name))
    if not 0.0 < config.keep_prob <= 1.0:
        raise UsageError(f"keep_prob must be in (0, 1], got {config.keep_prob}")
    for name in ("epochs", "steps", "rotation", "scale", "shift", "val_size", "train_limit",
                 "test_limit"):
        if (getattr(config, name) or 0) < 0:
            flag = f"--{name}" if name in ("epochs", "steps") else name
            raise UsageError(f"{flag} must be >= 0, got {getattr(config, name)}")
    return fast_config(config) if config.fast else config


def for_source(config, source):
    """``config`` with the data source's defaults (SOURCE_DEFAULTS) filled in: its length
    unless one was given, its validation size unless one was given."""
    defaults = SOURCE_DEFAULTS[source]
    if config.epochs is None and config.steps is None:
        config = dataclasses.replace(config, epochs=defaults["epochs"])
    if config.val_size is None:
        config = dataclasses.replace(config, val_size=defaults["val_size"])
    return config


def default_out(config):
    """``runs/rnn_mnist/<dataset>_<cell>`` (``_fast`` in fast mode)."""
    return cli.default_out(LESSON, config.dataset, config.cell, fast=config.fast)


def run(config):
    """Run the lesson as configured; returns the metrics dict (also in ``OUT/metrics.json``)."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    resolve_device(config.device, notice=lambda msg: None,  # bad --device: fail before data
                   soft_placement=config.soft_placement)
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=(SPLIT_FILE,))
    check_resume_flags(config, out)
    if config.fast:
        cli.announce_fast(config, fast_summary(config) + f"; writes to {out}")
    splits = load_data(config)
    return train_and_evaluate(for_source(config, splits.source), out, splits)


def parse_config(argv=None):
    """The command line -> an :class:`RNNMnistConfig`."""
    lengths = ", ".join(f"{v['epochs']} on {k}" for k, v in SOURCE_DEFAULTS.items())
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_length=f"{lengths}; {FAST_EPOCHS} with --fast")
    parser.add_argument("--dataset", default=RNNMnistConfig.dataset, choices=DATASET_CHOICES,
                        help="mnist (28 rows of 28 pixels) or digits (8 rows of 8, offline)")
    parser.add_argument("--cell", default=RNNMnistConfig.cell, choices=tuple(CELLS),
                        help="the recurrent cell: vanilla rnn, lstm or gru")
    parser.add_argument("--units", type=cli.positive_int, default=RNNMnistConfig.units,
                        help="units of each cell (size of h_t)")
    parser.add_argument("--layers", type=cli.positive_int, default=RNNMnistConfig.layers,
                        help="cells stacked in depth")
    cli.add_lr_argument(parser, RNNMnistConfig.lr,
                        help="Adam's initial learning rate, decayed along a cosine to 1/100")
    parser.add_argument("--no-distort", action="store_true",
                        help="train on the images as they are (default: each training image "
                             "turned, scaled and moved a little, differently every time)")
    parser.add_argument("--eval-steps", type=cli.positive_int, default=None,
                        help="evaluate every N steps (default: after each epoch; every 2 "
                             "steps with --fast)")
    args = parser.parse_args(argv)
    no_distort = {"rotation": 0.0, "scale": 0.0, "shift": 0.0} if args.no_distort else {}
    return RNNMnistConfig(
        dataset=args.dataset, cell=args.cell, units=args.units, layers=args.layers,
        lr=args.lr, eval_steps=args.eval_steps, batch_size=args.batch_size,
        epochs=args.epochs, steps=args.steps, **no_distort, **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
