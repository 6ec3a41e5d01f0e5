"""Architectures chapter figures, drawn from the networks' code.

* ``alexnet_table``: the slides' AlexNet table (layer, output shape, parameters,
  multiply-adds), counted from the graph by :func:`tfgraph_lessons.nets.summary.layer_table`.
* ``vgg_configurations``: the VGG paper's Table 1 (configurations A to E),
  drawn from :data:`tfgraph_lessons.nets.vgg.CONFIGS`, the table the builder reads.
* ``architectures_compare``: parameters and multiply-adds of the ImageNet-size
  networks on log scales, the papers' figures as markers.
* ``conv_factorisation``: 5x5 as two 3x3 and 7x7 as 1x7 then 7x1 (Inception v2/v3),
  the weights counted from the variables and the receptive fields measured with
  ``tf.gradients`` (:func:`factorisation_example`).
* ``resnet_shortcut``: ``y = relu(F(x) + x)`` on a constructed 4x4 example computed in a
  Session (:func:`shortcut_example`), and the basic vs bottleneck block's weights
  counted from the resnet builder's variables (:func:`block_weights`).

A figure whose network is not in the registry raises
:class:`~tfgraph_lessons.figures.FigureUnavailable` saying which.
"""
import importlib

import numpy as np

from tfgraph_lessons.core.style import CMAPS, styled
from tfgraph_lessons.figures import FigureUnavailable, register


def _require(*names):
    from tfgraph_lessons import nets

    missing = [n for n in names if n not in nets.names()]
    if missing:
        raise FigureUnavailable(f"network {', '.join(missing)} is not in the registry "
                                f"(tfgraph_lessons.nets); it has: {', '.join(nets.names())}")


@styled
def table_figure(table, title=None):
    """A :class:`~tfgraph_lessons.nets.summary.LayerTable` drawn as a table.

    Returns:
      a matplotlib Figure, one line per layer plus the input and the totals:
      names and shapes left-aligned, counts right-aligned with thousands separators.
    """
    import matplotlib.pyplot as plt
    from matplotlib.table import Table

    from tfgraph_lessons.nets.summary import human, shape_text

    head = ["layer", "output", "parameters", "multiply-adds"]
    cells = [["input", shape_text(table.input_shape), "", ""]]
    cells += [[r.name, shape_text(r.shape), f"{r.params:,}" if r.params else "",
               f"{r.madds:,}" if r.madds else ""] for r in table.rows]
    cells.append(["total", "", f"{table.trainable_params:,}", f"{table.madds:,}"])
    fig, ax = plt.subplots()
    ax.axis("off")
    grid = Table(ax, bbox=[0, 0, 1, 1])
    widths = (0.25, 0.21, 0.25, 0.29)
    height = 1.0 / (len(cells) + 1)
    for r, line in enumerate([head, *cells]):
        bold = r in (0, len(cells))
        for c, text in enumerate(line):
            cell = grid.add_cell(r, c, widths[c], height, text=text,
                                 loc="left" if c < 2 else "right",
                                 edgecolor="#999999" if bold else "#dddddd")
            cell.visible_edges = "horizontal"
            cell.set_text_props(weight="bold" if bold else "normal")
    grid.auto_set_font_size(False)
    grid.set_fontsize(9 if len(cells) < 20 else 7)
    ax.add_table(grid)
    ax.set_title(title or f"{table.name}: {human(table.trainable_params)} parameters, "
                          f"{human(table.madds)} multiply-adds per image")
    return fig


@register("alexnet_table", "AlexNet layer by layer: 227x227x3 -> 55x55x96 -> ... -> 1000, "
          "with each layer's parameters and multiply-adds, counted from the graph",
          figsize=(8, 5.5))
def alexnet_table():
    _require("alexnet")
    from tfgraph_lessons.nets.summary import layer_table

    table = layer_table("alexnet")
    return table_figure(table, f"AlexNet (single tower): {table.trainable_params:,} parameters, "
                               f"{table.madds / 1e9:.2f} G multiply-adds")


def vgg_columns(configs):
    """The VGG configurations as table columns, one cell per layer, stacks aligned.

    Args:
      configs: ``{name: stacks}``, a stack a sequence of layers ``(kernel, filters)``
        or ``'LRN'`` (:data:`tfgraph_lessons.nets.vgg.CONFIGS`); a flat list with
        ``'M'`` for each max pooling and plain ints for 3x3 convolutions is read too.
    Returns:
      ``(names, blocks)``: ``blocks[s][c]`` the layer labels of stack ``s`` of
      configuration ``c``.
    """
    names = list(configs)
    stacks = {name: _stacks(configs[name]) for name in names}
    depth = max(len(s) for s in stacks.values())
    blocks = [[stacks[n][s] if s < len(stacks[n]) else [] for n in names] for s in range(depth)]
    return names, blocks


