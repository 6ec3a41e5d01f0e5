"""The RNN chapter's figures: labels read from the library and the graph, numbers
checked against a direct Session run and NumPy, byte-identical reruns.

Every figure is rendered twice through the registry (the gate figure trains an
LSTM for a few seconds each time); the other checks use small sizes.
"""
import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # this process draws; no display needed

from tfgraph_lessons import figures  # noqa: E402
from tfgraph_lessons.core.errors import DataError, UsageError  # noqa: E402
from tfgraph_lessons.core.graph import new_graph, tf, tf1  # noqa: E402
from tfgraph_lessons.figures import FigureUnavailable  # noqa: E402
from tfgraph_lessons.figures import rnn as rnn_figures  # noqa: E402
from tfgraph_lessons.figures import rnn_cells  # noqa: E402
from tfgraph_lessons.rnn import CELLS, LSTMCell, unroll  # noqa: E402

RNN_FIGURES = ["rnn_cell_lstm", "rnn_cell_gru", "rnn_cell_vanilla", "rnn_unrolled_graph",
               "rnn_gate_activations", "vanishing_gradients", "rnn_loss_curves"]


def texts(fig):
    """Every string drawn on ``fig`` (titles, labels, annotations, legend entries)."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def write_metrics(folder, history):
    """A run folder of the lesson it sits under (``<root>/<lesson>/<run>``), as the lessons write it."""
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"lesson": folder.parent.name,
                                                     "history": history, "test_loss": 0.1}))


def fake_runs(root):
    """A runs folder with one rnn_mnist run and one char_rnn run (their metrics.json only)."""
    write_metrics(root / "rnn_mnist" / "lstm_fast", [
        {"epoch": e, "step": 50 * e, "train_running_loss": 1.0 / e, "val_loss": 1.2 / e,
         "test_loss": 1.3 / e} for e in (1, 2, 3)])
    write_metrics(root / "char_rnn" / "shakespeare", [
        {"epoch": 0.5 * e, "step": 100 * e, "train_running_loss": 3.0 - e * 0.4,
         "val_loss": 3.1 - e * 0.4} for e in (1, 2)])
    return root


# ----------------------------------------------------------------------------- rendering, twice

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every RNN figure rendered through the registry: (folder, the gate helper's result).

    The gate helper is wrapped to keep what the figure drew from.
    """
    runs = fake_runs(tmp_path_factory.mktemp("runs"))
    out = tmp_path_factory.mktemp("rnn_figures_a")
    seen = []
    real = rnn_figures.gate_activations
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(rnn_figures.RUNS_ENV, str(runs))
        mp.setattr(rnn_figures, "gate_activations", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
        paths = figures.render(RNN_FIGURES, out, progress=False)
    return out, paths, seen[0], runs


def test_registry_renders_every_rnn_figure(rendered):
    out, paths, _, _ = rendered
    assert "tfgraph_lessons.figures.rnn" in figures.MODULES
    assert paths == [out / f"{name}.png" for name in RNN_FIGURES]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# the figures whose numbers come from training or random weights, and one schematic;
# tests/test_figures.py compares every registered figure across two processes
RERUN = ["rnn_gate_activations", "vanishing_gradients", "rnn_loss_curves", "rnn_cell_lstm"]


def test_rerun_writes_identical_bytes(rendered, tmp_path, monkeypatch):
    out_a, _, _, runs = rendered
    monkeypatch.setenv(rnn_figures.RUNS_ENV, str(runs))
    for path in figures.render(RERUN, tmp_path, progress=False):
        assert path.read_bytes() == (out_a / path.name).read_bytes(), f"{path.name} differs between renders"


# ----------------------------------------------------------------------------- the cell schematics

def test_cell_equations_are_the_docstrings_lines():
    lstm = rnn_cells.cell_equations("lstm")
    assert lstm[0].startswith("i = sigmoid(W_i x + U_i h") and "c' = f * c + i * g" in lstm[3]
    assert lstm[-1] == "h' = o * tanh(c')" and len(lstm) == 6
    doc_lines = [line.strip() for line in LSTMCell.__doc__.splitlines()]
    assert all(line.strip() in doc_lines for line in lstm)
    assert rnn_cells.cell_equations("gru")[-1] == "h' = z * h + (1 - z) * h~"
    assert rnn_cells.cell_equations("rnn") == ["h_t = tanh(W x_t + U h_{t-1} + b)"]


@pytest.mark.parametrize("kind, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_cell_variables_are_the_graph_variables(kind, gates):
    with new_graph():
        cell = CELLS[kind](5)
        cell(tf1.placeholder(tf.float32, [None, 3]), cell.zero_state(1))
        built = {v.op.name.rsplit("/", 1)[-1]: tuple(v.shape.as_list()) for v in tf1.trainable_variables()}
    got = rnn_cells.cell_variables(kind, input_size=3, units=5)
    assert {name: shape for name, (shape, _) in got.items()} == built
    g = "" if gates == 1 else f"{gates}*"
    assert {name: words for name, (_, words) in got.items()} == {
        "kernel": f"[input_size, {g}units]", "recurrent_kernel": f"[units, {g}units]", "bias": f"[{g}units]"}


@pytest.mark.parametrize("name, kind", [("rnn_cell_lstm", "lstm"), ("rnn_cell_gru", "gru"),
                                        ("rnn_cell_vanilla", "rnn")])
def test_cell_figures_draw_the_code_labels(name, kind, closing, monkeypatch):
    fig = figures.make(name)
    closing(fig)
    drawn = "\n".join(texts(fig))
    for line in rnn_cells.cell_equations(kind):
        assert line in drawn
    for var, (_, words) in rnn_cells.cell_variables(kind).items():
        assert f"{var:<17}{words}" in drawn
    if kind == "lstm":
        assert f"forget_bias = {LSTMCell(1).forget_bias!r}" in drawn
    # the equations follow the docstring: change it, the figure changes
    if kind == "lstm":
        monkeypatch.setattr(LSTMCell, "__doc__", "LSTM.\n\n    a = b::\n\n        c' = new(c)\n\nEnd.")
        fig = figures.make(name)
        closing(fig)
        assert "c' = new(c)" in "\n".join(texts(fig)) and "h' = o * tanh(c')" not in "\n".join(texts(fig))


# ----------------------------------------------------------------------------- the unrolled graph

@pytest.mark.parametrize("steps, kind", [(3, "rnn"), (5, "lstm")])
def test_unrolled_summary_reads_the_graph(steps, kind):
    info = rnn_figures.unrolled_graph_summary(steps, kind, units=4, features=2)
    scopes = [f"rnn/t{t}" for t in range(steps)]
    assert info["steps"] == scopes
    cell = CELLS[kind](4).name
    gates = CELLS[kind].gates
    assert info["variables"] == [(f"{cell}/kernel", (2, gates * 4)),
                                 (f"{cell}/recurrent_kernel", (4, gates * 4)),
                                 (f"{cell}/bias", (gates * 4,))]
    assert all(readers == scopes for readers in info["readers"].values())   # one set, every step
    assert list(info["backward_ops"]) == scopes and min(info["backward_ops"].values()) > 0
    assert info["state"] == ("(c, h)" if kind == "lstm" else "h")


def test_unrolled_figure_labels_come_from_the_graph(closing, monkeypatch):
    real, seen = rnn_figures.unrolled_graph_summary, []
    monkeypatch.setattr(rnn_figures, "unrolled_graph_summary",
                        lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    for steps in (3, 6):
        fig = rnn_figures.unrolled_graph_figure(steps=steps)
        closing(fig)
        drawn = texts(fig)
        assert sorted(t for t in drawn if t.startswith("rnn/t")) == sorted(f"rnn/t{k}" for k in range(steps))
        assert f"unrolled over {steps} steps" in fig.axes[0].get_title()
        assert len(seen[-1]["steps"]) == steps
        for name, shape in seen[-1]["variables"]:
            assert f"{name} {list(shape)}: read in t0, t1, t2" in "\n".join(drawn)
    # a graph with other names: the figure draws those names
    fake = {**seen[0], "steps": ["rnn/t0", "rnn/t1"], "variables": [("mine/w", (2, 3))],
            "readers": {"mine/w": ["rnn/t0", "rnn/t1"]}}
    monkeypatch.setattr(rnn_figures, "unrolled_graph_summary", lambda *a, **k: fake)
    fig = rnn_figures.unrolled_graph_figure(steps=2)
    closing(fig)
    drawn = "\n".join(texts(fig))
    assert "mine/w [2, 3]: read in t0, t1" in drawn and "kernel" not in drawn


# ----------------------------------------------------------------------------- gate activations

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_gate_activations_equal_a_direct_session_run():
    ex = rnn_figures.gate_activations(index=5, units=6, train_steps=15)
    seq, w, gates = ex["sequence"], ex["weights"], ex["gates"]
    steps = seq.shape[0]
    assert {k: v.shape for k, v in gates.items()} == {k: (steps, 6) for k in "ifgoch"}
    # the same weights in a fresh graph: the cell's own step, unrolled, gives the same c and h
    with new_graph() as g:
        x = tf1.placeholder(tf.float32, [1, steps, seq.shape[1]])
        cell = LSTMCell(6)
        outputs, (c_last, _) = unroll(cell, x, mode="static")
        with tf1.variable_scope(cell.name, reuse=True):
            assign = [tf1.get_variable(n).assign(v) for n, v in w.items()]
        with tf1.Session(graph=g) as sess:
            sess.run(assign)
            h_all, c_T = sess.run([outputs, c_last], {x: seq[None]})
    np.testing.assert_allclose(gates["h"], h_all[0], atol=1e-6)
    np.testing.assert_allclose(gates["c"][-1], c_T[0], atol=1e-6)
    # and each gate is the docstring's equation, in NumPy
    c = h = np.zeros(6)
    for t in range(steps):
        i, f, gg, o = np.split(seq[t] @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"], 4)
        i, f, gg, o = sigmoid(i), sigmoid(f + ex["forget_bias"]), np.tanh(gg), sigmoid(o)
        c = f * c + i * gg
        h = o * np.tanh(c)
        for name, value in zip("ifgoch", (i, f, gg, o, c, h)):
            np.testing.assert_allclose(gates[name][t], value, atol=1e-5, err_msg=f"{name} at t={t}")


def test_gate_figure_shows_a_trained_network_on_held_out_digits(rendered):
    _, _, ex, _ = rendered
    assert ex["num_test"] == 359                       # the digits' fixed test split, not training data
    assert ex["test_accuracy"] > 0.8                  # chance is 0.1
    assert ex["prediction"] == ex["label"]            # index=None: the first test digit it gets right


def test_gate_figure_labels_follow_the_helper(closing, monkeypatch):
    steps, units = 5, 3
    fake = {"gates": {k: np.full([steps, units], 0.5) for k in "ifgoch"}, "index": 7,
            "sequence": np.zeros([steps, 4]), "label": 4, "prediction": 9, "test_accuracy": 0.25,
            "units": units, "train_steps": 11, "num_test": 40}
    monkeypatch.setattr(rnn_figures, "gate_activations", lambda index=None: fake)
    fig = rnn_figures.gate_activations_figure()
    closing(fig)
    assert fig.axes[0].get_title() == "input: test digit #7\nlabel 4, predicted 9"
    assert fig.get_suptitle().startswith("LSTM(3) gates over one digit, trained 11 steps")
    assert fig.get_suptitle().endswith("25.0% of 40 test digits right")
    assert fig.axes[1].get_images()[0].get_array().shape == (units, steps)   # units x time


def test_gate_activations_rejects_a_bad_index():
    with pytest.raises(UsageError, match=r"index=359 is not one of the 359 test digits; pass 0\.\.358"):
        rnn_figures.gate_activations(index=359, train_steps=0)


# ----------------------------------------------------------------------------- vanishing gradients

def test_gradients_vanish_in_the_vanilla_rnn_not_the_open_lstm():
    norms = rnn_figures.gradient_norms(steps=20, units=8, batch=4)
    assert list(norms) == [label for label, _, _ in rnn_figures.GRADIENT_CELLS]
    ratio = {label: v[0] / v[-1] for label, v in norms.items()}
    assert all(v.shape == (20,) and np.all(np.isfinite(v)) and np.all(v > 0) for v in norms.values())
    vanilla, lstm1, lstm3 = ratio.values()
    assert vanilla < 1e-2 < lstm3          # 20 steps back the vanilla gradient is ~1e-4 of the last
    assert vanilla < lstm1 < lstm3         # a more open forget gate carries more of it back


def test_gradient_figure_legend_follows_the_numbers(closing, monkeypatch):
    fake = {"cell a": np.array([1e-3, 1e-2, 1.0]), "cell b": np.array([0.5, 1.0, 2.0])}
    monkeypatch.setattr(rnn_figures, "gradient_norms", lambda: fake)
    fig = rnn_figures.vanishing_gradients_figure()
    closing(fig)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["cell a: first / last = 1.0e-03", "cell b: first / last = 2.5e-01"]
    assert "h_T is step 2" in fig.axes[0].get_xlabel()


# ----------------------------------------------------------------------------- loss curves

def test_loss_curves_skip_with_the_command_when_no_run(tmp_path, monkeypatch):
    monkeypatch.setenv(rnn_figures.RUNS_ENV, str(tmp_path / "none"))
    with pytest.raises(FigureUnavailable, match=(r"no finished run in .*none/rnn_mnist or .*none/char_rnn; "
                                                  r"run python -m tfgraph_lessons\.rnn_mnist or python -m "
                                                  r"tfgraph_lessons\.char_rnn first, or pass a run folder with --run DIR")):
        figures.render(["rnn_loss_curves"], tmp_path / "out")
    assert not (tmp_path / "out" / "rnn_loss_curves.png").exists()
    # a run still going (no metrics.json yet) and a history without a loss do not count
    (tmp_path / "none" / "rnn_mnist" / "running").mkdir(parents=True)
    write_metrics(tmp_path / "none" / "char_rnn" / "other", [{"epoch": 1, "val_accuracy": 0.5}])
    (tmp_path / "none" / "char_rnn" / "eval_only").mkdir()
    (tmp_path / "none" / "char_rnn" / "eval_only" / "metrics.json").write_text('{"test_loss": 1.5}')
    with pytest.raises(FigureUnavailable):
        figures.make("rnn_loss_curves")


def test_loss_curves_draw_each_run_history(tmp_path, closing):
    runs = fake_runs(tmp_path)
    fig = rnn_figures.loss_curves_figure(runs)
    closing(fig)
    mnist, chars = fig.axes[:2]
    assert mnist.get_title().startswith("rnn_mnist") and chars.get_title().startswith("char_rnn")
    lines = {line.get_label(): line for line in mnist.get_lines()}
    np.testing.assert_allclose(lines["lstm_fast: validation"].get_ydata(), [1.2, 0.6, 0.4])
    np.testing.assert_allclose(lines["lstm_fast: test"].get_xdata(), [1, 2, 3])
    chars_lines = {line.get_label(): line for line in chars.get_lines()}
    assert set(chars_lines) == {"shakespeare: train (running mean over training batches)",
                                "shakespeare: validation"}
    np.testing.assert_allclose(chars_lines["shakespeare: validation"].get_xdata(), [0.5, 1.0])
    assert chars.get_ylabel() == "cross-entropy (nats per character)"


def test_loss_curves_name_a_broken_metrics_file(tmp_path):
    path = tmp_path / "char_rnn" / "broken" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"history": [')
    with pytest.raises(DataError, match=rf"{path}: not a JSON metrics file .*delete that run folder"):
        rnn_figures.loss_histories(tmp_path)
    path.write_text('{"lesson": "char_rnn", "history": 3}')
    with pytest.raises(DataError, match="'history' must be a list"):
        rnn_figures.loss_histories(tmp_path)
