"""One run, one folder: what a run folder holds, and what may be done with it.

A training run owns its output folder ``OUT``::

    OUT/checkpoints/model.ckpt-N.*    Saver checkpoints (paths recorded relative to the folder)
    OUT/checkpoints/state.json        the run's identity, the step of the last checkpoint, history
    OUT/logs/{train,val,test,...}     TensorBoard events, one sibling folder per split
    OUT/metrics.json  OUT/figures/    what the finished run reports

Rules (DESIGN.md: bad input loses nothing):

- a fresh run refuses a folder that already holds a run, unless ``--overwrite``
  (which deletes that run's outputs) or ``--resume`` (which continues it);
- ``--resume`` reads checkpoints inside ``OUT/checkpoints`` only, whatever
  absolute path TensorFlow once wrote in ``checkpoints/checkpoint``, so a moved
  or copied run folder resumes from its own files;
- ``--resume`` refuses a checkpoint made by another run (another lesson, data
  set, model, seed, split or image shape): :func:`check_identity`;
- checkpoint files that are there but cannot be used (a garbage
  ``state.json``, a checkpoint it names that is missing) are a one-line
  :class:`~tfgraph_lessons.core.errors.UsageError` that says what to delete.
"""
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from tfgraph_lessons.core.errors import UsageError

CHECKPOINT_PREFIX = "model.ckpt"
STATE_FILE = "state.json"
# what a run writes into its folder; --overwrite deletes exactly these
RUN_OUTPUTS = ("checkpoints", "logs", "figures", "metrics.json", "snapshots.npz",
               "placement.txt")

_CKPT_RE = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}-(\d+)\.index$")


def holds_run(out):
    """True when ``out`` holds the outputs of an earlier run (checkpoints, logs, metrics)."""
    out = Path(out)
    return any((out / name).exists() for name in ("checkpoints", "logs", "metrics.json"))


def prepare_run_dir(out, resume=False, overwrite=False, extra_outputs=()):
    """Check a run's output folder before any data is loaded.

    Args:
      out: the folder (``--out``).
      resume: ``--resume``: an earlier run in ``out`` is continued.
      overwrite: ``--overwrite``: an earlier run's outputs in ``out`` are deleted first.
      extra_outputs: names inside ``out`` the lesson also writes (sub-runs of an
        experiment), deleted by ``overwrite`` too.
    Returns:
      ``out`` as a :class:`~pathlib.Path`, writable (created by the first file the
      run writes, so a run that fails before that leaves no empty folder).
    Raises:
      UsageError: ``out`` is a file, cannot be written, or holds another run
        and neither ``resume`` nor ``overwrite`` was given.
    """
    out = Path(out)
    if resume and overwrite:
        raise UsageError("--resume continues the run in --out and --overwrite deletes it; "
                         "give one of them")
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out {out}: {parent} is a file, not a folder; "
                             "give --out a folder path")
    existing = next(p for p in [out, *out.parents] if p.exists() or p == Path(p.anchor))
    try:  # probe the folder, or the nearest one that exists, without leaving anything behind
        probe = existing / f".write-test-{uuid.uuid4().hex}"
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        raise UsageError(f"--out {out} cannot be written ({e.strerror or e}); "
                         "give --out a folder you can write to") from None
    if holds_run(out) and not resume:
        if not overwrite:
            raise UsageError(
                f"--out {out} already holds a run; continue it with --resume, replace it "
                "with --overwrite, or choose another --out")
        for name in (*RUN_OUTPUTS, *extra_outputs):
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    return out


# --------------------------------------------------------------------------- checkpoints


def checkpoint_path(ckpt_dir, step):
    """The Saver prefix of the checkpoint of ``step`` inside ``ckpt_dir``."""
    return str(Path(ckpt_dir) / f"{CHECKPOINT_PREFIX}-{int(step)}")


