"""Several devices at once: data-parallel towers, the TF1 multi-GPU CIFAR-10 pattern [1].

    python -m tfgraph_lessons.towers --towers N [--device auto|cpu|gpu] [--dataset digits]
        [--lr LR] [--log-placement] [shared lesson options]

The slides: "why TensorFlow: multi-threaded, multi-GPU". One model replica (a
*tower*) per device, all sharing one set of variables:

    with tf1.variable_scope(tf1.get_variable_scope()):
        for i, device in enumerate(devices):            # /GPU:0, /GPU:1 ... or /CPU:0, /CPU:1
            with tf.device(device), tf.name_scope(f"tower_{i}"):
                loss = tower_loss(images_split[i], labels_split[i])   # this tower's slice
                tf1.get_variable_scope().reuse_variables()            # towers 1.. share
                tower_grads.append(opt.compute_gradients(loss))
    grads = average_gradients(tower_grads)              # on the CPU
    train_op = opt.apply_gradients(grads, global_step)  # applied once

The variables live on ``/CPU:0`` (the tutorial's ``_variable_on_cpu``), the
batch placeholder is split with ``tf.split`` into one slice per tower, and the
towers' gradients are averaged on the CPU and applied once per step, so one
step on N towers is one step on the whole batch (the tests check this to
float precision on a linear model).

Devices: ``--device gpu`` (or ``auto`` with a GPU) runs tower i on ``/GPU:i``;
with fewer GPUs than towers but at least one, the first GPU is split into
N logical GPUs. Without a GPU the towers run on N logical CPU devices
(``session_config(cpu_devices=N)``), which is how the test suite exercises
the code on a laptop. On two CPU cores, logical devices share the same cores,
so 2 towers are not faster than 1 there: ``benchmarks/bench_towers.py``
measures it.

[1] The TensorFlow 1.x tutorial "Convolutional Neural Networks", section
    "Training a Model Using Multiple GPU Cards", cifar10_multi_gpu_train.py
    (tensorflow/models, tutorials/image/cifar10).

Writes ``OUT/metrics.json`` (``images_per_second``, ``towers``, ``devices``,
losses, the placement per tower), ``OUT/logs/`` (TensorBoard) and
``OUT/checkpoints/``. Taught in ``notebooks/03_tensorflow.ipynb``.
"""
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons import nets
from tfgraph_lessons.core import cli
from tfgraph_lessons.core.device import (available_gpus, format_placement,
                                         format_placement_by_scope, placement_by_scope,
                                         session_config, traced_run)
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.runner import Trainer, evaluate_in_batches
from tfgraph_lessons.data import preprocess

LESSON = "towers"
VARIABLE_OPS = ("VarHandleOp", "VariableV2", "Variable")
DEFAULT_STEPS = 300
FAST_STEPS = 30


@dataclass
class TowersConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    towers: int = 2
    dataset: str = "digits"     # offline; cifar10 where it is downloaded
    model: str = "slide_cnn"    # from the registry; built once per tower
    steps: int = None           # None: DEFAULT_STEPS (or epochs * steps per epoch)
    epochs: int = None
    batch_size: int = 128       # the whole batch; each tower gets batch_size / towers
    lr: float = 0.01            # slides (AlexNet): SGD with momentum 0.9, lr 0.01
    momentum: float = 0.9
    keep_prob: float = 0.5      # slides: dropout 0.5
    warmup_steps: int = 5       # left out of images_per_second (graph optimisation, caches)
    gpu_memory_mb: int = 4096   # per logical GPU when one GPU is split into towers
    summary_steps: int = 20
    log_placement: bool = False


def fast_config(config):
    """The smoke-sized run (``--fast``): seconds on two cores (``--steps`` and
    ``--epochs`` still win)."""
    explicit = config.steps is not None or config.epochs is not None
    return dataclasses.replace(config, steps=config.steps if explicit else FAST_STEPS,
                               warmup_steps=min(config.warmup_steps, 3),
                               summary_steps=min(config.summary_steps, 10), fast=True)


# --------------------------------------------------------------------------- devices


