"""The TensorFlow chapter: graph and session, devices, TensorBoard, made runnable.

    python -m tfgraph_lessons.tf_mechanism [--dataset digits] [--lr LR] [--log-placement]
        [--no-soft-placement] [--intra-threads N] [--inter-threads N] [shared lesson options]

The slides' mechanism, one step each, on the slides' CNN and scikit-learn's
digits (offline, seconds on a laptop):

    1. input material      the data set, as NumPy arrays
    2. draw scheme         :func:`draw_scheme` / :func:`build_graph`: placeholders, the
                           layers (each under its own ``tf.device``), loss, train_op,
                           summaries, Saver. Nothing is computed yet.
    3. get scheme          :func:`list_operations`: every operation, its type, device
                           and output tensors; :func:`lazy_evaluation_demo` shows that
                           a Python callback inside the graph has not run yet
    4. make session        ``tf1.Session(graph, config)``: "through Session, upload
                           graph to RAM or GRAM" (config: :func:`session_config
                           <tfgraph_lessons.core.device.session_config>`)
    5. run graph with input data   ``sess.run(fetches, feed_dict)``: placeholders fed,
                           several tensors fetched in one run, train steps
    6. get result          NumPy arrays back; the test accuracy

and around it: variables initialised and shared (:func:`variable_sharing_demo`:
``variable_scope(..., reuse=True)``), a ``Saver`` checkpoint restored into a
fresh Session and compared with what was saved, the device every layer ran on
(:func:`~tfgraph_lessons.core.device.placement_report`, condensed per layer by
:func:`placement_table`), and TensorBoard: scalars, histograms, images and the
graph in ``OUT/logs`` (read back with :func:`summary_tags`; open them with
``tensorboard --logdir OUT/logs``).

Devices. ``--device`` places the network (``auto``: the first GPU, else the
CPU); the input pipeline stays on ``/CPU:0``, as in the TF1 performance guide,
so on a GPU the report shows the convolutions on ``/GPU:0`` and ``input`` on
``/CPU:0``. Without a GPU, ``--device /CPU:1`` shows the same split on two
logical CPU devices. ``--device /GPU:3`` on a machine without that GPU falls
back to the CPU with a notice, or is an error with ``--no-soft-placement``.

Threads: ``--intra-threads`` / ``--inter-threads`` (default 0: TensorFlow's
choice from the core count; see :mod:`tfgraph_lessons.core.cli`).

Writes ``OUT/metrics.json``, ``OUT/logs/`` (TensorBoard events and the graph),
``OUT/graph.pbtxt``, ``OUT/placement.txt`` and ``OUT/checkpoints/``.
Taught in ``notebooks/03_tensorflow.ipynb``.
"""
import dataclasses
import glob
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons.core import cli
from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.device import (format_placement, format_placement_by_scope,
                                         placement_by_scope, placement_report, resolve_device,
                                         scope_of, session_config)
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.runner import Trainer, evaluate_in_batches
from tfgraph_lessons.data import preprocess
from tfgraph_lessons.nets.slide_cnn import he_stddev

LESSON = "tf_mechanism"
LOGICAL_CPUS = 8  # --device /CPU:N up to /CPU:7 runs on logical CPU devices (placement lesson)
LAYERS = ("conv1", "pool1", "conv2", "pool2", "fc1", "dropout", "logits", "loss", "train")
DEFAULT_STEPS = 300  # ~13 epochs of the 1,438 digits at batch 64: about 98% test accuracy
FAST_STEPS = 40
MECHANISM = ("input material", "draw scheme", "get scheme", "make session",
             "run graph with input data", "get result")


@dataclass
class MechanismConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    dataset: str = "digits"    # scikit-learn's 8x8 digits: offline, a few seconds
    steps: int = None          # None: DEFAULT_STEPS, or epochs * steps per epoch
    epochs: int = None         # instead of steps, when given
    batch_size: int = 64
    lr: float = 0.01           # slides (AlexNet): SGD with momentum 0.9, lr 0.01
    momentum: float = 0.9
    keep_prob: float = 0.5     # slides: dropout 0.5
    fc_units: int = 256        # the slide CNN's fully connected layer, narrowed for 8x8 digits
    summary_steps: int = 10    # TensorBoard scalars every this many steps
    log_placement: bool = False


