"""RNN chapter figures: the unrolled graph, gate activations, vanishing gradients and
the lessons' loss curves (the cell schematics are in :mod:`tfgraph_lessons.figures.rnn_cells`).

Nothing on these figures is typed in by hand that the library can tell us:

- :func:`unrolled_graph_summary` builds ``unroll(mode='static')`` and reads the
  graph back: the per-step name scopes ``rnn/t0 ... rnn/t{T-1}``, which steps read
  each shared variable, and where ``tf.gradients`` put the backward ops (BPTT).
- :func:`gate_activations` trains a small LSTM for a few seconds on the 8x8
  digits bundled with scikit-learn (offline, the same on every machine; the
  MNIST copy beside this project holds only the test set, which must not be
  trained on) and records ``LSTMCell.gate_values`` over one held-out digit read
  row by row.
- :func:`gradient_norms` measures ``||d sum(h_T) / d x_t||`` with ``tf.gradients``
  for a vanilla RNN and LSTMs at their initial weights: the slides' reason for gates.
- :func:`loss_histories` reads the finished ``rnn_mnist`` and ``char_rnn`` runs that
  :func:`tfgraph_lessons.figures.runs.find_runs` gives (``--run DIR``, or
  ``runs/rnn_mnist/*`` and ``runs/char_rnn/*``; ``$TFGRAPH_RUNS`` replaces ``runs``); the
  figure is skipped with a notice when no run exists.

Every session runs single-threaded with fixed seeds, so the PNGs are the same
bytes on every rerun.
"""
from tfgraph_lessons.core.graph import new_graph, tf, tf1  # first: sets up TF's logging and graph mode

import re  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tfgraph_lessons.core.errors import DataError, UsageError  # noqa: E402
from tfgraph_lessons.core.style import CMAPS  # noqa: E402
from tfgraph_lessons.figures import (FigureUnavailable, one_thread_session,  # noqa: E402
                                     register, runs)
from tfgraph_lessons.figures.rnn_cells import CELL_TITLES  # noqa: E402
from tfgraph_lessons.rnn import CELLS, LSTMCell, unroll  # noqa: E402

RUNS_ENV = runs.ROOT_ENV   # the folder of runs read without --run (default: runs)
# lesson -> (panel title, what its loss measures, the command that makes a run)
LOSS_LESSONS = {
    "rnn_mnist": ("rnn_mnist: MNIST digits, rows as time steps", "cross-entropy (nats)",
                  "python -m tfgraph_lessons.rnn_mnist"),
    "char_rnn": ("char_rnn: next character", "cross-entropy (nats per character)",
                 "python -m tfgraph_lessons.char_rnn"),
}
LOSS_KEYS = {"train_running_loss": "train (running mean over training batches)",
             "train_eval_loss": "train (inference)", "val_loss": "validation",
             "test_loss": "test"}


# ----------------------------------------------------------------------------- the unrolled graph

_STEP = re.compile(r"^rnn/t(\d+)/")
_GRAD_STEP = re.compile(r"^gradients/rnn/t(\d+)/")


