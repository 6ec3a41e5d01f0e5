"""Device choice: ``--device auto|cpu|gpu|/GPU:N`` -> a ``tf.device`` string, and where ops ran.

The slides: "through Session, upload graph to RAM or GRAM, and run graph".
A lesson builds its network inside ``with tf.device(resolve_device(spec)):``
and runs it in a Session made with :func:`session_config`, whose soft
placement lets an op without a GPU kernel fall back to the CPU. The
placement report (:func:`placement_report`) runs one step with a full trace
and lists the device every op actually ran on; :func:`placement_by_scope`
condenses it to one line per layer (``conv1 -> /GPU:0``, ``input -> /CPU:0``).

Without soft placement (``--no-soft-placement``) a device that is not there is
an error instead of a notice: ``resolve_device('/GPU:3', soft_placement=False)``
on a one-GPU machine raises :class:`~tfgraph_lessons.core.errors.UsageError`.

Several devices on one machine: ``session_config(cpu_devices=N)`` exposes
``/CPU:0`` .. ``/CPU:N-1`` (logical CPU devices, for data-parallel towers on a
laptop), and ``session_config(gpu_logical_devices=N)`` splits the first GPU
into ``/GPU:0`` .. ``/GPU:N-1`` (virtual GPUs of ``gpu_memory_mb`` each).
Taught in ``notebooks/03_tensorflow.ipynb``.
"""
import re
import sys
from collections import Counter

import tensorflow as tf

from tfgraph_lessons.core import startup
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1

MAX_DEVICE_INDEX = 1023  # a larger index is a typo, not a device that could be missing
_DEVICE_RE = re.compile(r"^/?(cpu|gpu)(?::(\d+))?$", re.IGNORECASE)


def available_gpus():
    """Number of GPUs TensorFlow can see."""
    return len(tf.config.list_physical_devices("GPU"))


def resolve_device(spec="auto", notice=None, soft_placement=True, cpu_devices=1):
    """Turn a ``--device`` value into a device string for ``tf.device``.

    Args:
      spec: ``'auto'`` (the first GPU if there is one, else the CPU), ``'cpu'``,
        ``'gpu'``, or an explicit ``'/GPU:N'`` / ``'/CPU:0'``.
      notice: a callable taking a one-line message; defaults to printing on stderr.
      soft_placement: False (``--no-soft-placement``) turns the fallback for a
        missing device into an error.
      cpu_devices: how many CPU devices the lesson's Session exposes (1 unless it
        asks :func:`session_config` for logical ones): ``/CPU:N`` beyond them is missing.
    Returns:
      ``'/CPU:N'`` or ``'/GPU:N'``: the device that will run, which a lesson
      records. A device that is not there falls back to ``'/CPU:0'`` with a
      one-line notice.
    Raises:
      UsageError: for anything else, and for a missing GPU without soft placement.
    """
    notice = notice or (lambda msg: print(msg, file=sys.stderr))
    text = str(spec).strip()
    if text.lower() == "auto":
        return "/GPU:0" if available_gpus() else "/CPU:0"
    m = _DEVICE_RE.match(text)
    if not m:
        raise UsageError(
            f"unknown --device {spec!r}; use auto, cpu, gpu, or an explicit /GPU:N or /CPU:0"
        )
    kind, index = m.group(1).upper(), int(m.group(2) or 0)
    if index > MAX_DEVICE_INDEX:
        raise UsageError(f"--device {text}: no machine has {kind} {index}; use an index from "
                         f"0 to {MAX_DEVICE_INDEX}, or auto, cpu, gpu")
    n = cpu_devices if kind == "CPU" else available_gpus()
    if index < n:
        return f"/{kind}:{index}"
    have = f"{n} {kind}{'s' if n != 1 else ''}" if n else f"no {kind}"
    if kind == "CPU":
        have = f"{n} CPU device{'s' if n != 1 else ''} (/CPU:0{f'../CPU:{n - 1}' if n > 1 else ''})"
    if not soft_placement:
        existing = f"/GPU:0../GPU:{n - 1} or /CPU:0" if kind == "GPU" and n else "/CPU:0"
        raise UsageError(
            f"--device {text} asked for {kind} {index} but this run has {have}, and soft "
            f"placement is off (--no-soft-placement); use {existing}, or drop "
            "--no-soft-placement to fall back to /CPU:0")
    notice(f"notice: --device {text} asked for {kind} {index} but this run has {have}; "
           "running on /CPU:0")
    return "/CPU:0"