def _stacks(config):
    config = list(config)
    if "M" in config or (config and not isinstance(config[0], (tuple, list))):
        out, stack = [], []
        for layer in config:
            if layer == "M":
                out.append(stack)
                stack = []
            else:
                stack.append(_label(layer))
        return out + ([stack] if stack else [])
    return [[_label(layer) for layer in stack] for stack in config]


def _label(layer):
    if isinstance(layer, str):
        return layer
    if isinstance(layer, int):
        return f"conv3-{layer}"
    kernel, filters = layer
    return f"conv{kernel}-{filters}"


@register("vgg_configurations", "VGG configurations A to E (Simonyan & Zisserman, Table 1), "
          "drawn from the configuration table the VGG builder reads", figsize=(10, 7.5))
def vgg_configurations():
    try:
        vgg = importlib.import_module("tfgraph_lessons.nets.vgg")
    except ImportError as e:
        raise FigureUnavailable(f"tfgraph_lessons.nets.vgg cannot be imported ({e})") from None
    if not hasattr(vgg, "CONFIGS"):
        raise FigureUnavailable("tfgraph_lessons.nets.vgg has no CONFIGS table")
    import matplotlib.pyplot as plt

    names, blocks = vgg_columns(vgg.CONFIGS)
    weight_layers = getattr(vgg, "weight_layers", None)
    header = [f"{n}\n{weight_layers(n)} weight layers" if weight_layers else n for n in names]
    rows = [["input 224x224 RGB"] * len(names)]
    shaded = []
    for stack in blocks:
        height = max(len(c) for c in stack)
        for i in range(height):
            row = []
            for column in stack:
                row.append(column[i] if i < len(column) else "")
            rows.append(row)
            shaded.append((len(rows), column_changes(stack, i)))
        rows.append(["maxpool"] * len(names))
    rows += [["FC-4096"] * len(names), ["FC-4096"] * len(names), ["FC-1000"] * len(names),
             ["soft-max"] * len(names)]
    fig, ax = plt.subplots()
    ax.axis("off")
    t = ax.table(cellText=rows, colLabels=header, cellLoc="center", bbox=[0, 0, 1, 1])
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    news = {(r, c) for r, cols in shaded for c in cols}
    for (row, col), cell in t.get_celld().items():
        text = cell.get_text().get_text()
        if row == 0:
            cell.set_height(2 * cell.get_height())   # two lines: name, weight layers
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#dde3ea")
        elif text in ("maxpool", "soft-max") or text.startswith("FC-") or text.startswith("input"):
            cell.set_facecolor("#f2f2f2")
        if (row, col) in news and text:
            cell.set_text_props(weight="bold")   # the paper's bold: layers added to the left column
    ax.set_title("VGG configurations, from nets.vgg.CONFIGS (bold: where a column differs "
                 "from the one to its left)")
    return fig


def column_changes(stack, i):
    """Columns whose ``i``-th layer of this stack differs from the previous column's."""
    changed = []
    for c in range(1, len(stack)):
        here = stack[c][i] if i < len(stack[c]) else None
        before = stack[c - 1][i] if i < len(stack[c - 1]) else None
        if here is not None and here != before:
            changed.append(c)
    return changed


def _imagenet_networks():
    """The ImageNet-size networks of the registry, one name per builder (``vgg_a`` is
    ``vgg11``): what the papers compare. CIFAR-size ones would mix in 32x32 inputs."""
    from tfgraph_lessons import nets

    seen, out = set(), []
    for name in nets.names(cifar=False):
        builder = nets.get(name)
        if builder not in seen:
            seen.add(builder)
            out.append(name)
    return out