def tower_devices(num_towers, device="auto", notice=None, soft_placement=True):
    """One device per tower, and the :func:`session_config` arguments that create them.

    Args:
      num_towers: N >= 1.
      device: ``auto`` (GPUs if there are any, else CPUs), ``cpu`` or ``gpu``.
      notice: a callable taking a one-line message (default: print on stderr).
      soft_placement: False makes ``gpu`` without a GPU an error.
    Returns:
      ``(devices, config_kwargs)``: ``['/GPU:0', '/GPU:1']`` with ``{}`` on a
      2-GPU machine; the same names with ``{'gpu_logical_devices': 2}`` on a
      1-GPU machine; ``['/CPU:0', '/CPU:1']`` with ``{'cpu_devices': 2}`` without GPUs.
    """
    notice = notice or (lambda msg: print(msg, file=sys.stderr))
    if num_towers < 1:
        raise UsageError(f"--towers must be >= 1, got {num_towers}")
    kind = str(device).strip().lower()
    if kind not in ("auto", "cpu", "gpu"):
        raise UsageError(f"--device {device!r} for towers: use auto, cpu or gpu "
                         "(tower i runs on device i of that kind)")
    gpus = available_gpus()
    if kind == "auto":
        kind = "gpu" if gpus else "cpu"
    if kind == "gpu" and not gpus:
        if not soft_placement:
            raise UsageError("--device gpu asked for GPU towers but TensorFlow sees no GPU, "
                             "and soft placement is off (--no-soft-placement); use --device cpu")
        notice(f"notice: --device gpu but TensorFlow sees no GPU; running the {num_towers} "
               f"tower(s) on {num_towers} logical CPU device(s)")
        kind = "cpu"
    if kind == "cpu":
        return [f"/CPU:{i}" for i in range(num_towers)], {"cpu_devices": num_towers}
    if gpus >= num_towers:
        return [f"/GPU:{i}" for i in range(num_towers)], {}
    if num_towers > 1:
        notice(f"notice: {num_towers} towers on {gpus} GPU(s): splitting /GPU:0 into "
               f"{num_towers} logical GPUs")
    return [f"/GPU:{i}" for i in range(num_towers)], {"gpu_logical_devices": num_towers}


def variables_on(var_device, op_device):
    """A device function: variables on ``var_device``, every other op on ``op_device``
    (the TF1 tutorial's ``_variable_on_cpu``, for variables created anywhere)."""
    var_device = tf.DeviceSpec.from_string(var_device).to_string()  # '/device:CPU:0'
    op_device = tf.DeviceSpec.from_string(op_device).to_string()

    def place(op):
        return var_device if op.type in VARIABLE_OPS else op_device
    return place


# --------------------------------------------------------------------------- the towers


def average_gradients(tower_grads):
    """Average each variable's gradient over the towers (the tutorial's function).

    Args:
      tower_grads: one list of ``(gradient, variable)`` per tower, the variables
        in the same order in every list (``compute_gradients`` guarantees it).
    Returns:
      one list of ``(mean gradient, variable)``; variables without a gradient
      in any tower are left out.
    """
    averaged = []
    for grad_and_vars in zip(*tower_grads):  # ((g0, v), (g1, v), ...) for one variable
        var = grad_and_vars[0][1]
        grads = [g for g, _ in grad_and_vars if g is not None]
        if not grads:
            continue
        if len(grads) == 1:
            averaged.append((grads[0], var))
            continue
        stacked = tf.stack(grads, axis=0)                # [towers, *var.shape]
        averaged.append((tf.reduce_mean(stacked, axis=0), var))
    return averaged


def build_towers(images, labels, devices, tower_fn, optimizer, global_step=None,
                 var_device="/CPU:0"):
    """Data-parallel training over ``devices``: split, replicate, average, apply.

    Args:
      images, labels: the whole batch (``[batch, ...]``); ``batch`` must divide
        evenly by ``len(devices)``.
      devices: one device string per tower.
      tower_fn: ``fn(images, labels) -> (loss, outputs dict)``, building one
        replica with ``tf1.get_variable`` (called once per tower; towers after
        the first reuse the first one's variables).
      optimizer: a ``tf1.train.Optimizer``.
      global_step: incremented once per step by ``apply_gradients``.
      var_device: where the variables live.
    Returns:
      dict: ``train_op``, ``loss`` (mean of the towers' losses), ``tower_losses``,
      ``tower_outputs`` (each tower's outputs dict), ``grads_and_vars`` (the
      averaged gradients), ``tower_grads``.
    """
    n = len(devices)
    with tf.device(var_device), tf.name_scope("split"):
        image_slices = tf.split(images, n, axis=0)          # n x [batch / n, ...]
        label_slices = tf.split(labels, n, axis=0)
    tower_grads, tower_losses, tower_outputs = [], [], []
    with tf1.variable_scope(tf1.get_variable_scope()):
        for i, device in enumerate(devices):
            with tf1.device(variables_on(var_device, device)), tf.name_scope(f"tower_{i}"):
                loss, outputs = tower_fn(image_slices[i], label_slices[i])
                tf1.get_variable_scope().reuse_variables()  # the next towers share them
                tower_grads.append(optimizer.compute_gradients(loss))
                tower_losses.append(loss)
                tower_outputs.append(outputs)
    with tf.device(var_device):
        with tf.name_scope("average_gradients"):
            grads_and_vars = average_gradients(tower_grads)
        train_op = optimizer.apply_gradients(grads_and_vars, global_step=global_step,
                                             name="apply_gradients")
        loss = tf.reduce_mean(tf.stack(tower_losses), name="mean_loss")
    return {"train_op": train_op, "loss": loss, "tower_losses": tower_losses,
            "tower_outputs": tower_outputs, "grads_and_vars": grads_and_vars,
            "tower_grads": tower_grads}