def fast_config(config):
    """The smoke-sized run (``--fast``): a few seconds on two cores (``--steps`` and
    ``--epochs`` still win)."""
    explicit = config.steps is not None or config.epochs is not None
    return dataclasses.replace(config, steps=config.steps if explicit else FAST_STEPS,
                               summary_steps=min(config.summary_steps, 5), fast=True)


# --------------------------------------------------------------------------- draw the scheme


def layer_devices(device="/CPU:0", input_device="/CPU:0"):
    """Where each layer goes: the input pipeline on ``input_device``, every layer
    of the network (and its loss and optimizer) on ``device``."""
    return {"input": input_device, **{name: device for name in LAYERS}}


def build_graph(config, image_shape, num_classes, mean=0.0, std=1.0, devices=None):
    """Draw the lesson's graph into the default graph. Nothing runs.

    The slides' CNN (``w1 [7, 7, color_ch, 28]``, ``w2 [5, 5, 28, 64]``, two
    2x2 poolings, a fully connected layer, dropout, softmax), one layer per
    ``tf.device`` block so the placement report can show where each ran.

    Args:
      config: a :class:`MechanismConfig` (lr, momentum, keep_prob, fc_units).
      image_shape: ``(height, width, color_ch)``.
      num_classes: width of the logits.
      mean, std: per-channel statistics (0..255 scale) baked in as constants.
      devices: ``{layer: device}`` (:func:`layer_devices`); default all on ``/CPU:0``.
    Returns:
      dict of named tensors and ops: images (the uint8 ``x_`` placeholder),
      labels (``y_``), is_training, logits, predictions, loss, accuracy,
      train_op, global_step, end_points, summary (all summaries merged),
      init, saver.
    """
    devices = devices or layer_devices()
    height, width, color_ch = image_shape
    end_points = {}
    with tf.device(devices["input"]), tf.name_scope("input"):
        x_ = tf1.placeholder(tf.uint8, [None, height, width, color_ch], name="x_")  # raw pixels
        y_ = tf1.placeholder(tf.int64, [None], name="y_")
        is_training = tf1.placeholder_with_default(False, [], name="is_training")
        images = (tf.cast(x_, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)                                           # [b, H, W, C]
    with tf.device(devices["conv1"]):
        net = L.conv2d(images, 28, 7, scope="conv1")                   # [b, H, W, 28]
        end_points["conv1"] = net
    with tf.device(devices["pool1"]):
        net = L.max_pool(net, 2, 2, name="pool1")                      # [b, H/2, W/2, 28]
        end_points["pool1"] = net
    with tf.device(devices["conv2"]):
        net = L.conv2d(net, 64, 5, stddev=he_stddev(5 * 5 * 28), scope="conv2")  # [b, H/2, W/2, 64]
        end_points["conv2"] = net
    with tf.device(devices["pool2"]):
        net = L.max_pool(net, 2, 2, name="pool2")                      # [b, H/4, W/4, 64]
        end_points["pool2"] = net
    with tf.device(devices["fc1"]):
        fan_in = int(np.prod(net.shape.as_list()[1:]))
        net = L.fully_connected(net, config.fc_units, stddev=he_stddev(fan_in),
                                scope="fc1")                           # [b, fc_units]
        end_points["fc1"] = net
    with tf.device(devices["dropout"]):
        net = L.dropout(net, config.keep_prob, is_training, name="dropout")
    with tf.device(devices["logits"]):
        logits = L.fully_connected(net, num_classes, activation=None,
                                   stddev=1.0 / math.sqrt(config.fc_units),
                                   scope="logits")                     # [b, num_classes]
        end_points["logits"] = logits
    with tf.device(devices["loss"]):
        with tf.name_scope("cross_entropy"):
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
        with tf.name_scope("evaluation"):
            predictions = tf.argmax(logits, 1)
            accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, y_), tf.float32))
    with tf.device(devices["train"]):
        global_step = tf1.train.get_or_create_global_step()
        opt = tf1.train.MomentumOptimizer(config.lr, config.momentum)
        # each layer's gradient runs on the device of the layer it differentiates
        train_op = opt.minimize(loss, global_step=global_step, colocate_gradients_with_ops=True,
                                name="train")
    with tf.device("/CPU:0"):  # no name scope: the tags stay "loss", "params/conv1/weights"
        tf1.summary.scalar("loss", loss)
        tf1.summary.scalar("accuracy", accuracy)
        for v in tf1.trainable_variables():
            tf1.summary.histogram("params/" + v.op.name, v)
        tf1.summary.histogram("activations/conv1", end_points["conv1"])
        tf1.summary.histogram("activations/fc1", end_points["fc1"])
        tf1.summary.image("inputs", x_, max_outputs=4)
        kernel = next(v for v in tf1.global_variables() if v.op.name == "conv1/weights")
        if color_ch in (1, 3):
            with tf.name_scope("filters_as_images"):
                filters = tf.transpose(kernel, [3, 0, 1, 2])           # [28, 7, 7, C]
                lo = tf.reduce_min(filters, [1, 2, 3], keepdims=True)
                hi = tf.reduce_max(filters, [1, 2, 3], keepdims=True)
                filters = (filters - lo) / (hi - lo + 1e-8)            # each filter in 0..1
            tf1.summary.image("conv1_filters", filters, max_outputs=8)
        summary = tf1.summary.merge_all()
    init = tf1.global_variables_initializer()
    saver = tf1.train.Saver(max_to_keep=2)
    return {"images": x_, "labels": y_, "is_training": is_training, "logits": logits,
            "predictions": predictions, "loss": loss, "accuracy": accuracy,
            "train_op": train_op, "global_step": global_step, "end_points": end_points,
            "summary": summary, "init": init, "saver": saver}


