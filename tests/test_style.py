"""The one plotting style (core/style.py): every figure builder uses it, and it holds
whatever the user's matplotlib settings say."""
import ast
from pathlib import Path

import numpy as np

import tfgraph_lessons
from tfgraph_lessons.core import plots, style

PACKAGE = Path(tfgraph_lessons.__file__).parent
# calls that make a new figure
MAKERS = {"Figure", "_figure", "subplots", "figure"}


def _makes_a_figure(fn):
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            if name in ("Figure", "_figure") or (owner == "plt" and name in ("subplots", "figure")):
                return True
    return False


def _decorators(fn):
    names = set()
    for d in fn.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        names.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", ""))
    return names


def figure_builders():
    """``(module path, function name, decorators)`` of every top-level function of the
    package that makes a figure (outside core/style.py)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "style.py" and path.parent.name == "core":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and _makes_a_figure(fn) and not fn.name.startswith("_"):
                found.append((str(path.relative_to(PACKAGE)), fn.name, _decorators(fn)))
    return found


def test_every_figure_builder_draws_under_the_one_style():
    """A lesson's figure function carries @styled; a slide figure is @register'ed (the
    registry draws it under the same style)."""
    builders = figure_builders()
    assert len(builders) > 20
    unstyled = [f"{path}:{name}" for path, name, decorators in builders
                if not decorators & {"styled", "register"}]
    assert not unstyled, f"figure functions not drawn under core.style: {unstyled}"


def test_the_style_wins_over_the_users_settings(monkeypatch):
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "font.size", 31.0)
    monkeypatch.setitem(matplotlib.rcParams, "axes.spines.top", True)
    fig = plots.learning_curves({"run": [{"epoch": 1, "test_accuracy": 0.5, "test_loss": 1.0},
                                         {"epoch": 2, "test_accuracy": 0.6, "test_loss": 0.9}]})
    ax = fig.axes[0]
    assert ax.title.get_fontsize() == style.STYLE["axes.titlesize"]
    assert ax.xaxis.label.get_fontsize() == style.STYLE["font.size"]
    assert not ax.spines["top"].get_visible()
    assert matplotlib.rcParams["font.size"] == 31.0          # restored afterwards


def test_lesson_figures_and_slide_figures_share_the_style():
    from tfgraph_lessons import figures

    assert figures.STYLE is style.STYLE and figures.DPI == plots.DPI == style.DPI


def test_a_rerun_gives_the_same_pixels(tmp_path):
    cm = np.arange(16).reshape(4, 4)
    a = plots.save_figure(plots.confusion_figure(cm, list("abcd")), tmp_path / "a.png")
    b = plots.save_figure(plots.confusion_figure(cm, list("abcd")), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()


def test_colour_maps_come_from_the_style():
    """A figure names its colour map by what it shows (``CMAPS["image"]``, ...), so one
    change in core/style.py recolours every figure of that kind."""
    named = set(style.CMAPS.values())
    literal = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "style.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values = []
            if isinstance(node, ast.keyword) and node.arg == "cmap":
                values = [node.value]
            elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
                args = node.args
                values = [d for a, d in zip(args.args[::-1], args.defaults[::-1]) if a.arg == "cmap"]
            for value in values:
                for const in ast.walk(value):
                    if isinstance(const, ast.Constant) and const.value in named:
                        literal.append(f"{path.relative_to(PACKAGE)}:{const.lineno} {const.value!r}")
    assert not literal, f"use core.style.CMAPS instead of: {literal}"
