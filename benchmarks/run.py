"""Side by side: the lessons' networks trained by our graphs, by Keras 3 and by PyTorch.

    python benchmarks/run.py [--quick] [--networks slide_cnn resnet20 lstm]
        [--frameworks ours keras torch] [--batch-sizes 32 128 512] [--threads 1 2]
        [--full-grid] [--repeats 3] [--sweep-repeats 1] [--steps N] [--warmup-steps N]
        [--eval-batches N] [--dataset cifar10|digits] [--data-dir D] [--mnist-dir D]
        [--out benchmarks/results] [--write-results]

Three networks, each trained three ways on the same arrays at the same batch size:

- ``ours``: the lesson's graph (``cnn_cifar.build_graph`` for ``slide_cnn`` and
  ``resnet20``, ``rnn_mnist.build_graph`` for the LSTM) run by the library's
  ``Trainer.fit`` with the lesson's input pipeline and augmentation: what the
  lesson runs (:mod:`sidebyside.ours`);
- ``keras``: Keras 3 on TensorFlow, ``model.fit`` on a ``tf.data`` pipeline, the same
  layers, initialisers, augmentation, optimiser and weight decay (:mod:`sidebyside.keras_arm`);
- ``torch``: PyTorch on the CPU, a plain loop, the same again (:mod:`sidebyside.torch_arm`);
  reported as skipped where PyTorch is not installed (``pip install -e .[bench]``).

Every measurement is a fresh process pinned to ``threads`` cores; for each
configuration the arms take turns (ours, keras, torch, ours, keras, torch ...),
so a machine that slows down or speeds up over the run slows every arm alike.
An arm times ``--steps`` training steps after ``--warmup-steps`` (graph
optimisation, tracing, allocator warm-up), wall clock, input pipeline
included; then evaluation (inference mode, loss and accuracy) over 2,048 test
images in whole batches (``--eval-batches``). Reported per configuration and framework: the
median training images/second with its spread (min-max over ``--repeats``),
ours divided by each other framework, evaluation images/second, peak resident
memory of the process, and the training FLOP/s (:mod:`sidebyside.flops`: 3 x the
forward multiply-adds x 2) as a fraction of this machine's float32 matrix-multiply
peak, measured by the same command on the same threads.

The configurations: by default each batch size at the most threads, and each
thread count at batch 128 ("how the cost grows" along one axis at a time);
``--full-grid`` runs every batch size at every thread count. The main
configuration (batch 128, most threads) is repeated ``--repeats`` times, the
others ``--sweep-repeats`` times. TensorFlow's oneDNN kernels are on
(``TF_ENABLE_ONEDNN_OPTS=1``) unless the environment says otherwise; the
setting is recorded.

Writes ``OUT/results.json`` (every measurement and the summary; rewritten after
each round, ``finished`` true at the end), ``OUT/throughput.png`` (the bar chart)
and ``OUT/results.md`` (the Markdown table); ``--write-results`` also puts that
table into ``benchmarks/RESULTS.md`` (between its markers; the notes around them
stay). ``--quick`` only proves the harness runs: 2 warm-up and 3 timed steps of
batch 32, one repeat, a 512x512 matmul peak, seconds per arm (default OUT
``benchmarks/results/quick``). Exit status 1 when an arm failed, 2 on bad input.
"""
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

from sidebyside import FRAMEWORKS, report  # noqa: E402
from sidebyside.flops import NETWORKS, count_flops  # noqa: E402
from tfgraph_lessons.core import cli  # noqa: E402
from tfgraph_lessons.core.errors import UsageError  # noqa: E402
from tfgraph_lessons.core.io import atomic_write_bytes, write_json  # noqa: E402

DEFAULT_OUT = BENCH / "results"
MAIN_BATCH = 128
# Timed steps at batch 128: each arm trains for about 5-10 s on two quiet cores. Measured
# here on one core that other processes shared, at batch 128: slide CNN ~320 images/s,
# ResNet-20 ~120, the LSTM ~1,300 (ours), ~2,800 (Keras); two quiet cores run about twice
# that (the slide CNN ~800). Other batch sizes time the same images (at least MIN_STEPS).
STEPS_AT_128 = {"slide_cnn": 40, "resnet20": 12, "lstm": 60}
MIN_STEPS = 4
WARMUP_STEPS = 3   # the first step optimises the graph (ours) or traces it (Keras)
EVAL_IMAGES = 2048  # evaluated per arm: whole batches, enough that Keras's ~0.1 s per
                    # evaluate() call (its data adapter) weighs as on a real test set
QUICK = {"batch_sizes": [32], "warmup_steps": 2, "steps": 3, "eval_batches": 2, "repeats": 1,
         "peak": {"n": 512, "repeats": 2}}