def draw_scheme(config=None, image_shape=(8, 8, 1), num_classes=10, mean=0.0, std=1.0,
                device="/CPU:0", input_device="/CPU:0"):
    """Draw the lesson's graph in a fresh ``tf.Graph``: ``graph, model = draw_scheme()``.

    Returns the graph and :func:`build_graph`'s dict. Nothing has run: the
    variables have no values until a Session runs ``model['init']``.
    """
    config = config or MechanismConfig()
    with new_graph(seed=config.seed) as graph:
        model = build_graph(config, image_shape, num_classes, mean, std,
                            layer_devices(device, input_device))
    return graph, model


# --------------------------------------------------------------------------- get the scheme


def list_operations(graph):
    """Every operation of ``graph``, in creation order.

    Returns:
      a list of dicts: ``name``, ``type``, ``device`` (the one requested; '' if
      none), ``inputs`` (tensor names) and ``outputs`` (``(name, shape, dtype)``).
    """
    ops = []
    for op in graph.get_operations():
        ops.append({
            "name": op.name, "type": op.type, "device": op.device,
            "inputs": [t.name for t in op.inputs],
            "outputs": [(t.name, str(t.shape), t.dtype.name) for t in op.outputs]})
    return ops


def format_operations(ops, limit=None, types=None):
    """A table of :func:`list_operations`: ``type  name  -> output shapes  [device]``.

    Args:
      limit: show at most this many rows (None: all).
      types: show only operations of these types (``('Conv2D', 'Placeholder')``).
    """
    rows = [o for o in ops if types is None or o["type"] in types]
    shown = rows if limit is None else rows[:limit]
    width = max((len(o["type"]) for o in shown), default=0)
    lines = []
    for o in shown:
        outs = ", ".join(f"{shape} {dtype}" for _, shape, dtype in o["outputs"]) or "-"
        dev = f"  [{o['device']}]" if o["device"] else ""
        lines.append(f"{o['type']:{width}s}  {o['name']}  -> {outs}{dev}")
    if len(rows) > len(shown):
        lines.append(f"... and {len(rows) - len(shown)} more")
    return "\n".join(lines)


