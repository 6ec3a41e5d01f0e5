"""Beyond one machine: between-graph replicated training on TensorFlow's own distributed runtime.

    # the whole cluster (1 parameter server + N workers) as processes on 127.0.0.1
    python -m tfgraph_lessons.distributed --workers 2 [--steps N] [--port-base P]
        [--timeout S] [--connect-timeout S] [shared lesson options]

    # one task of a cluster, started by hand on each machine
    python -m tfgraph_lessons.distributed --job-name ps|worker --task-index I \\
        --cluster '{"ps": ["hostA:2222"], "worker": ["hostB:2222", "hostC:2222"]}'

The TF1 recipe of the "Distributed TensorFlow" guide [1]:

- a ``tf1.train.ClusterSpec`` names every task (``job:ps/task:0``, ``job:worker/task:1``,
  ...) by ``host:port``, and every task starts a ``tf1.train.Server`` for itself;
- the parameter server (ps) only serves: the variables live in its memory;
- each worker draws its own copy of the graph (between-graph replication):
  ``tf1.train.replica_device_setter`` puts the variables on the ps and the
  computation on the worker, so every step reads the current weights from the
  ps and sends its update back, asynchronously, on the worker's own shard of
  the data;
- worker 0 (the chief) initialises the variables; the others wait for it
  (``tf1.train.SessionManager``); the global step counts every worker's steps.

What makes it checkable: each worker also adds one to its own counter
variable on the ps per step, and when done puts ``(task, steps)`` into a queue
on the ps. The ps waits for all workers, reads the global step and the
counters, writes ``OUT/ps_0.json`` and exits; the launcher checks that every
worker's updates reached the ps (counter == steps the worker did, global step
== their sum) and that every worker's loss went down.

Bad input: a port that is taken is a one-line error naming it; a worker that
cannot reach its ps gives up after ``--connect-timeout`` seconds with a
one-line message instead of hanging (TensorFlow itself would wait forever);
the launcher stops every process it started, also on an error or Ctrl-C, and
children exit if the launcher dies.

Where its command line differs from the other lessons' (DESIGN.md), and why:
``--epochs`` is refused (the lesson counts ``--steps``, global steps over all
workers, each on its own shard); ``--resume`` is refused (the workers keep no
checkpoints: the variables live in the ps's memory and end with it, so every
run starts fresh; ``--overwrite`` replaces an earlier run's folder);
``--device`` defaults to ``cpu`` (where each worker computes; the variables are
always on the ps).

``--steps`` counts global steps, split evenly over the workers, so 1 and 2
workers do the same work; ``examples_per_second`` is all workers' examples
over the span from the first worker's first step to the last worker's last.

[1] TensorFlow 1.x guide "Distributed TensorFlow" (tensorflow/docs,
    site/en/deploy/distributed.md), and ``tf.train.replica_device_setter``.

Writes ``OUT/metrics.json`` (launcher), ``OUT/worker_I.json`` and
``OUT/ps_I.json`` (each task), ``OUT/logs/worker_I`` (TensorBoard, per
worker) and ``OUT/processes/*.log`` (each process's output).
"""
import argparse
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons.core import cli, rundir
from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import TFGraphError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import read_json, write_json
from tfgraph_lessons.data import preprocess

LESSON = "distributed"
JOBS = ("ps", "worker")
DEFAULT_STEPS = 3000
FAST_STEPS = 300
REPO = Path(__file__).resolve().parents[1]


class ClusterError(TFGraphError):
    """A task of the cluster cannot be reached, failed, or did not finish in time."""


@dataclass
class DistributedConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    workers: int = 2
    steps: int = None           # global steps, split over the workers; None: DEFAULT_STEPS
    batch_size: int = 32
    lr: float = 0.05            # plain SGD; asynchronous updates like a small step
    hidden: int = 64            # a one-hidden-layer network on the 64 digit pixels
    dataset: str = "digits"
    port_base: int = None       # None: free ports chosen by the system
    host: str = "127.0.0.1"
    timeout: float = 300.0      # the whole run (launcher), and the ps waiting for the workers
    connect_timeout: float = 30.0  # a worker waiting for its ps, and for the chief's init
    summary_steps: int = 20
    job_name: str = None        # set: run this one task instead of the whole cluster
    task_index: int = 0
    cluster: dict = None        # {"ps": [host:port], "worker": [host:port, ...]}
    parent_pid: int = None      # set by the launcher: exit when it is gone
    device: str = "cpu"         # where each worker computes (the variables live on the ps)


