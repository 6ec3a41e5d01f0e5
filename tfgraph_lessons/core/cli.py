"""The command line every lesson shares (DESIGN.md)::

    python -m tfgraph_lessons.<lesson> [--data-dir D] [--out D] [--epochs N | --steps N]
        [--batch-size N] [--device auto|cpu|gpu|/GPU:1] [--seed N] [--fast] [--resume]
        [--no-soft-placement] [--intra-threads N] [--inter-threads N]

Thread settings. TensorFlow runs each op on a pool of ``--intra-threads``
threads (the parallel loops inside one convolution or matmul) and independent
ops side by side on ``--inter-threads`` threads. The default 0 lets
TensorFlow size both pools from the cores it may use (one intra-op thread per
logical core; the inter-op pool from the same count, or 2 in oneDNN builds),
which is the right choice both for a 2-core laptop and for a 16-core server:
a fixed number would under-use the server or oversubscribe the laptop. Set
them when the machine is shared: two runs on a 16-core server each with
``--intra-threads 8 --inter-threads 2``; ``--intra-threads 1
--inter-threads 1`` gives bit-for-bit repeatable sums on a CPU.
:func:`session_options` turns the flags into
:func:`~tfgraph_lessons.core.device.session_config` arguments.

``--no-soft-placement`` makes a device that is not there (``--device /GPU:3``
on a one-GPU machine) an error instead of a fallback to the CPU with a notice.

Every command reports a user-facing error as one line on stderr and exit
status 2 (:func:`run_main`).
"""
import argparse
import os
import sys
from dataclasses import dataclass

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
    """argparse, but a bad argument is one line (``error: ... (see --help)``) and exit 2.

    Checks added with :meth:`add_check` run on the parsed arguments (checks of
    one flag against the others, or of values argparse's ``type`` cannot judge).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._checks = []

    def add_check(self, check):
        """``check(args)`` returns an error message, or None when ``args`` are fine."""
        self._checks.append(check)

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for check in self._checks:
            message = check(parsed)
            if message:
                self.error(message)
        return parsed

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


# argparse types a lesson can use for its own flags
positive_int = _pos_int
nonnegative_int = _nonneg_int

DATASET_HELP = "digits (offline), mnist, cifar10, cifar100 or svhn"


def _check_dataset(args):
    from tfgraph_lessons.data import DATASETS  # not at import: data imports core

    if args.dataset not in DATASETS:
        return f"unknown --dataset {args.dataset!r}; known: {', '.join(sorted(DATASETS))}"
    return None


def add_dataset_argument(parser, default, help=DATASET_HELP):
    """``--dataset NAME``: one of :data:`tfgraph_lessons.data.DATASETS`, checked when parsed."""
    parser.add_argument("--dataset", default=default, help=help)
    parser.add_check(_check_dataset)


def add_lr_argument(parser, default, help="learning rate"):
    """``--lr LR``: a float > 0, checked when parsed."""
    parser.add_argument("--lr", type=float, default=default, help=help)
    parser.add_check(lambda args: None if args.lr > 0 else f"--lr must be > 0, got {args.lr}")


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
    g.add_argument("--no-soft-placement", dest="soft_placement", action="store_false",
                   help="a --device that is not there is an error, not a fallback to the "
                        "CPU (soft placement on: %(default)s)")
    g.add_argument("--intra-threads", type=_nonneg_int, default=0,
                   help="threads inside one op (0: TensorFlow's choice, one per core)")
    g.add_argument("--inter-threads", type=_nonneg_int, default=0,
                   help="ops run side by side (0: TensorFlow's choice, one per core)")
    return p


@dataclass
class LessonConfig:
    """The settings every lesson shares, one per shared flag; a lesson's config
    dataclass inherits them and adds its own (``metrics.json`` records all)."""

    data_dir: str = None         # --data-dir (None: $TFGRAPH_DATA, else data/)
    out: str = None              # --out (None: runs/<lesson>)
    device: str = "auto"         # --device
    seed: int = 0                # --seed
    fast: bool = False           # --fast or TFGRAPH_FAST=1
    resume: bool = False         # --resume
    soft_placement: bool = True  # --no-soft-placement sets False
    intra_threads: int = 0       # --intra-threads (0: TensorFlow's choice)
    inter_threads: int = 0       # --inter-threads


def shared_settings(args):
    """The shared flags of parsed ``args`` as :class:`LessonConfig` keyword arguments."""
    return {"data_dir": args.data_dir, "out": args.out, "device": args.device,
            "seed": args.seed, "fast": fast_mode(args.fast), "resume": args.resume,
            **session_options(args)}


def session_options(args):
    """The shared device and thread flags as keyword arguments of
    :func:`~tfgraph_lessons.core.device.session_config` (and ``resolve_device``'s
    ``soft_placement``); missing attributes take the defaults."""
    return {"soft_placement": getattr(args, "soft_placement", True),
            "intra_threads": getattr(args, "intra_threads", 0) or 0,
            "inter_threads": getattr(args, "inter_threads", 0) or 0}


def check_positive(name, value):
    """Raise UsageError unless ``value`` > 0 (for config values set outside argparse)."""
    if value is None or value <= 0:
        raise UsageError(f"{name} must be > 0, got {value}")
    return value