def session_config(soft_placement=True, log_placement=False, intra_threads=0,
                   inter_threads=0, cpu_devices=1, allow_growth=True, gpu_logical_devices=0,
                   gpu_memory_mb=2048):
    """A ``tf1.ConfigProto`` for a lesson's Session.

    Args:
      soft_placement: let ops without a kernel on the chosen device run elsewhere.
      log_placement: have TensorFlow log every op's device when the graph is placed.
      intra_threads / inter_threads: thread pools (0 lets TensorFlow choose,
        one thread per core; on a 2-core laptop that is the right choice).
      cpu_devices: logical CPU devices to expose (``/CPU:0`` .. ``/CPU:n-1``),
        for data-parallel towers on a machine without GPUs.
      allow_growth: take GPU memory as needed rather than all of it at once.
      gpu_logical_devices: if > 0, split the first GPU into this many logical
        GPUs (``/GPU:0`` .. ``/GPU:n-1``) of ``gpu_memory_mb`` each (memory
        growth off), to try multi-GPU code on one GPU. GPU memory is set up
        once per process, so every Session of the process must ask for the
        same split. Not yet run on a GPU by the test suite.
    """
    config = tf1.ConfigProto(
        allow_soft_placement=soft_placement,
        log_device_placement=log_placement,
        intra_op_parallelism_threads=intra_threads,
        inter_op_parallelism_threads=inter_threads,
        device_count={"CPU": cpu_devices},
    )
    config.gpu_options.allow_growth = allow_growth
    if gpu_logical_devices:
        # fixed memory limits instead of growth: TensorFlow's own API refuses memory
        # growth together with virtual devices
        config.gpu_options.allow_growth = False
        config.gpu_options.visible_device_list = "0"
        virtual = config.gpu_options.experimental.virtual_devices.add()
        virtual.memory_limit_mb.extend([float(gpu_memory_mb)] * int(gpu_logical_devices))
    return config


def placement_report(sess, fetches, feed_dict=None):
    """Run ``fetches`` once with a full trace: ``{node name: {'op': type, 'device': device}}``.

    The devices are the ones the nodes actually ran on (from the run
    metadata's step stats), not the ones requested. Grappler may have fused
    ops first (on a CPU, conv + bias + ReLU run as one ``_FusedConv2D`` node
    named after the ReLU), so the report shows what really ran.
    """
    return traced_run(sess, fetches, feed_dict)[1]


def traced_run(sess, fetches, feed_dict=None):
    """``sess.run(fetches, feed_dict)`` with a full trace: ``(results, placement)``.

    A training step can be traced this way without running it twice;
    ``placement`` is :func:`placement_report`'s dict.
    """
    options = tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE,
                             output_partition_graphs=True)
    metadata = tf1.RunMetadata()
    with startup.captured_stderr():   # without a GPU the tracer says "GPU trace was not collected"
        results = sess.run(fetches, feed_dict=feed_dict, options=options, run_metadata=metadata)
    return results, placement_from_metadata(metadata)


def placement_from_metadata(metadata):
    """``{node name: {'op': type, 'device': device}}`` from a traced run's ``RunMetadata``.

    The nodes and devices come from the step stats (what ran); an op type the
    trace left unlabelled is taken from the partition graphs when the run
    recorded them (``RunOptions(output_partition_graphs=True)``).
    """
    types = {node.name: node.op for g in metadata.partition_graphs for node in g.node}
    placed = {}
    for dev in metadata.step_stats.dev_stats:
        short = re.sub(r"^/job:[^/]+/replica:\d+/task:\d+/device:", "/", dev.device)
        if "/stream:" in short or "/memcpy" in short:
            continue  # GPU trace sub-streams repeat the kernels of the device itself
        for node in dev.node_stats:
            name = node.node_name.split(":")[0]
            if not name or name == "_SOURCE":
                continue
            m = re.match(r"^\S+ = (\S+?)\(", node.timeline_label or "")
            placed.setdefault(name, {"op": m.group(1) if m else types.get(name, ""),
                                     "device": short})
    return placed


def format_placement(placed, op_types=("Conv2D",)):
    """A readable summary: node count per device, then every node whose op type
    contains one of ``op_types`` (the convolutions, by default) and its device."""
    counts = Counter(p["device"] for p in placed.values())
    lines = [f"{dev}: {n} ops" for dev, n in sorted(counts.items())]
    for name, p in sorted(placed.items()):
        if any(t in p["op"] for t in op_types):
            lines.append(f"  {name} ({p['op']}) -> {p['device']}")
    return "\n".join(lines)


def scope_of(node_name, depth=1):
    """The layer a node belongs to: the first ``depth`` parts of its name.

    Gradient nodes are grouped under the layer they differentiate:
    ``gradients/conv1/Conv2D_grad/Conv2DBackpropFilter`` -> ``gradients/conv1``.
    """
    parts = node_name.split("/")
    if parts[0].startswith("gradients") and len(parts) > 2:
        depth += 1
    return "/".join(parts[:depth])


def placement_by_scope(placed, depth=1):
    """``{scope: {device: number of nodes}}`` from a :func:`placement_report`: where each
    layer (``input``, ``conv1``, ``tower_0`` ...) ran. The runtime's feed and fetch
    nodes (``_arg_*``, ``_retval_*``) are left out."""
    table = {}
    for name, p in placed.items():
        if name.startswith("_"):
            continue  # the runtime's own nodes: feeds (_arg_...) and fetches (_retval_...)
        table.setdefault(scope_of(name, depth), Counter())[p["device"]] += 1
    return {scope: dict(devs) for scope, devs in sorted(table.items())}


def format_placement_by_scope(by_scope):
    """One line per scope: ``conv1        -> /CPU:1 (9 ops)``; mixed scopes list every device."""
    width = max((len(s) for s in by_scope), default=0)
    lines = []
    for scope, devs in by_scope.items():
        where = ", ".join(f"{d} ({n} op{'s' if n != 1 else ''})" for d, n in sorted(devs.items()))
        lines.append(f"{scope:{width}s} -> {where}")
    return "\n".join(lines)