@styled
def compare_chart(entries, title=None, figsize=None):
    """Parameters (top) and multiply-adds (bottom) per network on log scales.

    Args:
      entries: :func:`tfgraph_lessons.nets.summary.compare` output.
      title: the figure's title (a default says what the marks are).
      figsize: (width, height) in inches; None: matplotlib's current default.
    Returns:
      a matplotlib Figure: bars for the graph's counts, black markers for the
      paper's figures where the paper gives one, one colour per family.
    """
    import matplotlib.pyplot as plt
    entries = sorted(entries, key=lambda e: (e["family"], e["trainable_params"]))
    families = sorted({e["family"] for e in entries})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    x = np.arange(len(entries))
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=figsize, layout="constrained")
    for ax, ours, paper, label in ((axes[0], "trainable_params", "paper_params", "parameters"),
                                   (axes[1], "madds", "paper_madds", "multiply-adds per image")):
        ax.bar(x, [e[ours] for e in entries], color=[colours[e["family"]] for e in entries])
        marked = [(i, e[paper]) for i, e in enumerate(entries) if e[paper]]
        if marked:
            ax.scatter(*zip(*marked), marker="_", s=120, color="black", linewidths=2, zorder=3)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3, which="major")
    axes[1].set_xticks(x, [e["name"] for e in entries], rotation=70, ha="right", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[f]) for f in families]
    handles.append(plt.Line2D([], [], marker="_", color="black", ls="", markersize=10, mew=2))
    fig.legend(handles, [*families, "paper"], loc="outside right upper", fontsize=8,
               frameon=False)
    fig.suptitle(title or "the graphs' counts (bars) and the papers' figures (black marks)")
    return fig


@register("architectures_compare", "parameters and multiply-adds of every ImageNet-size "
          "network in the registry (log scale), the papers' figures as markers",
          figsize=(12, 7))
def architectures_compare():
    from tfgraph_lessons.nets.summary import compare

    names = _imagenet_networks()
    if not names:
        raise FigureUnavailable("no ImageNet-size network is in the registry yet")
    return compare_chart(compare(names))


# ------------------------------------------------------------ convolution factorisation

# (name, the stack's filter sizes): Inception v2/v3's factorisations (Szegedy et al. 2016,
# "Rethinking the Inception Architecture", sections 3.1 and 3.2) next to what they replace
FACTORISATIONS = (("5x5", ((5, 5),)), ("two 3x3", ((3, 3), (3, 3))),
                  ("7x7", ((7, 7),)), ("1x7 then 7x1", ((1, 7), (7, 1))))


def factorisation_example(channels=4, size=15):
    """Each stack of :data:`FACTORISATIONS` built as graph ops, measured.

    Every stack maps ``channels`` channels to ``channels`` (SAME padding, no
    activation). Its weights are counted from its variables; its receptive field is
    *measured*: ``tf.gradients`` of the centre output with respect to the input,
    whose non-zero pixels are the ones that output sees (weights drawn positive, so
    no sum cancels by chance).

    Returns:
      list of dicts ``{name, kernels, weights, per_c2, field, support}``: ``per_c2``
      is weights / channels**2 (25, 18, 49, 14), ``field`` the (height, width) of the
      pixels the centre output depends on, ``support`` that 0/1 ``size x size`` mask.
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    results = []
    for name, kernels in FACTORISATIONS:
        with new_graph(seed=0) as g:
            x = tf1.placeholder(tf.float32, [1, size, size, channels])
            h = x
            for i, (kh, kw) in enumerate(kernels):
                w = tf1.get_variable(f"w{i}", [kh, kw, channels, channels],
                                     initializer=tf1.random_uniform_initializer(0.1, 1.0))
                h = tf.nn.conv2d(h, w, 1, "SAME")
            centre = h[0, size // 2, size // 2, 0]
            (grad,) = tf.gradients(centre, x)
            weights = sum(int(np.prod(v.shape)) for v in tf1.trainable_variables())
            with tf1.Session(graph=g) as sess:
                sess.run(tf1.global_variables_initializer())
                g_val = sess.run(grad, {x: np.zeros([1, size, size, channels], np.float32)})
        support = (np.abs(g_val[0]).sum(axis=-1) > 0).astype(np.int64)
        rows, cols = np.nonzero(support)
        field = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
        results.append({"name": name, "kernels": kernels, "weights": weights,
                        "per_c2": weights / channels ** 2, "field": field, "support": support})
    return results


@register("conv_factorisation", "convolution factorisation: 5x5 as two 3x3, 7x7 as 1x7 then "
          "7x1; weights counted from the variables, receptive fields measured by tf.gradients",
          figsize=(12, 3.8))
def conv_factorisation():
    import matplotlib.pyplot as plt

    cases = factorisation_example()
    fig, axes = plt.subplots(1, len(cases))
    for ax, case in zip(axes, cases):
        ax.imshow(case["support"], cmap=CMAPS["count"], vmin=0, vmax=1.4)
        size = case["support"].shape[0]
        ax.add_patch(plt.Rectangle((size // 2 - 0.5, size // 2 - 0.5), 1, 1, fill=False,
                                   edgecolor="tab:red", linewidth=1.5))
        ax.set_xticks([])
        ax.set_yticks([])
        h, w = case["field"]
        ax.set_title(f"{case['name']}\n{case['per_c2']:g} C² weights, sees {h}x{w}",
                     fontsize=10)
    fig.suptitle("The same receptive field with fewer weights (C channels in and out; red: "
                 "the output pixel, blue: the input pixels it depends on)", fontsize=11)
    return fig


# ------------------------------------------------------------------- the ResNet shortcut

# a constructed example (the slide's own numbers were not available): a 4x4 input and the
# two 3x3 filters of a residual branch F, small integers so the sums can be read
SHORTCUT_X = ((1, 0, 2, 1), (0, 3, 1, 0), (2, 1, 0, 1), (1, 0, 1, 2))
SHORTCUT_K1 = ((0, 1, 0), (1, -1, 1), (0, 1, 0))
SHORTCUT_K2 = ((0, 0, 0), (0, 1, 0), (0, 0, -1))


def shortcut_example():
    """``y = relu(F(x) + x)`` with ``F(x) = conv(relu(conv(x, k1)), k2)``, computed in a Session.

    Returns:
      dict of int arrays ``x``, ``F`` (the branch), ``sum`` (F(x) + x) and ``y``.
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    x = np.array(SHORTCUT_X, np.float32)[None, :, :, None]
    k1, k2 = (np.array(k, np.float32)[:, :, None, None] for k in (SHORTCUT_K1, SHORTCUT_K2))
    with new_graph() as g:
        xs = tf1.placeholder(tf.float32, x.shape)
        branch = tf.nn.conv2d(tf.nn.relu(tf.nn.conv2d(xs, k1, 1, "SAME")), k2, 1, "SAME")
        total = branch + xs                                  # the shortcut: add x unchanged
        y = tf.nn.relu(total)
        with tf1.Session(graph=g) as sess:
            f, s, out = sess.run([branch, total, y], {xs: x})
    return {k: np.rint(v[0, :, :, 0]).astype(np.int64)
            for k, v in (("x", x), ("F", f), ("sum", s), ("y", out))}


