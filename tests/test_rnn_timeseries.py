"""The time-series lesson: its series from the data layer, the chronological split and
standardisation, windows and targets, the baseline, BPTT gradients, a fast run,
a training that beats the baseline, --resume, and bad input."""
import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import rnn_timeseries as ts
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.data import series

# tiny and quick: what the run tests train (the full lesson's sizes are in the module)
TINY = dict(length=600, window=12, units=8, initial_gradient_cells=("rnn",))


def run_cli(argv, capsys):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    return run_lesson(ts.main, argv, capsys)



def resolved(**kwargs):
    return ts.resolve_config(ts.TimeSeriesConfig(**kwargs))


# --------------------------------------------------------------------------- the series


def test_the_lesson_draws_the_configured_series_from_the_data_layer():
    """The generators themselves are tested in test_series.py; here, the config reaches them."""
    np.testing.assert_array_equal(ts.make_series(resolved(seed=3)),
                                  series.make_series("sines", 4000, 0.1, seed=3))
    np.testing.assert_array_equal(ts.make_series(resolved(noise=0.0, length=100, seed=2)),
                                  series.sines(100, 0.0, np.random.default_rng(0)))
    mackey_glass = ts.make_series(resolved(series="mackey_glass", fast=True))
    np.testing.assert_array_equal(mackey_glass, series.mackey_glass(
        ts.FAST_LENGTH, 0.0, np.random.default_rng(0)))
    assert len(ts.make_series(resolved(series="goog"))) == ts.GOOG_DAYS == series.GOOG_DAYS
    assert ts.SERIES is series.SERIES  # the formula metrics.json records


# --------------------------------------------------------------------------- split and windows


def test_split_is_chronological_and_standardisation_uses_training_statistics_only():
    x = np.arange(100.0)
    train, val, test, bounds = ts.chronological_split(x, 0.15, 0.15)
    assert bounds == (70, 85)
    np.testing.assert_array_equal(train, x[:70])
    np.testing.assert_array_equal(val, x[70:85])
    np.testing.assert_array_equal(test, x[85:])
    (s_train, s_val, s_test), mean, std = ts.standardize([train, val, test * 1000], train)
    assert mean == pytest.approx(x[:70].mean()) and std == pytest.approx(x[:70].std())
    assert s_train.mean() == pytest.approx(0, abs=1e-12) and s_train.std() == pytest.approx(1)
    np.testing.assert_allclose(s_test, (test * 1000 - x[:70].mean()) / x[:70].std())


def test_windows_and_targets_line_up():
    x = np.arange(20.0)
    windows, targets = ts.make_windows(x, window=4, horizon=2)
    assert windows.shape == (15, 4, 1) and targets.shape == (15, 2)
    for i in range(15):
        np.testing.assert_array_equal(windows[i, :, 0], x[i:i + 4])
        np.testing.assert_array_equal(targets[i], x[i + 4:i + 6])  # the values after the window
    np.testing.assert_array_equal(ts.last_value_baseline(windows, 2), np.stack([x[3:18]] * 2, 1))


def test_no_test_window_overlaps_a_training_target(monkeypatch):
    monkeypatch.setattr(ts, "make_series", lambda config: np.arange(1000.0))
    data = ts.prepare_data(resolved(window=10, horizon=3, length=1000))
    val_start, test_start = data["boundaries"]

    def positions(split):  # undo the standardisation: each value is its own position
        windows, targets = data[split]
        return (np.rint(windows * data["std"] + data["mean"]),
                np.rint(targets * data["std"] + data["mean"]))

    train_in, train_out = positions("train")
    test_in, test_out = positions("test")
    assert train_out.max() < val_start <= test_start <= test_in.min()
    assert data["mean"] == pytest.approx(np.arange(val_start).mean())
    np.testing.assert_array_equal(test_out[:, 0], data["test_target_index"])


# --------------------------------------------------------------------------- graph


def test_static_unroll_draws_one_cell_per_step_and_rank_2_batches_are_refused():
    from tfgraph_lessons.core.graph import new_graph, tf1

    config = resolved(window=5, units=4, unroll="static")
    with new_graph(seed=0) as g:
        model = ts.build_graph(config)
        names = {op.name for op in g.get_operations()}
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            with pytest.raises(ValueError, match=r"Cannot feed value of shape \(3, 5\)"):
                sess.run(model["predictions"], {model["images"]: np.zeros((3, 5))})
            with pytest.raises(UsageError, match=r"windows must be \[batch, 5, 1\].*"
                                                 r"windows\[\.\.\., None\]"):
                ts.forecast(sess, model, np.zeros((3, 5)))
    assert all(any(n.startswith(f"rnn/t{k}/") for n in names) for k in range(5))
    assert not any(n.startswith("rnn/t5/") for n in names)
    assert not any("while" in n for n in names)


def test_input_gradients_are_each_windows_own_derivative():
    """``|d loss_i / d x_t|`` against central finite differences of one window's loss."""
    from tfgraph_lessons.core.graph import new_graph, tf1

    config = resolved(window=6, units=4, horizon=2)
    rng = np.random.default_rng(0)
    windows = rng.standard_normal((3, 6, 1)).astype(np.float32)
    targets = rng.standard_normal((3, 2)).astype(np.float32)
    with new_graph(seed=0) as g:
        model = ts.build_graph(config)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            got = ts.gradient_norm_per_step(sess, model, windows, targets)

            def loss_of(i, w):
                p = ts.forecast(sess, model, w[None])[0].astype(np.float64)
                return np.mean((p - targets[i]) ** 2)

            numeric = np.zeros(6)
            for i in range(3):
                for t in range(6):
                    up, down = windows[i].copy(), windows[i].copy()
                    up[t, 0] += 1e-2
                    down[t, 0] -= 1e-2
                    numeric[t] += abs(loss_of(i, up) - loss_of(i, down)) / 2e-2 / 3
    np.testing.assert_allclose(got, numeric, rtol=2e-2, atol=1e-5)