def build_graph(config, image_shape, num_classes, mean, std, devices):
    """The lesson's graph: the network of ``config.model`` replicated on ``devices``.

    Returns:
      dict of named tensors: images (the whole-batch uint8 placeholder), labels,
      is_training, loss, tower_losses, accuracy (of the training batch, all
      towers), eval_logits / eval_accuracy (one replica on the first device,
      dropout off, any batch size), train_op, global_step, summary, init, saver,
      devices.
    """
    height, width, color_ch = image_shape
    builder = nets.get(config.model)
    with tf.device("/CPU:0"), tf.name_scope("input"):
        x_ = tf1.placeholder(tf.uint8, [None, height, width, color_ch], name="x_")
        y_ = tf1.placeholder(tf.int64, [None], name="y_")
        is_training = tf1.placeholder_with_default(False, [], name="is_training")
        images = (tf.cast(x_, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)                                           # [b, H, W, C]
        global_step = tf1.train.get_or_create_global_step()

    def tower_fn(tower_images, tower_labels):                          # [b / N, H, W, C]
        logits, _ = builder(tower_images, num_classes, is_training, keep_prob=config.keep_prob)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tower_labels, logits=logits), name="cross_entropy")
        return loss, {"logits": logits}

    opt = tf1.train.MomentumOptimizer(config.lr, config.momentum)
    model = build_towers(images, y_, devices, tower_fn, opt, global_step=global_step)
    with tf.device("/CPU:0"), tf.name_scope("batch_accuracy"):
        logits = tf.concat([o["logits"] for o in model["tower_outputs"]], 0)  # [b, classes]
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y_), tf.float32))
    with tf1.variable_scope(tf1.get_variable_scope(), reuse=True), \
            tf1.device(variables_on("/CPU:0", devices[0])), tf.name_scope("eval"):
        eval_logits, _ = builder(images, num_classes, False, keep_prob=config.keep_prob)
        eval_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y_, logits=eval_logits))
        eval_accuracy = tf.reduce_mean(
            tf.cast(tf.equal(tf.argmax(eval_logits, 1), y_), tf.float32))
    with tf.device("/CPU:0"):  # no name scope: the tags stay "loss", "params/conv1/weights"
        summaries = [tf1.summary.scalar("loss", model["loss"]),
                     tf1.summary.scalar("accuracy", accuracy),
                     tf1.summary.image("inputs", x_, max_outputs=4)]
        summaries += [tf1.summary.scalar(f"tower_{i}/loss", t)
                      for i, t in enumerate(model["tower_losses"])]
        for grad, var in model["grads_and_vars"]:
            summaries.append(tf1.summary.histogram("params/" + var.op.name, var))
            summaries.append(tf1.summary.histogram("gradients/" + var.op.name, grad))
        summary = tf1.summary.merge(summaries)
    init = tf1.global_variables_initializer()
    saver = tf1.train.Saver(max_to_keep=2)
    return {**model, "images": x_, "labels": y_, "is_training": is_training,
            "accuracy": accuracy, "eval_logits": eval_logits, "eval_loss": eval_loss,
            "eval_accuracy": eval_accuracy, "global_step": global_step, "summary": summary,
            "init": init, "saver": saver, "devices": list(devices)}


