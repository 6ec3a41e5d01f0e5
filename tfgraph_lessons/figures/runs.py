"""Where the figures that need a trained model find one: ``--run DIR`` or the runs folder.

A lesson writes ``runs/<lesson>/<run>/metrics.json`` when it finishes (with ``"lesson"``
naming it) beside its checkpoints and ``snapshots.npz``. A figure that needs such a run
asks :func:`find_runs` for the runs of its lesson:

* with ``python -m tfgraph_lessons.figures --run DIR`` (repeatable) it gets the runs found
  there: ``DIR`` is one run's folder, or a folder holding runs (``runs``,
  ``runs/cnn_cifar``, an experiment's folder), searched two levels down;
* otherwise the runs under ``runs/`` (the lessons' default ``--out``; ``$TFGRAPH_RUNS``
  names another folder of runs);
* with ``--train-missing`` a lesson that has no run gets a small one trained first
  (:data:`FAST_RUNS`: fast mode or a short run on offline data, into
  ``OUT/runs/<lesson>``), and the figure says so in its title.

Every run-based figure names the run it was drawn from (:func:`describe`): its folder, its
steps, and "fast mode" when it was a fast run.

Usage::

    from tfgraph_lessons.figures import runs
    with runs.given(["runs/cnn_cifar/cifar10_slide_cnn"]):
        runs.find_runs("cnn_cifar")          # [Run(path=..., metrics={...})]
"""
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from tfgraph_lessons.core.errors import DataError, UsageError

ROOT_ENV = "TFGRAPH_RUNS"   # the folder of runs read when no --run is given (default: runs)

# lesson -> the command line --train-missing runs (``--out`` is added): fast mode or a short
# run; each takes under a minute on 2 CPU cores and needs no download (offline data sets)
FAST_RUNS = {
    "cnn_cifar": ["--fast", "--dataset", "digits", "--steps", "300", "--eval-steps", "100"],
    "rnn_mnist": ["--fast", "--dataset", "digits", "--steps", "300"],
    "rl_frozenlake": ["--no-slippery", "--episodes", "1000"],
    "rl_cartpole": ["--algo", "a2c"],
}

_given = None        # the folders given with --run (None: none given, read runs/)
_trained = {}        # lesson -> folder trained by --train-missing in this process
_train_into = None   # where --train-missing trains (None: it is off)


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished run: its folder and its ``metrics.json``."""

    path: Path
    metrics: dict

    @property
    def lesson(self):
        return self.metrics.get("lesson")


def read_run(path):
    """The :class:`Run` in folder ``path``; None when it has no ``metrics.json`` (not finished).

    Raises:
      DataError: a ``metrics.json`` that is not a JSON object.
    """
    path = Path(path)
    file = path / "metrics.json"
    if not file.is_file():
        return None
    try:
        metrics = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{file}: not a JSON metrics file ({e}); delete that run folder or "
                        "run the lesson again") from None
    if not isinstance(metrics, dict):
        raise DataError(f"{file}: a metrics file holds a JSON object; delete that run folder "
                        "or run the lesson again")
    return Run(path, metrics)


def runs_under(folder):
    """Every finished run in ``folder``: itself, or its runs one and two levels down
    (``runs/cnn_cifar/<run>``, ``runs/cnn_cifar/<experiment>/<arm>``), sorted by path."""
    folder = Path(folder)
    candidates = [folder, *sorted(folder.glob("*/")), *sorted(folder.glob("*/*/"))]
    found = [read_run(p) for p in candidates if p.is_dir()]
    return [run for run in found if run is not None]


def check_run_folder(text):
    """``--run``'s check: ``text`` is a folder holding at least one finished run.

    Returns:
      the ``Path``.

    Raises:
      UsageError: not a folder, or no ``metrics.json`` in it or two levels below.
    """
    path = Path(text)
    if not path.is_dir():
        raise UsageError(f"{text}: no such folder; give a lesson's run folder "
                         "(e.g. runs/cnn_cifar/cifar10_slide_cnn) or a folder of runs")
    if not runs_under(path):
        raise UsageError(f"{text}: no finished run in it (no metrics.json there or two "
                         "levels down); give a run folder a lesson wrote, or run the lesson first")
    return path


@contextlib.contextmanager
def given(folders=None, train_into=None):
    """Draw figures with the runs in ``folders`` (``--run``) and, when ``train_into`` is a
    folder, train small runs there for the lessons that have none (``--train-missing``)."""
    global _given, _train_into
    saved = _given, _train_into, dict(_trained)
    _given = [Path(f) for f in folders] if folders else None
    _train_into = Path(train_into) if train_into is not None else None
    try:
        yield
    finally:
        _given, _train_into = saved[0], saved[1]
        _trained.clear()
        _trained.update(saved[2])


def root():
    """The folder of runs read when no ``--run`` is given: ``$TFGRAPH_RUNS`` or ``runs``."""
    return Path(os.environ.get(ROOT_ENV) or "runs")


def searched(lesson):
    """Where :func:`find_runs` looks for ``lesson``'s runs, for messages."""
    if _given is not None:
        return " and ".join(str(p) for p in _given)
    return str(root() / lesson)


