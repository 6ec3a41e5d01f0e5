"""Layer tables of the registered networks: output shape, parameters and multiply-adds per layer.

The slides' AlexNet table (227x227x3 -> 55x55x96 -> ... -> 1000, the weights of
every layer) for any network of the registry, counted from the graph itself:
the network is built in a fresh graph (no Session, nothing runs), its
variables give the parameters and its convolution and matrix-product ops the
multiply-adds. ``python -m tfgraph_lessons.architectures`` prints these
tables; ``notebooks/06_architectures.ipynb`` steps through them.

One row per ``end_points`` key, in forward order. A variable or an op belongs
to the row whose key is the longest prefix of its name below the network's
scope (``vgg16/conv3_1/weights`` -> ``conv3_1``; ``resnet50/conv2_x/block1/...``
-> ``conv2_x/block1`` or ``conv2_x``, whichever is a key). What no key names
(a network whose variables are named ``w1``, ``w2`` as on the slides) goes to
the first row whose output depends on it; what no row's output depends on
(an auxiliary head, built but unused at inference) goes to a last ``other`` row.

Multiply-adds (one MAC = one multiply and one add) per image, convolutions and
matrix products only, as the papers count them; biases, batch norm, pooling and
activations are not counted:

* ``Conv2D``: ``out_h * out_w * k_h * k_w * c_in * c_out``
* ``DepthwiseConv2dNative``: ``out_h * out_w * k_h * k_w * c_in * multiplier``
  (a separable convolution is this op followed by a 1x1 ``Conv2D``)
* ``MatMul``: ``in * out``
* ``Conv2DBackpropInput`` (transposed convolution): ``in_h * in_w * k_h * k_w * c_in * c_out``

Usage::

    from tfgraph_lessons.nets import summary
    table = summary.layer_table("resnet20")
    print(summary.format_table(table))
    table.trainable_params, table.all_params, table.madds    # 269722 271098 40551040
    summary.compare(["resnet20", "resnet56"])                # the counts next to the paper's
"""
import dataclasses
import math
from typing import NamedTuple

from tfgraph_lessons import nets
from tfgraph_lessons.core.errors import UsageError

SKIPPED_KEYS = ("predictions",)   # the softmax of the logits: same shape, nothing to count
OTHER = "other"
MAC_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul", "Conv2DBackpropInput")


class Row(NamedTuple):
    """One line of a layer table."""

    name: str        # the end_points key ("conv1", "stage2/block1"), or "other"
    shape: tuple     # output shape without the batch axis: (55, 55, 96) or (4096,); () for "other"
    params: int      # trainable parameters of the layer
    madds: int       # multiply-adds per image


@dataclasses.dataclass(frozen=True)
class LayerTable:
    """A network's layer table and its totals.

    Attributes:
      name: the registry name.
      input_shape: ``(height, width, channels)`` it was built for.
      rows: :class:`Row` s in forward order (an ``other`` row last where something
        belongs to no layer).
      trainable_params: every trainable variable's size, summed.
      all_params: every variable's size: trainable plus batch norm's moving mean
        and variance.
      madds: multiply-adds of one forward pass of one image.
      scope: the network's variable scope.
    """

    name: str
    input_shape: tuple
    rows: tuple
    trainable_params: int
    all_params: int
    madds: int
    scope: str = ""

    def as_dict(self, layers=True):
        """The JSON form: the totals, the paper's figures, and the rows when ``layers``."""
        info = nets.info(self.name)
        out = {"name": self.name, "family": info.family, "input_shape": list(self.input_shape),
               "trainable_params": self.trainable_params, "all_params": self.all_params,
               "madds": self.madds, "paper_params": _number(info.paper_params),
               "paper_madds": _number(info.paper_madds), "paper_source": info.paper_source}
        if layers:
            out["layers"] = [{"name": r.name, "output_shape": list(r.shape), "params": r.params,
                              "madds": r.madds} for r in self.rows]
        return out


