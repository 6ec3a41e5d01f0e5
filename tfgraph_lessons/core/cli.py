"""The command line every lesson shares (DESIGN.md)::

    python -m tfgraph_lessons.<lesson> [--data-dir D] [--out D] [--epochs N | --steps N]
        [--batch-size N] [--device auto|cpu|gpu|/GPU:1] [--seed N] [--fast]
        [--resume | --overwrite] [--no-soft-placement] [--intra-threads N] [--inter-threads N]
        [--verbose]

Fast mode (``--fast`` or ``TFGRAPH_FAST=1``) shrinks a run to a smoke test, but
a length given on the command line (``--epochs``, ``--steps``) wins over it, and
a fast run says so on its first line (:func:`announce_fast`) and in
``metrics.json`` (``fast``, ``fast_source``).

Each run writes into its own folder (default ``runs/<lesson>/<what it trains>``,
:func:`default_out`); a folder that already holds a run is refused unless
``--resume`` continues it or ``--overwrite`` replaces it
(:mod:`tfgraph_lessons.core.rundir`).

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
from pathlib import Path

from tfgraph_lessons.core.errors import TFGraphError, UsageError
from tfgraph_lessons.core.startup import VERBOSE_ENV, VERBOSE_FLAG

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
    except BrokenPipeError:
        # the reader of stdout went away (``--list | head``): stop without a traceback,
        # and point stdout at /dev/null so that Python's flush at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def fast_mode(flag=False):
    """True when ``--fast`` was given or ``TFGRAPH_FAST`` is set to a true value."""
    return fast_source(flag) is not None


def fast_source(flag=False):
    """What switched fast mode on: ``'--fast'``, ``'TFGRAPH_FAST=1'`` (the environment), or None."""
    if flag:
        return "--fast"
    value = os.environ.get(FAST_ENV, "")
    if value.lower() in ("1", "true", "yes", "on"):
        return f"{FAST_ENV}={value}"
    return None


def announce_fast(config, what):
    """Print a fast run's first line: what switched it on and what it shrinks.

    Args:
      config: a :class:`LessonConfig` (its ``fast_source`` is named).
      what: the lesson's own description of the fast run (``'2,000 training images, 1 epoch'``).
    """
    source = config.fast_source or "--fast"
    hint = (f"unset {FAST_ENV} for the full run" if source.startswith(FAST_ENV)
            else "drop --fast for the full run")
    print(f"fast mode ({source}): {what}; {hint}", flush=True)


def length_text(config):
    """A run's length in words: ``'40 steps'``, ``'1 epoch'``, ``'3 epochs'``."""
    if config.steps is not None:
        return f"{config.steps} step{'s' if config.steps != 1 else ''}"
    return f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"


def default_out(lesson, *parts, fast=False):
    """The default run folder: ``runs/<lesson>/<part>_<part>[_fast]`` (one folder per
    data set and model, so two different runs never share one)."""
    name = "_".join(str(p) for p in parts if p) + ("_fast" if fast else "")
    return Path("runs") / lesson / (name or "run")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's help states its default once: appended as ``(default: X)``
    unless the help already names it, and left out where there is nothing to say
    (None, a flag that is off)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default is None or action.default is argparse.SUPPRESS
                or action.nargs == 0 or not action.option_strings):  # flags: off unless given
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``error: ... (see --help)``) and exit 2.

    Checks added with :meth:`add_check` run on the parsed arguments (checks of
    one flag against the others, or of values argparse's ``type`` cannot judge).

    Every command accepts ``--verbose``. It has already acted when the parser
    runs: :mod:`tfgraph_lessons.core.startup` reads it from ``sys.argv`` when
    the package is imported, before TensorFlow loads; the parser only accepts
    it and documents it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._checks = []
        self.add_argument(VERBOSE_FLAG, action="store_true",
                          help="let TensorFlow's start-up log lines through to stderr "
                               f"(also {VERBOSE_ENV}=1)")

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


MAX_SEED = 2 ** 31 - 1  # TensorFlow's op seeds and NumPy's generators both take it
MAX_THREADS = 1024      # TensorFlow keeps the thread counts in 32-bit fields


def _seed(text):
    value = _nonneg_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED}, got {value}")
    return value


