"""RNN chapter figures: one step of each cell (``rnn_cell_lstm``, ``rnn_cell_gru``,
``rnn_cell_vanilla``), drawn as gates, element-wise ops and the state lines.

Nothing on these schematics is typed in by hand that the library can tell us:
:func:`cell_equations` reads a cell's equations from its class docstring in
:mod:`tfgraph_lessons.rnn.cells`, and :func:`cell_variables` builds the cell once in
a fresh graph and reads its variables' names and shapes (``kernel``,
``recurrent_kernel``, ``bias``), so each schematic carries the code's own labels.
The chapter's other figures (the unrolled graph, gates, gradients, loss curves)
are in :mod:`tfgraph_lessons.figures.rnn`.
"""
from tfgraph_lessons.core.graph import new_graph, tf, tf1  # first: sets up TF's logging and graph mode

import inspect  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

from tfgraph_lessons.figures import register  # noqa: E402
from tfgraph_lessons.rnn import CELLS, LSTMCell  # noqa: E402

CELL_TITLES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


# ----------------------------------------------------------------------------- what the code says

def cell_equations(kind):
    """The equations of cell ``kind`` as its class docstring writes them.

    Args:
      kind: ``rnn``, ``lstm`` or ``gru`` (a key of :data:`tfgraph_lessons.rnn.CELLS`).

    Returns:
      list of str: the literal block after ``::``, or the first inline ````a = b````.
    """
    doc = inspect.getdoc(CELLS[kind])
    if "::" not in doc:
        return re.findall(r"``([^`]*=[^`]*)``", doc)[:1]
    lines = []
    for line in doc.split("::", 1)[1].splitlines()[1:]:
        if line.strip() and not line.startswith(" "):
            break                                             # the literal block ended
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    indent = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return [l[indent:] for l in lines if l.strip()]


def cell_variables(kind, input_size=3, units=5):
    """Build one step of cell ``kind`` in a fresh graph and read back its variables.

    Args:
      kind: ``rnn``, ``lstm`` or ``gru``.
      input_size, units: the sizes to build with; keep them different from each
        other and from ``gates * units`` so each dimension can be named.

    Returns:
      dict ``{short name: (shape tuple, shape in words)}``, e.g. ``'kernel': ((3, 20),
      '[input_size, 4*units]')``, in creation order.
    """
    words = {input_size: "input_size", units: "units"}
    with new_graph():
        cell = CELLS[kind](units)
        cell(tf1.placeholder(tf.float32, [None, input_size]), cell.zero_state(1))
        out = {}
        for v in tf1.trainable_variables():
            shape = tuple(int(d) for d in v.shape)
            said = [words.get(d) or f"{d // units}*units" for d in shape]
            out[v.op.name.rsplit("/", 1)[-1]] = (shape, "[" + ", ".join(said) + "]")
    return out

# ----------------------------------------------------------------------------- cell schematics
# A schematic is nodes {id: (x, y, kind, label)} and paths through them; lines run
# under the nodes, so a path may start at a node's centre. kinds: 'sigmoid'/'tanh'
# (a gate box), 'op' (a pointwise circle), 'in'/'out'/'below' (a label at an end).

GATE_W, GATE_H, OP_R = 0.9, 0.7, 0.3
GATE_COLORS = {"sigmoid": "#f4b183", "tanh": "#a9d18e"}


def _extent(node, dx, dy):
    """How far an arrow arriving along (dx, dy) stops short of the node's centre."""
    kind = node[2]
    if kind in GATE_COLORS:
        return GATE_W / 2 if dx else GATE_H / 2
    return OP_R if kind == "op" else 0.05


def _draw_path(ax, nodes, path, arrow=True, color="0.15", lw=1.6):
    pts = [nodes[p][:2] if isinstance(p, str) else p for p in path]
    stroke = [patheffects.withStroke(linewidth=lw + 4, foreground="white")]  # gaps at crossings
    xs, ys = zip(*pts)
    ax.plot(xs, ys, color=color, lw=lw, zorder=1, solid_capstyle="butt", path_effects=stroke)
    if arrow:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        dx, dy = np.sign(x1 - x0), np.sign(y1 - y0)
        cut = _extent(nodes[path[-1]], dx, dy) if isinstance(path[-1], str) else 0.0
        ax.annotate("", xy=(x1 - dx * cut, y1 - dy * cut), xytext=(x0, y0), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, shrinkA=0, shrinkB=0,
                                    mutation_scale=14))