def checkpoints_on_disk(ckpt_dir):
    """``{step: prefix}`` of every checkpoint whose ``.index`` file is in ``ckpt_dir``."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return {}
    found = {}
    for path in ckpt_dir.iterdir():
        m = _CKPT_RE.match(path.name)
        if m:
            found[int(m.group(1))] = checkpoint_path(ckpt_dir, m.group(1))
    return dict(sorted(found.items()))


def latest_checkpoint(ckpt_dir):
    """The newest checkpoint prefix inside ``ckpt_dir`` (by its files, never by the
    paths recorded in ``checkpoints/checkpoint``), or None."""
    found = checkpoints_on_disk(ckpt_dir)
    return found[max(found)] if found else None


def read_state(ckpt_dir):
    """The run state saved beside the checkpoints, or None when there is none.

    Raises:
      UsageError: ``state.json`` exists but is not a JSON object with a step.
    """
    path = Path(ckpt_dir) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise ValueError("no step recorded")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UsageError(
            f"{path} is unreadable ({str(e).splitlines()[0][:80]}); the run cannot be "
            f"resumed: delete {path.parent} to start over, or use another --out") from None
    return state


def resume_point(ckpt_dir):
    """The checkpoint to resume from and its state: ``(prefix, state)``, or ``(None, None)``.

    The checkpoint is the one ``state.json`` names (the last one whose state was
    written completely); a checkpoint written after it by a run killed before
    its state is ignored.

    Raises:
      UsageError: checkpoint files without a state, or a state whose checkpoint is gone.
    """
    ckpt_dir = Path(ckpt_dir)
    state = read_state(ckpt_dir)
    found = checkpoints_on_disk(ckpt_dir)
    if state is None:
        if found:
            raise UsageError(
                f"{ckpt_dir} holds checkpoints but no {STATE_FILE}, so the run they belong to "
                f"is unknown; delete {ckpt_dir} to start over, or use another --out")
        return None, None
    step = state["step"]
    if step not in found or not list(ckpt_dir.glob(f"{CHECKPOINT_PREFIX}-{step}.data-*")):
        raise UsageError(
            f"{ckpt_dir / STATE_FILE} names the checkpoint of step {step}, but its files are "
            f"not in {ckpt_dir}; delete {ckpt_dir} to start over, or use another --out")
    return found[step], state


# --------------------------------------------------------------------------- identity

# the command-line flag that sets each identity field, for the error message
IDENTITY_FLAGS = {"lesson": "the lesson", "dataset": "--dataset", "model": "--model",
                  "seed": "--seed", "batch_size": "--batch-size", "cell": "--cell",
                  "units": "--units", "layers": "--layers", "embedding": "--embedding",
                  "seq_length": "--seq-length", "text": "--text", "series": "--series",
                  "window": "--window", "horizon": "--horizon"}


def _normalise(value):
    """JSON round trip, so tuples and lists compare equal after a save."""
    return json.loads(json.dumps(value))


def check_identity(saved, current, where):
    """Refuse to resume a run whose identity differs from this one's.

    Args:
      saved: the ``run`` dict of ``state.json`` (None for a state written without one).
      current: this run's identity: lesson, dataset, model, seed, split sizes,
        image shape, anything that makes a checkpoint belong to one run.
      where: the checkpoint folder, for the message.
    Raises:
      UsageError: naming the first setting that differs.
    """
    if not current:
        return
    if saved is None:
        raise UsageError(f"{where} holds a run that recorded no settings (an older version); "
                         f"it cannot be checked against this one: delete {where} to start "
                         "over, or use another --out")
    saved, current = _normalise(saved), _normalise(current)
    for key, value in current.items():
        if key in saved and saved[key] != value:
            what = IDENTITY_FLAGS.get(key, key.replace("_", " "))
            raise UsageError(
                f"--resume: the run in {where} was made with {what} {saved[key]!r}, this one "
                f"has {value!r}; resume with the same settings, or start a new run with "
                "another --out or --overwrite")
    missing = sorted(set(current) - set(saved))
    if missing:
        raise UsageError(f"--resume: the run in {where} recorded no {missing[0]}; it cannot be "
                         "checked against this one: use another --out or --overwrite")


def remove_later_checkpoints(ckpt_dir, step):
    """Delete the files of checkpoints newer than ``step`` (left by a run killed
    between writing a checkpoint and its state), so they never shadow the resumed run's."""
    for later, prefix in checkpoints_on_disk(ckpt_dir).items():
        if later > step:
            for path in Path(ckpt_dir).glob(Path(prefix).name + ".*"):
                os.unlink(path)