CHILD_TIMEOUT = 900  # seconds: one measurement that takes longer has hung


def usable_cores():
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def parse_args(argv=None):
    cores = usable_cores()
    p = cli.OneLineParser(prog="python benchmarks/run.py", description=__doc__.splitlines()[0],
                          formatter_class=cli.HelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="prove the harness runs: tiny steps, one repeat, seconds per arm")
    p.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    p.add_argument("--batch-sizes", nargs="+", type=cli.positive_int, default=None,
                   help="training batch sizes (default: 32 128 512; 32 with --quick)")
    p.add_argument("--threads", nargs="+", type=cli.positive_int, default=None,
                   help=f"thread counts, each at most the {cores} cores this process may use "
                        f"(default: 1 {cores})")
    p.add_argument("--full-grid", action="store_true",
                   help="every batch size at every thread count (default: one axis at a time)")
    p.add_argument("--repeats", type=cli.positive_int, default=3,
                   help="runs of each arm in the main configuration (1 with --quick)")
    p.add_argument("--sweep-repeats", type=cli.positive_int, default=1,
                   help="runs of each arm in the other configurations (1 with --quick)")
    p.add_argument("--steps", type=cli.positive_int, default=None,
                   help="timed training steps of every arm (default: per network, the same "
                        "images at every batch size: " + ", ".join(
                            f"{k} {v}" for k, v in STEPS_AT_128.items()) + " steps at batch 128)")
    p.add_argument("--warmup-steps", type=cli.positive_int, default=None,
                   help=f"untimed steps first (default: {WARMUP_STEPS})")
    p.add_argument("--eval-batches", type=cli.positive_int, default=None,
                   help=f"test batches of the timed evaluation (default: {EVAL_IMAGES:,} "
                        "images' worth, at least 2)")
    p.add_argument("--dataset", choices=("cifar10", "digits"), default="cifar10",
                   help="cifar10: the CNNs on CIFAR-10, the LSTM on MNIST rows (the lessons' "
                        "data); digits: all on scikit-learn's 8x8 digits (offline, for tests)")
    p.add_argument("--data-dir", default=None,
                   help="folder holding cifar-10-batches-bin/ (default: $TFGRAPH_DATA, else "
                        "the first of the repository's data/ and /tmp/cifar that holds it)")
    p.add_argument("--mnist-dir", default=None,
                   help="folder holding mnist/ (default: the first of --data-dir, "
                        "$TFGRAPH_DATA, data/ and ../shared/data that holds it)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default: {DEFAULT_OUT.relative_to(REPO)}, "
                        f"{DEFAULT_OUT.relative_to(REPO)}/quick with --quick)")
    p.add_argument("--seed", type=cli.nonnegative_int, default=0)
    p.add_argument("--write-results", action="store_true",
                   help="also write the table into benchmarks/RESULTS.md")
    p.add_check(lambda a: next((f"--threads {t}: this process may use {cores} cores; give "
                                f"at most {cores}" for t in a.threads or () if t > cores), None))
    args = p.parse_args(argv)
    args.cores = cores
    return args


def resolve(args):
    """Fill the defaults that depend on ``--quick`` and the machine."""
    quick = QUICK if args.quick else {}
    args.batch_sizes = sorted(set(args.batch_sizes or quick.get("batch_sizes", [32, 128, 512])))
    args.threads = sorted(set(args.threads or [1, args.cores]))
    args.warmup_steps = args.warmup_steps or quick.get("warmup_steps", WARMUP_STEPS)
    args.eval_batches = args.eval_batches or quick.get("eval_batches")
    if args.quick:
        args.repeats = args.sweep_repeats = quick["repeats"]
        args.steps = args.steps or quick["steps"]
    args.out = Path(args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT))
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is a file; give a folder (it is created if missing)")
    args.data_dir = args.data_dir or cifar_dir()
    args.mnist_dir = args.mnist_dir or mnist_dir(args.data_dir)
    return args


def _first_holding(candidates, relative):
    return next((str(d) for d in candidates if d and (Path(d) / relative).is_file()), None)


def cifar_dir():
    """$TFGRAPH_DATA, else the first of data/ and /tmp/cifar holding CIFAR-10 (else data/,
    where the lesson's loader downloads it)."""
    env = os.environ.get("TFGRAPH_DATA")
    if env:
        return env
    return _first_holding([REPO / "data", "/tmp/cifar"],
                          "cifar-10-batches-bin/test_batch.bin") or str(REPO / "data")


def mnist_dir(data_dir):
    return _first_holding([data_dir, os.environ.get("TFGRAPH_DATA"), REPO / "data",
                           REPO.parent / "shared" / "data"], "mnist/t10k-images-idx3-ubyte.gz")


