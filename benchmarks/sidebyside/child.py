"""One measurement in a fresh process: ``python -m sidebyside.child SPEC.json``.

The spec (a JSON file the driver writes) names the framework, the network, the
batch size, the threads, the warm-up and timed steps, the data files and where
the result goes. Before any framework is imported the process is pinned to
``threads`` cores (``sched_setaffinity``) and the OpenMP/MKL pools are sized to
match, so "1 thread" means one core for every framework, its input pipeline
and its background threads included; each arm then sets its own pools
(TensorFlow intra- and inter-op threads, ``torch.set_num_threads``).

The result JSON holds what the arm measured plus ``max_rss_mb``, the peak
resident memory of this process: data, framework, graph and buffers together.
It is the kernel's high-water mark of the process's own memory (``VmHWM`` in
``/proc/self/status``), not ``ru_maxrss``: Linux carries ``ru_maxrss`` over
``exec`` from the forked parent, so every child would report at least the
driver's own ~1 GB (TensorFlow and the data sets). Where there is no ``/proc``,
``ru_maxrss`` it is. A failure is written as ``{'error': ...}`` with exit status 1.
"""
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np


def pin_threads(threads):
    """Run this process on its first ``threads`` allowed cores, OpenMP and MKL sized to them
    (where the OS cannot pin a process, only the pools are sized); returns the cores."""
    cores = None
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cores)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    return cores


class StepClock:
    """Wall-clock time from the end of step ``warmup`` to the end of step ``warmup + steps``
    (steps counted from 1): everything a training loop does in between, the input
    pipeline, augmentation, the step itself and the loop's own Python, is inside.

    Every arm calls :meth:`step_done` after each training step.
    """

    def __init__(self, warmup, steps):
        if warmup < 1 or steps < 1:
            raise ValueError(f"StepClock needs warmup >= 1 and steps >= 1, got {warmup}, {steps}")
        self.warmup, self.steps = warmup, steps
        self.start = self.end = None

    def step_done(self, step):
        if step == self.warmup:
            self.start = time.perf_counter()
        elif step == self.warmup + self.steps:
            self.end = time.perf_counter()

    def images_per_second(self, batch_size):
        if self.start is None or self.end is None:
            raise RuntimeError("the timed steps did not all run")
        return self.steps * batch_size / (self.end - self.start)


def peak_rss_mb():
    """This process's peak resident memory in MB (see the module docstring)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024                  # kB
    except OSError:
        pass
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024       # bytes on macOS, else kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / per_mb


def timed(fn):
    """``(seconds, fn())``."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def load_data(spec):
    """The arrays the driver wrote: ``{'train_images', 'train_labels', 'test_images',
    'test_labels'}`` (uint8 images: ``[N, H, W, C]``, sequences ``[N, T, F]``)."""
    folder = Path(spec["data"])
    return {name: np.load(folder / f"{name}.npy")
            for name in ("train_images", "train_labels", "test_images", "test_labels")}


def run(spec):
    """Measure as ``spec`` says; returns the result dict."""
    cores = pin_threads(spec["threads"])
    if spec["framework"] == "peak":
        from sidebyside.flops import matmul_peak
        result = matmul_peak(spec["threads"], **spec.get("peak", {}))
    else:
        data = load_data(spec)
        if spec["framework"] == "ours":
            from sidebyside import ours as arm
        elif spec["framework"] == "keras":
            from sidebyside import keras_arm as arm
        elif spec["framework"] == "torch":
            from sidebyside import torch_arm as arm
        else:
            raise ValueError(f"unknown framework {spec['framework']!r}")
        result = arm.measure(spec, data)
    result["cores"] = cores
    result["max_rss_mb"] = peak_rss_mb()
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    out = Path(spec["result"])
    try:
        result, status = run(spec), 0
    except Exception as e:  # the driver records it and goes on with the next arm
        traceback.print_exc()
        result, status = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}, 1
    out.write_text(json.dumps(result, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
