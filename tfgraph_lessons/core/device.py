"""Device choice: ``--device auto|cpu|gpu|/GPU:N`` -> a ``tf.device`` string, and where ops ran.

The slides: "through Session, upload graph to RAM or GRAM, and run graph".
A lesson builds its network inside ``with tf.device(resolve_device(spec)):``
and runs it in a Session made with :func:`session_config`, whose soft
placement lets an op without a GPU kernel fall back to the CPU. The
placement report (:func:`placement_report`) runs one step with a full trace
and lists the device every op actually ran on.
"""
import re
import sys
from collections import Counter

import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1

_DEVICE_RE = re.compile(r"^/?(cpu|gpu)(?::(\d+))?$", re.IGNORECASE)


def available_gpus():
    """Number of GPUs TensorFlow can see."""
    return len(tf.config.list_physical_devices("GPU"))


def resolve_device(spec="auto", notice=None):
    """Turn a ``--device`` value into a device string for ``tf.device``.

    Args:
      spec: ``'auto'`` (the first GPU if there is one, else the CPU), ``'cpu'``,
        ``'gpu'``, or an explicit ``'/GPU:N'`` / ``'/CPU:0'``.
      notice: a callable taking a one-line message; defaults to printing on stderr.
    Returns:
      ``'/CPU:0'`` or ``'/GPU:N'``. A GPU that is not there falls back to
      ``'/CPU:0'`` with a one-line notice.
    Raises:
      UsageError: for anything else.
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
    if kind == "CPU":
        return f"/CPU:{index}"
    n = available_gpus()
    if index >= n:
        have = f"{n} GPU{'s' if n != 1 else ''}" if n else "no GPU"
        notice(f"notice: --device {text} asked for GPU {index} but TensorFlow sees {have}; "
               "running on /CPU:0")
        return "/CPU:0"
    return f"/GPU:{index}"


def session_config(soft_placement=True, log_placement=False, intra_threads=0,
                   inter_threads=0, cpu_devices=1, allow_growth=True):
    """A ``tf1.ConfigProto`` for a lesson's Session.

    Args:
      soft_placement: let ops without a kernel on the chosen device run elsewhere.
      log_placement: have TensorFlow log every op's device when the graph is placed.
      intra_threads / inter_threads: thread pools (0 lets TensorFlow choose,
        one thread per core; on a 2-core laptop that is the right choice).
      cpu_devices: logical CPU devices to expose (``/CPU:0`` .. ``/CPU:n-1``),
        for data-parallel towers on a machine without GPUs.
      allow_growth: take GPU memory as needed rather than all of it at once.
    """
    config = tf1.ConfigProto(
        allow_soft_placement=soft_placement,
        log_device_placement=log_placement,
        intra_op_parallelism_threads=intra_threads,
        inter_op_parallelism_threads=inter_threads,
        device_count={"CPU": cpu_devices},
    )
    config.gpu_options.allow_growth = allow_growth
    return config


def placement_report(sess, fetches, feed_dict=None):
    """Run ``fetches`` once with a full trace: ``{node name: {'op': type, 'device': device}}``.

    The devices are the ones the nodes actually ran on (from the run
    metadata's step stats), not the ones requested. Grappler may have fused
    ops first (on a CPU, conv + bias + ReLU run as one ``_FusedConv2D`` node
    named after the ReLU), so the report shows what really ran.
    """
    options = tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE)
    metadata = tf1.RunMetadata()
    sess.run(fetches, feed_dict=feed_dict, options=options, run_metadata=metadata)
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
            placed.setdefault(name, {"op": m.group(1) if m else "", "device": short})
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