def _draw_nodes(ax, nodes):
    for x, y, kind, label in nodes.values():
        if kind in GATE_COLORS:
            ax.add_patch(FancyBboxPatch((x - GATE_W / 2, y - GATE_H / 2), GATE_W, GATE_H,
                                        boxstyle="round,pad=0.02", fc=GATE_COLORS[kind],
                                        ec="0.2", zorder=3))
            ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=4)
        elif kind == "op":
            ax.add_patch(Circle((x, y), OP_R, fc="white", ec="0.2", lw=1.3, zorder=3))
            ax.text(x, y, label, ha="center", va="center", zorder=4,
                    fontsize={1: 13, 2: 11}.get(len(label), 8))
        else:
            align = {"in": ("right", "center"), "out": ("left", "center"),
                     "below": ("center", "top")}[kind]
            ax.text(x + {"in": -0.08, "out": 0.08}.get(kind, 0), y - (0.08 if kind == "below" else 0),
                    label, ha=align[0], va=align[1], fontsize=12)


def _schematic(kind, spec, notes, figsize):
    """Draw ``spec`` (nodes, paths, lines, texts) beside the docstring's equations and the variables."""
    nodes, arrows, lines, texts = spec
    fig = plt.figure(figsize=figsize)
    ax, side = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    for path in lines:
        _draw_path(ax, nodes, path, arrow=False)
    for path in arrows:
        _draw_path(ax, nodes, path)
    _draw_nodes(ax, nodes)
    for x, y, text, kw in texts:
        ax.text(x, y, text, **{"fontsize": 9, "ha": "center", "va": "center", **kw})
    ax.set_xlim(-0.9, 11.2)
    ax.set_ylim(-0.7, 6.2)
    ax.set_aspect("equal")
    ax.axis("off")
    side.axis("off")
    body = "\n".join(cell_equations(kind))
    params = cell_variables(kind)
    var_lines = "\n".join(f"{name:<17}{words}" for name, (_, words) in params.items())
    side.text(0.0, 1.0, f"{CELLS[kind].__name__} ({CELLS[kind].__module__}):\n\n{body}\n\n"
              f"variables (one set, shared by every step):\n{var_lines}\n\n{notes}\n"
              "W = kernel, U = recurrent_kernel, b = bias",
              family="DejaVu Sans Mono", fontsize=9, va="top", transform=side.transAxes)
    side.text(0.0, -0.02, "orange = sigmoid gate, green = tanh layer, circles = element-wise ops",
              fontsize=8, color="0.35", va="top", transform=side.transAxes)
    fig.suptitle(f"One step of the {CELL_TITLES[kind]} cell")
    return fig


def _lstm_spec():
    n = {"c_in": (0.3, 5.2, "in", "$c_{t-1}$"), "c_out": (10.0, 5.2, "out", "$c_t$"),
         "h_in": (0.3, 0.8, "in", "$h_{t-1}$"), "h_out": (10.0, 0.8, "out", "$h_t$"),
         "x_in": (1.6, -0.1, "below", "$x_t$"),
         "f": (3.0, 2.6, "sigmoid", "f\nσ"), "i": (4.2, 2.6, "sigmoid", "i\nσ"),
         "g": (5.4, 2.6, "tanh", "g\ntanh"), "o": (6.9, 2.6, "sigmoid", "o\nσ"),
         "mul_f": (3.0, 5.2, "op", "×"), "add_c": (4.8, 5.2, "op", "+"),
         "mul_ig": (4.8, 3.9, "op", "×"), "tanh_c": (8.6, 3.9, "op", "tanh"),
         "mul_o": (8.6, 2.6, "op", "×")}
    lines = [["x_in", (1.6, 0.8)], ["h_in", (1.6, 0.8), (1.6, 1.6), (6.9, 1.6)],
             ["i", (4.2, 3.9)], ["g", (5.4, 3.9)]]
    arrows = [[(3.0, 1.6), "f"], [(4.2, 1.6), "i"], [(5.4, 1.6), "g"], [(6.9, 1.6), "o"],
              ["c_in", "mul_f"], ["mul_f", "add_c"], ["add_c", "c_out"], ["f", "mul_f"],
              [(4.2, 3.9), "mul_ig"], [(5.4, 3.9), "mul_ig"], ["mul_ig", "add_c"],
              [(8.6, 5.2), "tanh_c"], ["tanh_c", "mul_o"], ["o", "mul_o"],
              ["mul_o", (8.6, 0.8), "h_out"]]
    texts = [(5.0, 1.2, "$x_t$·kernel + $h_{t-1}$·recurrent_kernel + bias → i | f | g | o",
              {"fontsize": 8.5}),
             (2.1, 3.2, "+ forget_bias", {"fontsize": 8, "color": "darkred"}),
             (10.0, 0.35, "output, and the next step's $h$", {"fontsize": 8, "ha": "left"}),
             (6.4, 5.55, "cell state: only × f and + i·g on the way", {"fontsize": 8})]
    return n, arrows, lines, texts