def fast_config(config):
    """The smoke-sized run (``--fast``): a few hundred steps (``--steps`` still wins)."""
    return dataclasses.replace(config, steps=FAST_STEPS if config.steps is None else config.steps,
                               summary_steps=min(config.summary_steps, 10), fast=True)


def total_steps(config):
    return DEFAULT_STEPS if config.steps is None else config.steps


def steps_for_worker(total, num_workers, task_index):
    """Worker ``task_index``'s share of ``total`` global steps (the first ones get the rest)."""
    return total // num_workers + (1 if task_index < total % num_workers else 0)


# --------------------------------------------------------------------------- the cluster spec


def parse_cluster(text):
    """``--cluster`` JSON -> ``{'ps': [...], 'worker': [...]}``; UsageError if malformed."""
    try:
        cluster = json.loads(text) if isinstance(text, str) else dict(text)
    except (ValueError, TypeError) as e:
        raise UsageError(f"--cluster is not valid JSON ({e}); write it like "
                         '\'{"ps": ["hostA:2222"], "worker": ["hostB:2222", "hostC:2222"]}\'') \
            from None
    if not isinstance(cluster, dict) or set(cluster) != set(JOBS):
        raise UsageError("--cluster must have exactly the jobs 'ps' and 'worker', got "
                         f"{sorted(cluster) if isinstance(cluster, dict) else type(cluster)}")
    for job in JOBS:
        tasks = cluster[job]
        if not isinstance(tasks, list) or not tasks:
            raise UsageError(f"--cluster job {job!r} needs a non-empty list of host:port")
        for addr in tasks:
            split_address(addr, f"--cluster {job}")
    return {job: list(cluster[job]) for job in JOBS}


def split_address(addr, where="address"):
    """``'host:port'`` -> ``('host', port)``; UsageError if it is not one."""
    host, sep, port = str(addr).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{where}: {addr!r} is not host:port (e.g. 127.0.0.1:2222)")
    return host, int(port)


def port_is_free(port, host=""):
    """True when this machine can listen on ``port`` (all interfaces, as tf.train.Server does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count, host="127.0.0.1"):
    """``count`` distinct ports the system reports free (binding port 0)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_cluster(num_workers, num_ps=1, port_base=None, host="127.0.0.1"):
    """A cluster of ``num_ps`` ps and ``num_workers`` workers on ``host``.

    Ports: ``port_base``, ``port_base + 1``, ... (ps first) when given, each
    checked to be free; otherwise ports the system picks.
    Raises:
      UsageError: a port is taken or out of range.
    """
    count = num_ps + num_workers
    if port_base is None:
        ports = free_ports(count, host)
    else:
        if not 0 < port_base <= 65536 - count:
            raise UsageError(f"--port-base {port_base} leaves no room for {count} ports; "
                             f"use a port between 1024 and {65536 - count}")
        ports = list(range(port_base, port_base + count))
        names = [f"ps {i}" for i in range(num_ps)] + [f"worker {i}" for i in range(num_workers)]
        for port, name in zip(ports, names):
            if not port_is_free(port):
                raise UsageError(
                    f"port {port} (for {name} at {host}:{port}) is taken by another program; "
                    "choose another --port-base, or leave it out to pick free ports")
    return {"ps": [f"{host}:{p}" for p in ports[:num_ps]],
            "worker": [f"{host}:{p}" for p in ports[num_ps:]]}


# --------------------------------------------------------------------------- the graph