def unrolled_graph_summary(steps=4, kind="rnn", units=8, features=3):
    """Build ``unroll(cell, inputs, mode='static')`` and a squared-error loss with its
    ``tf.gradients`` in a fresh graph, then read the graph's structure back.

    Args:
      steps: time steps T of the static unroll.
      kind: ``rnn``, ``lstm`` or ``gru``.
      units, features: the cell's size and the inputs' feature size.

    Returns:
      dict with ``kind``, ``steps`` (the per-step name scopes found in the graph,
      ``['rnn/t0', ...]``), ``variables`` (``[(name, shape)]`` of the trainable
      variables), ``readers`` (``{variable name: [step scopes whose ops read it]}``),
      ``forward_ops`` and ``backward_ops`` (``{step scope: number of ops}``, the
      latter under ``gradients/rnn/t{k}``) and ``state`` (``'h'`` or ``'(c, h)'``).
    """
    with new_graph(seed=0) as g:
        inputs = tf1.placeholder(tf.float32, [None, steps, features], name="inputs")
        targets = tf1.placeholder(tf.float32, [None, steps, units], name="targets")
        cell = CELLS[kind](units)
        outputs, _ = unroll(cell, inputs, mode="static", scope="rnn")   # [batch, T, units]
        loss = tf.reduce_mean(tf.square(outputs - targets), name="loss")
        variables = tf1.trainable_variables()
        tf.gradients(loss, variables)
        ops = g.get_operations()
    forward, backward = {}, {}
    for op in ops:
        for pattern, counts in ((_STEP, forward), (_GRAD_STEP, backward)):
            m = pattern.match(op.name)
            if m:
                counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
    scope = "rnn/t{}".format
    readers = {}
    for v in variables:
        found = {int(m.group(1)) for c in v.op.outputs[0].consumers() if (m := _STEP.match(c.name))}
        readers[v.op.name] = [scope(t) for t in sorted(found)]
    return {
        "kind": kind,
        "steps": [scope(t) for t in sorted(forward)],
        "variables": [(v.op.name, tuple(int(d) for d in v.shape)) for v in variables],
        "readers": readers,
        "forward_ops": {scope(t): n for t, n in sorted(forward.items())},
        "backward_ops": {scope(t): n for t, n in sorted(backward.items())},
        "state": "(c, h)" if isinstance(cell.state_size, tuple) else "h",
    }


def _arrow(ax, start, end, color="0.15", style="-", lw=1.6):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(
        arrowstyle="-|>", color=color, lw=lw, linestyle=style, shrinkA=0, shrinkB=0,
        mutation_scale=13))


def _unrolled_annotation(info):
    """The text under the figure: the shared variables and the backward ops, from the graph."""
    first, last = info["steps"][0], info["steps"][-1]
    lines = [f"shared variables (created once, read by the ops of {first} ... {last}):"]
    for name, shape in info["variables"]:
        lines.append(f"    {name} {list(shape)}: read in "
                     + ", ".join(s.rsplit("/", 1)[-1] for s in info["readers"][name]))
    grads = info["backward_ops"]
    lines.append(f"BPTT: tf.gradients added {sum(grads.values())} ops under gradients/{last} ... "
                 f"gradients/{first}; a weight's gradient sums its {len(grads)} steps' shares")
    return "\n".join(lines)


@register("rnn_unrolled_graph", "an RNN unrolled over its time steps (unroll mode='static'): "
          "step scopes, shared variables and BPTT read from the built graph", figsize=(13.0, 6.5))
