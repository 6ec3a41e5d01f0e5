"""1 vs N workers on TensorFlow's distributed runtime: examples per second of the cluster.

    python benchmarks/bench_distributed.py [--workers 1 2] [--steps 3000] [--batch-size 32]
        [--repeat 3] [--json OUT.json]

Each run is ``python -m tfgraph_lessons.distributed --workers N``: one ps and N
workers as processes on 127.0.0.1, the same total of global steps split over
the workers. The number is the launcher's ``examples_per_second``: all
workers' examples over the span from the first worker's first step to the last
worker's last (process start-up and TensorFlow import are left out). The best
and median of ``--repeat`` runs are reported. Not a test: timings are never asserted.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from common import run_lesson, spread

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--intra-threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    print(f"digits MLP, {args.steps} global steps of batch {args.batch_size}, 1 ps, "
          f"{os.cpu_count()} CPUs visible")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.workers:
            argv = ["--workers", n, "--steps", args.steps, "--batch-size", args.batch_size]
            runs = [run_lesson("distributed", argv, Path(tmp) / f"w{n}_{r}", args.intra_threads)
                    for r in range(args.repeat)]
            eps = spread(m["examples_per_second"] for m in runs)
            results[n] = {**eps, "test_accuracy": [m["test_accuracy"] for m in runs],
                          "updates_reached_ps": all(m["updates_reached_ps"] for m in runs)}
            accuracies = ", ".join(f"{m['test_accuracy']:.3f}" for m in runs)
            print(f"{n} worker(s): best {eps['best']:8.0f} examples/s, median "
                  f"{eps['median']:8.0f} (runs: {', '.join(f'{v:.0f}' for v in eps['values'])}), "
                  f"test accuracy {accuracies}", flush=True)
    base = results[args.workers[0]]["median"]
    for n, r in results.items():
        print(f"{n} worker(s): {r['median'] / base:.2f}x the {args.workers[0]}-worker "
              "speed (median)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
