"""The CNN chapter's dropout figure, drawn from the library's own dropout run in a Session.

* ``dropout_network``: a 4-6-6-3 network whose hidden units go through the dropout the
  slide CNN uses (:func:`tfgraph_lessons.core.layers.dropout`, the lesson's
  ``keep_prob``); three training steps drop three different sets, test time drops none
  (:func:`dropout_example`).

Taught in ``notebooks/04_cnn.ipynb`` (section 9).
"""
import numpy as np

from tfgraph_lessons.figures import register

DROPOUT_LAYERS = (4, 6, 6, 3)            # inputs, two hidden layers, outputs
DROPOUT_INPUT = (1.0, 0.5, 2.0, 1.5)     # one example, positive so every ReLU is awake


def dropout_example(sizes=DROPOUT_LAYERS, inputs=DROPOUT_INPUT, samples=3, keep_prob=None,
                    many=10_000, seed=0):
    """A small fully connected network whose hidden layers go through the library's dropout,
    run ``samples`` times as training steps and once at test time, in one Session.

    The layers are :func:`~tfgraph_lessons.core.layers.fully_connected` (ReLU) with
    their weights replaced by their absolute values, so every hidden activation is
    positive and a zero after dropout means the unit was dropped. The network is built
    twice on the same variables: with :func:`~tfgraph_lessons.core.layers.dropout` in
    training mode (``is_training=True``) and in inference mode (``False``). The graph's
    seed is fixed, so the masks are the same on every call; each ``Session.run`` of the
    training pass draws new ones.

    Args:
      sizes: units per layer, inputs first.
      inputs: the one example fed (``sizes[0]`` values).
      samples: training steps to run.
      keep_prob: None: the CNN lesson's (``cnn_cifar.CNNConfig().keep_prob``, which it
        passes to the slide CNN's dropout).
      many: units of a separate dropout of ones, run in the same steps, to count the
        dropped fraction on a large layer.
      seed: the graph's random seed.
    Returns:
      dict: ``keep_prob``, ``sizes``, ``inputs``; ``before`` and ``after`` (lists over
      hidden layers of ``[samples, units]``: the activations going into and out of
      dropout, a row per training step); ``kept`` (the same shapes, bools);
      ``test_before`` / ``test_after`` (lists of ``[units]``: the inference pass);
      ``outputs`` (``[samples, sizes[-1]]``) and ``test_outputs``; ``many``,
      ``many_dropped`` (the fraction of the ``many`` ones zeroed, per step) and
      ``many_values`` (the distinct values they took).
    """
    from tfgraph_lessons import cnn_cifar
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.core.layers import dropout, fully_connected

    if keep_prob is None:
        keep_prob = cnn_cifar.CNNConfig().keep_prob

    def network(x, is_training):
        """``(hidden before dropout, hidden after dropout, outputs)``; variables shared."""
        before, after = [], []
        with tf1.variable_scope("net", reuse=tf1.AUTO_REUSE):
            for i, units in enumerate(sizes[1:-1]):
                before.append(fully_connected(x, units, scope=f"hidden{i + 1}"))
                x = dropout(before[-1], keep_prob, is_training, name=f"dropout{i + 1}")
                after.append(x)
            return before, after, fully_connected(x, sizes[-1], activation=None, scope="output")

    with new_graph(seed=seed) as g:
        x = tf1.placeholder(tf.float32, [1, sizes[0]], name="x")
        training = [*network(x, True), dropout(tf.ones([many]), keep_prob, True, name="many")]
        test = network(x, False)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run([tf1.assign(v, tf.abs(v)) for v in tf1.trainable_variables()])
            feed = {x: np.array([inputs], np.float32)}
            steps = [sess.run(training, feed) for _ in range(samples)]
            test = sess.run(test, feed)
    hidden = range(len(sizes) - 2)
    ex = {"keep_prob": keep_prob, "sizes": tuple(sizes), "inputs": np.array(inputs, np.float32),
          "before": [np.stack([s[0][j][0] for s in steps]) for j in hidden],
          "after": [np.stack([s[1][j][0] for s in steps]) for j in hidden],
          "test_before": [test[0][j][0] for j in hidden],
          "test_after": [test[1][j][0] for j in hidden],
          "outputs": np.stack([s[2][0] for s in steps]), "test_outputs": test[2][0],
          "many": many, "many_dropped": [float(np.mean(s[3] == 0)) for s in steps],
          "many_values": sorted({float(v) for s in steps for v in np.unique(s[3])})}
    if any((b <= 0).any() for b in ex["before"]):
        raise RuntimeError("[dropout_example] a hidden unit is not positive before dropout; "
                           "a zero after it would not tell a dropped unit")
    ex["kept"] = [a != 0 for a in ex["after"]]
    return ex


