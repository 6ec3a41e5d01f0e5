"""Slide figures: every figure is a function registered by name.

A figure module registers its functions with :func:`register`; the modules
listed in :data:`MODULES` are imported by :func:`load_all`, and
:func:`render` writes ``<out_dir>/<name>.png`` for any of them. The command
``python -m tfgraph_lessons.figures`` (see ``__main__.py``) regenerates them all.

Usage::

    from tfgraph_lessons import figures
    figures.load_all()
    sorted(figures.FIGURES)                       # the registered names
    fig = figures.make("relu")                    # a matplotlib Figure (shows inline in a notebook)
    figures.render(["relu"], "runs/figures")      # -> [PosixPath('runs/figures/relu.png')]

Writing a figure module::

    from tfgraph_lessons.figures import register

    @register("relu", "ReLU f(x) = max(0, x), computed by tf.nn.relu")
    def relu_figure():
        fig, ax = plt.subplots()                  # size, fonts, dpi come from the registry
        ...
        return fig

then append the module's name to :data:`MODULES`.

Reproducible bytes: :func:`render` draws every figure under the library's one style
(:mod:`tfgraph_lessons.core.style`: matplotlib's defaults plus :data:`STYLE`, whatever
the user's ``matplotlibrc`` says), at a fixed size and :data:`DPI`, with no ``Software`` or date entry in
the PNG, so re-running it writes byte-identical files on the same
matplotlib/FreeType install. Each PNG is written to a temporary file in the
same folder and renamed into place, so an interrupted run never leaves a
half-written PNG. Figures are closed after saving.

The backend is not changed here (a notebook keeps its inline backend); the
command line selects the non-interactive ``Agg`` backend before drawing.
"""
import dataclasses
import importlib
import sys
from pathlib import Path

from tfgraph_lessons.core import style
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.plots import save_figure  # atomic, no Software/date chunk

__all__ = [
    "DEFAULT_OUT",
    "DEFAULT_FIGSIZE",
    "DPI",
    "FIGURES",
    "FORMATS",
    "MODULES",
    "STYLE",
    "FigureEntry",
    "FigureUnavailable",
    "figure_style",
    "load_all",
    "make",
    "one_thread_session",
    "register",
    "render",
]

# Modules that register figures, imported by load_all(). Each lesson appends its own.
MODULES = [
    "tfgraph_lessons.figures.conv_basics",
    "tfgraph_lessons.figures.cnn",
    "tfgraph_lessons.figures.rnn",
    "tfgraph_lessons.figures.rnn_cells",
    "tfgraph_lessons.figures.architectures",
    "tfgraph_lessons.figures.detection",
    "tfgraph_lessons.figures.preprocessing",
    "tfgraph_lessons.figures.ml_basics",
    "tfgraph_lessons.figures.rl",
    "tfgraph_lessons.figures.gan",
    "tfgraph_lessons.figures.tf_mechanism",
    "tfgraph_lessons.figures.cnn_scheme",
    "tfgraph_lessons.figures.dropout",
    "tfgraph_lessons.figures.architecture_blocks",
    "tfgraph_lessons.figures.nin",
    "tfgraph_lessons.figures.papers",
]

DEFAULT_OUT = Path("runs") / "figures"  # beside the lessons' runs/<lesson>; git-ignored
FORMATS = ("png", "svg", "pdf")         # what render() writes (--format)
# the one style every figure is drawn under: core/style.py (fonts, sizes, colour maps)
STYLE, DPI, DEFAULT_FIGSIZE = style.STYLE, style.DPI, style.DEFAULT_FIGSIZE