def unrolled_graph_figure(steps=4, kind="rnn"):
    """The unrolled graph: inputs below, one cell per step, the state carried right,
    outputs up to the loss, and the backward (BPTT) arrows in red.

    Args:
      steps: time steps to unroll; kind: ``rnn``, ``lstm`` or ``gru``.

    Returns:
      the Figure.
    """
    info = unrolled_graph_summary(steps, kind)
    scopes, state = info["steps"], info["state"]
    fig, ax = plt.subplots()
    xs = [1.9 + 2.6 * k for k in range(len(scopes))]
    w, h, y = 1.5, 1.25, 2.6
    for k, (x, scope) in enumerate(zip(xs, scopes)):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                    fc="#dae3f3", ec="0.2", zorder=3))
        read = [name.rsplit("/", 1)[-1] for name, s in info["readers"].items() if scope in s]
        ax.text(x, y + 0.38, scope, ha="center", va="center", fontsize=10, weight="bold", zorder=4)
        ax.text(x, y - 0.12, "\n".join(read), ha="center", va="center", fontsize=7.5, zorder=4)
        ax.text(x, 0.55, f"$x_{{{k + 1}}}$", ha="center", va="top", fontsize=13)
        _arrow(ax, (x, 0.6), (x, y - h / 2))
        _arrow(ax, (x + 0.2, y + h / 2), (x + 0.2, 4.75))                       # output up
        ax.text(x + 0.3, 4.0, f"$h_{{{k + 1}}}$", fontsize=11, va="center")
        _arrow(ax, (x - 0.25, 4.75), (x - 0.25, y + h / 2), "tab:red", "--")      # dL/dh_t down
        start = (x - 2.6 + w / 2) if k else 0.0
        _arrow(ax, (start, y + 0.3), (x - w / 2, y + 0.3))                        # state in
        if k:
            _arrow(ax, (x - w / 2, y - 0.3), (start, y - 0.3), "tab:red", "--")   # BPTT
    ax.text(0.0, y + 0.45, f"{state}$_0$ = zero_state", fontsize=8.5, va="bottom")
    _arrow(ax, (xs[-1] + w / 2, y + 0.3), (xs[-1] + w / 2 + 1.1, y + 0.3))
    ax.text(xs[-1] + w / 2 + 0.15, y + 0.45, "final_state", fontsize=8.5, va="bottom")
    ax.add_patch(FancyBboxPatch((xs[0] - w / 2, 4.75), xs[-1] - xs[0] + w, 0.6,
                                boxstyle="round,pad=0.03", fc="#fbe5d6", ec="0.2", zorder=3))
    ax.text((xs[0] + xs[-1]) / 2, 5.05, r"loss $L$ = mean over t of $(h_t - \mathrm{target}_t)^2$",
            ha="center", va="center", fontsize=10, zorder=4)
    ax.text(xs[0] - w / 2, -0.35, _unrolled_annotation(info), va="top", fontsize=8.5,
            family="DejaVu Sans Mono")
    ax.plot([], [], "--", color="tab:red", label=f"backward (BPTT): dL/d{state} flows right to left")
    ax.plot([], [], color="0.15", label=f"forward: the state {state} is carried right")
    ax.legend(loc="lower right", fontsize=8.5, frameon=False)
    ax.set_xlim(-0.2, xs[-1] + w / 2 + 1.4)
    ax.set_ylim(-0.8 - 0.3 * len(info["variables"]), 5.5)
    ax.axis("off")
    ax.set_title(f"A {CELL_TITLES[kind]} unrolled over {len(scopes)} steps "
                 f"(unroll mode='static'): {len(scopes)} copies of one cell, one set of variables")
    return fig


# ----------------------------------------------------------------------------- gate activations

GATES = ("i", "f", "g", "o", "c", "h")
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g",
              "o": "output gate o", "c": "cell state c", "h": "output h"}


def _digit_rows():
    """The 8x8 digits as sequences: 8 time steps (rows) of 8 features in [0, 1].

    Returns:
      ``(train_x [N, 8, 8], train_y, test_x [M, 8, 8], test_y)`` on the library's fixed split.
    """
    from tfgraph_lessons.data import load

    ds = load("digits")
    as_rows = lambda images: images[..., 0].astype(np.float32) / 255.0   # noqa: E731  [N, rows, cols]
    return as_rows(ds.train_images), ds.train_labels, as_rows(ds.test_images), ds.test_labels


def _digit_lstm(units, steps, features, learning_rate, num_classes=10):
    """The classifier graph: an LSTM over the rows, a linear layer on the last ``h``,
    Adam; and, sharing the cell's variables, ``gate_values`` step by step for one sequence.

    Returns:
      dict of ``inputs`` ``[batch, steps, features]``, ``labels``, ``logits``, ``train_op``,
      ``correct`` ``[batch]`` bool, ``gates`` (one dict per step, for ``inputs[0]``),
      ``weights`` (the cell's variables by short name) and ``cell``.
    """
    x = tf1.placeholder(tf.float32, [None, steps, features], name="inputs")
    y = tf1.placeholder(tf.int64, [None], name="labels")
    cell = LSTMCell(units, name="lstm")
    _, (_, h_last) = unroll(cell, x)                                        # [batch, units]
    logits = tf.matmul(h_last, tf1.get_variable("softmax/weights", [units, num_classes])) \
        + tf1.get_variable("softmax/biases", [num_classes], initializer=tf1.zeros_initializer())
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    state, gates = cell.zero_state(1), []
    with tf.name_scope("gates"):
        for t in range(steps):                                              # a static loop: one sequence
            values = cell.gate_values(x[:1, t], state)
            state = (values["c"], values["h"])
            gates.append(values)
    with tf1.variable_scope("lstm", reuse=True):
        weights = {n: tf1.get_variable(n) for n in ("kernel", "recurrent_kernel", "bias")}
    return {"inputs": x, "labels": y, "logits": logits, "cell": cell, "gates": gates,
            "train_op": tf1.train.AdamOptimizer(learning_rate).minimize(loss),
            "correct": tf.equal(tf.argmax(logits, 1), y), "weights": weights}