def _threads(text):
    value = _nonneg_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_THREADS} (0 lets TensorFlow choose), got {value}")
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


def lesson_parser(prog, description, default_batch_size=128, default_length="the lesson's",
                  length_unit="epochs"):
    """An argument parser with the shared lesson flags; a lesson adds its own.

    Args:
      prog, description: for ``--help``.
      default_batch_size: the lesson's ``--batch-size`` default.
      default_length: how long the lesson trains without ``--epochs``/``--steps``,
        for the help of the one it counts in (``'25; 1 with --fast'``).
      length_unit: ``'epochs'`` or ``'steps'``: what the lesson counts by default.
    """
    p = OneLineParser(prog=prog, description=description, formatter_class=HelpFormatter)
    g = p.add_argument_group("shared lesson options")
    g.add_argument("--data-dir", default=None,
                   help="data sets folder (default: $TFGRAPH_DATA, else the repository's data/)")
    g.add_argument("--out", default=None,
                   help="output folder (default: runs/<lesson>/<dataset>_<model>, one per run)")
    length = g.add_mutually_exclusive_group()
    default = {length_unit: f" (default: {default_length})"}
    length.add_argument("--epochs", type=_nonneg_int, default=None,
                        help=f"passes over the training set{default.get('epochs', '')}; "
                             "wins over --fast")
    length.add_argument("--steps", type=_nonneg_int, default=None,
                        help=f"training steps in total, instead of --epochs"
                             f"{default.get('steps', '')}; wins over --fast")
    g.add_argument("--batch-size", type=_pos_int, default=default_batch_size,
                   help="examples per training step")
    g.add_argument("--device", default="auto",
                   help="auto (the first GPU, else the CPU), cpu, gpu, or /GPU:N, /CPU:N")
    g.add_argument("--seed", type=_seed, default=0,
                   help=f"seed of the weights, the data split and order (0..{MAX_SEED})")
    g.add_argument("--fast", action="store_true",
                   help="a smoke-sized run for CI and class demos (also TFGRAPH_FAST=1); "
                        "--epochs and --steps still win")
    again = g.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in OUT from its last checkpoint")
    again.add_argument("--overwrite", action="store_true",
                       help="delete the run already in OUT and start a new one")
    g.add_argument("--no-soft-placement", dest="soft_placement", action="store_false",
                   help="a --device that is not there is an error, not a fallback to the CPU")
    g.add_argument("--intra-threads", type=_threads, default=0,
                   help="threads inside one op (default: 0, TensorFlow's choice: one per core)")
    g.add_argument("--inter-threads", type=_threads, default=0,
                   help="ops run side by side (default: 0, TensorFlow's choice)")
    return p


@dataclass
class LessonConfig:
    """The settings every lesson shares, one per shared flag; a lesson's config
    dataclass inherits them and adds its own (``metrics.json`` records all)."""

    data_dir: str = None         # --data-dir (None: $TFGRAPH_DATA, else data/)
    out: str = None              # --out (None: runs/<lesson>/<dataset>_<model>)
    device: str = "auto"         # --device
    seed: int = 0                # --seed
    fast: bool = False           # --fast or TFGRAPH_FAST=1
    fast_source: str = None      # what switched fast mode on ("--fast", "TFGRAPH_FAST=1")
    resume: bool = False         # --resume
    overwrite: bool = False      # --overwrite: replace the run already in --out
    soft_placement: bool = True  # --no-soft-placement sets False
    intra_threads: int = 0       # --intra-threads (0: TensorFlow's choice)
    inter_threads: int = 0       # --inter-threads


def shared_settings(args):
    """The shared flags of parsed ``args`` as :class:`LessonConfig` keyword arguments."""
    source = fast_source(args.fast)
    return {"data_dir": args.data_dir, "out": args.out, "device": args.device,
            "seed": args.seed, "fast": source is not None, "fast_source": source,
            "resume": args.resume, "overwrite": getattr(args, "overwrite", False),
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
