"""The one plotting style: every figure the library draws, slide figures and the lessons'
run figures alike, is drawn under :func:`context`.

What it fixes: matplotlib's defaults plus :data:`STYLE` (DejaVu fonts, which ship with
matplotlib, so every machine draws the same glyphs; sizes; white background; no top and
right spines; constrained layout), whatever the user's ``matplotlibrc`` or an earlier
``rcParams`` change says; the resolution :data:`DPI`; the colours of the data splits and
of several runs (:data:`SPLIT_COLORS`, :data:`RUN_COLORS`) and the colour maps by what
they show (:data:`CMAPS`). Drawn under it, the same figure gives the same pixels on the
same matplotlib install, and :func:`~tfgraph_lessons.core.plots.save_figure` leaves out
every date stamp, so a rerun writes the same bytes.

Usage::

    from tfgraph_lessons.core import style

    @style.styled
    def my_figure(...):            # everything drawn inside uses the style
        fig = Figure(figsize=...)
        ...

    with style.context((8, 4.5)):  # or around any drawing code
        fig = plt.figure()

Nothing here imports matplotlib at module import.
"""
import contextlib
import functools

DPI = 150                          # 1200 x 675 pixels for a 16:9 slide figure
DEFAULT_FIGSIZE = (8.0, 4.5)       # inches; 16:9 like the slides

# On top of matplotlib's own defaults.
STYLE = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "font.size": 11.0,
    "axes.titlesize": 12.0,
    "figure.titlesize": 14.0,
    "figure.dpi": 100.0,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.constrained_layout.use": True,
    "svg.hashsalt": "tfgraph_lessons",   # the SVG's element ids, the same on every run
    "image.interpolation": "nearest",
    "image.cmap": "viridis",
    "axes.spines.top": False,
    "axes.spines.right": False,
}

# the colour maps, by what an image shows
CMAPS = {
    "image": "gray",        # a one-channel input image, one-channel filters
    "activation": "viridis",  # feature maps, activations (low -> high)
    "signed": "RdBu_r",     # a signed change or weight (blue < 0 < red), centred on 0
    "count": "Blues",       # counts: a confusion matrix
    "heat": "inferno",      # a heat map laid over an image (class activation maps)
    "labels": "viridis",    # points coloured by their cluster or class number
}

# learning curves: each split its line style and marker (readable in black and white),
# its colour when one run is drawn; each run its colour when several are
SPLIT_STYLES = {"train": ("-", "o"), "val": ("--", "s"), "test": (":", "^")}
SPLIT_COLORS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}
RUN_COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple"]


_depth = [0]   # how many contexts are open: a builder called inside one keeps its figsize


@contextlib.contextmanager
def context(figsize=None):
    """Draw under the style (matplotlib defaults + :data:`STYLE`, and ``figsize`` when
    given); everything is restored on exit. The backend is left alone."""
    import matplotlib.style

    extra = {"figure.figsize": tuple(figsize)} if figsize is not None else {}
    with matplotlib.style.context(["default", {**STYLE, **extra}]):
        _depth[0] += 1
        try:
            yield
        finally:
            _depth[0] -= 1


def styled(fn):
    """Decorator: ``fn`` (which builds and returns a figure) runs under :func:`context`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _depth[0]:                 # already inside (a registered slide figure): as it is
            return fn(*args, **kwargs)
        with context():
            return fn(*args, **kwargs)

    wrapper.styled = True   # tests/test_style.py finds the figure builders that lack it
    return wrapper