def _gru_spec():
    n = {"h_in": (0.3, 5.2, "in", "$h_{t-1}$"), "h_out": (10.0, 5.2, "out", "$h_t$"),
         "r": (1.8, 2.4, "sigmoid", "r\nσ"), "z": (3.2, 2.4, "sigmoid", "z\nσ"),
         "cand": (5.0, 2.4, "tanh", "h̃\ntanh"),
         "mul_r": (1.8, 3.8, "op", "×"), "mul_z": (3.2, 5.2, "op", "×"),
         "one_minus": (6.6, 4.5, "op", "1−"), "mul_c": (6.6, 3.3, "op", "×"),
         "add_h": (8.4, 5.2, "op", "+"),
         "xr": (1.8, 0.6, "below", "$x_t, h_{t-1}$"), "xz": (3.2, 0.6, "below", "$x_t, h_{t-1}$"),
         "xc": (5.0, 0.6, "below", "$x_t$")}
    arrows = [[(3.2, 4.5), "one_minus"], [(1.8, 0.6), "r"], [(3.2, 0.6), "z"], [(5.0, 0.6), "cand"],
              [(1.8, 5.2), "mul_r"], ["r", "mul_r"], ["mul_r", (5.0, 3.8), "cand"],
              ["z", "mul_z"], ["h_in", "mul_z"], ["mul_z", "add_h"], ["add_h", "h_out"],
              ["one_minus", "mul_c"], ["cand", (6.6, 2.4), "mul_c"],
              ["mul_c", (8.4, 3.3), "add_h"]]
    texts = [(4.1, 4.1, "r·$h_{t-1}$", {"fontsize": 9}),
             (10.0, 4.75, "output, and the next step's $h$", {"fontsize": 8, "ha": "left"}),
             (0.9, -0.25, "r, z: $x_t$·kernel + $h_{t-1}$·recurrent_kernel + bias\n"
                          "h̃: $x_t$·kernel + (r·$h_{t-1}$)·recurrent_kernel + bias",
              {"fontsize": 8.5, "ha": "left", "va": "top"})]
    return n, arrows, [], texts


def _vanilla_spec():
    n = {"h_in": (0.3, 2.6, "in", "$h_{t-1}$"), "h_out": (10.0, 2.6, "out", "$h_t$"),
         "x_in": (3.2, 0.3, "below", "$x_t$"), "b_in": (3.2, 4.9, "below", ""),
         "add": (3.2, 2.6, "op", "+"), "act": (5.6, 2.6, "tanh", "tanh")}
    arrows = [["h_in", "add"], ["x_in", "add"], ["b_in", "add"], ["add", "act"], ["act", "h_out"]]
    texts = [(1.7, 2.9, "× recurrent_kernel", {"fontsize": 9}),
             (3.35, 1.2, "× kernel", {"fontsize": 9, "ha": "left"}),
             (3.2, 5.15, "bias", {"fontsize": 10}),
             (10.0, 2.15, "output = state", {"fontsize": 8, "ha": "left"})]
    return n, arrows, [], texts


@register("rnn_cell_lstm", "LSTM cell: gates i, f, g, o, the cell state line c_{t-1} -> c_t, "
          "equations and variables read from rnn/cells.py", figsize=(13.0, 5.6))
def lstm_cell_figure():
    """The LSTM step with its gates and the cell-state line. Returns: the Figure."""
    bias = LSTMCell(1).forget_bias
    notes = (f"W_i, W_f, W_g, W_o: kernel's columns i | f | g | o\n"
             f"forget_bias = {bias!r}: added to f before the sigmoid,\n  not stored in bias\n"
             "p_*: peepholes, only with peepholes=True (not drawn)")
    return _schematic("lstm", _lstm_spec(), notes, (13.0, 5.6))


@register("rnn_cell_gru", "GRU cell: update gate z, reset gate r, candidate h~; equations and "
          "variables read from rnn/cells.py", figsize=(13.0, 5.6))
def gru_cell_figure():
    """The GRU step. Returns: the Figure."""
    return _schematic("gru", _gru_spec(), "W_z, W_r, W_h: kernel's columns z | r | h~", (13.0, 5.6))


@register("rnn_cell_vanilla", "vanilla (Elman) RNN cell h_t = tanh(W x_t + U h_{t-1} + b); "
          "variables read from rnn/cells.py", figsize=(13.0, 4.6))
def vanilla_cell_figure():
    """The vanilla RNN step. Returns: the Figure."""
    return _schematic("rnn", _vanilla_spec(), "one gate: no columns to split", (13.0, 4.6))
