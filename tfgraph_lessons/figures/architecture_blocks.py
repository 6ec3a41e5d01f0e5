"""Classic architectures' building blocks (chapter 06), drawn from graphs the library builds.

Nothing on these figures that a graph can tell is typed in: each block is built by the
network's own code in a fresh graph and read back (shapes, variables, ops).

* ``inception_module``: GoogLeNet's inception (3a) (Szegedy et al. 2015, arXiv:1409.4842,
  Figure 2(b), Table 1): :func:`~tfgraph_lessons.nets.googlenet.module_branches` built by
  :func:`~tfgraph_lessons.nets.inception.apply_layer` on a 28x28x192 placeholder, every
  box's output shape and parameters read back by :func:`build_block`, next to the same
  module built again without its 1x1 reductions (:func:`without_reductions`).
* ``multi_softmax``: GoogLeNet's training loss, main + 0.3 x each auxiliary head's
  cross-entropy, on three logit rows computed in a Session by ``googlenet_loss``, beside
  the slide's unweighted sum (an erratum, ``docs/errata.md`` no. 1), and the auxiliary
  heads counted in the training and the inference graph (:func:`multi_softmax_example`).
* ``inception_v4_blocks``: Inception-A, -B, -C (arXiv:1602.07261, Figures 4-6) and
  Inception-ResNet-v2's A block (Figure 16) from the tables of
  :mod:`tfgraph_lessons.nets.inception_v4`, the residual add and its scale read from the
  graph (:func:`v4_blocks_example`).
The NIN figures (1x1 convolution, global average pooling, class activation maps) are
in :mod:`tfgraph_lessons.figures.nin`.

Sessions run single-threaded with fixed seeds, so every PNG is the same bytes on a rerun.
"""
import numpy as np

from tfgraph_lessons.figures import one_thread_session, register


def size_of(shape):
    return int(np.prod([int(d) for d in shape]))


def shape_text(shape):
    return "x".join(str(int(d)) for d in shape)


# ---------------------------------------------------------------- reading a built block back


def _layer_groups(graph, prefix):
    """``{layer name: [ops]}`` of the ops just below ``prefix``, in the order they were made."""
    groups = {}
    for op in graph.get_operations():
        if op.name.startswith(prefix):
            groups.setdefault(op.name[len(prefix):].split("/")[0], []).append(op)
    return groups


def _read_layer(prefix, name, ops):
    """One convolution or pooling layer as the default graph has it: kernel, stride, output
    shape, parameters (its trainable variables), weights (kernel entries), multiply-adds."""
    from tfgraph_lessons.core.graph import tf1
    from tfgraph_lessons.nets.summary import op_madds

    output = [op for op in ops if op.outputs and op.outputs[0].shape.rank == 4][-1].outputs[0]
    layer = {"name": name, "shape": tuple(output.shape.as_list()[1:]),
             "params": sum(size_of(v.shape) for v in tf1.trainable_variables()
                           if v.op.name.startswith(f"{prefix}{name}/")),
             "madds": sum(op_madds(op) for op in ops)}
    conv = next((op for op in ops if op.type == "Conv2D"), None)
    if conv is not None:
        kh, kw, cin, cout = conv.inputs[1].shape.as_list()
        return {**layer, "kind": "conv", "ksize": (kh, kw), "filters": cout,
                "weights": kh * kw * cin * cout, "stride": conv.get_attr("strides")[1],
                "padding": conv.get_attr("padding").decode()}
    pool = next(op for op in ops if op.type in ("MaxPool", "AvgPool"))
    k = pool.get_attr("ksize")
    return {**layer, "kind": "max pool" if pool.type == "MaxPool" else "avg pool",
            "ksize": (k[1], k[2]), "filters": None, "weights": 0,
            "stride": pool.get_attr("strides")[1], "padding": pool.get_attr("padding").decode()}