def eval_batches_for(args, batch_size):
    """Test batches of the timed evaluation: ``--eval-batches``, or ``EVAL_IMAGES`` worth."""
    return args.eval_batches or max(2, -(-EVAL_IMAGES // batch_size))


def steps_for(args, network, batch_size):
    """Timed steps of one configuration: ``--steps``, or the same images as
    ``STEPS_AT_128[network]`` steps of 128."""
    if args.steps:
        return args.steps
    return max(MIN_STEPS, round(STEPS_AT_128[network] * MAIN_BATCH / batch_size))


def configurations(args):
    """``[(batch_size, threads, repeats)]``: the main one first, then the sweeps."""
    main_batch = MAIN_BATCH if MAIN_BATCH in args.batch_sizes else args.batch_sizes[
        len(args.batch_sizes) // 2]
    main_threads = max(args.threads)
    if args.full_grid:
        pairs = [(b, t) for t in sorted(args.threads, reverse=True) for b in args.batch_sizes]
    else:
        pairs = [(b, main_threads) for b in args.batch_sizes] + [
            (main_batch, t) for t in args.threads if t != main_threads]
    pairs.sort(key=lambda p: p != (main_batch, main_threads))  # the main one first
    return [(b, t, args.repeats if (b, t) == (main_batch, main_threads) else args.sweep_repeats)
            for b, t in pairs]


def available(framework):
    """None when ``framework`` can run here, else why not (``'torch is not installed'``)."""
    module = {"keras": "keras", "torch": "torch"}.get(framework)
    if module and importlib.util.find_spec(module) is None:
        hint = " (pip install -e .[bench])" if module == "torch" else ""
        return f"{module} is not installed{hint}"
    return None


def onednn_setting():
    """The ``TF_ENABLE_ONEDNN_OPTS`` every TensorFlow process of the run gets: the
    environment's, else 1: TensorFlow leaves oneDNN off on some x86 CPUs, AMD's among
    them, where it takes the slide CNN's step from 410 to 800 images/s (an AMD EPYC)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")


def child_env():
    """The environment of every measurement: the harness and the working tree's package
    importable, TensorFlow's INFO lines off, oneDNN as :func:`onednn_setting` says."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(BENCH), str(REPO)]),
                TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS=onednn_setting(),
                TFGRAPH_FAST="0")


def run_child(spec, workdir, env):
    """Run one measurement in a fresh process; returns its result dict (``error`` set,
    with the last lines it printed, when it failed)."""
    name = f"{spec['framework']}_{spec.get('tag', 'peak')}"
    spec_path, result_path = Path(workdir) / f"{name}.spec.json", Path(workdir) / f"{name}.json"
    spec = dict(spec, result=str(result_path))
    spec_path.write_text(json.dumps(spec))
    result_path.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "sidebyside.child", str(spec_path)],
                              env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT)
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        return {"error": f"no result after {CHILD_TIMEOUT} s", "log_tail": str(e.output)[-2000:]}
    result = json.loads(result_path.read_text()) if result_path.is_file() else {
        "error": f"the process exited with status {proc.returncode} and wrote no result"}
    result["process_seconds"] = round(time.perf_counter() - start, 2)
    if "error" in result:
        result["log_tail"] = "\n".join(output.strip().splitlines()[-15:])
    return result


def machine_info(args):
    """The CPU, its cores, the versions and the oneDNN setting, for the report."""
    versions = {}
    for module in ("tensorflow", "keras", "torch", "numpy"):
        try:
            versions[module] = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            versions[module] = None
    return {"cpu": report.cpu_model(), "cores": args.cores, "python": platform.python_version(),
            "platform": platform.platform(), **versions,
            "onednn": f"TF_ENABLE_ONEDNN_OPTS={onednn_setting()}"}


def prepare_networks(args, folder):
    """Load every network's data once (the lessons' loaders) and count its FLOPs."""
    from sidebyside.prepare import write_network_data

    if "lstm" in args.networks and args.dataset != "digits" and args.mnist_dir is None:
        raise UsageError("no MNIST test set found for the LSTM (mnist/t10k-images-idx3-ubyte.gz "
                         "under --data-dir, $TFGRAPH_DATA, data/ or ../shared/data); give "
                         "--mnist-dir, or leave lstm out of --networks")
    nets = {}
    for network in args.networks:
        meta = write_network_data(network, args.dataset, args.data_dir, args.mnist_dir,
                                  Path(folder) / network,
                                  min_test=max(eval_batches_for(args, b) * b
                                               for b in args.batch_sizes))
        if meta["train_examples"] < max(args.batch_sizes):
            raise UsageError(f"{network}: {meta['train_examples']} training examples cannot fill "
                             f"a batch of {max(args.batch_sizes)}; give smaller --batch-sizes")
        cost = count_flops(network, meta["input_shape"], meta["num_classes"])
        meta["flops"] = {k: cost[k] for k in ("forward_flops", "train_flops", "params")}
        nets[network] = meta
        print(f"{network}: {meta['train_examples']:,} training examples of "
              f"{meta['dataset']} {tuple(meta['input_shape'])}, "
              f"{cost['params']:,} parameters, {cost['train_flops'] / 1e6:,.1f} MFLOP per "
              f"trained example", flush=True)
    return nets