def gate_activations(index=None, units=16, train_steps=300, batch_size=64, learning_rate=0.02, seed=0):
    """Train an LSTM briefly on the 8x8 digits (read row by row), then record every
    gate of ``LSTMCell.gate_values`` over one held-out test digit.

    Training: Adam on the softmax cross-entropy of a linear layer on the last
    ``h``, ``train_steps`` batches of the training split only; seeded and
    single-threaded, so the numbers repeat exactly. The defaults take about a
    second of CPU and reach 92-96% on the 359 test digits for seeds 0-4.

    Args:
      index: which test digit to show; None: the first one the trained network
        classifies right (a wrong one would show a network that never settled).
      units: LSTM units; train_steps, batch_size, learning_rate, seed: the training.

    Returns:
      dict with ``gates`` (``{'i','f','g','o','c','h'}: [T, units]`` for the digit),
      ``index``, ``sequence`` ``[T, features]`` (the digit's rows), ``label``, ``prediction``,
      ``test_accuracy`` (over the whole test split), ``weights`` (the trained
      ``kernel``, ``recurrent_kernel``, ``bias`` by short name), ``forget_bias``,
      ``units``, ``train_steps`` and ``num_test``.
    """
    train_x, train_y, test_x, test_y = _digit_rows()
    if index is not None and not 0 <= int(index) < len(test_y):
        raise UsageError(f"index={index} is not one of the {len(test_y)} test digits; "
                         f"pass 0..{len(test_y) - 1}, or None for the first one classified right")
    with new_graph(seed=seed) as g:
        net = _digit_lstm(units, *train_x.shape[1:], learning_rate)
        x, y = net["inputs"], net["labels"]
        with one_thread_session(g) as sess:
            sess.run(tf1.global_variables_initializer())
            order = np.random.RandomState(seed)
            for _ in range(train_steps):
                batch = order.randint(0, len(train_x), batch_size)
                sess.run(net["train_op"], {x: train_x[batch], y: train_y[batch]})
            right = sess.run(net["correct"], {x: test_x, y: test_y})
            index = int(np.argmax(right)) if index is None else int(index)
            per_step, logit, w = sess.run([net["gates"], net["logits"], net["weights"]],
                                          {x: test_x[index:index + 1]})
    return {
        "gates": {k: np.concatenate([v[k] for v in per_step]) for k in GATES},   # [T, units]
        "index": index, "sequence": test_x[index], "label": int(test_y[index]),
        "prediction": int(np.argmax(logit[0])), "test_accuracy": float(right.mean()),
        "weights": w, "forget_bias": net["cell"].forget_bias, "units": units,
        "train_steps": train_steps, "num_test": len(test_y),
    }


@register("rnn_gate_activations", "LSTM gates i, f, g, o and states c, h (units x time) over one "
          "held-out 8x8 digit read row by row, after a few seconds of training", figsize=(13.0, 6.0))