# --------------------------------------------------------------------------- runs


FAST_ARGS = ["--fast", "--window", "12", "--units", "8"]


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """One fast run from the command line, shared by the tests that read it: (OUT, stdout)."""
    out = tmp_path_factory.mktemp("fast") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ts.main(FAST_ARGS + ["--out", str(out)])  # a failure exits, failing the tests
    return out, printed.getvalue()


def test_fast_run_writes_metrics_and_figures_and_the_baseline_is_numpys(fast_run):
    out, printed = fast_run
    assert printed.splitlines()[0].startswith("fast mode (--fast): 1,500 values of sines")
    m = json.loads((out / "metrics.json").read_text())
    for key in ("test_mse", "baseline_mse", "mse_ratio", "val_mse", "sequences_per_second",
                "wall_seconds", "device", "steps", "epochs", "history", "config",
                "gradient_norm_per_step", "gradient_norm_per_step_initial", "series_formula"):
        assert key in m, key
    assert m["epochs"] == ts.FAST_EPOCHS and m["fast"] is True and m["sequences_per_second"] > 0
    # the baseline, from the raw series with NumPy alone: the last test value before each target
    x = ts.make_series(resolved(fast=True))
    test = x[m["split_boundaries"][1]:]
    assert len(x) == 1500 and len(test) == 225 and m["test_windows"] == 225 - 12
    assert m["baseline_mse"] == pytest.approx(np.mean((test[12:] - test[11:-1]) ** 2), rel=1e-5)
    # the test MSE from NumPy forecasts agrees with the graph's loss, in the series' units
    assert m["test_mse"] == pytest.approx(m["history"][-1]["test_mse"], rel=1e-4)
    assert m["test_mse"] == pytest.approx(m["history"][-1]["test_loss"]
                                          * m["normalisation"]["std"] ** 2, rel=1e-4)
    assert len(m["gradient_norm_per_step"]) == 12
    assert set(m["gradient_norm_per_step_initial"]) == {"rnn", "lstm", "gru"}
    assert {p.name for p in (out / "figures").glob("*.png")} == {
        "predictions.png", "learning_curves.png", "bptt.png"}
    assert list((out / "logs" / "train").glob("events.*"))
    assert "test MSE" in printed and "last-value baseline" in printed


def test_a_short_training_beats_the_last_value_baseline(tmp_path):
    # measured over seeds 0-6: ratio 0.23-0.34 (about 5 s of CPU)
    m = ts.run(ts.TimeSeriesConfig(length=1500, window=24, units=16, steps=200, lr=0.01,
                                   seed=1, initial_gradient_cells=(), out=str(tmp_path)))
    assert m["baseline_mse"] > 0.04           # two sines + noise: the last value lags
    assert m["mse_ratio"] < 0.5, (m["test_mse"], m["baseline_mse"])
    assert m["val_mse"] < m["val_baseline_mse"]


def test_resume_continues_the_run_and_refuses_another_window(fast_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(fast_run[0], out)  # a moved run folder resumes from its own files
    first = json.loads((out / "metrics.json").read_text())
    more = str(ts.FAST_EPOCHS + 1)
    status, _, err = run_cli(FAST_ARGS + ["--epochs", more, "--resume", "--out", str(out)],
                             capsys)
    assert status == 0 and "resumed from" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == first["steps"] // ts.FAST_EPOCHS * (ts.FAST_EPOCHS + 1)
    assert [h["epoch"] for h in m["history"]] == list(range(1, ts.FAST_EPOCHS + 2))
    assert m["history"][:-1] == first["history"]  # the first run's evaluations, kept
    status, _, err = run_cli(["--fast", "--window", "10", "--units", "8", "--epochs", more,
                              "--resume", "--out", str(out)], capsys)
    assert status == 2 and "made with --window 12, this one has 10" in error_line(err)


@pytest.mark.parametrize("argv,needle", [
    (["--window", "0"], "--window: must be > 0"),
    (["--horizon", "-1"], "--horizon: must be >= 0"),
    (["--horizon", "0"], "--horizon: must be > 0"),
    (["--cell", "transformer"], "unknown --cell 'transformer'; use rnn, lstm, gru"),
    (["--series", "sunspots"], "unknown --series 'sunspots'; use sines, mackey_glass, goog"),
    (["--unroll", "dynamic"], "unknown --unroll 'dynamic'"),
    (["--unroll", "static", "--window", "101"], "--window 101 is past its cap of 100"),
    (["--noise", "-0.5"], "--noise must be >= 0"),
    (["--series", "goog", "--length", "500"], "drop --length and --noise"),
    (["--window", "300", "--length", "1000"], "holds no window of --window 300"),
    (["--clip-norm", "0"], "--clip-norm must be > 0"),
    (["--lr", "-1"], "--lr must be > 0"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(argv + ["--out", str(tmp_path / "out")], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "out").exists()


def test_the_api_checks_what_the_command_line_checks():
    with pytest.raises(UsageError, match="--window must be > 0, got 0"):
        resolved(window=0)
    with pytest.raises(UsageError, match="--horizon must be > 0, got -2"):
        resolved(horizon=-2)
    with pytest.raises(UsageError, match=r"holds no window of --window 10 plus --horizon 5"):
        ts.make_windows(np.arange(14.0), 10, 5)