def tower_of(node_name):
    """``'tower_1/slide_cnn/Relu'`` -> 1; None for nodes outside the towers."""
    head = node_name.split("/")[0]
    if head.startswith("tower_") and head[6:].isdigit():
        return int(head[6:])
    return None


def placement_demo(config=None, image_shape=(8, 8, 1), num_classes=10):
    """Where every node of one training step of the towers ran, without training.

    Draws :func:`build_graph` for ``config.towers`` towers on ``config.device``
    and runs one traced step on a batch of zeros, fetching what the lesson's
    first (traced) step fetches: ``train_op``, loss, accuracy and the summaries.
    The notebook uses it to show what each tower runs outside its own device:
    the reads of the shared variables run where the variables live (``/CPU:0``),
    and the tower's loss summary with the other summaries on the CPU.

    Args:
      config: a :class:`TowersConfig` (towers, device, model, seed); default 2
        towers on logical CPU devices.
      image_shape: ``(height, width, color_ch)`` of the zero batch (digits: 8x8x1).
      num_classes: width of the logits.
    Returns:
      ``(devices, placed)``: the towers' devices and the placement report,
      ``{node name: {'op': type, 'device': device}}``.
    """
    config = config or TowersConfig(towers=2, device="cpu")
    devices, device_kwargs = tower_devices(config.towers, config.device,
                                           soft_placement=config.soft_placement)
    with new_graph(seed=config.seed) as graph:
        model = build_graph(config, image_shape, num_classes, 0.0, 1.0, devices)
    batch = 2 * config.towers                                          # 2 images per tower
    feed = {model["images"]: np.zeros((batch, *image_shape), np.uint8),
            model["labels"]: np.zeros(batch, np.int64), model["is_training"]: True}
    sess_config = session_config(soft_placement=config.soft_placement,
                                 gpu_memory_mb=config.gpu_memory_mb, **device_kwargs)
    with tf1.Session(graph=graph, config=sess_config) as sess:
        sess.run(model["init"])
        fetches = {name: model[name] for name in ("train_op", "loss", "accuracy", "summary")}
        _, placed = traced_run(sess, fetches, feed)
    return devices, placed


# --------------------------------------------------------------------------- run


def evaluate(sess, model, images, labels, batch_size=500):
    """Loss and accuracy of the shared weights over a split (one replica, no dropout)."""
    fetches = {"loss": model["eval_loss"], "accuracy": model["eval_accuracy"]}
    return evaluate_in_batches(sess, fetches, model["images"], model["labels"], images, labels,
                               batch_size)