@dataclasses.dataclass(frozen=True)
class FigureEntry:
    """One registered figure.

    Attributes:
      name: file stem and command-line name (``--only NAME``).
      description: one line for ``--list``.
      fn: ``fn() -> matplotlib.figure.Figure``.
      figsize: (width, height) in inches, set as ``figure.figsize`` while ``fn`` runs.
    """

    name: str
    description: str
    fn: object
    figsize: tuple = DEFAULT_FIGSIZE

    @property
    def source(self):
        """``module:function`` of the figure function."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"


FIGURES = {}  # name -> FigureEntry


class FigureUnavailable(UsageError):
    """A figure that needs something not there yet (a training run's output).

    The message says what to run first. Rendering every figure skips such a
    figure with a notice; asking for it by name is an error (exit status 2).
    """


def one_thread_session(graph):
    """A Session on ``graph`` with one thread per pool: the sums then run in one order, so
    the numbers a figure computes (and its PNG) are the same on every rerun."""
    from tfgraph_lessons.core.device import session_config
    from tfgraph_lessons.core.graph import tf1

    return tf1.Session(graph=graph, config=session_config(intra_threads=1, inter_threads=1))


def register(name, description, figsize=DEFAULT_FIGSIZE):
    """Decorator: register ``fn() -> Figure`` as figure ``name``.

    Re-importing or reloading a module (a notebook re-running its first cell)
    registers the same function again, which is allowed; a second *different*
    function under a taken name is not.

    Args:
      name: file stem, letters, digits and ``_`` only (``conv_slide_example``).
      description: one line shown by ``--list``.
      figsize: (width, height) in inches.

    Returns:
      the decorator; it returns ``fn`` unchanged.

    Raises:
      ValueError: a bad name, or the name already belongs to another function.
    """
    if not name or not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"[figures.register] figure name {name!r} must be letters, digits and '_' only")

    def decorator(fn):
        entry = FigureEntry(name, " ".join(description.split()), fn, tuple(figsize))
        old = FIGURES.get(name)
        if old is not None and old.source != entry.source:
            raise ValueError(
                f"[figures.register] figure {name!r} is already registered by {old.source}; "
                f"pick another name for {entry.source}"
            )
        FIGURES[name] = entry
        return fn

    return decorator


def load_all():
    """Import every module in :data:`MODULES` (registering their figures).

    Returns:
      :data:`FIGURES`.
    """
    for module in MODULES:
        importlib.import_module(module)
    return FIGURES


def _select(names):
    """The entries for ``names`` (all, in slide order, when None), in the order given."""
    from tfgraph_lessons.figures.catalogue import in_slide_order

    load_all()
    if names is None:
        return [FIGURES[n] for n in in_slide_order(FIGURES)]
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise UsageError(
            f"unknown figure {', '.join(map(repr, unknown))}; "
            f"known figures: {', '.join(sorted(FIGURES))} (see --list)"
        )
    return [FIGURES[n] for n in dict.fromkeys(names)]  # drop repeats, keep order


def figure_style(figsize=DEFAULT_FIGSIZE):
    """Draw under the library's one style (:func:`tfgraph_lessons.core.style.context`) at
    ``figsize``: the user's ``matplotlibrc`` and earlier ``rcParams`` changes do not leak
    in, and everything is restored on exit. The backend is left alone."""
    return style.context(figsize)


def _build(entry):
    """Call ``entry.fn`` (inside :func:`figure_style`) and check it returned a Figure."""
    from matplotlib.figure import Figure

    fig = entry.fn()
    if not isinstance(fig, Figure):
        raise TypeError(f"[figures] {entry.source} must return a matplotlib Figure, got {type(fig).__name__}")
    return fig


def make(name):
    """Build figure ``name`` under the fixed style and return it (not saved, not closed).

    In a notebook the returned figure shows inline; close it with
    ``plt.close(fig)`` when done.

    Args:
      name: a registered name (see ``sorted(FIGURES)``).

    Returns:
      the ``matplotlib.figure.Figure``.

    Raises:
      UsageError: ``name`` is not registered.
    """
    (entry,) = _select([name])
    with figure_style(entry.figsize):
        return _build(entry)


def render(names=None, out_dir=DEFAULT_OUT, progress=None, fmt="png", dpi=DPI, skip=None):
    """Draw figures and write ``<out_dir>/<name>.<fmt>`` for each.

    Args:
      names: figure names (a list, or one name); None renders every registered figure.
      out_dir: folder to write into (created if missing).
      progress: show a progress bar (tqdm); None shows one for more than 3 figures.
      fmt: ``'png'``, ``'svg'`` or ``'pdf'`` (:data:`FORMATS`); each is written without
        a date, so a rerun writes the same bytes.
      dpi: dots per inch of a PNG (and of the images embedded in an SVG or PDF).
      skip: skip a figure whose data or run is missing (:class:`FigureUnavailable`) with
        a notice on stderr instead of raising; None skips when ``names`` is None (the
        whole catalogue) and raises for figures asked for by name.

    Returns:
      list of the written ``Path``s, in the order of ``names`` (slide order when None,
      :mod:`~tfgraph_lessons.figures.catalogue`).

    Raises:
      UsageError: an unknown name or format, a dpi below 1, or ``out_dir`` cannot be created.
    """
    import matplotlib.pyplot as plt
    from tqdm.auto import tqdm

    if fmt not in FORMATS:
        raise UsageError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not dpi >= 1:
        raise UsageError(f"dpi must be at least 1, got {dpi}")
    entries = _select(names)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"--out {out_dir} is a file, not a folder; pass a folder path") from None
    except OSError as e:
        raise UsageError(f"cannot create the output folder {out_dir}: {e.strerror}; pass another --out") from None

    show = len(entries) > 3 if progress is None else bool(progress)
    written = []
    for entry in tqdm(entries, desc="figures", unit="fig", disable=None if show else True):
        with figure_style(entry.figsize):
            try:
                fig = _build(entry)
            except FigureUnavailable as e:
                if not (names is None if skip is None else skip):
                    raise
                print(f"skipped {entry.name}: {e}", file=sys.stderr)
                continue
            try:
                path = out_dir / f"{entry.name}.{fmt}"
                save_figure(fig, path, dpi=dpi, fmt=fmt)
            except OSError as e:
                raise UsageError(f"cannot write {path}: {e.strerror}; pass a writable --out folder") from None
            finally:
                plt.close(fig)
        written.append(path)
    return written