def block_weights(bottleneck, channels=256):
    """Convolution weights of one ResNet block on ``channels`` channels, counted from
    the variables :func:`tfgraph_lessons.nets.resnet.residual_block` creates: the
    basic block (two 3x3 of ``channels``) or the bottleneck (1x1 to a quarter, 3x3,
    1x1 back). Returns ``{layer scope: (kernel shape, weights)}``."""
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.nets.resnet import residual_block

    with new_graph():
        x = tf1.placeholder(tf.float32, [1, 56, 56, channels])
        residual_block(x, channels // 4 if bottleneck else channels, 1, False, None, "block",
                       bottleneck=bottleneck)
        return {v.op.name.split("/")[1]: (tuple(v.shape.as_list()), int(np.prod(v.shape)))
                for v in tf1.trainable_variables() if v.op.name.endswith("conv/weights")}


@register("resnet_shortcut", "the ResNet shortcut y = relu(F(x) + x) on a small matrix, and "
          "the basic vs bottleneck block's weights, counted from the resnet builder's variables",
          figsize=(13, 4.2))
def resnet_shortcut():
    import matplotlib.pyplot as plt

    ex = shortcut_example()
    fig, axes = plt.subplots(1, 5, width_ratios=[1, 1, 1, 1, 1.9])
    for ax, (key, title) in zip(axes, (("F", "F(x), the branch"), ("x", "+ x, the shortcut"),
                                       ("sum", "= F(x) + x"), ("y", "y = relu(F(x) + x)"))):
        m = ex[key]
        ax.imshow(m, cmap="RdBu", vmin=-8, vmax=8)
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
    ax = axes[-1]
    ax.axis("off")
    lines = []
    for bottleneck, name in ((False, "basic block"), (True, "bottleneck block")):
        layers = block_weights(bottleneck)
        lines.append(f"{name} on 256 channels:")
        lines += [f"  {scope}: {'x'.join(map(str, shape[:2]))} conv, {shape[2]} -> {shape[3]}: "
                  f"{w:,}" for scope, (shape, w) in sorted(layers.items())]
        lines.append(f"  total {sum(w for _, w in layers.values()):,} weights")
    ax.text(0, 0.5, "\n".join(lines), family="monospace", fontsize=9, va="center")
    fig.suptitle("ResNet: the block learns F(x), the change to x (a constructed 4x4 example, "
                 "computed in a Session); the bottleneck makes a block on 256 channels cheap",
                 fontsize=11)
    return fig
