"""The command line every lesson shares (DESIGN.md)::

    python -m tfgraph_lessons.<lesson> [--data-dir D] [--out D] [--epochs N | --steps N]
        [--batch-size N] [--device auto|cpu|gpu|/GPU:1] [--seed N] [--fast] [--resume]

and what every command does with a user-facing error: one line on stderr,
exit status 2 (:func:`run_main`).
"""
import argparse
import os
import sys

from tfgraph_lessons.core.errors import TFGraphError, UsageError

FAST_ENV = "TFGRAPH_FAST"


def run_main(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)``; on :class:`TFGraphError` print ``error: <message>``
    to stderr and exit with its status (2). Returns ``fn``'s result otherwise."""
    try:
        return fn(*args, **kwargs)
    except TFGraphError as e:
        msg = " ".join(str(e).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(e.exit_status)
    except KeyboardInterrupt:
        print("interrupted; run again with --resume to continue from the last checkpoint",
              file=sys.stderr)
        sys.exit(130)


def fast_mode(flag=False):
    """True when ``--fast`` was given or ``TFGRAPH_FAST`` is set to a true value."""
    return bool(flag) or os.environ.get(FAST_ENV, "").lower() in ("1", "true", "yes", "on")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``error: ... (see --help)``) and exit 2."""

    def error(self, message):
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _pos_int(text):
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0, got 0")
    return value


def lesson_parser(prog, description, default_batch_size=128):
    """An argument parser with the shared lesson flags; a lesson adds its own."""
    p = OneLineParser(prog=prog, description=description,
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("shared lesson options")
    g.add_argument("--data-dir", default=None,
                   help="data sets folder (default: $TFGRAPH_DATA, else the repository's data/)")
    g.add_argument("--out", default=None, help="output folder (default: runs/<lesson>)")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_nonneg_int, default=None,
                        help="passes over the training set (default: the lesson's)")
    length.add_argument("--steps", type=_nonneg_int, default=None,
                        help="training steps in total, instead of --epochs")
    g.add_argument("--batch-size", type=_pos_int, default=default_batch_size)
    g.add_argument("--device", default="auto", help="auto, cpu, gpu, or /GPU:N")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--fast", action="store_true",
                   help="a smoke-sized run for CI and class demos (also TFGRAPH_FAST=1)")
    g.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in OUT/checkpoints")
    return p


def check_positive(name, value):
    """Raise UsageError unless ``value`` > 0 (for config values set outside argparse)."""
    if value is None or value <= 0:
        raise UsageError(f"{name} must be > 0, got {value}")
    return value