def find_runs(lesson, root_dir=None):
    """The finished runs of ``lesson``, in path order.

    From the ``--run`` folders when any were given, else from ``root_dir`` (default
    ``<root()>/<lesson>``); with ``--train-missing`` on and none found, a fast-mode run is
    trained first (:func:`train_fast`).
    """
    if _given is not None:
        found = [run for folder in _given for run in runs_under(folder) if run.lesson == lesson]
    else:
        base = Path(root_dir) if root_dir is not None else root() / lesson
        found = [run for run in runs_under(base) if run.lesson == lesson]
    if not found and _train_into is not None and lesson in FAST_RUNS:
        found = [train_fast(lesson)]
    return found


def _longest(run):
    m = run.metrics
    return (not m.get("fast"), m.get("steps") or 0, str(run.path))


def chosen(lesson, command, needs_file=None, prefer=_longest):
    """The run of ``lesson`` a figure draws from: the best by ``prefer`` (default: a
    full-length run over a fast one, then the most steps) among :func:`find_runs`'s that
    have ``needs_file`` in their folder (when given).

    Raises:
      FigureUnavailable: none; the message says where it looked and what to run.
    """
    from tfgraph_lessons.figures import FigureUnavailable

    found = [run for run in find_runs(lesson)
             if needs_file is None or (run.path / needs_file).is_file()]
    if not found:
        what = f"with a {needs_file} " if needs_file else ""
        raise FigureUnavailable(f"no finished {lesson} run {what}in {searched(lesson)}; "
                                + how_to_get(lesson, command))
    return max(found, key=prefer)


def how_to_get(lesson, command):
    """The end of a "needs a run" message: what to run, or which flags give one."""
    fast = " or add --train-missing to train a small one" if lesson in FAST_RUNS else ""
    return (f"run {command} first, or pass its run folder with --run DIR{fast}")


def train_fast(lesson):
    """Train a small run of ``lesson`` (:data:`FAST_RUNS`) into ``<train_into>/<lesson>``
    once per process, in a child process, and return its :class:`Run`.

    Raises:
      UsageError: the lesson failed (its last stderr line is in the message).
    """
    if lesson in _trained:
        return read_run(_trained[lesson])
    out = _train_into / lesson
    cmd = [sys.executable, "-m", f"tfgraph_lessons.{lesson}", *FAST_RUNS[lesson], "--out", str(out),
           "--overwrite"]
    print(f"training a small {lesson} run for the figures that need one: "
          f"{' '.join(cmd[1:])}", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True)
    run = read_run(out) if done.returncode == 0 else None
    if run is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--train-missing: {' '.join(cmd[1:])} failed ({last})")
    _trained[lesson] = out
    return run


def describe(run, step=None):
    """How a figure names its run: ``'runs/cnn_cifar/x, step 8,775 (fast mode)'``."""
    metrics = run.metrics
    step = metrics.get("steps") if step is None else step
    parts = [str(run.path)]
    if step is not None:
        parts.append(f"step {int(step):,}")
    text = ", ".join(parts)
    if metrics.get("fast"):
        text += " (fast mode)"
    return text