def shared_state(num_workers, num_ps=1):
    """What every task agrees on, on the ps: the global step, one step counter per
    worker, and per ps task a queue the workers report to when they are done."""
    with tf1.device("/job:ps/task:0"):
        global_step = tf1.train.get_or_create_global_step()
        with tf1.variable_scope("cluster"):
            counters = [tf1.get_variable(f"worker_{i}_steps", [], tf.int64, trainable=False,
                                         initializer=tf1.zeros_initializer())
                        for i in range(num_workers)]
    done_queues = []
    for p in range(num_ps):
        with tf1.device(f"/job:ps/task:{p}"):
            done_queues.append(tf1.FIFOQueue(num_workers, [tf.int64, tf.int64], shapes=[[], []],
                                             shared_name=f"done_ps_{p}", name=f"done_ps_{p}"))
    return {"global_step": global_step, "counters": counters, "done_queues": done_queues}


def build_graph(config, cluster, task_index, image_shape, num_classes, mean, std, device="/CPU:0"):
    """One worker's copy of the graph (between-graph replication).

    Args:
      config: a :class:`DistributedConfig` (hidden, lr).
      cluster: the cluster dict.
      task_index: this worker.
      image_shape, num_classes, mean, std: the data set's.
      device: where this worker computes, on its own task.
    Returns:
      dict: images, labels, logits, loss, accuracy, train_op (one SGD step,
      one global step and one count on this worker's counter), global_step,
      counters, done (enqueue ``(task, steps)``), steps_done (placeholder for
      it), summary, init, ready_op.
    """
    num_workers, num_ps = len(cluster["worker"]), len(cluster["ps"])
    shared = shared_state(num_workers, num_ps)
    worker_device = f"/job:worker/task:{task_index}/device:{device.lstrip('/')}"
    setter = tf1.train.replica_device_setter(worker_device=worker_device,
                                             cluster=tf1.train.ClusterSpec(cluster))
    height, width, color_ch = image_shape
    with tf1.device(setter):
        x_ = tf1.placeholder(tf.uint8, [None, height, width, color_ch], name="x_")
        y_ = tf1.placeholder(tf.int64, [None], name="y_")
        images = (tf.cast(x_, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)                                             # [b, H, W, C]
        net = L.flatten(images)                                          # [b, H*W*C]
        net = L.fully_connected(net, config.hidden, stddev=np.sqrt(2.0 / int(net.shape[-1])),
                                scope="hidden")                          # [b, hidden]
        logits = L.fully_connected(net, num_classes, activation=None,
                                   stddev=1.0 / np.sqrt(config.hidden), scope="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y_, logits=logits), name="cross_entropy")
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y_), tf.float32),
                                  name="batch_accuracy")
        apply = tf1.train.GradientDescentOptimizer(config.lr).minimize(
            loss, global_step=shared["global_step"])
        with tf.control_dependencies([apply]):
            count = tf1.assign_add(shared["counters"][task_index], 1)
        train_op = tf.group(apply, count, name="train_op")
        steps_done = tf1.placeholder(tf.int64, [], name="steps_done")
        done = tf.group(*[q.enqueue([tf.constant(task_index, tf.int64), steps_done])
                          for q in shared["done_queues"]], name="done")
        summary = tf1.summary.merge([
            tf1.summary.scalar("loss", loss), tf1.summary.scalar("accuracy", accuracy),
            tf1.summary.histogram("params/hidden/weights", _variable("hidden/weights")),
            tf1.summary.image("inputs", x_, max_outputs=4)])
    init = tf1.global_variables_initializer()
    ready_op = tf1.report_uninitialized_variables()
    if hasattr(ready_op, "mark_used"):
        ready_op.mark_used()  # no "never used" warning when a worker gives up before using it
    return {"images": x_, "labels": y_, "logits": logits, "loss": loss, "accuracy": accuracy,
            "train_op": train_op, "steps_done": steps_done, "done": done, "summary": summary,
            "init": init, "ready_op": ready_op, **shared}


def _variable(name):
    """The graph's variable called ``name``."""
    return next(v for v in tf1.global_variables() if v.op.name == name)


# --------------------------------------------------------------------------- one task


