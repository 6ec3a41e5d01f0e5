"""CNN chapter figures: the slides' scheme and the fully connected layer,
each drawn from a graph the library builds and, where there are values, a Session run.

* ``cnn_layer_by_layer``: "Let's draw scheme of TensorFlow": the placeholders ``x_``
  and ``y_`` and every layer of :mod:`tfgraph_lessons.nets.slide_cnn` for a 32x32x3
  CIFAR-10 input, built by the lesson's own
  :func:`tfgraph_lessons.cnn_cifar.build_graph` in a fresh graph. Each box's operation,
  output shape, weight shapes and parameter count are read from that graph: the
  tensors' static shapes, the variables' shapes, the ``Conv2D`` / ``MaxPool`` ops'
  strides and padding (:func:`slide_scheme`).
* ``cnn_fully_connected``: the last feature map flattened into a vector, then
  ``y = x W + b``: the slide network's shapes (flatten size, ``w3``, ``b3``) from the
  same graph, and a worked example computed in a Session by
  :func:`tfgraph_lessons.core.layers.fully_connected`: a 2x2x2 map, its flatten order
  read from the library's ``flatten`` op, a chosen 8x3 ``W`` (:func:`fully_connected_example`).
The dropout figure is in :mod:`tfgraph_lessons.figures.dropout`.

Taught in ``notebooks/04_cnn.ipynb`` (sections 2, 4 and 5).
"""
import math

import numpy as np

from tfgraph_lessons.figures import register

# colours per kind of box, shared by the figures
KIND_COLOURS = {"input": "tab:orange", "conv": "tab:blue", "pool": "0.45", "fc": "tab:green",
                "dropout": "tab:purple", "softmax": "tab:red", "loss": "black", "other": "0.3"}