def gate_activations_figure(index=None):
    """Heat maps of every gate and state over time beside the input digit.

    Args:
      index: which test digit to show (see :func:`gate_activations`).

    Returns:
      the Figure.
    """
    ex = gate_activations(index)
    seq, gates = ex["sequence"], ex["gates"]
    fig = plt.figure()
    grid = fig.add_gridspec(2, 4, width_ratios=[1, 1.3, 1.3, 1.3])
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(seq.T, cmap="gray_r", vmin=0, vmax=1)                        # [features, time]
    ax.set(xlabel="time step t (image row)", ylabel="feature (pixel in the row)",
           title=f"input: test digit #{ex['index']}\nlabel {ex['label']}, predicted {ex['prediction']}")
    # one colour scale per row: the sigmoid gates in [0, 1]; g and h in [-1, 1]; c unbounded
    for row, names in enumerate((("i", "f", "o"), ("g", "h"), ("c",))):
        axes = [fig.add_subplot(grid[min(row, 1), 1 + k + (2 if row == 2 else 0)])
                for k in range(len(names))]
        lim = max(float(np.abs(gates["c"]).max()), 1e-6) if row == 2 else 1.0
        for ax, name in zip(axes, names):
            im = ax.imshow(gates[name].T, aspect="auto", vmax=lim,              # [units, time]
                           cmap=CMAPS["activation"] if row == 0 else CMAPS["signed"], vmin=0 if row == 0 else -lim)
            ax.set_title(GATE_NAMES[name], fontsize=11)
            ax.set(xlabel="time step t" if row else None,
                   ylabel="unit" if ax is axes[0] and row < 2 else None)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(im, ax=axes, fraction=0.05 / len(axes))
    fig.suptitle(f"LSTM({ex['units']}) gates over one digit, trained {ex['train_steps']} steps on "
                 f"the digits' training split: {100 * ex['test_accuracy']:.1f}% of "
                 f"{ex['num_test']} test digits right")
    return fig


# ----------------------------------------------------------------------------- vanishing gradients

GRADIENT_CELLS = (("vanilla RNN", "rnn", {}), ("LSTM, forget_bias 1.0", "lstm", {"forget_bias": 1.0}),
                  ("LSTM, forget_bias 3.0", "lstm", {"forget_bias": 3.0}))


def gradient_norms(steps=50, units=32, features=8, batch=16, seed=0, cells=GRADIENT_CELLS):
    """How much the last state still feels each input: ``||d sum(h_T) / d x_t||`` per step t.

    Each cell keeps its initial (random) weights; the inputs are N(0, 1) noise,
    the same for every cell. ``tf.gradients`` of ``sum(h_T)`` with respect to the
    whole input sequence gives ``[batch, T, features]``; its norm over the
    features, averaged over the batch, is one number per step.

    Returns:
      dict ``{label: float64 [steps]}`` in the order of ``cells``.
    """
    xs = np.random.RandomState(seed).standard_normal([batch, steps, features]).astype(np.float32)
    with new_graph(seed=seed) as g:                         # one graph: the cells side by side
        x = tf1.placeholder(tf.float32, [batch, steps, features], name="inputs")
        norms = {}
        for k, (label, kind, options) in enumerate(cells):
            cell = CELLS[kind](units, name=f"{kind}_{k}", **options)
            outputs, _ = unroll(cell, x, scope=f"unroll_{k}")                # [batch, T, units]
            (dx,) = tf.gradients(tf.reduce_sum(outputs[:, -1]), x)           # [batch, T, features]
            norms[label] = tf.reduce_mean(tf.norm(dx, axis=2), axis=0)       # [T]
        with one_thread_session(g) as sess:
            sess.run(tf1.global_variables_initializer())
            norms = {k: v.astype(np.float64) for k, v in sess.run(norms, {x: xs}).items()}
    return norms


@register("vanishing_gradients", "||d sum(h_T) / d x_t|| over t (tf.gradients): a vanilla RNN "
          "against LSTMs, at their initial weights", figsize=(8.0, 4.5))