def start_server(cluster, job_name, task_index, config):
    """``tf1.train.Server`` for this task; UsageError if its port is taken."""
    addr = cluster[job_name][task_index]
    _, port = split_address(addr)
    if not port_is_free(port):
        raise UsageError(f"port {port} of {job_name} {task_index} ({addr} in --cluster) is taken "
                         "by another program on this machine; stop it or give this task "
                         "another port in --cluster")
    server_config = session_config(soft_placement=config.soft_placement,
                                   intra_threads=config.intra_threads,
                                   inter_threads=config.inter_threads)
    try:
        return tf1.train.Server(tf1.train.ClusterSpec(cluster), job_name=job_name,
                                task_index=task_index, config=server_config, start=True)
    except tf.errors.OpError as e:
        raise UsageError(f"could not start {job_name} {task_index} on {addr} "
                         f"({str(e).strip().splitlines()[0]}); is port {port} taken?") from None


def wait_for_address(addr, seconds, who, what):
    """Block until something listens on ``addr`` (TCP), at most ``seconds``; ClusterError then.

    ``who`` and ``what`` name the two ends in the message (``'worker 1'``, ``'the
    parameter server ps 0'``)."""
    host, port = split_address(addr)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as e:
            reason = e.strerror or type(e).__name__
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"{who} could not reach {what} at {addr} within {seconds:.3g} s ({reason}); "
                    "start it first, or check the host name, port and firewall in --cluster") \
                    from None
            time.sleep(0.2)