def _network_panel(ax, sizes, values, kept, title, ring=None, gap=1.25):
    """One network: ``values[l]`` per layer; ``kept[l]`` bools (None: all kept); dropped
    units grey and crossed out, their edges gone; ``ring``: ``(layer, unit)`` circled."""
    from matplotlib.patches import Circle

    ys = [np.arange(n)[::-1] - (n - 1) / 2 for n in sizes]
    xs = [gap * layer for layer in range(len(sizes))]
    keep = [np.ones(n, bool) if k is None else k for n, k in zip(sizes, kept)]
    for layer in range(len(sizes) - 1):
        for i in np.flatnonzero(keep[layer]):
            for j in np.flatnonzero(keep[layer + 1]):
                ax.plot([xs[layer], xs[layer + 1]], [ys[layer][i], ys[layer + 1][j]], color="0.7",
                        linewidth=0.9, zorder=1)
    r = 0.3
    for layer, n in enumerate(sizes):
        edge = {0: "tab:orange", len(sizes) - 1: "tab:red"}.get(layer, "tab:green")
        for i in range(n):
            x, y = xs[layer], ys[layer][i]
            if keep[layer][i]:
                ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=edge, linewidth=2,
                                    zorder=2))
                ax.text(x, y, f"{values[layer][i]:.2f}", ha="center", va="center", fontsize=9,
                        zorder=3)
            else:
                ax.add_patch(Circle((x, y), r, facecolor="0.85", edgecolor="0.6", linewidth=1.2,
                                    zorder=2))
                ax.plot([x - 0.7 * r, x + 0.7 * r], [y - 0.7 * r, y + 0.7 * r], color="tab:red",
                        linewidth=2.2, zorder=3)
                ax.plot([x - 0.7 * r, x + 0.7 * r], [y + 0.7 * r, y - 0.7 * r], color="tab:red",
                        linewidth=2.2, zorder=3)
    for layer, name in enumerate(["input", *(f"hidden {i}" for i in range(1, len(sizes) - 1)),
                                  "output"]):
        ax.text(xs[layer], -max(sizes) / 2 - 0.15, name, ha="center", va="top", fontsize=10,
                color="0.3")
    if ring is not None:
        ax.add_patch(Circle((xs[ring[0]], ys[ring[0]][ring[1]]), r + 0.12, fill=False,
                            edgecolor="tab:blue", linewidth=2, linestyle="--", zorder=3))
    ax.set_xlim(-0.45, xs[-1] + 0.45)
    ax.set_ylim(-max(sizes) / 2 - 0.75, max(sizes) / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11.5)


@register("dropout_network", "dropout: a 4-6-6-3 network's units dropped by the library's "
          "dropout in three training steps (a different set each) and none at test time",
          figsize=(14.0, 7.875))
def dropout_network():
    import matplotlib.pyplot as plt

    ex = dropout_example()
    sizes, kp = ex["sizes"], ex["keep_prob"]
    samples = len(ex["outputs"])
    fig = plt.figure()
    grid = fig.add_gridspec(2, samples + 1, height_ratios=[4.6, 1])
    hidden_units = sum(sizes[1:-1])
    unit = int(np.flatnonzero(ex["kept"][0][0])[0])          # a unit step 1 kept: the example
    for s in range(samples):
        values = [ex["inputs"], *(a[s] for a in ex["after"]), ex["outputs"][s]]
        kept = [None, *(k[s] for k in ex["kept"]), None]
        dropped = hidden_units - sum(int(k[s].sum()) for k in ex["kept"])
        _network_panel(fig.add_subplot(grid[0, s]), sizes, values, kept,
                       f"training step {s + 1}\n{dropped} of {hidden_units} hidden units dropped",
                       ring=(1, unit) if s == 0 else None)
    values = [ex["inputs"], *ex["test_after"], ex["test_outputs"]]
    _network_panel(fig.add_subplot(grid[0, samples]), sizes, values, [None] * len(sizes),
                   "test time (is_training=False)\nnone dropped, nothing scaled", ring=(1, unit))
    before, after = ex["before"][0][0, unit], ex["after"][0][0, unit]
    text = fig.add_subplot(grid[1, :])
    text.axis("off")
    rest = " or ".join(f"{v:g}" for v in ex["many_values"] if v)
    text.text(0.0, 1.0,
              "Crossed out: dropped in this step (its output is 0, so its edges carry nothing). "
              f"Kept units are scaled by 1/keep_prob = {1 / kp:g} (ringed):\nhidden 1's unit "
              f"{unit} is {ex['test_after'][0][unit]:.3f} at test time and {before:.3f} / {kp:g} "
              f"= {after:.3f} in training step 1, so the next layer gets the same input on "
              "average in training as at test time.\n"
              f"The same dropout on {ex['many']:,} ones: the steps dropped "
              f"{', '.join(f'{100 * d:.1f}%' for d in ex['many_dropped'])} of them "
              f"(1 - keep_prob = {100 * (1 - kp):g}%); every kept one became {rest}.",
              fontsize=12, va="top", transform=text.transAxes, linespacing=1.5)
    fig.suptitle(f"Dropout, keep_prob = {kp:g} (the slide CNN's): each training step drops a "
                 "different random set of units (core.layers.dropout, run in a Session)",
                 fontsize=13.5)
    return fig