def vanishing_gradients_figure():
    """The gradient reaching each input from the last step, on a log scale. Returns: the Figure."""
    norms = gradient_norms()
    fig, ax = plt.subplots()
    for label, values in norms.items():
        ratio = values[0] / values[-1]
        ax.semilogy(np.arange(len(values)), values, marker=".", label=f"{label}: first / last = {ratio:.1e}")
    steps = len(next(iter(norms.values())))
    ax.set(xlabel=f"time step t of the input (h_T is step {steps - 1})",
           ylabel=r"$\|\partial\, \mathrm{sum}(h_T) / \partial x_t\|$ (batch mean)",
           title="Vanishing gradients: what the last state still feels of early inputs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    return fig


# ----------------------------------------------------------------------------- loss curves

def _histories(metrics, path):
    """``{arm: history}`` from one metrics.json: ``history`` is a list, or ``{arm: list}``."""
    history = metrics.get("history") if isinstance(metrics, dict) else None
    if history is None:
        return {}                                            # e.g. an evaluation without training
    found = history if isinstance(history, dict) else {"": history}
    out = {}
    for arm, entries in found.items():
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DataError(f"{path}: 'history' must be a list of per-evaluation entries; "
                            "delete that run folder or run the lesson again")
        if any(e.get(k) is not None for e in entries for k in LOSS_KEYS):
            out[arm] = entries
    return out


def loss_histories(root=None):
    """Read the chapter's runs: the finished runs of :data:`LOSS_LESSONS`.

    Args:
      root: a folder holding ``<lesson>/<run>/``; None asks
        :func:`~tfgraph_lessons.figures.runs.find_runs` (``--run``, or ``runs/``).

    Returns:
      ``{lesson: {run name: history}}`` with only the lessons and runs that have a
      loss in their history (a run still going has no metrics.json yet).

    Raises:
      DataError: a metrics.json that is not JSON, or whose history is not a list.
    """
    found = {}
    for lesson in LOSS_LESSONS:
        lesson_runs = runs.find_runs(lesson, None if root is None else Path(root) / lesson)
        for run in lesson_runs:
            # the run's folder, and what it was when that is not the lesson's full run
            notes = [run.metrics.get("dataset") if run.metrics.get("dataset") == "digits" else None,
                     "fast mode" if run.metrics.get("fast") else None]
            note = ", ".join(filter(None, notes))
            name = run.path.name + (f" ({note})" if note else "")
            for arm, history in _histories(run.metrics, run.path / "metrics.json").items():
                found.setdefault(lesson, {})["/".join(filter(None, (name, arm)))] = history
    return found


def _plot_runs(ax, histories):
    styles = {"train_running_loss": "-", "train_eval_loss": "-.", "val_loss": "--", "test_loss": ":"}
    for color, (run, history) in zip(plt.cm.tab10.colors, histories.items()):
        x_key = "epoch" if all(e.get("epoch") is not None for e in history) else "step"
        for key, style in styles.items():
            points = [(e[x_key], e[key]) for e in history
                      if e.get(key) is not None and e.get(x_key) is not None]
            if points:
                ax.plot(*zip(*points), style, color=color, marker=".", label=f"{run}: {LOSS_KEYS[key]}")
        ax.set_xlabel(x_key)


@register("rnn_loss_curves", "loss curves of the chapter's runs (runs/rnn_mnist, runs/char_rnn "
          "metrics.json; skipped until a run exists)", figsize=(12.0, 4.5))
def loss_curves_figure(root=None):
    """One panel per lesson with runs: each run's training, validation and test loss.

    Args:
      root: a folder of runs; None means the ``--run`` folders, or ``$TFGRAPH_RUNS`` or ``runs``.

    Returns:
      the Figure.

    Raises:
      FigureUnavailable: no run of the chapter has a metrics.json yet.
    """
    found = loss_histories(root)
    if not found:
        wanted = " or ".join(str(Path(root) / lesson) if root is not None else runs.searched(lesson)
                             for lesson in LOSS_LESSONS)
        commands = " or ".join(cmd for *_, cmd in LOSS_LESSONS.values())
        raise FigureUnavailable(f"no finished run in {wanted}; run {commands} first, or pass "
                                "a run folder with --run DIR, or add --train-missing to train "
                                "a small rnn_mnist run in fast mode")
    fig, axes = plt.subplots(1, len(found), squeeze=False)
    for ax, (lesson, histories) in zip(axes[0], found.items()):
        _plot_runs(ax, histories)
        ax.set(title=LOSS_LESSONS[lesson][0], ylabel=LOSS_LESSONS[lesson][1])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, handlelength=3.5)
    fig.suptitle("RNN chapter: loss per evaluation, read from each run's metrics.json")
    return fig