def measure_all(args, nets, workdir, results, save):
    """The interleaved runs: per network and configuration, ``repeats`` rounds of one
    fresh process per framework. ``results['runs']`` grows as they finish."""
    env = child_env()
    for threads in args.threads:
        spec = {"framework": "peak", "threads": threads, "tag": f"t{threads}",
                "peak": QUICK["peak"] if args.quick else {}}
        peak = run_child(spec, workdir, env)
        results["peak"][str(threads)] = peak
        if "error" in peak:
            print(f"matmul peak on {threads} thread(s) failed: {peak['error']}", flush=True)
        else:
            print(f"float32 matmul peak on {threads} thread(s): "
                  f"{peak['flops_per_second'] / 1e9:.1f} GFLOP/s", flush=True)
    skipped = {fw: available(fw) for fw in args.frameworks}
    for network, meta in nets.items():
        for batch, threads, repeats in configurations(args):
            steps = steps_for(args, network, batch)
            for rep in range(repeats):
                for fw in args.frameworks:
                    run = {"network": network, "batch_size": batch, "threads": threads,
                           "framework": fw, "repeat": rep, "steps": steps,
                           "warmup_steps": args.warmup_steps,
                           "eval_images": eval_batches_for(args, batch) * batch}
                    if skipped[fw]:
                        if rep == 0:
                            results["runs"].append(dict(run, skipped=skipped[fw]))
                        continue
                    spec = dict(run, network=meta, seed=args.seed,
                                eval_batches=eval_batches_for(args, batch), data=meta["data"],
                                tag=f"{network}_b{batch}_t{threads}_r{rep}")
                    result = run_child(spec, workdir, env)
                    results["runs"].append(dict(run, **result))
                    print(report.run_line(results["runs"][-1], repeats), flush=True)
            save()


def main(argv=None):
    try:
        return measure_and_report(argv)
    except KeyboardInterrupt:
        print("interrupted; OUT/results.json holds the measurements finished so far",
              file=sys.stderr)
        return 130


def measure_and_report(argv=None):
    """Everything :func:`main` does; returns the exit status."""
    args = resolve(parse_args(argv))
    command = "python benchmarks/run.py" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv))
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="tfgraph_bench_") as workdir:
        nets = prepare_networks(args, workdir)
        plan = configurations(args)
        arms = sum(r for _, _, r in plan) * len(nets) * len(args.frameworks)
        print(f"{arms} measurements: {len(nets)} network(s) x {len(plan)} configuration(s) "
              f"(batch, threads, repeats: {plan}) x {', '.join(args.frameworks)}; "
              f"writing to {args.out}", flush=True)
        results = {
            "command": command, "finished": False,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine_info(args),
            "settings": {"quick": args.quick, "dataset": args.dataset,
                         "warmup_steps": args.warmup_steps,
                         "eval_batches": args.eval_batches, "eval_images": EVAL_IMAGES,
                         "repeats": args.repeats, "sweep_repeats": args.sweep_repeats,
                         "configurations": plan, "seed": args.seed},
            "networks": {k: {key: v for key, v in m.items() if key != "data"}
                         for k, m in nets.items()},
            "peak": {}, "runs": []}

        def save():  # after every round, so an interrupted run keeps what it measured
            results["summary"] = report.summarise(results)
            write_json(args.out / "results.json", results)
        measure_all(args, nets, workdir, results, save)
    results["finished"] = True
    results["wall_seconds"] = round(time.time() - started, 1)
    save()
    table = report.text_table(results)
    print(table)
    report.write_chart(results, args.out / "throughput.png")
    markdown = report.markdown(results)
    atomic_write_bytes(args.out / "results.md", markdown.encode())
    if args.write_results:
        report.update_results_file(BENCH / "RESULTS.md", markdown)
    print(f"wrote {args.out / 'results.json'}, {args.out / 'throughput.png'}, "
          f"{args.out / 'results.md'}"
          + (f", {BENCH / 'RESULTS.md'}" if args.write_results else "")
          + f" in {results['wall_seconds']:.0f} s")
    failed = [r for r in [*results["runs"], *results["peak"].values()] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
