"""What the benchmark scripts share: run a lesson as a fresh process, read its metrics."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_lesson(module, argv, out, intra_threads=None):
    """``python -m tfgraph_lessons.<module> ARGV --out OUT`` in a fresh process (full size,
    never --fast); returns the run's ``metrics.json``."""
    cmd = [sys.executable, "-m", f"tfgraph_lessons.{module}", *map(str, argv), "--out", str(out)]
    if intra_threads is not None:
        cmd += ["--intra-threads", str(intra_threads)]
    env = dict(os.environ, PYTHONPATH=str(REPO), TFGRAPH_FAST="0")
    subprocess.run(cmd, check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return json.loads((Path(out) / "metrics.json").read_text())


def spread(values):
    """``{'values': sorted, 'best': max, 'median': the middle one}`` of repeated timings."""
    values = sorted(values)
    return {"values": values, "best": values[-1], "median": values[len(values) // 2]}