def _read_branch(prefix, layers, groups):
    """The layers of one branch read in the order the builder made them; a ``Split`` becomes a
    list of its sub-branches. Each layer is checked against its spec (kind and kernel)."""
    from tfgraph_lessons.nets.inception import Conv, Split

    items = []
    for spec in layers:
        if isinstance(spec, Split):
            items.append([_read_branch(prefix, sub, groups) for sub in spec.branches])
            continue
        layer = _read_layer(prefix, *next(groups))
        want = ("conv" if isinstance(spec, Conv) else f"{spec.kind} pool",
                (spec.ksize,) * 2 if isinstance(spec.ksize, int) else tuple(spec.ksize))
        if (layer["kind"], layer["ksize"]) != want:
            raise ValueError(f"[architecture_blocks] {prefix}{layer['name']} is a {layer['kind']} "
                             f"{layer['ksize']} in the graph but {spec!r} in the table")
        items.append(layer)
    return items


def flat_layers(items):
    """Every layer dict of a branch (or of a list of branches), sub-branches included."""
    for item in items:
        if isinstance(item, list):
            yield from flat_layers(item)
        else:
            yield item


def branch_width(items):
    """Channels a branch adds to the concatenation: its last layer's, or the sum of a
    final Split's sub-branches."""
    last = items[-1]
    return sum(map(branch_width, last)) if isinstance(last, list) else last["shape"][2]


def build_block(spec, input_shape, scope, batch_norm=True):
    """Build one row of an Inception table on a placeholder in a fresh graph and read it back.

    Args:
      spec: a :class:`~tfgraph_lessons.nets.inception.Module` or ``Residual``.
      input_shape: ``(height, width, channels)`` the block gets in its network.
      scope: the block's name in its network (``'inception_3a'``, ``'mixed_5b'``).
      batch_norm: False for GoogLeNet's convolutions with biases (a Module only).

    Returns:
      dict with ``scope``, ``input`` and ``output`` (shapes without the batch axis),
      ``branches`` (per branch a list of layer dicts from :func:`_read_layer`, a ``Split``
      as a list of sub-branches), ``concat`` (the concatenation's shape), ``params``
      (trainable variables of the block), ``weights`` (kernel entries) and ``madds``
      (multiply-adds per image); for a ``Residual`` also ``residual``: the linear 1x1
      ``up`` layer, the ``scale`` of the Mul feeding the add, ``shortcut`` (the add reads
      the block's input) and ``relu``.
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.nets.inception import Residual, apply_layer
    from tfgraph_lessons.nets.summary import op_madds

    with new_graph() as g:
        x = tf1.placeholder(tf.float32, [1, *input_shape], name="input")
        y = apply_layer(x, spec, False, scope, batch_norm=batch_norm)
        module = f"{scope}/mixed" if isinstance(spec, Residual) else scope
        branches = []
        for i, layers in enumerate(spec.branches):
            prefix = f"{module}/branch_{i}/"
            groups = [(n, ops) for n, ops in _layer_groups(g, prefix).items()
                      if not n.startswith("concat")]                 # a Split's concat: no layer
            branches.append(_read_branch(prefix, layers, iter(groups)))
        variables = tf1.trainable_variables(f"{scope}/")
        info = {"scope": scope, "input": tuple(input_shape),
                "output": tuple(y.shape.as_list()[1:]), "branches": branches,
                "concat": tuple(g.get_tensor_by_name(f"{module}/concat:0").shape.as_list()[1:]),
                "params": sum(size_of(v.shape) for v in variables),
                "weights": sum(size_of(v.shape) for v in variables if v.shape.rank == 4),
                "madds": sum(op_madds(op) for op in g.get_operations())}
        if isinstance(spec, Residual):
            info["residual"] = _read_residual(g, scope, x)
    return info


def _read_residual(graph, scope, x):
    """The sum ``x + scale * up(branches)`` found in the graph: the add that reads the
    block's input, the Mul on its other side (a constant times the 1x1 layer)."""
    from tfgraph_lessons.core.graph import tf

    ops = graph.get_operations()
    adds = [op for op in ops if op.type in ("Add", "AddV2") and op.name.startswith(f"{scope}/")
            and any(t.name == x.name for t in op.inputs)]
    if not adds:
        raise ValueError(f"[architecture_blocks] no add in {scope} reads the block's input "
                         f"{x.name}: not a residual block")
    add = adds[0]
    mul = next(t.op for t in add.inputs if t.name != x.name)            # scale * up(...)
    scale = next(float(v) for v in map(tf.get_static_value, mul.inputs) if v is not None)
    groups = _layer_groups(graph, f"{scope}/")
    name = next(n for n, group in groups.items()
                if n != "mixed" and any(op.type == "Conv2D" for op in group))
    relu = any(op.type == "Relu" and add.outputs[0].name in [t.name for t in op.inputs]
               for op in ops)
    return {"up": _read_layer(f"{scope}/", name, groups[name]), "scale": scale,
            "shortcut": True, "relu": relu}