def graph_summary(graph):
    """Counts that describe a drawn graph: operations, tensors, variables, parameters,
    and the most common operation types."""
    with graph.as_default():
        variables = tf1.global_variables()
        trainable = tf1.trainable_variables()
    ops = graph.get_operations()
    return {
        "operations": len(ops),
        "tensors": sum(len(op.outputs) for op in ops),
        "variables": len(variables),
        "parameters": int(sum(np.prod(v.shape.as_list()) for v in trainable)),
        "op_types": dict(Counter(op.type for op in ops).most_common(12)),
    }


def format_graph_summary(summary, types=5):
    """:func:`graph_summary` as two lines a reader can take in: the counts, then the
    ``types`` most common operation types (``Const 74, Identity 40, ...``)."""
    common = ", ".join(f"{t} {n}" for t, n in list(summary["op_types"].items())[:types])
    return (f"{summary['operations']} operations, {summary['tensors']} tensors, "
            f"{summary['variables']} variables ({summary['parameters']:,} parameters)\n"
            f"most common operation types: {common}")


def lazy_evaluation_demo():
    """Nothing is computed until ``Session.run``: a Python callback inside a graph.

    Draws ``total = sum(2 * traced(a))`` where ``traced`` records every call
    (``tf.numpy_function``), then runs it once.

    Returns:
      ``{'calls_after_draw': 0, 'calls_after_run': 1, 'value': 12.0, 'tensor': ...}``.
    """
    calls = []

    def record(values):
        calls.append(values.copy())
        return values

    with new_graph() as graph:
        a = tf1.placeholder(tf.float32, [None], name="a")
        traced = tf.numpy_function(record, [a], tf.float32, name="traced")
        total = tf.reduce_sum(2.0 * traced, name="total")
    after_draw = len(calls)
    with tf1.Session(graph=graph) as sess:
        value = sess.run(total, {a: [1.0, 2.0, 3.0]})
    return {"calls_after_draw": after_draw, "calls_after_run": len(calls),
            "value": float(value), "tensor": str(total)}


def variable_sharing_demo(seed=0):
    """One layer applied to two inputs with shared weights (``variable_scope`` ``reuse``).

    Returns:
      ``variables`` (the graph's variables: one weights and one biases, not two
      of each), ``same_output`` (both branches give the same numbers on the same
      input), ``reuse_error`` (the first line of the ValueError a second
      ``get_variable`` without ``reuse`` raises).
    """
    with new_graph(seed=seed) as graph:
        left = L.inputs([4], name="left")
        right = L.inputs([4], name="right")
        out_left = L.fully_connected(left, 3, scope="shared")
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            out_right = L.fully_connected(right, 3, scope="shared")   # the same weights
        names = [v.op.name for v in tf1.global_variables()]
        try:
            with tf1.variable_scope("shared"):
                tf1.get_variable("weights", [4, 3])                    # reuse not set: refused
            error = None
        except ValueError as e:
            error = str(e).strip().splitlines()[0]
        init = tf1.global_variables_initializer()
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        a, b = sess.run([out_left, out_right], {left: x, right: x})
    return {"variables": names, "same_output": bool(np.array_equal(a, b)),
            "reuse_error": error}


# --------------------------------------------------------------------------- devices, TensorBoard


def placement_table(placed, graph=None):
    """The placement report condensed per layer: ``{layer: {device: ops}}``, in the
    order the layers were drawn in ``graph`` (alphabetical without one)."""
    table = placement_by_scope(placed)
    if graph is None:
        return table
    first = {}
    for i, op in enumerate(graph.get_operations()):
        first.setdefault(op.name.split("/")[0], i)
    return dict(sorted(table.items(), key=lambda kv: (first.get(kv[0].split("/")[0], 1 << 30),
                                                      kv[0])))