def with_deadline(fn, seconds, message):
    """``fn()`` in a helper thread; ClusterError(message) if it has not returned after
    ``seconds`` (TensorFlow's session creation has no timeout of its own)."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ClusterError(message)
    if "error" in box:
        raise box["error"]
    return box["value"]


def exit_with_parent(parent_pid):
    """Exit this process when ``parent_pid`` (the launcher) is gone: no orphaned tasks."""
    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(0.5)
    threading.Thread(target=watch, daemon=True).start()


def run_ps(config, cluster):
    """The parameter server: serve the variables until every worker reported done."""
    task, num_workers = config.task_index, len(cluster["worker"])
    out = Path(config.out or Path("runs") / LESSON)
    server = start_server(cluster, "ps", task, config)
    print(f"ps {task}: serving at {cluster['ps'][task]}, waiting for {num_workers} worker(s)",
          flush=True)
    with new_graph() as graph:
        shared = shared_state(num_workers, len(cluster["ps"]))
        wait_done = shared["done_queues"][task].dequeue_many(num_workers)
    sess_config = tf1.ConfigProto(device_filters=[f"/job:ps/task:{task}"])
    options = tf1.RunOptions(timeout_in_ms=int(config.timeout * 1000)) if config.timeout else None
    with tf1.Session(server.target, graph=graph, config=sess_config) as sess:
        try:
            tasks, steps = sess.run(wait_done, options=options)
        except tf.errors.DeadlineExceededError:
            raise ClusterError(f"ps {task}: the {num_workers} worker(s) did not all finish within "
                               f"{config.timeout:g} s; raise --timeout or check the workers' "
                               "output") from None
        reports = {int(t): int(s) for t, s in zip(tasks, steps)}
        record = {"task": task, "address": cluster["ps"][task], "worker_reports": reports}
        if task == 0:  # the shared state lives here: what actually reached the ps
            values = sess.run([shared["global_step"]] + shared["counters"])
            record["global_step"] = int(values[0])
            record["worker_steps"] = [int(v) for v in values[1:]]
    write_json(out / f"ps_{task}.json", record)
    print(f"ps {task}: all workers done: {record}", flush=True)
    return record


def _first_line(e):
    return (str(getattr(e, "message", "") or e).strip().splitlines() or [type(e).__name__])[0]


def run_worker(config, cluster):
    """One worker: its shard, its copy of the graph, asynchronous SGD through the ps."""
    task, num_workers = config.task_index, len(cluster["worker"])
    who = f"worker {task}"
    out = Path(config.out or Path("runs") / LESSON)
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    ds = datasets.load(config.dataset, config.data_dir)
    mean, std = preprocess.channel_stats(ds.train_images)
    shard_images = ds.train_images[task::num_workers]        # this worker's own examples
    shard_labels = ds.train_labels[task::num_workers]
    my_steps = steps_for_worker(total_steps(config), num_workers, task)
    server = start_server(cluster, "worker", task, config)
    with new_graph(seed=config.seed) as graph:
        model = build_graph(config, cluster, task, ds.image_shape, ds.num_classes, mean, std,
                            device)
    sess_config = session_config(soft_placement=config.soft_placement,
                                 intra_threads=config.intra_threads,
                                 inter_threads=config.inter_threads)
    # talk only to the ps tasks and ourselves: the other workers may come and go
    sess_config.device_filters.extend(["/job:ps", f"/job:worker/task:{task}"])
    sess_config.operation_timeout_in_ms = int(config.connect_timeout * 1000)
    deadline = time.monotonic() + config.connect_timeout
    for p, addr in enumerate(cluster["ps"]):
        wait_for_address(addr, max(0.0, deadline - time.monotonic()), who,
                         f"the parameter server ps {p}")
    manager = tf1.train.SessionManager(ready_op=model["ready_op"], graph=graph,
                                       recovery_wait_secs=0.5)
    remaining = max(1.0, deadline - time.monotonic())
    try:
        if task == 0:  # the chief initialises the variables on the ps
            sess = with_deadline(
                lambda: manager.prepare_session(server.target, init_op=model["init"],
                                                config=sess_config),
                remaining, f"{who}: the parameter server at {cluster['ps']} accepted the "
                f"connection but did not answer as a TensorFlow server within "
                f"{config.connect_timeout:g} s; check the ports in --cluster")
        else:  # the others wait until the chief has done it
            sess = with_deadline(
                lambda: manager.wait_for_session(server.target, config=sess_config,
                                                 max_wait_secs=remaining),
                remaining + 5, f"{who}: no session with the parameter server within "
                f"{config.connect_timeout:g} s; check the ports in --cluster")
    except tf.errors.DeadlineExceededError:
        raise ClusterError(f"{who}: the chief (worker 0) did not initialise the variables within "
                           f"{config.connect_timeout:g} s; start worker 0 too, or raise "
                           "--connect-timeout") from None
    test = (ds.test_images, ds.test_labels)

    def evaluate(images, labels):
        loss, acc = sess.run([model["loss"], model["accuracy"]],
                             {model["images"]: images, model["labels"]: labels})
        return float(loss), float(acc)

    rng = np.random.default_rng([config.seed, task])
    losses, run_seconds = [], 0.0
    writer = tf1.summary.FileWriter(str(out / "logs" / f"worker_{task}"), graph)
    try:
        shard_start, _ = evaluate(shard_images, shard_labels)
        _, test_acc_start = evaluate(*test)
        order, pos = rng.permutation(len(shard_images)), 0
        t_start = time.time()
        for step in range(my_steps):
            if pos + config.batch_size > len(order):
                order, pos = rng.permutation(len(shard_images)), 0
            idx = order[pos:pos + config.batch_size]
            pos += config.batch_size
            fetches = {"train_op": model["train_op"], "loss": model["loss"],
                       "global_step": model["global_step"]}
            if step % config.summary_steps == 0:
                fetches["summary"] = model["summary"]
            t0 = time.perf_counter()
            res = sess.run(fetches, {model["images"]: shard_images[idx],
                                     model["labels"]: shard_labels[idx]})
            run_seconds += time.perf_counter() - t0
            losses.append(float(res["loss"]))
            if "summary" in res:
                writer.add_summary(res["summary"], int(res["global_step"]))
        t_end = time.time()
        shard_end, _ = evaluate(shard_images, shard_labels)
        test_loss, test_acc = evaluate(*test)
        global_step = int(sess.run(model["global_step"]))
        sess.run(model["done"], {model["steps_done"]: my_steps})
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.AbortedError, tf.errors.CancelledError) as e:
        raise ClusterError(f"{who} lost the parameter server after {len(losses)} steps "
                           f"({_first_line(e)}); is the ps still running?") from None
    finally:
        writer.close()
    sess.close()
    k = min(20, max(1, len(losses) // 4))
    record = {
        "task": task, "address": cluster["worker"][task], "steps": my_steps,
        "examples": my_steps * config.batch_size, "shard_size": len(shard_images),
        "start_time": t_start, "end_time": t_end,
        "examples_per_second": my_steps * config.batch_size / (t_end - t_start)
        if t_end > t_start else None,
        "run_seconds": run_seconds,
        "shard_loss_start": shard_start, "shard_loss_end": shard_end,
        "first_loss": float(np.mean(losses[:k])) if losses else None,
        "last_loss": float(np.mean(losses[-k:])) if losses else None,
        "test_accuracy_start": test_acc_start, "test_accuracy": test_acc, "test_loss": test_loss,
        "global_step_seen": global_step, "device": device,
    }
    write_json(out / f"worker_{task}.json", record)
    print(f"{who}: {my_steps} steps, shard loss {shard_start:.3f} -> {shard_end:.3f}, test "
          f"accuracy {100 * test_acc:.1f}%, {record['examples_per_second'] or 0:.0f} examples/s",
          flush=True)
    return record


def run_task(config):
    """Run the one task ``config.job_name`` / ``config.task_index`` of ``config.cluster``."""
    if config.fast:
        config = fast_config(config)
    cluster = parse_cluster(config.cluster)
    if config.job_name not in JOBS:
        raise UsageError(f"--job-name must be ps or worker, got {config.job_name!r}")
    if not 0 <= config.task_index < len(cluster[config.job_name]):
        raise UsageError(f"--task-index {config.task_index} is not in --cluster: job "
                         f"{config.job_name!r} has tasks 0..{len(cluster[config.job_name]) - 1}")
    if config.parent_pid:
        exit_with_parent(config.parent_pid)
    if config.job_name == "ps":
        return run_ps(config, cluster)
    return run_worker(config, cluster)


# --------------------------------------------------------------------------- the launcher


def task_command(config, cluster, job_name, task_index, out):
    """The command line that runs one task of ``cluster`` (what the launcher starts)."""
    cmd = [sys.executable, "-m", "tfgraph_lessons.distributed",
           "--job-name", job_name, "--task-index", str(task_index),
           "--cluster", json.dumps(cluster), "--out", str(out),
           "--steps", str(total_steps(config)), "--batch-size", str(config.batch_size),
           "--lr", repr(config.lr), "--hidden", str(config.hidden),
           "--dataset", config.dataset, "--device", config.device, "--seed", str(config.seed),
           "--timeout", repr(config.timeout), "--connect-timeout", repr(config.connect_timeout),
           "--intra-threads", str(config.intra_threads),
           "--inter-threads", str(config.inter_threads),
           "--parent-pid", str(os.getpid())]
    if config.data_dir:
        cmd += ["--data-dir", str(config.data_dir)]
    if not config.soft_placement:
        cmd.append("--no-soft-placement")
    return cmd


def _last_words(log_path):
    """The ``error: ...`` line of a task's log, else its last non-empty line."""
    try:
        lines = [ln.strip() for ln in Path(log_path).read_text(errors="replace").splitlines()
                 if ln.strip()]
    except OSError:
        return "no output"
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["no output"])[-1]