# ------------------------------------------------------------------- drawing a block


def _depth(items):
    """Rows a branch takes: one per layer, a Split as many as its longest sub-branch."""
    return sum(max(map(_depth, item)) if isinstance(item, list) else 1 for item in items)


def _colour(layer):
    if layer["kind"] != "conv":
        return "#f4cccc"                                   # pooling
    kh, kw = layer["ksize"]
    return "#fff2b3" if kh == kw == 1 else "#cfe2f3" if kh == kw else "#d9ead3"


def _layer_text(layer, narrow=False, params=False):
    kh, kw = layer["ksize"]
    if layer["kind"] == "conv":
        head = f"{kh}x{kw}{'' if narrow else ' conv'}, {layer['filters']}"
    else:
        head = f"{kh}x{kw} {layer['kind']}"
    if layer["stride"] > 1:
        head += f" /{layer['stride']}"
    lines = [head, shape_text(layer["shape"])]
    if params:
        lines.append(f"{layer['params']:,} params")
    return "\n".join(lines)


def _box(ax, cx, cy, w, h, text, colour, fontsize, weight="normal"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h,
                                boxstyle="round,pad=0,rounding_size=0.05", facecolor=colour,
                                edgecolor="0.35", linewidth=1.0))
    ax.text(cx, cy, text, ha="center", va="center", fontsize=fontsize, weight=weight,
            linespacing=1.25)


def _arrow(ax, start, end, colour="0.3"):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(
        arrowstyle="-|>", color=colour, lw=1.1, shrinkA=0, shrinkB=0, mutation_scale=10))


def _draw_items(ax, items, left, width, level, anchors, style):
    """Draw a branch's layers from ``level`` up in the column ``[left, left + width]``;
    returns the tops the next box connects from."""
    for item in items:
        if isinstance(item, list):                            # a Split: sub-columns side by side
            tops = []
            for j, sub in enumerate(item):
                tops += _draw_items(ax, sub, left + j * width / len(item), width / len(item),
                                    level, anchors, style)
            anchors, level = tops, level + max(map(_depth, item))
            continue
        cx, h = left + width / 2, style["box_h"]
        for a in anchors:
            _arrow(ax, a, (cx, level - h / 2))
        _box(ax, cx, level, 0.9 * width, h, _layer_text(item, width < 0.8, style["params"]),
             _colour(item), style["fontsize"])
        anchors, level = [(cx, level + h / 2)], level + 1
    return anchors