def _shape(shape):
    """``[None, 32, 32, 28]`` -> ``'[?, 32, 32, 28]'``."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# ------------------------------------------------------------------------- layer by layer


def slide_scheme(input_shape=(32, 32, 3), num_classes=10, model="slide_cnn"):
    """Build the CNN lesson's graph and read its scheme back, layer by layer.

    The graph is :func:`tfgraph_lessons.cnn_cifar.build_graph`'s (the lesson's
    defaults: the slide network, dropout with the lesson's ``keep_prob``), built in a
    fresh ``tf.Graph``; nothing runs. Each ``end_points`` entry, in forward order,
    becomes one layer made of the network's ops its output depends on that no earlier
    layer holds, so a variable belongs to the layer that reads it.

    Args:
      input_shape: ``(height, width, color_ch)`` of the images.
      num_classes: width of the logits.
      model: a CIFAR-size registry name (``cnn_cifar --model``).
    Returns:
      dict: ``x_`` and ``y_`` (``{'dtype', 'shape'}`` of the two placeholders),
      ``layers`` (a list of dicts ``{name, kind, ops, shape, weights, params, ...}``:
      ``weights`` a list of ``(variable name, shape)``; a convolution also has
      ``kernel``, ``stride``, ``padding``; a pooling ``window``, ``stride``; a fully
      connected layer ``flatten`` (the flattened shape, or None) and ``input_shape``;
      every layer ``activation``), ``loss_shape``, ``keep_prob``, ``total_params``
      (every trainable variable of the network, summed), ``weight_decay`` (the
      lesson's L2 factor in the loss) and ``input_shape``.
    """
    from tfgraph_lessons import cnn_cifar
    from tfgraph_lessons.core.graph import new_graph, tf1

    config = cnn_cifar.CNNConfig(model=model)
    channels = input_shape[-1]
    with new_graph(seed=0):
        # the standardisation's statistics change no shape: zeros and ones will do
        named = cnn_cifar.build_graph(config, tuple(input_shape), num_classes,
                                      np.zeros(channels), np.ones(channels), train_steps=1)
        variables = list(tf1.trainable_variables())
        scope = variables[0].op.name.split("/", 1)[0]
        variables = [v for v in variables if v.op.name.startswith(scope + "/")]
        order = {v.op.name: i for i, v in enumerate(variables)}
        keep_prob = config.keep_prob if config.dropout else 1.0
        claimed, layers, before = set(), [], None
        for key, tensor in named["end_points"].items():
            ops = _ops_behind(tensor.op, scope + "/", claimed)
            claimed.update(op.name for op in ops)
            layers.append(_describe(key, tensor, ops, order, before, keep_prob))
            before = tensor
        x_, y_ = named["images"], named["labels"]
        return {"x_": {"dtype": x_.dtype.name, "shape": x_.shape.as_list()},
                "y_": {"dtype": y_.dtype.name, "shape": y_.shape.as_list()},
                "layers": layers, "loss_shape": named["loss"].shape.as_list(),
                "keep_prob": keep_prob, "weight_decay": config.weight_decay,
                "input_shape": tuple(input_shape),
                "total_params": sum(math.prod(v.shape.as_list()) for v in variables)}


def _ops_behind(op, prefix, claimed):
    """The ops under ``prefix`` that ``op`` depends on (itself included), not in ``claimed``."""
    found, stack = {}, [op]
    while stack:
        op = stack.pop()
        if op.name in found or op.name in claimed or not op.name.startswith(prefix):
            continue
        found[op.name] = op
        stack.extend(t.op for t in op.inputs)
    return list(found.values())


def _describe(key, tensor, ops, order, before, keep_prob):
    """One layer's dict: what its ops are, its output shape and its variables."""
    types = {op.type: op for op in ops}
    weights = sorted(((op.name, op) for op in ops if op.name in order), key=lambda n: order[n[0]])
    weights = [(name.rsplit("/", 1)[-1], _variable_shape(op)) for name, op in weights]
    layer = {"name": key, "ops": sorted(types), "shape": tensor.shape.as_list(),
             "weights": weights, "params": sum(math.prod(s) for _, s in weights),
             "activation": "ReLU" if "Relu" in types else None}
    if "Conv2D" in types:
        conv = types["Conv2D"]
        kh, kw = conv.inputs[1].shape.as_list()[:2]
        layer.update(kind="conv", kernel=(kh, kw), stride=tuple(conv.get_attr("strides")[1:3]),
                     padding=conv.get_attr("padding").decode())
    elif "MaxPool" in types or "AvgPool" in types:
        pool = types.get("MaxPool") or types["AvgPool"]
        layer.update(kind="pool", pool="max" if pool.type == "MaxPool" else "average",
                     window=tuple(pool.get_attr("ksize")[1:3]),
                     stride=tuple(pool.get_attr("strides")[1:3]))
    elif "MatMul" in types:
        flat = types.get("Reshape")
        layer.update(kind="fc", flatten=flat.outputs[0].shape.as_list() if flat else None,
                     input_shape=before.shape.as_list() if before is not None else None)
    elif any("dropout" in op.name.split("/") for op in ops):
        layer.update(kind="dropout", keep_prob=keep_prob)
    elif "Softmax" in types:
        layer.update(kind="softmax")
    else:
        layer.update(kind="other")
    return layer


def _variable_shape(op):
    """The shape of a variable's op (a resource ``VarHandleOp`` or a ``VariableV2``)."""
    from tfgraph_lessons.core.graph import tf

    return tuple(tf.TensorShape(op.get_attr("shape")).as_list())


def layer_lines(layer):
    """A layer's box text: a title line, then what it does, its output, its weights."""
    kind = layer["kind"]
    act = f" + {layer['activation']}" if layer["activation"] else ""
    if kind == "conv":
        kh, kw = layer["kernel"]
        doing = [f"conv {kh}x{kw}{act}",
                 f"stride {'x'.join(map(str, layer['stride']))}, {layer['padding']}"]
    elif kind == "pool":
        doing = [f"{layer['pool']} pool {'x'.join(map(str, layer['window']))}",
                 f"stride {'x'.join(map(str, layer['stride']))}"]
    elif kind == "fc":
        doing = ([f"flatten {_shape(layer['flatten'])}"] if layer["flatten"] else []) + [
            "x " + " + ".join(name for name, _ in layer["weights"]) + act]
    elif kind == "dropout":
        doing = [f"keep_prob {layer['keep_prob']:g}", "(training only)"]
    else:
        doing = [kind]
    lines = [layer["name"], *doing, f"out {_shape(layer['shape'])}"]
    lines += [f"{name} {_shape(shape)}" for name, shape in layer["weights"]]
    lines.append(f"{layer['params']:,} parameters" if layer["params"] else "no parameters")
    return lines


def _box(ax, x, y, w, h, lines, colour, fontsize=11):
    """A rounded box centred at (x, y) with a bold first line."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.06",
                                facecolor="white", edgecolor=colour, linewidth=2))
    ax.text(x, y + h / 2 - 0.22, lines[0], ha="center", va="top", fontsize=fontsize + 1,
            weight="bold", color=colour if colour != "0.45" else "0.25")
    ax.text(x, y + h / 2 - 0.68, "\n".join(lines[1:]), ha="center", va="top",
            fontsize=fontsize, linespacing=1.35)


def _arrow(ax, start, end, **kwargs):
    from matplotlib.patches import FancyArrowPatch

    style = dict(arrowstyle="-|>", mutation_scale=16, linewidth=1.6, color="0.3")
    ax.add_patch(FancyArrowPatch(start, end, **{**style, **kwargs}))


@register("cnn_layer_by_layer", "the slides' CNN scheme layer by layer for CIFAR-10: x_, y_ "
          "and each layer's output shape, weights and parameters, read from the lesson's graph",
          figsize=(14.0, 7.875))
def cnn_layer_by_layer():
    import matplotlib.pyplot as plt

    scheme = slide_scheme()
    layers = scheme["layers"]
    fig, ax = plt.subplots()
    ax.set_xlim(0, 16)
    ax.set_ylim(0, 9)
    ax.axis("off")
    w, h, step = 2.65, 2.55, 3.2
    # row 1: x_ and the feature extractor; row 2: the classifier; y_ meets the logits below
    row1 = [None, *[lay for lay in layers if len(lay["shape"]) == 4]]
    row2 = [lay for lay in layers if len(lay["shape"]) != 4]
    spots = {}
    for i, lay in enumerate(row1):
        spots[lay["name"] if lay else "x_"] = (1.4 + step * i, 7.3)
    for i, lay in enumerate(row2):
        spots[lay["name"]] = (1.4 + step * i, 3.9)
    x_ = scheme["x_"]
    _box(ax, *spots["x_"], w, h, ["x_ (images)", "placeholder",
                                  f"{x_['dtype']} {_shape(x_['shape'])}", "standardised in",
                                  "the graph"], KIND_COLOURS["input"])
    for lay in layers:
        _box(ax, *spots[lay["name"]], w, h, layer_lines(lay), KIND_COLOURS[lay["kind"]])
    names = ["x_", *(lay["name"] for lay in layers)]
    for a, b in zip(names, names[1:]):
        (x0, y0), (x1, y1) = spots[a], spots[b]
        if y0 == y1:
            _arrow(ax, (x0 + w / 2 + 0.08, y0), (x1 - w / 2 - 0.08, y1))
        else:  # from the end of row 1 down and back to the start of row 2
            mid = (y0 - h / 2 + y1 + h / 2) / 2
            ax.plot([x0, x0, x1], [y0 - h / 2 - 0.08, mid, mid], color="0.3", linewidth=1.6)
            _arrow(ax, (x1, mid), (x1, y1 + h / 2 + 0.08))
    _loss_boxes(ax, scheme, spots, w, h)
    total = scheme["total_params"]
    biggest = max(layers, key=lambda lay: lay["params"])
    ax.text(1.4 + step * len(row2) - w / 2, 3.9,
            f"total\n{total:,}\ntrainable parameters\n\n{biggest['name']} alone:\n"
            f"{biggest['params']:,}\n({100 * biggest['params'] / total:.1f}%)",
            fontsize=13, va="center", weight="bold", linespacing=1.3)
    ax.text(0.05, 0.45, "? = any batch size (None in the graph)\nthe total is what "
            "python -m tfgraph_lessons.architectures\n--summary slide_cnn reports",
            fontsize=9.5, va="center", color="0.3")
    size = "x".join(map(str, scheme["input_shape"]))
    fig.suptitle(f"The slides' CNN, layer by layer, for a {size} CIFAR-10 image (every shape "
                 "read from the lesson's graph)", fontsize=13)
    return fig


def _loss_boxes(ax, scheme, spots, w, h):
    """``y_`` and the loss under the logits: the labels meet the network only there."""
    logits = next(lay["name"] for lay in scheme["layers"] if lay["name"] == "logits")
    lx, ly = spots[logits]
    loss_at, y_at = (lx, 1.05), (lx + 3.2, 1.05)
    y_ = scheme["y_"]
    _box(ax, *y_at, w, 1.5, ["y_ (labels)", f"placeholder {y_['dtype']}", _shape(y_["shape"])],
         KIND_COLOURS["input"])
    decay = f"+ {scheme['weight_decay']:g} x L2 of weights" if scheme["weight_decay"] else ""
    _box(ax, *loss_at, w, 1.5, ["loss", "cross-entropy(y_, logits)", decay,
                                f"a scalar {_shape(scheme['loss_shape'])}"], KIND_COLOURS["loss"])
    _arrow(ax, (lx, ly - h / 2 - 0.08), (lx, loss_at[1] + 0.83))
    _arrow(ax, (y_at[0] - w / 2 - 0.08, y_at[1]), (loss_at[0] + w / 2 + 0.08, loss_at[1]))


# -------------------------------------------------------------------- the fully connected layer

# the worked example's input, as the slides draw a feature map: one 2x2 grid per channel
FC_CHANNELS = (((1, 2), (3, 4)),     # channel k = 0
               ((5, 6), (7, 8)))     # channel k = 1
# W (8 x 3), one row per position of the flattened vector: unit 0 weighs everything by 1,
# unit 1 the positions 0, 2, 4, 6, unit 2 the positions 0 to 3
FC_WEIGHTS = ((1, 1, 1), (1, 0, 1), (1, 1, 1), (1, 0, 1),
              (1, 1, 0), (1, 0, 0), (1, 1, 0), (1, 0, 0))
FC_BIASES = (1, -2, 3)


def fully_connected_example(channels=FC_CHANNELS, weights=FC_WEIGHTS, biases=FC_BIASES):
    """``y = flatten(x) W + b`` computed in a Session by the library's fully connected layer.

    :func:`tfgraph_lessons.core.layers.fully_connected` (no activation) is built on a
    ``[1, h, w, c]`` placeholder; its variables are set to ``weights`` and ``biases`` by
    ``assign``. The flatten order is read from the layer's own ``flatten`` op: fed a
    map whose every value encodes its ``(r, c, k)``, it returns them in its order.

    Args:
      channels: ``[c][h][w]`` values, one 2-D grid per channel (as the slides draw them).
      weights: ``[h * w * c, units]``.
      biases: ``[units]``.
    Returns:
      dict: ``x`` (the ``[h, w, c]`` map), ``flat`` (what ``flatten`` made of it),
      ``order`` (the ``(r, c, k)`` of each flat position), ``W``, ``b``, ``y`` (float
      arrays), and ``w_shape`` / ``b_shape`` (the variables' shapes).
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.core.layers import fully_connected

    x = np.moveaxis(np.array(channels, np.float32), 0, -1)          # [h, w, c]
    h, w, c = x.shape
    W, b = np.array(weights, np.float32), np.array(biases, np.float32)
    with new_graph(seed=0) as g:
        maps = tf1.placeholder(tf.float32, [None, h, w, c], name="feature_map")
        y = fully_connected(maps, W.shape[1], activation=None, scope="fc")
        flat = g.get_tensor_by_name("fc/flatten:0")                  # the layer's own flatten
        w_var, b_var = tf1.trainable_variables("fc")
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run([tf1.assign(w_var, W), tf1.assign(b_var, b)])
            flat_val, y_val = sess.run([flat, y], {maps: x[None]})
            # every value its own address r*100 + c*10 + k: flattened, it names its source
            code = np.indices((h, w, c)).transpose(1, 2, 3, 0) @ np.array([100, 10, 1])
            codes = sess.run(flat, {maps: code[None].astype(np.float32)})[0]
    order = [(int(v) // 100, int(v) // 10 % 10, int(v) % 10) for v in np.rint(codes)]
    return {"x": x, "flat": flat_val[0], "order": order, "W": W, "b": b, "y": y_val[0],
            "w_shape": w_var.shape.as_list(), "b_shape": b_var.shape.as_list()}


CHANNEL_FILL = ("#cfe2f3", "#fde3c8", "#d9ead3", "#ead1dc")   # light fills for channels 0-3


def column_meaning(W, order):
    """What column ``j`` of ``W`` picks, in words, from its non-zero rows and the flatten
    order: ``'all positions'``, ``'channel 1 only'``, ``'row 0 only'``, or the positions."""
    words = []
    for j in range(W.shape[1]):
        rows = {i for i in range(W.shape[0]) if W[i, j]}
        picks = [("all positions", set(range(len(order))))]
        picks += [(f"channel {k} only", {i for i, o in enumerate(order) if o[2] == k})
                  for k in sorted({o[2] for o in order})]
        picks += [(f"row {r} only", {i for i, o in enumerate(order) if o[0] == r})
                  for r in sorted({o[0] for o in order})]
        words.append(next((text for text, s in picks if s == rows),
                          "positions " + ", ".join(map(str, sorted(rows)))))
    return words


def _cells(ax, x0, y0, values, cell, fills, fontsize=13, edge="0.3"):
    """A grid of numbered cells, row 0 at the top, its top-left corner at (x0, y0)."""
    from matplotlib.patches import Rectangle

    values = np.atleast_2d(values)
    for (i, j), v in np.ndenumerate(values):
        x, y = x0 + j * cell, y0 - (i + 1) * cell
        fill = fills[i][j] if isinstance(fills[0], (list, tuple)) else fills[i]
        ax.add_patch(Rectangle((x, y), cell, cell, facecolor=fill, edgecolor=edge, linewidth=1))
        ax.text(x + cell / 2, y + cell / 2, f"{v:g}", ha="center", va="center", fontsize=fontsize)


def _slide_fc_band(ax, fc, total):
    """The slide network's fully connected layer as four boxes, shapes from the graph."""
    w_name, w_shape = fc["weights"][0]
    b_name, b_shape = fc["weights"][1]
    n_in = fc["flatten"][1]
    steps = [("pool2", f"out {_shape(fc['input_shape'])}", KIND_COLOURS["pool"]),
             ("flatten", f"{_shape(fc['flatten'])}\n{' x '.join(map(str, fc['input_shape'][1:]))}"
                         f" = {n_in:,}", KIND_COLOURS["fc"]),
             (f"x {w_name} + {b_name}" + (f", {fc['activation']}" if fc["activation"] else ""),
              f"{w_name} {_shape(w_shape)}\n{b_name} {_shape(b_shape)}", KIND_COLOURS["fc"]),
             (fc["name"], f"out {_shape(fc['shape'])}", KIND_COLOURS["fc"])]
    for i, (head, body, colour) in enumerate(steps):
        _box(ax, 2.2 + 4.6 * i, 1.3, 3.6, 1.9, [head, body], colour, fontsize=11)
        if i:
            _arrow(ax, (2.2 + 4.6 * i - 2.7, 1.3), (2.2 + 4.6 * i - 1.9, 1.3))
    ax.text(18.6, 1.3, f"{fc['params']:,} parameters\n= {n_in:,} x {w_shape[1]:,} + "
            f"{b_shape[0]:,}\n({100 * fc['params'] / total:.1f}% of the network)",
            fontsize=12, va="center", weight="bold")
    ax.set_title("In the slides' network (CIFAR-10, shapes read from the lesson's graph)",
                 fontsize=12, loc="left")


def _flatten_panel(ax, ex):
    """The feature map's channel grids, the flattened vector, an arrow per value."""
    x, order, cell = ex["x"], ex["order"], 1.3
    h, w, c = x.shape
    top, row_y, left = 9.6, 4.7, 1.0
    corner = {(r, col, k): i for i, (r, col, k) in enumerate(order)}
    for k in range(c):
        x0 = left + k * (w * cell + 1.4)
        ax.text(x0 + w * cell / 2, top + 0.55, f"channel k = {k}", ha="center", fontsize=12,
                weight="bold")
        _cells(ax, x0, top, x[:, :, k], cell, [CHANNEL_FILL[k]] * h, fontsize=15)
        for col in range(w):
            ax.text(x0 + (col + 0.5) * cell, top + 0.05, f"c={col}", ha="center", va="bottom",
                    fontsize=9, color="0.3")
        for r in range(h):
            ax.text(x0 - 0.08, top - (r + 0.5) * cell, f"r={r}", ha="right", va="center",
                    fontsize=9, color="0.3")
            for col in range(w):
                ax.text(x0 + (col + 1) * cell - 0.06, top - r * cell - 0.06,
                        f"i={corner[r, col, k]}", fontsize=8.5, ha="right", va="top",
                        color="0.25")
    _cells(ax, left, row_y, ex["flat"][None], cell, [[CHANNEL_FILL[k] for _, _, k in order]],
           fontsize=15)
    for i, (r, col, k) in enumerate(order):
        x0 = left + k * (w * cell + 1.4)
        start = (x0 + (col + 0.5) * cell, top - (r + 0.5) * cell - 0.35)
        end = (left + (i + 0.5) * cell, row_y + 0.42)
        ax.annotate("", end, start, arrowprops=dict(arrowstyle="-|>", lw=1.2, alpha=0.75,
                                                    color=("tab:blue", "tab:orange")[k % 2],
                                                    shrinkA=0, shrinkB=1))
        ax.text(end[0], row_y + 0.05, str(i), ha="center", va="bottom", fontsize=10)
        ax.text(end[0], row_y - cell - 0.1, f"{r},{col},{k}", ha="center", va="top",
                fontsize=9.5)
    ax.text(left - 0.08, row_y - cell / 2, "x", ha="right", va="center", fontsize=14,
            weight="bold")
    ax.text(left, row_y - cell - 0.75, "x = flatten(map), by the layer's own flatten op in a "
            "Session:\nposition i holds (r, c, k), "
            f"i = (r·{w} + c)·{c} + k: one pixel's channels sit side by side",
            fontsize=11, va="top", linespacing=1.4)


def _product_panel(ax, ex):
    """W (rows coloured by the channel their position came from), b, y and the sums."""
    W, b, y, order, flat = ex["W"], ex["b"], ex["y"], ex["order"], ex["flat"]
    cell, x0, top = 0.85, 15.2, 9.4
    fills = [CHANNEL_FILL[k] for _, _, k in order]
    ax.text(x0 + W.shape[1] * cell / 2, top + 0.55, f"W {_shape(ex['w_shape'])}", ha="center",
            fontsize=12, weight="bold")
    for j in range(W.shape[1]):
        ax.text(x0 + (j + 0.5) * cell, top + 0.05, f"y{j}", ha="center", va="bottom",
                fontsize=9.5, color="0.3")
    for i in range(W.shape[0]):
        ax.text(x0 - 0.1, top - (i + 0.5) * cell, f"i={i}", ha="right", va="center",
                fontsize=9.5, color="0.3")
    _cells(ax, x0, top, W, cell, [[f] * W.shape[1] for f in fills], fontsize=13)
    bx = x0 + W.shape[1] * cell + 1.8
    ax.text(bx - 0.2, top - cell / 2, "+ b", ha="right", va="center", fontsize=14, weight="bold")
    _cells(ax, bx, top, b[None], cell, ["white"], fontsize=13)
    ax.text(bx - 0.2, top - 1.5 - cell / 2, "= y", ha="right", va="center", fontsize=14,
            weight="bold")
    _cells(ax, bx, top - 1.5, y[None], cell, ["#eeeeee"], fontsize=13)
    lines = []
    for j, meaning in enumerate(column_meaning(W, order)):
        terms = [f"{v:g}" if wij == 1 else f"{wij:g}·{v:g}"
                 for v, wij in zip(flat, W[:, j]) if wij]
        lines.append(f"y{j} = {'+'.join(terms)} {'+' if b[j] >= 0 else '-'} {abs(b[j]):g}"
                     f" = {y[j]:g}\n     ({meaning})")
    ax.text(bx - 1.2, top - 3.0, "\n".join(lines), fontsize=12, family="monospace", va="top",
            linespacing=1.3)


@register("cnn_fully_connected", "the fully connected layer: the last feature map flattened, "
          "y = x W + b with the slide network's shapes, and a 2x2x2 example run in a Session",
          figsize=(14.0, 7.875))
def cnn_fully_connected():
    import matplotlib.pyplot as plt

    scheme = slide_scheme()
    fc = next(lay for lay in scheme["layers"] if lay["kind"] == "fc" and lay["flatten"])
    ex = fully_connected_example()
    fig, (top, bottom) = plt.subplots(2, 1, height_ratios=[1, 3.2])
    for ax in (top, bottom):
        ax.axis("off")
        ax.set_aspect("equal")
    top.set_xlim(0, 28)
    top.set_ylim(0, 2.6)
    _slide_fc_band(top, fc, scheme["total_params"])
    bottom.set_xlim(0, 25)
    bottom.set_ylim(1.6, 10.6)
    _flatten_panel(bottom, ex)
    _product_panel(bottom, ex)
    bottom.set_title("A worked example: core.layers.fully_connected on a 2x2x2 map, W and b "
                     "set by assign", fontsize=12, loc="left")
    fig.suptitle("The fully connected layer: flatten the last feature map, then y = x W + b "
                 "(every output sees every input)", fontsize=14)
    return fig
