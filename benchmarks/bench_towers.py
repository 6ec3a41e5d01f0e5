"""1 vs N data-parallel towers: training images per second of ``tfgraph_lessons.towers``.

    python benchmarks/bench_towers.py [--towers 1 2] [--device cpu|gpu] [--steps 200]
        [--batch-size 128] [--dataset digits] [--repeat 3] [--json OUT.json]

Each run is a fresh process (``python -m tfgraph_lessons.towers``), so every
configuration starts with the same cold TensorFlow and, on a GPU, its own
device setup (one GPU split into N logical GPUs needs a fresh process). The
number is the lesson's own ``images_per_second``: images over the time spent
inside ``Session.run`` of training steps, after ``warmup_steps`` (5) steps;
the best of ``--repeat`` runs is reported, with the spread. The global batch
is the same for every N (each tower gets batch / N images), so the towers
split the same work. Not a test: timings are never asserted.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from common import run_lesson, spread

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--intra-threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    print(f"{args.dataset}, slide CNN, batch {args.batch_size}, {args.steps} steps, "
          f"--device {args.device}, {os.cpu_count()} CPUs visible")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.towers:
            argv = ["--towers", n, "--device", args.device, "--steps", args.steps,
                    "--batch-size", args.batch_size, "--dataset", args.dataset]
            runs = [run_lesson("towers", argv, Path(tmp) / f"t{n}_{r}", args.intra_threads)
                    for r in range(args.repeat)]
            ips = spread(m["images_per_second"] for m in runs)
            results[n] = {"devices": runs[0]["devices"], **ips}
            print(f"{n} tower(s) on {', '.join(runs[0]['devices'])}: best {ips['best']:8.0f} "
                  f"images/s, median {ips['median']:8.0f} (runs: "
                  f"{', '.join(f'{v:.0f}' for v in ips['values'])})", flush=True)
    base = results[args.towers[0]]["median"]
    for n, r in results.items():
        print(f"{n} tower(s): {r['median'] / base:.2f}x the {args.towers[0]}-tower speed (median)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