def placement_nodes(placed, scope, device=None):
    """The nodes behind one row of :func:`placement_table`, to see what a surprising
    row is made of (``placement_nodes(placed, 'input', '/CPU:1')``).

    Args:
      placed: a placement report (``{node name: {'op', 'device'}}``, from
        :func:`~tfgraph_lessons.core.device.traced_run`).
      scope: a row of the table: ``'input'``, ``'gradients/conv1'``, ``'tower_1'``,
        ``'ConstantFolding'`` (nodes Grappler's constant folding made).
      device: only the nodes that ran there; None: all of the row's nodes.
    Returns:
      ``[(node name, op type, device)]``, sorted by name. Names ending in ``/_N``
      are nodes TensorFlow added when it split the graph between devices.
    """
    return sorted((name, p["op"], p["device"]) for name, p in placed.items()
                  if not name.startswith("_") and scope_of(name) == scope
                  and (device is None or p["device"] == device))


def format_nodes(nodes):
    """:func:`placement_nodes` as one indented line per node: ``device  op type  name``."""
    if not nodes:
        return "  (none)"
    width = max(len(op) for _, op, _ in nodes)
    return "\n".join(f"  {device}  {op:{width}s}  {name}" for name, op, device in nodes)


def summary_tags(logdir):
    """Read back the TensorBoard event files under ``logdir`` (recursively).

    Returns:
      ``{'scalars': [...], 'histograms': [...], 'images': [...], 'graph': bool,
      'steps': [...]}``: the tags of each kind, whether a graph was written, and
      the global steps that have summaries.
    """
    kinds = {"scalars": set(), "histograms": set(), "images": set()}
    graph_seen, steps = False, set()
    for path in sorted(glob.glob(str(Path(logdir) / "**" / "events.*"), recursive=True)):
        for event in tf1.train.summary_iterator(path):
            graph_seen |= event.HasField("graph_def")
            for v in event.summary.value:
                steps.add(int(event.step))
                kind = v.WhichOneof("value")
                if kind == "simple_value":
                    kinds["scalars"].add(v.tag)
                elif kind == "histo":
                    kinds["histograms"].add(v.tag)
                elif kind == "image":
                    kinds["images"].add(v.tag.split("/image")[0])
    return {**{k: sorted(v) for k, v in kinds.items()}, "graph": graph_seen,
            "steps": sorted(steps)}


# --------------------------------------------------------------------------- run the graph


def evaluate(sess, model, images, labels, batch_size=500):
    """Loss and accuracy over a whole split (dropout off): ``{'loss', 'accuracy'}``."""
    return evaluate_in_batches(sess, {"loss": model["loss"], "accuracy": model["accuracy"]},
                               model["images"], model["labels"], images, labels, batch_size)


def _cpu_devices_for(device):
    """Logical CPU devices a ``/CPU:N`` placement needs (``N + 1``)."""
    return int(device.split(":")[1]) + 1 if device.startswith("/CPU:") else 1


