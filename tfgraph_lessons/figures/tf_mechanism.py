"""TensorFlow chapter figures: the graph of a small model, drawn from the graph itself.

* ``tf_graph_session``: the slides' mechanism in one picture. The model
  ``y = softmax(x W + b)`` (the slides' first network: a placeholder, two variables,
  three ops) is built in a fresh graph; its nodes and edges are read from
  ``graph.get_operations()`` (the forward path of ``y``), laid out by depth, and each
  node is labelled with the device the session really ran it on, from a traced run
  (:func:`~tfgraph_lessons.core.device.placement_report`) fed with a real batch
  (:func:`graph_example`).
"""
import numpy as np

from tfgraph_lessons.figures import register


def graph_example(batch=2, features=4, classes=3, seed=0):
    """Build ``y = softmax(x W + b)``, run it once traced, and describe its graph.

    Returns:
      dict: ``nodes`` (``{name: {'op', 'depth', 'shape', 'ran'}}``: the ops on the
      forward path of ``y``, a variable's read op folded into the variable; ``ran``
      says where the traced run executed it, or that it was fed or fused), ``edges``
      (``(from, to)`` names), ``y`` (the softmax of the batch) and ``rows_sum_to_1``.
    """
    from tfgraph_lessons.core.device import placement_report
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    with new_graph(seed=seed) as g:
        x = tf1.placeholder(tf.float32, [None, features], name="x")
        W = tf1.get_variable("W", [features, classes],
                             initializer=tf1.random_normal_initializer(stddev=0.5))
        b = tf1.get_variable("b", [classes], initializer=tf1.zeros_initializer())
        y = tf.nn.softmax(tf.matmul(x, W, name="matmul") + b, name="y")
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            feed = {x: np.random.default_rng(seed).normal(size=(batch, features))}
            placed = placement_report(sess, y, feed)
            y_val = sess.run(y, feed)
        nodes, edges, stack = {}, set(), [y.op]

        def node_of(op):  # a variable's read (Identity of a VariableV2) is the variable
            if op.type == "Identity" and op.inputs and op.inputs[0].op.type in (
                    "VariableV2", "VarHandleOp", "ReadVariableOp"):
                return op.inputs[0].op
            if op.type == "ReadVariableOp":
                return op.inputs[0].op
            return op

        seen = set()
        while stack:
            op = node_of(stack.pop())
            if op.name in seen:
                continue
            seen.add(op.name)
            if op.type in ("VarHandleOp", "VariableV2"):  # the variable's value, not its handle
                shape = tf.TensorShape(op.get_attr("shape")).as_list()
            else:
                shape = op.outputs[0].shape.as_list() if op.outputs else []
            nodes[op.name] = {"op": op.type, "shape": shape}
            for tensor in op.inputs:
                src = node_of(tensor.op)
                edges.add((src.name, op.name))
                stack.append(src)
    depth = {}

    def depth_of(name):  # the longest path from a source
        if name not in depth:
            parents = [a for a, b_ in edges if b_ == name]
            depth[name] = 1 + max(map(depth_of, parents)) if parents else 0
        return depth[name]

    for name in nodes:
        nodes[name]["depth"] = depth_of(name)
    for name in nodes:  # a source sits just before its first consumer (b beside matmul)
        after = [depth[b_] for a, b_ in edges if a == name]
        if not any(b_ == name for _, b_ in edges) and after:
            nodes[name]["depth"] = min(after) - 1
    for name in nodes:
        nodes[name]["ran"] = _how_it_ran(name, nodes[name]["op"], placed, edges)
    return {"nodes": nodes, "edges": sorted(edges), "y": y_val,
            "rows_sum_to_1": bool(np.allclose(y_val.sum(axis=1), 1.0))}


def _how_it_ran(name, op_type, placed, edges):
    """Where and as what the traced run executed node ``name``: the session may feed a
    placeholder as an argument node and fuse an op into the op after it (grappler)."""
    if name in placed:
        ran = placed[name]
        as_what = f" as {ran['op']}" if ran["op"] != op_type else ""
        return f"ran on {ran['device']}{as_what}"
    fed = next((k for k in placed if k.startswith(f"_arg_{name}_")), None)
    if fed:
        return f"fed on {placed[fed]['device']}"
    after = [b for a, b in edges if a == name]
    if after and after[0] in placed:
        return f"fused into {after[0]}"
    return "not run"


@register("tf_graph_session", "the TensorFlow mechanism: the graph of y = softmax(x W + b) "
          "read from the graph and laid out by depth, each node with the device the "
          "session ran it on (a traced run)", figsize=(12.0, 5.0))
def tf_graph_session_figure():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ex = graph_example()
    nodes = ex["nodes"]
    by_depth = {}
    for name in sorted(nodes):
        by_depth.setdefault(nodes[name]["depth"], []).append(name)
    pos = {}
    for d, names in by_depth.items():
        for i, name in enumerate(names):
            pos[name] = (1.5 + 3.0 * d, 4.0 - 2.2 * (i - (len(names) - 1) / 2))
    fig, ax = plt.subplots()
    ax.set_xlim(0, 3.0 * max(by_depth) + 3.0)
    ax.set_ylim(0, 8)
    ax.axis("off")
    colours = {"Placeholder": "tab:orange", "VariableV2": "tab:green",
               "VarHandleOp": "tab:green"}
    for a, b in ex["edges"]:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.add_patch(FancyArrowPatch((x0 + 1.1, y0), (x1 - 1.1, y1), arrowstyle="-|>",
                                     mutation_scale=14, color="0.35", linewidth=1.4))
    for name, (x, y) in pos.items():
        node = nodes[name]
        ax.add_patch(FancyBboxPatch((x - 1.1, y - 0.75), 2.2, 1.5, boxstyle="round,pad=0.08",
                                    facecolor="white", linewidth=2,
                                    edgecolor=colours.get(node["op"], "tab:blue")))
        shape = "[" + ", ".join("?" if d is None else str(d) for d in node["shape"]) + "]"
        ran = node["ran"].replace(" as ", "\nas ")
        ax.text(x, y, f"{name}: {node['op']} {shape}\n{ran}", ha="center", va="center",
                fontsize=8)
    ax.set_title("1. draw the graph (nothing runs: orange a placeholder fed at run time, green "
                 "the variables, blue the ops)    2. a Session places and runs it",
                 fontsize=10)
    fig.suptitle("The TensorFlow mechanism: y = softmax(x W + b), read back from the graph",
                 fontsize=12)
    return fig
