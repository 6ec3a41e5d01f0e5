"""Figures drawn from a trained model: which run they read (--run, runs/, --train-missing),
and what the CNN chapter's run figures compute from it."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tfgraph_lessons import figures
from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.figures import cnn as cnn_figures
from tfgraph_lessons.figures import runs


def write_run(folder, lesson="cnn_cifar", **metrics):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps({"lesson": lesson, **metrics}))
    return folder


def test_runs_are_found_in_a_run_folder_or_two_levels_down(tmp_path):
    write_run(tmp_path / "cnn_cifar" / "a", steps=10)
    write_run(tmp_path / "cnn_cifar" / "exp" / "arm", steps=20)
    write_run(tmp_path / "rnn_mnist" / "b", lesson="rnn_mnist")
    (tmp_path / "cnn_cifar" / "running").mkdir()                  # no metrics.json: not finished
    assert [r.path.name for r in runs.runs_under(tmp_path / "cnn_cifar")] == ["a", "arm"]
    assert [r.path.name for r in runs.runs_under(tmp_path / "cnn_cifar" / "a")] == ["a"]
    with runs.given([tmp_path]):
        assert [r.path.name for r in runs.find_runs("cnn_cifar")] == ["a"]  # two levels only
        assert [r.lesson for r in runs.find_runs("rnn_mnist")] == ["rnn_mnist"]
    with runs.given([tmp_path / "cnn_cifar"]):
        assert [r.path.name for r in runs.find_runs("cnn_cifar")] == ["a", "arm"]
        assert runs.find_runs("rnn_mnist") == []


def test_without_run_the_runs_folder_is_read(tmp_path, monkeypatch):
    write_run(tmp_path / "cnn_cifar" / "x", steps=5)
    monkeypatch.setenv(runs.ROOT_ENV, str(tmp_path))
    assert [r.path for r in runs.find_runs("cnn_cifar")] == [tmp_path / "cnn_cifar" / "x"]
    with runs.given([tmp_path / "elsewhere"]):                     # --run replaces runs/
        assert runs.find_runs("cnn_cifar") == []
    assert len(runs.find_runs("cnn_cifar")) == 1                   # given() is undone on exit


def test_a_broken_metrics_file_is_a_clear_error(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.json").write_text("{not json")
    with pytest.raises(DataError, match=r"r/metrics.json: not a JSON metrics file .*delete that run"):
        runs.read_run(tmp_path / "r")


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: p, "no finished run in it"),
])
def test_bad_run_folder_is_one_line_and_exit_2(tmp_path, make, message):
    res = subprocess.run([sys.executable, "-m", "tfgraph_lessons.figures", "--run",
                          str(make(tmp_path)), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "--run" in lines[0]
    assert not (tmp_path / "out").exists()


def test_the_preferred_run_is_full_length_slide_cnn_on_cifar10(tmp_path):
    write_run(tmp_path / "fast", fast=True, model="slide_cnn", dataset="cifar10", steps=900)
    write_run(tmp_path / "resnet", fast=False, model="resnet20", dataset="cifar10", steps=900)
    write_run(tmp_path / "short", fast=False, model="slide_cnn", dataset="cifar10", steps=100)
    write_run(tmp_path / "long", fast=False, model="slide_cnn", dataset="cifar10", steps=5000)
    with runs.given([tmp_path]):
        assert cnn_figures.chosen_run().path.name == "long"
        with pytest.raises(figures.FigureUnavailable, match="with a snapshots.npz"):
            cnn_figures.chosen_run(snapshots=True)


def test_filter_changes_remove_the_shrunk_start_and_keep_what_was_learned():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 3, 3, 4))
    learned = np.zeros_like(w0)
    ramp = np.zeros((3, 3, 3))
    ramp[:, :, 0] = np.linspace(-1, 1, 9).reshape(3, 3)            # filter 1 learns a ramp,
    start = w0[..., 1]
    ramp -= (ramp * start).sum() / (start * start).sum() * start   # orthogonal to its start
    learned[..., 1] = ramp
    w = 0.7 * w0 + learned                                         # decay shrank the start
    changes, moved, kept = cnn_figures.filter_changes([w0, w])
    assert np.allclose(kept[1], 0.7) and np.allclose(kept[0], 1.0)
    assert np.allclose(changes[1], learned) and np.allclose(changes[0], 0.0)
    assert moved[0] == 0.0
    assert moved[1] == pytest.approx(np.linalg.norm(w - w0) / np.linalg.norm(w0))
    images = cnn_figures.signed_images(changes[1], floor=1e-6 * np.abs(w0).max())
    assert np.allclose(images[0], 0.5)                             # only shrunk: flat grey
    assert images[1].min() == pytest.approx(0.0) or images[1].max() == pytest.approx(1.0)
    assert np.allclose(images[1], 0.5 + learned[..., 1] / (2 * np.abs(learned[..., 1]).max()))


def test_results_summary_reads_the_confusion_matrix():
    cm = [[8, 2, 0], [1, 5, 4], [0, 0, 10]]
    s = cnn_figures.results_summary({"confusion_matrix": cm, "class_names": ["a", "b", "c"],
                                     "test_accuracy": 23 / 30})
    assert np.allclose(s["per_class"], [0.8, 0.5, 1.0])
    assert s["confused"] == [("b", "c", 4), ("a", "b", 2), ("b", "a", 1)]
    with pytest.raises(figures.FigureUnavailable, match="no confusion matrix"):
        cnn_figures.results_summary({"history": []})


def test_train_missing_trains_a_fast_run_once_and_the_figure_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.ROOT_ENV, str(tmp_path / "none"))
    # a shorter fast run than the command's, to keep the suite quick
    monkeypatch.setitem(runs.FAST_RUNS, "cnn_cifar", ["--fast", "--dataset", "digits", "--steps", "12"])
    with runs.given(None, train_into=tmp_path / "trained"):
        fig = figures.make("cnn_results")
        again = runs.find_runs("cnn_cifar")                        # trained once per process
    assert [r.path for r in again] == [tmp_path / "trained" / "cnn_cifar"]
    metrics = again[0].metrics
    assert metrics["fast"] and metrics["steps"] == 12
    assert f"{tmp_path / 'trained' / 'cnn_cifar'}, step 12 (fast mode)" in fig._suptitle.get_text()
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_train_missing_reports_a_failed_lesson(tmp_path, monkeypatch):
    monkeypatch.setitem(runs.FAST_RUNS, "cnn_cifar", ["--dataset", "no_such_data"])
    with runs.given([tmp_path / "empty"], train_into=tmp_path / "t"):
        with pytest.raises(UsageError, match=r"--train-missing: .*cnn_cifar --dataset no_such_data .* failed \(error: "):
            runs.find_runs("cnn_cifar")


def test_gan_figures_read_their_run(tmp_path):
    from tfgraph_lessons.figures import gan as gan_figures

    assert gan_figures.sample_steps(list(range(32)), 6) == [0, 6, 12, 19, 25, 31]
    assert gan_figures.sample_steps([5, 10], 6) == [0, 1]
    run = write_run(tmp_path / "g", lesson="gan_mnist", model="dcgan", dataset="mnist", steps=40,
                    fast=False, history=[{"step": s, "d_loss": 1.0, "g_loss": 2.0,
                                          "d_real_accuracy": 0.9, "d_fake_accuracy": 0.8}
                                         for s in (10, 20, 30, 40)])
    grids = np.zeros((4, 16, 16, 1), np.uint8)
    np.savez(run / "snapshots.npz", steps=np.array([10, 20, 30, 40]), grids=grids)
    with runs.given([tmp_path]):
        losses = figures.make("gan_losses")
        samples = figures.make("gan_samples_over_training")
    assert [line.get_ydata()[0] for line in losses.axes[0].lines] == [1.0, 2.0]
    assert [ax.get_title() for ax in samples.axes] == ["step 10", "step 20", "step 30", "step 40"]
    assert f"{run}, step 40" in samples._suptitle.get_text()
    import matplotlib.pyplot as plt
    plt.close(losses)
    plt.close(samples)
    with runs.given([tmp_path / "g"]):
        (run / "snapshots.npz").unlink()
        with pytest.raises(figures.FigureUnavailable, match="gan_mnist run with a snapshots.npz"):
            figures.make("gan_samples_over_training")


def test_rnn_loss_curves_say_which_runs_were_fast(tmp_path):
    from tfgraph_lessons.figures import rnn as rnn_figures

    history = [{"epoch": e, "step": e, "val_loss": 1.0 / e} for e in (1, 2)]
    write_run(tmp_path / "rnn_mnist" / "small", lesson="rnn_mnist", dataset="digits", fast=True,
              history=history)
    write_run(tmp_path / "rnn_mnist" / "full", lesson="rnn_mnist", dataset="mnist", fast=False,
              history=history)
    found = rnn_figures.loss_histories(tmp_path)
    assert sorted(found["rnn_mnist"]) == ["full", "small (digits, fast mode)"]


def test_rl_figures_read_their_runs(tmp_path):
    from tfgraph_lessons.figures import rl as rl_figures

    q = np.zeros((16, 4))
    q[0, 2] = 0.5                                                  # state 0: go right
    write_run(tmp_path / "fl", lesson="rl_frozenlake", q_table=q.tolist(), success_rate=1.0,
              env_steps=100, fast=False, config={"map": "4x4", "slippery": False})
    curves = {"returns": [10.0, 20.0, 30.0], "episode_end_steps": [10, 30, 60],
              "history": [{"step": 60, "greedy_mean_return": 40.0}], "reward_threshold": 475,
              "eval_episodes": 100, "env": "CartPole-v1", "env_steps": 60,
              "config": {"check_episodes": 50}}
    write_run(tmp_path / "cp" / "dqn_fast", lesson="rl_cartpole", algo="dqn", fast=True,
              eval_mean_return=500.0, **curves)
    write_run(tmp_path / "cp" / "dqn_full", lesson="rl_cartpole", algo="dqn", fast=False,
              eval_mean_return=200.0, **curves)
    write_run(tmp_path / "cp" / "a2c", lesson="rl_cartpole", algo="a2c", fast=False,
              eval_mean_return=500.0, **curves)
    with runs.given([tmp_path]):
        q_table, desc, _ = rl_figures.frozenlake_policy(runs.find_runs("rl_frozenlake")[0].metrics)
        assert desc.shape == (4, 4) and desc[0, 0] == "S" and desc[3, 3] == "G"
        assert q_table.argmax(axis=1)[0] == 2
        # the best run of each algorithm, a full run over a fast one, in the slides' order
        assert [r.path.name for r in rl_figures.cartpole_runs()] == ["dqn_full", "a2c"]
        fig = figures.make("rl_cartpole_learning")
        table = figures.make("rl_q_table")
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [
        rl_figures.ALGO_NAMES["dqn"], rl_figures.ALGO_NAMES["a2c"]]
    assert "success rate 1.00" in table._suptitle.get_text()
    import matplotlib.pyplot as plt
    plt.close(fig)
    plt.close(table)


def test_gan_quality_sits_between_the_untrained_g_and_real_digits(tmp_path):
    from tfgraph_lessons.figures import gan as gan_figures

    def q(conf, entropy, fd, hist):
        return {"mean_confidence": conf, "class_entropy": entropy, "frechet_distance": fd,
                "class_histogram": hist}

    flat, one = [0.1] * 10, [0.0] * 8 + [1.0, 0.0]
    write_run(tmp_path / "g", lesson="gan_mnist", model="dcgan", dataset="mnist", steps=40,
              fast=False, **q(0.85, 2.2, 13.7, flat), untrained=q(0.63, 0.0, 487.0, one),
              reference=q(0.97, 2.3, 2.8, flat))
    write_run(tmp_path / "c", lesson="gan_mnist", model="dcgan", dataset="cifar10", steps=40,
              fast=True)
    rows = gan_figures.quality_rows(runs.read_run(tmp_path / "g").metrics)
    assert list(rows) == ["untrained", "trained", "reference"]
    assert [r["frechet_distance"] for r in rows.values()] == [487.0, 13.7, 2.8]
    with runs.given([tmp_path / "g"]):
        fig = figures.make("gan_quality")
    cells = [c.get_text().get_text() for c in fig.axes[1].tables[0].get_celld().values()]
    assert {"487.0", "13.7", "2.8", "0.850", "2.200"} <= set(cells)
    import matplotlib.pyplot as plt
    plt.close(fig)
    with runs.given([tmp_path / "c"]):                             # a CIFAR-10 run: not scored
        with pytest.raises(figures.FigureUnavailable, match="no quality measure"):
            figures.make("gan_quality")