def _draw_block(ax, info, input_text, concat_text, fontsize=9, box_h=0.62, params=False):
    """A block as a diagram: the input below, one column per branch, the concatenation
    above it (and for a residual block the 1x1 layer, the scaled sum with the shortcut
    and the ReLU). Returns the level of the topmost box."""
    from matplotlib.patches import Ellipse

    style = {"fontsize": fontsize, "box_h": box_h, "params": params}
    n = len(info["branches"])
    top = max(map(_depth, info["branches"])) + 1
    _box(ax, n / 2, 0, n - 0.1, box_h, input_text, "#eeeeee", fontsize, "bold")
    for i, items in enumerate(info["branches"]):
        for a in _draw_items(ax, items, i, 1.0, 1, [(i + 0.5, box_h / 2)], style):
            _arrow(ax, a, (a[0], top - box_h / 2))
    _box(ax, n / 2, top, n - 0.1, box_h, concat_text, "#e6e6e6", fontsize, "bold")
    res = info.get("residual")
    if res:
        up = res["up"]
        _arrow(ax, (n / 2, top + box_h / 2), (n / 2, top + 1 - box_h / 2))
        _box(ax, n / 2, top + 1, 2.2, box_h, f"1x1 conv, {up['filters']}, linear (no ReLU)\n"
             f"{shape_text(up['shape'])}", _colour(up), fontsize)
        _arrow(ax, (n / 2, top + 1 + box_h / 2), (n / 2, top + 2 - 0.2))
        ax.text(n / 2 + 0.08, top + 1.5, f"x {res['scale']:g}", fontsize=fontsize + 1,
                weight="bold", color="tab:red", va="center")
        ax.add_patch(Ellipse((n / 2, top + 2), 0.3, 0.4, facecolor="white", edgecolor="tab:red",
                             lw=1.5))
        ax.text(n / 2, top + 2, "+", ha="center", va="center", fontsize=fontsize + 4,
                color="tab:red")
        x0 = -0.22                                            # the shortcut: x, unchanged
        ax.plot([0.05, x0, x0], [0, 0, top + 2], color="tab:red", lw=1.5)
        _arrow(ax, (x0, top + 2), (n / 2 - 0.15, top + 2), colour="tab:red")
        ax.text(x0 - 0.04, top / 2 + 1, "shortcut: x", rotation=90, ha="right", va="center",
                fontsize=fontsize, color="tab:red")
        _arrow(ax, (n / 2, top + 2.2), (n / 2, top + 3 - box_h / 2))
        _box(ax, n / 2, top + 3, 2.2, box_h, f"{'ReLU' if res['relu'] else 'linear'}\n"
             f"{shape_text(info['output'])}", "#eeeeee", fontsize, "bold")
        top += 3
    ax.set_xlim(-0.45 if res else -0.05, n + 0.05)
    ax.set_ylim(-box_h / 2 - 0.1, top + box_h / 2 + 0.1)
    ax.axis("off")
    return top


# ----------------------------------------------------------------- inception (3a)

INPUT_3A = (28, 28, 192)   # pool2's output, inception (3a)'s input (Table 1, arXiv:1409.4842)


def without_reductions(branches):
    """``branches`` with every 1x1 :class:`~tfgraph_lessons.nets.inception.Conv` that feeds
    a larger convolution removed (the "naive" module of Figure 2(a), but keeping the pool
    projection so that the output depth stays the same)."""
    from tfgraph_lessons.nets.inception import Conv

    def one_by_one(layer):
        return isinstance(layer, Conv) and layer.ksize in (1, (1, 1))

    return [[layer for k, layer in enumerate(layers)
             if not (one_by_one(layer) and k + 1 < len(layers) and isinstance(layers[k + 1], Conv)
                     and not one_by_one(layers[k + 1]))] for layers in branches]


def inception_3a_example():
    """Inception (3a) as GoogLeNet builds it (no batch norm, biases), and without the 1x1
    reductions, each built on a 28x28x192 placeholder and read back by :func:`build_block`.

    Returns:
      dict with ``row`` (Table 1's row: name and the six widths), ``built`` and ``plain``
      (:func:`build_block` results).
    """
    from tfgraph_lessons.nets.googlenet import TABLE_1, module_branches
    from tfgraph_lessons.nets.inception import Module

    name, *widths = TABLE_1[0]
    branches = module_branches(*widths)
    return {"row": TABLE_1[0],
            "built": build_block(Module(branches), INPUT_3A, name, batch_norm=False),
            "plain": build_block(Module(without_reductions(branches)), INPUT_3A, name,
                                 batch_norm=False)}


def _branch_name(items):
    return " -> ".join(f"{kh}x{kw}{'' if l['kind'] == 'conv' else ' pool'}"
                       for l in flat_layers(items) for kh, kw in [l["ksize"]])


@register("inception_module", "GoogLeNet's inception (3a) built by nets.inception on 28x28x192: "
          "each branch's output shape and parameters read from the graph, and the weights "
          "with vs without the 1x1 reductions", figsize=(15.0, 7.0))