def run(config):
    """Train with ``config.towers`` towers; returns the metrics (also in ``OUT/metrics.json``)."""
    if config.fast:
        config = fast_config(config)
    cli.check_positive("--towers", config.towers)
    cli.check_positive("--batch-size", config.batch_size)
    cli.check_positive("--lr", config.lr)
    if config.batch_size % config.towers:
        raise UsageError(f"--batch-size {config.batch_size} does not split evenly over "
                         f"{config.towers} towers; use a multiple of {config.towers}")
    nets.get(config.model)
    devices, device_kwargs = tower_devices(config.towers, config.device,
                                           soft_placement=config.soft_placement)
    out = Path(config.out or cli.default_out(LESSON, config.dataset, config.model,
                                             f"{config.towers}towers", fast=config.fast))
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite)
    if config.fast:
        cli.announce_fast(config, f"{cli.length_text(config)}; writes to {out}")
    start = time.time()
    ds = datasets.load(config.dataset, config.data_dir)
    train_images, train_labels = ds.train_images, ds.train_labels
    mean, std = preprocess.channel_stats(train_images)
    n = len(train_images)
    if n < config.batch_size:
        raise UsageError(f"--batch-size {config.batch_size} is larger than the "
                         f"{n} training images of {ds.name}")
    spe = max(1, n // config.batch_size)
    if config.steps is not None:
        total = config.steps
    else:
        total = DEFAULT_STEPS if config.epochs is None else config.epochs * spe

    sess_config = session_config(soft_placement=config.soft_placement,
                                 intra_threads=config.intra_threads,
                                 inter_threads=config.inter_threads,
                                 gpu_memory_mb=config.gpu_memory_mb, **device_kwargs)
    with new_graph(seed=config.seed) as graph:
        model = build_graph(config, ds.image_shape, ds.num_classes, mean, std, devices)
    trainable = [v.op.name for v in graph.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES)]
    print(f"{config.towers} tower(s) of {config.model} on {', '.join(devices)}, "
          f"{config.batch_size // config.towers} images each per step; "
          f"{len(trainable)} shared variables on /CPU:0")

    out.mkdir(parents=True, exist_ok=True)
    curve = []  # (step, loss) of every training step of this run

    def record(trainer, step):
        curve.append((step, trainer.last_loss))

    identity = {"lesson": LESSON, "dataset": ds.name, "model": config.model,
                "seed": config.seed, "batch_size": config.batch_size, "towers": config.towers,
                "train_size": n, "image_shape": list(ds.image_shape)}
    with Trainer(graph, model, out, resume=config.resume, seed=config.seed, config=sess_config,
                 max_to_keep=2, histograms=False, identity=identity) as trainer:
        # the first step runs traced (where each tower ran); it and the warm-up are not timed
        trainer.fit((train_images, train_labels), steps=total, batch_size=config.batch_size,
                    summary_steps=config.summary_steps, warmup_steps=config.warmup_steps,
                    trace_first_step=True, on_step=record)
        final = evaluate(trainer.sess, model, ds.test_images, ds.test_labels)
        ckpt, step, placed = trainer.checkpoint(), trainer.step, trainer.placement
        ips = trainer.images_per_second
        timed_steps = trainer.train_images_seen // config.batch_size

    by_scope = placement_by_scope(placed) if placed else {}
    towers_placed = {k: v for k, v in by_scope.items() if tower_of(k) is not None}
    convs = {name: p["device"] for name, p in (placed or {}).items()
             if "Conv2D" in p["op"] and tower_of(name) is not None}
    report = format_placement_by_scope(by_scope)
    if placed:
        (out / "placement.txt").write_text(
            report + "\n\n" + format_placement(placed, op_types=("Conv",)) + "\n")
        print("where each tower ran:\n" + format_placement_by_scope(towers_placed))
        if config.log_placement:
            print(format_placement(placed, op_types=("",)))
    losses = [v for _, v in curve]
    k = min(10, max(1, len(losses) // 4))
    metrics = {
        "lesson": LESSON,
        "dataset": ds.name,
        "model": config.model,
        "towers": config.towers,
        "devices": devices,
        "device": ", ".join(devices),
        "images_per_tower": config.batch_size // config.towers,
        "images_per_second": ips,
        "timed_steps": timed_steps,
        "first_loss": float(np.mean(losses[:k])) if losses else None,
        "last_loss": float(np.mean(losses[-k:])) if losses else None,
        "test_accuracy": final["accuracy"],
        "test_loss": final["loss"],
        "wall_seconds": round(time.time() - start, 2),
        "steps": step,
        "shared_variables": trainable,
        "placement": towers_placed,
        "conv_devices": convs,
        "checkpoint": ckpt,
        "history": [{"step": s, "train_loss": v} for s, v in curve
                    if s % max(1, total // 20) == 0],
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    trained = (f"loss {metrics['first_loss']:.3f} -> {metrics['last_loss']:.3f}, "
               if losses else "no steps left to train, ")
    print(f"{config.towers} tower(s): {trained}test accuracy {100 * final['accuracy']:.1f}%, "
          f"{ips or 0:.0f} images/s on {', '.join(devices)}; wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- entry points


def parse_config(argv=None):
    """The command line -> a :class:`TowersConfig`."""
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=TowersConfig.batch_size,
                               default_length=f"{DEFAULT_STEPS}; {FAST_STEPS} with --fast",
                               length_unit="steps")
    parser.add_argument("--towers", type=cli.positive_int, default=TowersConfig.towers,
                        help="model replicas, one per device")
    cli.add_dataset_argument(parser, TowersConfig.dataset)
    parser.add_argument("--model", default=TowersConfig.model,
                        help="a network from the registry: " + ", ".join(nets.names()))
    cli.add_lr_argument(parser, TowersConfig.lr)
    parser.add_argument("--gpu-memory-mb", type=cli.positive_int,
                        default=TowersConfig.gpu_memory_mb,
                        help="memory of each logical GPU when one GPU is split into towers")
    parser.add_argument("--log-placement", action="store_true",
                        help="print the device of every op of a training step")
    args = parser.parse_args(argv)
    return TowersConfig(
        towers=args.towers, dataset=args.dataset, model=args.model, lr=args.lr,
        gpu_memory_mb=args.gpu_memory_mb, log_placement=args.log_placement, steps=args.steps,
        epochs=args.epochs, batch_size=args.batch_size, **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