def stop_processes(procs, grace=5.0):
    """Terminate every process still running, kill the ones that ignore it, reap them all."""
    for _, proc, _ in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for _, proc, _ in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for _, _, log in procs:
        log.close()


def launch(config):
    """Start 1 ps and ``config.workers`` workers on ``config.host``, wait, check, stop them.

    Returns:
      the metrics (also in ``OUT/metrics.json``): per-worker steps, losses and
      speed, ``examples_per_second`` for the cluster, ``updates_reached_ps``,
      ``loss_decreased``, and the ``pids`` of the processes (all stopped).
    """
    if config.fast:
        config = fast_config(config)
    cli.check_positive("--workers", config.workers)
    cli.check_positive("--batch-size", config.batch_size)
    steps = total_steps(config)
    if steps < config.workers:
        raise UsageError(f"--steps {steps} gives some of the {config.workers} workers nothing "
                         f"to do; use at least {config.workers}")
    resolve_device(config.device, notice=lambda msg: None,
                   soft_placement=config.soft_placement)  # a bad --device fails here, once
    if config.dataset not in datasets.DATASETS:
        raise UsageError(f"unknown --dataset {config.dataset!r}")
    cluster = local_cluster(config.workers, port_base=config.port_base, host=config.host)
    out = Path(config.out or cli.default_out(LESSON, config.dataset,
                                             f"{config.workers}workers", fast=config.fast))
    rundir.prepare_run_dir(out, overwrite=config.overwrite,
                           extra_outputs=["processes"] + [f"{job}_{i}.json" for job in JOBS
                                                          for i in range(config.workers)])
    if config.fast:
        cli.announce_fast(config, f"{steps} global steps; writes to {out}")
    proc_dir = out / "processes"
    proc_dir.mkdir(parents=True, exist_ok=True)
    tasks = [("ps", 0)] + [("worker", i) for i in range(config.workers)]
    for job, i in tasks:  # results of an earlier run must not pass for this one's
        (out / f"{job}_{i}.json").unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    print(f"cluster: {json.dumps(cluster)}", flush=True)
    start = time.time()
    procs = []
    try:
        for job, i in tasks:
            log_path = proc_dir / f"{job}_{i}.log"
            log = open(log_path, "w")
            proc = subprocess.Popen(task_command(config, cluster, job, i, out), env=env,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            procs.append((f"{job} {i}", proc, log))
        deadline = time.monotonic() + config.timeout if config.timeout else None  # 0: none
        while True:
            for (name, proc, log), (job, i) in zip(procs, tasks):
                code = proc.poll()
                if code not in (None, 0):
                    raise ClusterError(f"{name} stopped with exit status {code}: "
                                       f"{_last_words(log.name)} (log: {log.name})")
            if all(proc.poll() == 0 for _, proc, _ in procs):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise ClusterError(f"the cluster did not finish within {config.timeout:g} s; "
                                   f"stopped it; see the logs in {proc_dir}")
            time.sleep(0.1)
    except KeyboardInterrupt:
        stop_processes(procs)
        print(f"interrupted: stopped the ps and {config.workers} worker(s)", file=sys.stderr)
        sys.exit(130)
    finally:
        stop_processes(procs)
    pids = [proc.pid for _, proc, _ in procs]
    return _collect(config, cluster, out, start, pids, steps)


def _collect(config, cluster, out, start, pids, steps):
    ps = read_json(out / "ps_0.json")
    workers = [read_json(out / f"worker_{i}.json") for i in range(config.workers)]
    if ps is None or any(w is None for w in workers):
        raise ClusterError(f"a task finished without writing its results to {out}")
    counted = ps["worker_steps"]
    done = [w["steps"] for w in workers]
    reached = (counted == done and all(c > 0 for c in counted)
               and ps["global_step"] == sum(counted) == steps)
    decreased = all(w["shard_loss_end"] < w["shard_loss_start"] for w in workers)
    span = max(w["end_time"] for w in workers) - min(w["start_time"] for w in workers)
    examples = sum(w["examples"] for w in workers)
    last = max(workers, key=lambda w: w["end_time"])
    metrics = {
        "lesson": LESSON,
        "workers": config.workers,
        "ps": len(cluster["ps"]),
        "cluster": cluster,
        "steps": ps["global_step"],
        "worker_steps_on_ps": counted,
        "worker_steps_done": done,
        "updates_reached_ps": bool(reached),
        "loss_decreased": bool(decreased),
        "examples_per_second": examples / span if span > 0 else None,
        "images_per_second": examples / span if span > 0 else None,
        "training_seconds": round(span, 3),
        "first_loss": float(np.mean([w["shard_loss_start"] for w in workers])),
        "last_loss": float(np.mean([w["shard_loss_end"] for w in workers])),
        "test_accuracy": last["test_accuracy"],
        "test_loss": last["test_loss"],
        "per_worker": workers,
        "device": workers[0]["device"],
        "wall_seconds": round(time.time() - start, 2),
        "pids": pids,
        "logs": str(out / "logs"),
        "tensorboard": f"tensorboard --logdir {out / 'logs'}",
        "config": {k: v for k, v in dataclasses.asdict(config).items() if k != "cluster"},
    }
    write_json(out / "metrics.json", metrics)
    for w in workers:
        print(f"worker {w['task']}: {w['steps']} steps ({ps['worker_steps'][w['task']]} counted "
              f"on the ps), shard loss {w['shard_loss_start']:.3f} -> {w['shard_loss_end']:.3f}, "
              f"{w['examples_per_second'] or 0:.0f} examples/s")
    print(f"{config.workers} worker(s): global step {ps['global_step']}, "
          f"{metrics['examples_per_second'] or 0:.0f} examples/s in all, test accuracy "
          f"{100 * metrics['test_accuracy']:.1f}%; updates reached the ps: {reached}; "
          f"wrote {out / 'metrics.json'}")
    if not reached:
        raise ClusterError(f"the ps counted {counted} steps (global step {ps['global_step']}) "
                           f"but the workers did {done}; some updates were lost")
    return metrics


def run(config):
    """The whole local cluster (:func:`launch`), or one task when ``config.job_name`` is set."""
    if config.job_name:
        return run_task(config)
    return launch(config)


# --------------------------------------------------------------------------- entry points


def parse_config(argv=None):
    """The command line -> a :class:`DistributedConfig`."""
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=DistributedConfig.batch_size,
                               default_length=f"{DEFAULT_STEPS}; {FAST_STEPS} with --fast",
                               length_unit="steps")
    parser.set_defaults(device=DistributedConfig.device)
    parser.epilog = ("Differs from the other lessons: --epochs and --resume are refused "
                     "(global --steps; no checkpoints, the variables live on the ps), and "
                     "--device defaults to cpu.")
    g = parser.add_argument_group("the cluster")
    g.add_argument("--workers", type=cli.positive_int, default=DistributedConfig.workers,
                   help="workers of the local cluster (with one ps)")
    g.add_argument("--port-base", type=cli.positive_int, default=None,
                   help="ps on this port, workers on the next ones (default: free ports)")
    g.add_argument("--timeout", type=float, default=DistributedConfig.timeout,
                   help="seconds the whole run may take (the ps waits this long for workers)")
    g.add_argument("--connect-timeout", type=float, default=DistributedConfig.connect_timeout,
                   help="seconds a worker waits for its ps and for the chief")
    g.add_argument("--job-name", choices=JOBS, default=None,
                   help="run only this task (with --task-index and --cluster)")
    g.add_argument("--task-index", type=cli.nonnegative_int, default=0,
                   help="which task of --job-name this process runs")
    g.add_argument("--cluster", default=None,
                   help='the cluster as JSON: {"ps": ["host:port"], "worker": ["host:port", ...]}')
    g.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    cli.add_dataset_argument(parser, DistributedConfig.dataset)
    cli.add_lr_argument(parser, DistributedConfig.lr)
    parser.add_argument("--hidden", type=cli.positive_int, default=DistributedConfig.hidden,
                        help="units of the hidden layer")
    args = parser.parse_args(argv)
    if args.epochs is not None:
        parser.error("--epochs: this lesson counts --steps (global steps over all workers)")
    if args.resume:
        parser.error("--resume: the distributed lesson keeps no checkpoints; every run starts "
                     "fresh (--overwrite replaces an earlier run in --out)")
    if args.timeout < 0 or not args.connect_timeout > 0:
        parser.error("--timeout must be >= 0 (0: no limit) and --connect-timeout > 0")
    if args.job_name and not args.cluster:
        parser.error("--job-name needs --cluster (the JSON that names every task)")
    if args.cluster and not args.job_name:
        parser.error("--cluster needs --job-name and --task-index (which task to run here)")
    cluster = None
    if args.cluster:
        try:
            cluster = parse_cluster(args.cluster)
        except UsageError as e:
            parser.error(str(e))
    return DistributedConfig(
        workers=args.workers, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        hidden=args.hidden, dataset=args.dataset, port_base=args.port_base,
        timeout=args.timeout, connect_timeout=args.connect_timeout, job_name=args.job_name,
        task_index=args.task_index, cluster=cluster, parent_pid=args.parent_pid,
        **cli.shared_settings(args))


def main(argv=None):
    config = parse_config(argv)
    if not config.job_name:  # the launcher: a `kill` stops the cluster as Ctrl-C does
        signal.signal(signal.SIGTERM, _interrupt)
    return cli.run_main(run, config)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