def inception_module_figure():
    import matplotlib.pyplot as plt

    ex = inception_3a_example()
    built, plain = ex["built"], ex["plain"]
    fig = plt.figure()
    grid = fig.add_gridspec(1, 2, width_ratios=[1.75, 1])
    ax = fig.add_subplot(grid[0])
    widths = " + ".join(str(branch_width(items)) for items in built["branches"])
    concat = f"{shape_text(built['concat'][:2])}x({widths} = {built['concat'][2]})"
    _draw_block(ax, built, f"previous layer {shape_text(built['input'])}",
                f"filter concatenation {concat}", fontsize=10, box_h=0.7, params=True)
    ax.set_title(f"inception (3a): {built['params']:,} parameters, {built['madds'] / 1e6:.1f} M "
                 "multiply-adds per image\n(yellow: the 1x1 convolutions, reductions before the "
                 "3x3 and 5x5 and the pool projection)", fontsize=11)

    ax = fig.add_subplot(grid[1])
    colours = ["#f1c232", "#6fa8dc", "#93c47d", "#e06666"]
    rows = (("as built:\n1x1 reductions", built), ("3x3 and 5x5\ndirectly on 192", plain))
    for y, (label, info) in enumerate(rows):
        left = 0
        for i, items in enumerate(info["branches"]):
            w = sum(l["weights"] for l in flat_layers(items))
            names = [_branch_name(b["branches"][i]) for b in (built, plain)]
            ax.barh(y, w, left=left, color=colours[i], edgecolor="white", height=0.7,
                    label="  |  ".join(names) if y == 0 else None)
            if w > 40_000:
                ax.text(left + w / 2, y, f"{w:,}", ha="center", va="center", fontsize=9)
            left += w
        ax.text(left + 5_000, y, f"{info['weights']:,} weights\n"
                f"{info['madds'] / 1e6:.1f} M mult-adds", va="center", fontsize=10)
    ax.set_yticks([0, 1], [label for label, _ in rows])
    ax.set_ylim(2.2, -0.5)
    ax.set_xlim(0, plain["weights"] * 1.45)
    ax.set_xlabel("convolution weights (biases left out, as Table 1 counts)")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1e3:.0f}k")
    ax.legend(title="branch: built  |  without the reductions", loc="lower center", ncol=2,
              fontsize=9, title_fontsize=9, frameon=False)
    ax.set_title(f"why the 1x1 reductions: x{plain['weights'] / built['weights']:.1f} the weights "
                 f"without them\n(both built by the same builder; output {shape_text(plain['output'])} "
                 "either way)", fontsize=11)
    fig.suptitle("GoogLeNet's Inception module, built by tfgraph_lessons.nets.inception on a "
                 f"{shape_text(INPUT_3A)} input: shapes and parameters read from the graph")
    return fig


# ------------------------------------------------------------------------ multi-softmax

MS_CLASSES = ("cat", "dog", "fox", "car")
MS_LABEL = 0
# one image's logits from the three heads (made up, one decimal so the softmax can be checked)
MS_LOGITS = {"main": (2.5, 1.0, 0.5, -1.0), "aux 1": (1.2, 1.5, 0.4, -0.5),
             "aux 2": (0.8, 1.0, 1.2, 0.2)}


def _aux_in_graph(is_training):
    """Ops and parameters of GoogLeNet's auxiliary heads in a graph built with ``is_training``."""
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.nets.googlenet import googlenet

    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [1, 224, 224, 3])
        _, end_points = googlenet(images, 1000, is_training)
        heads = sorted({op.name.split("/")[1] for op in g.get_operations()
                        if op.name.startswith("googlenet/aux_")})
        return {"heads": heads,
                "ops": sum(op.name.startswith("googlenet/aux_") for op in g.get_operations()),
                "params": sum(size_of(v.shape) for v in tf1.trainable_variables("googlenet/aux_")),
                "all_params": sum(size_of(v.shape) for v in tf1.trainable_variables()),
                "aux_logits": len(end_points.get("aux_logits", []))}