def run(config):
    """Walk through the mechanism and train; returns the metrics (also in ``OUT/metrics.json``)."""
    if config.fast:
        config = fast_config(config)
    for name in ("batch_size", "lr", "summary_steps"):
        cli.check_positive(f"--{name.replace('_', '-')}", getattr(config, name))
    out = Path(config.out or cli.default_out(LESSON, config.dataset, fast=config.fast))
    # a /CPU:N placement gets N + 1 logical CPU devices, up to LOGICAL_CPUS
    device = resolve_device(config.device, soft_placement=config.soft_placement,
                            cpu_devices=LOGICAL_CPUS)
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=("graph.pbtxt",))
    if config.fast:
        cli.announce_fast(config, f"{cli.length_text(config)}; writes to {out}")
    start = time.time()

    # 1. input material
    ds = datasets.load(config.dataset, config.data_dir)
    train_images, train_labels = ds.train_images, ds.train_labels
    test_images, test_labels = ds.test_images, ds.test_labels
    mean, std = preprocess.channel_stats(train_images)
    n = len(train_images)
    spe = max(1, n // config.batch_size)
    if config.steps is not None:
        total = config.steps
    else:
        total = DEFAULT_STEPS if config.epochs is None else config.epochs * spe
    if total < 0:
        raise UsageError(f"--steps must be >= 0, got {total}")
    print(f"1. input material: {ds.name}, {n} training and {len(test_images)} test images "
          f"{ds.image_shape}")

    # 2. draw scheme
    devices = layer_devices(device)
    graph, model = draw_scheme(config, ds.image_shape, ds.num_classes, mean, std, device)
    print(f"2. draw scheme: the slides' CNN, input on {devices['input']}, layers on {device}")

    # 3. get scheme: the graph exists, nothing has been computed
    ops = list_operations(graph)
    shape = graph_summary(graph)
    print(f"3. get scheme: {shape['operations']} operations, {shape['tensors']} tensors, "
          f"{shape['variables']} variables ({shape['parameters']:,} parameters); e.g.\n"
          + format_operations(ops, types=("Placeholder", "Conv2D", "MaxPool", "MatMul")))
    lazy = lazy_evaluation_demo()
    print(f"   lazy: a callback in a graph ran {lazy['calls_after_draw']} times after drawing, "
          f"{lazy['calls_after_run']} after Session.run")
    sharing = variable_sharing_demo(config.seed)
    print(f"   shared: two branches, variables {sharing['variables']}, "
          f"same output: {sharing['same_output']}")

    # 4. make session: upload the graph to RAM (or GPU memory)
    sess_config = session_config(soft_placement=config.soft_placement,
                                 log_placement=config.log_placement,
                                 intra_threads=config.intra_threads,
                                 inter_threads=config.inter_threads,
                                 cpu_devices=_cpu_devices_for(device))
    log_dir = out / "logs"
    out.mkdir(parents=True, exist_ok=True)
    tf1.train.write_graph(graph.as_graph_def(), str(out), "graph.pbtxt")
    variables = [v for v in graph.get_collection(tf1.GraphKeys.GLOBAL_VARIABLES)]
    history, losses, window = [], [], []
    eval_every = max(1, total // 5)

    def record(trainer, step):
        """After each step: its loss; every ``total // 5`` steps, the test set."""
        losses.append(trainer.last_loss)
        window.append(trainer.last_loss)
        if step % eval_every == 0 or step == total:
            ev = evaluate(trainer.sess, model, test_images, test_labels)
            history.append({"step": step, "train_loss": float(np.mean(window)),
                            "test_loss": ev["loss"], "test_accuracy": ev["accuracy"]})
            window.clear()

    # the variables get their values only now: init, or the checkpoint with --resume
    identity = {"lesson": LESSON, "dataset": ds.name, "seed": config.seed,
                "batch_size": config.batch_size, "train_size": n,
                "image_shape": list(ds.image_shape), "device": device}
    with Trainer(graph, model, out, resume=config.resume, seed=config.seed, config=sess_config,
                 max_to_keep=2, histograms=False, identity=identity) as trainer:
        sess = trainer.sess
        print(f"4. make session: {len(sess.list_devices())} device(s): "
              + ", ".join(d.name.split("device:")[-1] for d in sess.list_devices()))

        # 5. run graph with input data: several tensors fetched in one run
        feed = {model["images"]: train_images[:config.batch_size],
                model["labels"]: train_labels[:config.batch_size]}
        first = sess.run({"loss": model["loss"], "accuracy": model["accuracy"],
                          "conv1": model["end_points"]["conv1"], "logits": model["logits"]}, feed)
        first_fetch = {"loss": float(first["loss"]), "accuracy": float(first["accuracy"]),
                       "conv1_shape": list(first["conv1"].shape),
                       "logits_shape": list(first["logits"].shape)}
        print(f"5. run graph with input data: one run fetched loss {first_fetch['loss']:.3f}, "
              f"accuracy {100 * first_fetch['accuracy']:.1f}%, conv1 {first_fetch['conv1_shape']}, "
              f"logits {first_fetch['logits_shape']}")
        # the first step runs with a full trace: where every op of a training step
        # (forward, backward, update) ran; its time is not counted
        trainer.fit((train_images, train_labels), steps=total, batch_size=config.batch_size,
                    summary_steps=config.summary_steps, trace_first_step=True, on_step=record)
        placed = trainer.placement
        if placed is None:  # nothing left to train (--resume of a finished run): trace the loss
            placed = placement_report(sess, model["loss"], feed)
        by_layer = placement_table(placed, graph)
        report = format_placement_by_scope(by_layer)
        full = format_placement(placed, op_types=("",) if config.log_placement else ("Conv",))
        (out / "placement.txt").write_text(report + "\n\n" + full + "\n")
        print(f"   where each layer ran (requested: input {devices['input']}, "
              f"layers {device}):\n" + report)
        if config.log_placement:
            print(full)

        # 6. get result
        final = evaluate(sess, model, test_images, test_labels)
        saved = dict(zip([v.op.name for v in variables], sess.run(variables)))
        ckpt, step, ips = trainer.checkpoint(), trainer.step, trainer.images_per_second
    print(f"6. get result: test accuracy {100 * final['accuracy']:.1f}% after {step} steps")

    # Saver: a fresh Session gets the variables from the checkpoint, not from init
    with tf1.Session(graph=graph, config=sess_config) as fresh:
        model["saver"].restore(fresh, ckpt)
        restored = dict(zip([v.op.name for v in variables], fresh.run(variables)))
        restored_eval = evaluate(fresh, model, test_images, test_labels)
    restored_equal = saved.keys() == restored.keys() and all(
        np.array_equal(saved[k], restored[k]) for k in saved)
    tags = summary_tags(log_dir)
    print(f"   Saver: restored {len(restored)} variables from {ckpt}; equal to the saved "
          f"values: {restored_equal}")
    print(f"   TensorBoard: {len(tags['scalars'])} scalar, {len(tags['histograms'])} histogram, "
          f"{len(tags['images'])} image tags and the graph in {log_dir}; "
          f"open them with: tensorboard --logdir {log_dir}")

    metrics = {
        "lesson": LESSON,
        "dataset": ds.name,
        "mechanism": list(MECHANISM),
        "device": device,
        "layer_devices": devices,
        "graph": shape,
        "lazy_evaluation": lazy,
        "variable_sharing": sharing,
        "first_fetch": first_fetch,
        "placement": by_layer,
        "test_accuracy": final["accuracy"],
        "test_loss": final["loss"],
        "first_train_loss": float(np.mean(losses[:5])) if losses else None,
        "train_loss": float(np.mean(losses[-5:])) if losses else None,
        "images_per_second": ips,
        "wall_seconds": round(time.time() - start, 2),
        "steps": step,
        "history": history,
        "checkpoint": ckpt,
        "restored_equals_saved": bool(restored_equal),
        "restored_test_accuracy": restored_eval["accuracy"],
        "summaries": tags,
        "tensorboard": f"tensorboard --logdir {log_dir}",
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    print(f"wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- entry points


def parse_config(argv=None):
    """The command line -> a :class:`MechanismConfig`."""
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=MechanismConfig.batch_size,
                               default_length=f"{DEFAULT_STEPS}; {FAST_STEPS} with --fast",
                               length_unit="steps")
    cli.add_dataset_argument(parser, MechanismConfig.dataset)
    cli.add_lr_argument(parser, MechanismConfig.lr)
    parser.add_argument("--log-placement", action="store_true",
                        help="print the device of every op (also in OUT/placement.txt)")
    args = parser.parse_args(argv)
    return MechanismConfig(
        dataset=args.dataset, lr=args.lr, log_placement=args.log_placement,
        steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
        **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