def _number(value):
    """A paper's figure for JSON: an int where it is whole (``0.27e6`` -> 270000)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


_CACHE = {}


def layer_table(name, input_shape=None, batch=1):
    """Build network ``name`` (inference mode, no Session) and count its layers.

    Tables are cached per ``(name, input_shape, batch)`` within the process: the
    biggest networks take seconds to build.

    Args:
      name: a registry name (``nets.names()``).
      input_shape: ``(height, width, channels)``; None takes the paper's
        (``nets.info(name).input_shape``).
      batch: the batch size of the input placeholder (shapes and counts are per image).
    Returns:
      a :class:`LayerTable`.
    Raises:
      UsageError: an unknown name, or an input the network cannot take (the
        builder's message).
    """
    check_name(name)
    info = nets.info(name)
    shape = tuple(int(d) for d in (input_shape or info.input_shape))
    if len(shape) != 3 or min(shape) < 1:
        raise UsageError(f"input shape must be (height, width, channels), got {input_shape}")
    if not isinstance(batch, int) or batch < 1:
        raise UsageError(f"batch must be a whole number >= 1, got {batch!r}")
    key = (name, shape, batch)
    if key not in _CACHE:
        _CACHE[key] = _build_table(name, shape, batch, info.num_classes)
    return _CACHE[key]


def _build_table(name, shape, batch, num_classes):
    try:
        return _count(name, shape, batch, num_classes, stand_ins=True)
    except Exception:  # noqa: BLE001 - a builder that needs real variables, or a bad input
        pass
    try:
        return _count(name, shape, batch, num_classes, stand_ins=False)
    except UsageError:
        raise
    except ValueError as e:  # the builder's input check
        raise UsageError(f"{name} cannot take a {'x'.join(map(str, shape))} input: "
                         f"{' '.join(str(e).split())}") from None


def _count(name, shape, batch, num_classes, stand_ins):
    """Build and count. ``stand_ins``: every variable is replaced by a placeholder of
    its shape (a custom getter), which builds several times faster (no initialiser,
    assign and read ops) and counts the same; the variables' sizes and trainable
    flags are recorded as they are asked for."""
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [batch, *shape], name="images")
        recorder = _StandIns() if stand_ins else None
        with tf1.variable_scope(tf1.get_variable_scope(), custom_getter=recorder):
            _, end_points = nets.get(name)(images, num_classes, is_training=False)
        if recorder is not None:
            variables = recorder.variables
        else:
            variables = [(v.op.name, v.shape.as_list(), v.trainable, v.op)
                         for v in tf1.global_variables()]
        scope = _network_scope(name, [v[0] for v in variables])
        rows, aliases = _row_keys(end_points)
        owner = _Owner(scope, rows, aliases, end_points)
        params = dict.fromkeys([*rows, OTHER], 0)
        all_params = 0
        for var_name, var_shape, trainable, op in variables:
            size = math.prod(var_shape)
            all_params += size
            if trainable:
                params[owner(var_name, op)] += size
        madds = dict.fromkeys([*rows, OTHER], 0)
        for op in g.get_operations():
            if op.type in MAC_OPS:
                madds[owner(op.name, op)] += op_madds(op) // batch
    table_rows = [Row(k, tuple(end_points[k].shape.as_list()[1:]), params[k], madds[k])
                  for k in rows]
    if params[OTHER] or madds[OTHER]:
        table_rows.append(Row(OTHER, (), params[OTHER], madds[OTHER]))
    return LayerTable(name, shape, tuple(table_rows), sum(params.values()), all_params,
                      sum(madds.values()), scope)


class _StandIns:
    """A custom getter: a placeholder of the variable's shape instead of a variable.

    Records ``(name, shape, trainable, op)`` per variable; asking for a name
    again returns the same placeholder (reuse)."""

    def __init__(self):
        self.variables = []
        self.made = {}

    def __call__(self, getter, name, *args, shape=None, dtype=None, trainable=None, **kwargs):
        from tfgraph_lessons.core.graph import tf, tf1

        if name in self.made:
            return self.made[name]
        if shape is None or any(d is None for d in tf.TensorShape(shape).as_list()):
            raise ValueError(f"[summary] variable {name} without a static shape")
        shape = tf.TensorShape(shape).as_list()
        stand_in = tf1.placeholder(dtype or tf.float32, shape, name=name.rsplit("/", 1)[-1])
        trainable = True if trainable is None else bool(trainable)
        self.variables.append((name, shape, trainable, stand_in.op))
        self.made[name] = stand_in
        return stand_in


def _network_scope(name, variable_names):
    """The network's variable scope: the first name component all its variables share."""
    heads = {n.split("/", 1)[0] for n in variable_names if "/" in n}
    return heads.pop() if len(heads) == 1 else name


def _row_keys(end_points):
    """The end_points keys that get a row, and every key's row.

    A key whose tensor an earlier key already holds (``logits`` recorded as
    ``fc8`` too) and ``predictions`` get no row of their own; their names still
    attribute variables (to the row holding the same tensor, or to the logits).
    """
    rows, aliases, seen = [], {}, {}
    for key, value in end_points.items():
        if not hasattr(value, "shape") or not hasattr(value, "op"):
            continue  # not a tensor (a list of auxiliary outputs...)
        ref = value.ref()
        if ref in seen:
            aliases[key] = seen[ref]
        elif key in SKIPPED_KEYS:
            aliases[key] = rows[-1] if rows else OTHER
        else:
            seen[ref] = key
            rows.append(key)
            aliases[key] = key
    return rows, aliases


class _Owner:
    """``owner(op)`` -> the row an op or a variable's op belongs to."""

    def __init__(self, scope, rows, aliases, end_points):
        self.prefix = scope + "/"
        self.aliases = aliases
        self.by_length = sorted(aliases, key=len, reverse=True)
        self.consumer = _first_consumers(rows, end_points)

    def __call__(self, name, op):
        """``name``: the variable's or op's full name; ``op``: its op in the graph."""
        if name.startswith(self.prefix):
            below = name[len(self.prefix):]
            for key in self.by_length:
                if below == key or below.startswith(key + "/"):
                    return self.aliases[key]
        return self.consumer.get(op.name, OTHER)


def _first_consumers(rows, end_points):
    """Each op's first row (in forward order) whose output depends on it."""
    owner = {}
    for key in rows:
        stack = [end_points[key].op]
        while stack:
            op = stack.pop()
            if op.name in owner:
                continue
            owner[op.name] = key
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
    return owner


def op_madds(op):
    """Multiply-adds of one ``Conv2D``, ``DepthwiseConv2dNative``, ``MatMul`` or
    ``Conv2DBackpropInput`` op for its whole (static) batch; 0 for other ops.

    Raises:
      ValueError: a shape the count needs is not known statically.
    """
    def dims(t):
        shape = t.shape.as_list()
        if shape is None or any(d is None for d in shape):
            raise ValueError(f"[summary] {op.name} ({op.type}) has an unknown shape {t.shape}")
        return shape

    if op.type in ("Conv2D", "DepthwiseConv2dNative"):
        b, oh, ow, _ = dims(op.outputs[0])
        kh, kw, cin, cout = dims(op.inputs[1])   # cout: the multiplier for a depthwise kernel
        return b * oh * ow * kh * kw * cin * cout
    if op.type == "Conv2DBackpropInput":
        b, ih, iw, cin = dims(op.inputs[2])      # the transposed convolution's input
        kh, kw, cout, _ = dims(op.inputs[1])     # [kh, kw, out, in]
        return b * ih * iw * kh * kw * cin * cout
    if op.type == "MatMul":
        m, n = dims(op.outputs[0])
        a = dims(op.inputs[0])
        k = a[0] if op.get_attr("transpose_a") else a[1]
        return m * k * n
    return 0


def compare(names=None, family=None, progress=False):
    """Each network's counts next to its paper's figures.

    Args:
      names: registry names; None: every registered network (of ``family`` if given).
      family: keep only this family (``'resnet'``).
      progress: show a tqdm bar while building.
    Returns:
      a list of dicts, one per network in registry order: ``name``, ``family``,
      ``input_shape``, ``trainable_params``, ``all_params``, ``madds``,
      ``paper_params``, ``paper_madds``, ``paper_source``, and ``params_ratio`` /
      ``madds_ratio`` (ours / the paper's, None where the paper gives no figure).
    Raises:
      UsageError: an unknown name, or a family with no registered network.
    """
    selected = select(names, family)
    from tqdm.auto import tqdm

    out = []
    bar = tqdm(selected, desc="building", unit="net", disable=not progress, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        entry = layer_table(name).as_dict(layers=False)
        entry["params_ratio"] = _ratio(entry["trainable_params"], entry["paper_params"])
        entry["madds_ratio"] = _ratio(entry["madds"], entry["paper_madds"])
        out.append(entry)
    return out


def _ratio(ours, paper):
    return None if not paper else round(ours / paper, 4)


def check_name(name):
    """UsageError (one line, listing the known names) unless ``name`` is registered."""
    known = nets.names()
    if name not in known:
        raise UsageError(f"unknown network {name!r}; known: {', '.join(known)}")


def families():
    """The registered families, sorted."""
    return sorted({nets.info(n).family for n in nets.names()})


def select(names=None, family=None):
    """Registry names, checked: ``names`` (every network when None), kept to ``family``.

    Raises:
      UsageError: an unknown name, or a family with no network (listing the known ones).
    """
    if names is None:
        names = nets.names()
    else:
        names = list(dict.fromkeys(names))
        for name in names:
            check_name(name)
    if family is not None:
        known = families()
        if family not in known:
            raise UsageError(f"no network of family {family!r} is registered; "
                             f"known families: {', '.join(known)}")
        names = [n for n in names if nets.info(n).family == family]
        if not names:
            raise UsageError(f"none of the selected networks is of family {family!r}")
    return names


# --------------------------------------------------------------------------- printing


def human(n, unit=""):
    """``138357544`` -> ``'138.4M'``; ``None`` -> ``'-'``."""
    if n is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.{1 if abs(n) / div >= 10 else 2}f}{suffix}{unit}"
    return f"{n:g}{unit}"


def shape_text(shape):
    """``(55, 55, 96)`` -> ``'55x55x96'``; ``()`` -> ``''``."""
    return "x".join("?" if d is None else str(d) for d in shape)


def format_table(table):
    """The table as aligned text, like the slides' AlexNet table, with a totals line.

    ::

        layer     output      parameters   multiply-adds
        input     32x32x3
        conv1     32x32x16           432         442,368
        ...
        total     trainable 272,474 (all 273,882)   40,554,432
    """
    head = ("layer", "output", "parameters", "multiply-adds")
    lines = [("input", shape_text(table.input_shape), "", "")]
    lines += [(r.name, shape_text(r.shape), f"{r.params:,}", f"{r.madds:,}") for r in table.rows]
    total = ("total", "", f"{table.trainable_params:,}", f"{table.madds:,}")
    widths = [max(len(line[i]) for line in (head, *lines, total)) for i in range(4)]

    def fmt(line):
        return (f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]:>{widths[2]}}  "
                f"{line[3]:>{widths[3]}}").rstrip()

    rule = "-" * (sum(widths) + 6)
    out = [f"{table.name}: input {shape_text(table.input_shape)}", fmt(head), rule,
           *map(fmt, lines), rule, fmt(total)]
    extra = table.all_params - table.trainable_params
    out.append(f"{table.trainable_params:,} trainable parameters ({human(table.trainable_params)})"
               + (f", {table.all_params:,} with batch norm's {extra:,} moving statistics"
                  if extra else "")
               + f"; {table.madds:,} multiply-adds per image ({human(table.madds)})")
    return "\n".join(out)


def format_compare(entries):
    """The compare list as aligned text: ours, the paper's, ours / the paper's."""
    head = ("network", "input", "params", "paper", "ratio", "MACs", "paper", "ratio", "source")
    lines = []
    for e in entries:
        lines.append((e["name"], shape_text(e["input_shape"]), human(e["trainable_params"]),
                      human(e["paper_params"]), _ratio_text(e["params_ratio"]), human(e["madds"]),
                      human(e["paper_madds"]), _ratio_text(e["madds_ratio"]), e["paper_source"]))
    widths = [max(len(line[i]) for line in (head, *lines)) for i in range(len(head))]
    left = {0, 1, 8}

    def fmt(line):
        cells = [f"{c:<{w}}" if i in left else f"{c:>{w}}"
                 for i, (c, w) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(head), "-" * len(fmt(head)), *map(fmt, lines)])


def _ratio_text(r):
    return "-" if r is None else f"{r:.3f}"