def multi_softmax_example():
    """The three heads' softmax and cross-entropy computed by TensorFlow, the total by the
    library's ``googlenet_loss`` on the same logits, and the slide's unweighted sum.

    Returns:
      dict with ``probs`` and ``ce`` (``{head: ...}``), ``total`` (``googlenet_loss``),
      ``slide_total`` (main + aux 1 + aux 2), ``aux_weight`` and ``train`` / ``inference``
      (:func:`_aux_in_graph`).
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.nets.googlenet import AUX_WEIGHT, googlenet_loss

    with new_graph() as g:
        labels = tf1.placeholder(tf.int32, [None], name="labels")
        rows = {k: tf1.placeholder(tf.float32, [None, len(MS_CLASSES)], name=k.replace(" ", ""))
                for k in MS_LOGITS}
        probs = {k: tf.nn.softmax(r) for k, r in rows.items()}
        ce = {k: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=r)
              for k, r in rows.items()}
        total = googlenet_loss(labels, rows["main"],
                               {"aux_logits": [rows["aux 1"], rows["aux 2"]]})
        feed = {labels: [MS_LABEL], **{rows[k]: [v] for k, v in MS_LOGITS.items()}}
        with one_thread_session(g) as sess:
            p, c, t = sess.run([probs, ce, total], feed)
    ce = {k: float(v[0]) for k, v in c.items()}
    return {"probs": {k: v[0] for k, v in p.items()}, "ce": ce, "total": float(t),
            "slide_total": ce["main"] + ce["aux 1"] + ce["aux 2"], "aux_weight": AUX_WEIGHT,
            "train": _aux_in_graph(True), "inference": _aux_in_graph(False)}


@register("multi_softmax", "GoogLeNet's multi-softmax loss on one image: each head's softmax and "
          "cross-entropy computed by TensorFlow, the total main + 0.3 x each auxiliary loss "
          "(googlenet_loss) vs the slide's unweighted sum", figsize=(15.0, 6.5))
def multi_softmax_figure():
    import matplotlib.pyplot as plt

    ex = multi_softmax_example()
    fig = plt.figure()
    grid = fig.add_gridspec(3, 2, width_ratios=[1, 1.25])
    x = np.arange(len(MS_CLASSES))
    for r, (head, logits) in enumerate(MS_LOGITS.items()):
        ax = fig.add_subplot(grid[r, 0])
        p = ex["probs"][head]
        colours = ["tab:green" if k == MS_LABEL else "0.7" for k in x]
        ax.bar(x, p, color=colours)
        for k in x:
            ax.text(k, p[k] + 0.03, f"{p[k]:.3f}", ha="center", fontsize=9)
        ax.set_xticks(x, [f"{c}: z = {z:g}" for c, z in zip(MS_CLASSES, logits)], fontsize=10)
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("softmax")
        ax.set_title(f"{head}: CE = -ln p({MS_CLASSES[MS_LABEL]}) = -ln {p[MS_LABEL]:.3f} = "
                     f"{ex['ce'][head]:.3f}", fontsize=11, loc="left")
    ax = fig.add_subplot(grid[:, 1])
    ax.axis("off")
    ce, w = ex["ce"], ex["aux_weight"]
    train, infer = ex["train"], ex["inference"]
    weighted = f"{ce['main']:.3f} + {w * ce['aux 1']:.3f} + {w * ce['aux 2']:.3f}"
    lines = [  # (height, text, colour, size, monospace)
        (0.97, f"one image, label '{MS_CLASSES[MS_LABEL]}' (green); z: the head's logits",
         "0.2", 11, 0),
        (0.87, f"training loss  L = CE(main) + {w:g} x CE(aux 1) + {w:g} x CE(aux 2)",
         "black", 12, 0),
        (0.80, f"  = {ce['main']:.3f} + {w:g} x {ce['aux 1']:.3f} + {w:g} x {ce['aux 2']:.3f}",
         "tab:green", 12, 1),
        (0.74, f"  = {weighted} = {ex['total']:.3f}", "tab:green", 12, 1),
        (0.68, "right: googlenet_loss gives this total in the Session", "tab:green", 11, 0),
        (0.58, f"the slide writes 'x {w:g}', then adds the auxiliary rows without it:",
         "black", 12, 0),
        (0.51, f"  {ce['main']:.3f} + {ce['aux 1']:.3f} + {ce['aux 2']:.3f} = "
               f"{ex['slide_total']:.3f}", "tab:red", 12, 1),
        (0.45, "wrong: unweighted, the two auxiliary heads count twice as much as the main one",
         "tab:red", 11, 0),
        (0.35, "Szegedy et al. 2015, section 5: \"the losses of the auxiliary classifiers were\n"
               f"weighted by {w:g}\"; at inference time the auxiliary networks are discarded.",
         "black", 11, 0),
        (0.19, "googlenet(images, 1000, is_training=True): "
               f"{' and '.join(train['heads'])} built,\n    {train['ops']:,} ops, "
               f"{train['params']:,} of the graph's {train['all_params']:,} parameters",
         "black", 11, 0),
        (0.07, f"is_training=False: {len(infer['heads'])} auxiliary heads, {infer['ops']} ops, "
               f"{infer['params']} of the graph's {infer['all_params']:,} parameters",
         "black", 11, 0),
    ]
    for y, text, colour, size, mono in lines:
        ax.text(0.0, y, text, color=colour, fontsize=size, va="top", transform=ax.transAxes,
                family="monospace" if mono else None)
    fig.suptitle("GoogLeNet's multi-softmax: the two auxiliary heads' losses weighted by 0.3 "
                 "(a worked example computed by TensorFlow)")
    return fig


# ----------------------------------------------------------------- Inception-v4 blocks

# (title, paper figure, variant, scope, input shape): the grid and depth each block gets in
# its network (tests/test_nets_inception.py checks them on the full networks)
V4_BLOCKS = (("Inception-A", "Figure 4", "inception_v4", "mixed_5b", (35, 35, 384)),
             ("Inception-B", "Figure 5", "inception_v4", "mixed_6b", (17, 17, 1024)),
             ("Inception-C", "Figure 6", "inception_v4", "mixed_7b", (8, 8, 1536)),
             ("Inception-ResNet-A", "Figure 16", "inception_resnet_v2", "block35_1",
              (35, 35, 320)))


def v4_blocks_example():
    """Each block of :data:`V4_BLOCKS` taken from its network's table
    (:data:`tfgraph_lessons.nets.inception_v4.VARIANTS`), built by :func:`build_block`.

    Returns:
      list of dicts: :func:`build_block`'s, plus ``title``, ``figure`` and ``variant``.

    Raises:
      ValueError: a plain block whose output depth differs from its input's (it could not
        be repeated as the table repeats it).
    """
    from tfgraph_lessons.nets.inception_v4 import VARIANTS

    out = []
    for title, figure, variant, scope, shape in V4_BLOCKS:
        info = build_block(dict(VARIANTS[variant])[scope], shape, scope)
        if info["output"] != tuple(shape):
            raise ValueError(f"[architecture_blocks] {variant}/{scope} maps {shape} to "
                             f"{info['output']}; a repeated block keeps its input's shape")
        out.append({**info, "title": title, "figure": figure, "variant": variant})
    return out


@register("inception_v4_blocks", "Inception-v4's blocks A, B, C and Inception-ResNet-v2's A "
          "block (residual add, scale), kernels, filters and shapes read from graphs built from "
          "nets.inception_v4's tables", figsize=(16.0, 9.0))
def inception_v4_blocks_figure():
    import matplotlib.pyplot as plt

    blocks = v4_blocks_example()
    fig, axes = plt.subplots(2, 2)
    for ax, b in zip(axes.flat, blocks):
        parts = "+".join(str(branch_width(items)) for items in b["branches"])
        _draw_block(ax, b, f"input {shape_text(b['input'])}",
                    f"concat {shape_text(b['concat'][:2])}x({parts} = {b['concat'][2]})",
                    fontsize=8.5, box_h=0.64)
        ax.set_title(f"{b['title']} ({b['figure']}): {b['variant']}/{b['scope']}, "
                     f"{b['params']:,} parameters", fontsize=12)
    fig.suptitle("Inception-v4 (Szegedy et al. 2016, arXiv:1602.07261): blocks built from "
                 "nets.inception_v4's tables, read back from the graph\n(every convolution is "
                 "conv + batch norm + ReLU; parameters: weights, beta and gamma; green: factorised "
                 "1xn, nx1)")
    return fig
