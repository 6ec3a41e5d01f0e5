"""The main job's command line: a fast run, its outputs, bad input, and kill + --resume."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tfgraph_lessons import cnn_cifar


def run_cli(argv, capsys):
    """Run ``main(argv)`` in-process; return (exit status, stdout, stderr)."""
    try:
        cnn_cifar.main(argv)
        status = 0
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


def error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_fast_run_writes_metrics(tmp_path, capsys):
    status, out, _ = run_cli(["--dataset", "digits", "--fast", "--out", str(tmp_path)], capsys)
    assert status == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "train_accuracy", "test_loss",
                "images_per_second", "wall_seconds", "device", "steps", "epochs", "history",
                "config"):
        assert key in m, key
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["images_per_second"] > 0
    assert m["config"]["dataset"] == "digits" and m["config"]["fast"] is True
    assert "test accuracy" in out
    assert list((tmp_path / "checkpoints").glob("model.ckpt-*.index"))
    assert list((tmp_path / "logs" / "train").glob("events.*"))


@pytest.mark.parametrize("argv,needle", [
    (["--dataset", "imagenet"], "unknown --dataset 'imagenet'"),
    (["--dataset", "digits", "--device", "tpu"], "unknown --device 'tpu'"),
    (["--dataset", "digits", "--epochs", "-1"], "--epochs: must be >= 0"),
    (["--dataset", "digits", "--model", "nope"], "unknown --model 'nope'"),
    (["--dataset", "digits", "--batch-size", "0"], "--batch-size: must be > 0"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(argv + ["--out", str(tmp_path / "out")], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_missing_data_offline_says_what_to_put_where(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    status, _, err = run_cli(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                             capsys)
    assert status == 2
    line = error_line(err)
    assert str(tmp_path) in line and "cifar-10-binary.tar.gz" in line
    assert "--dataset digits" in line
    assert not (tmp_path / "out").exists()


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL after the first checkpoint, then --resume: same steps and epochs as an
    uninterrupted run, and a test accuracy within noise of it."""
    args = ["--dataset", "digits", "--epochs", "12", "--batch-size", "32", "--seed", "3"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TFGRAPH_FAST", None)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "tfgraph_lessons.cnn_cifar", *args,
                             "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists(), "no checkpoint was written before the kill"
    assert not (killed / "metrics.json").exists(), "the run finished before it was killed"

    resumed = subprocess.run([sys.executable, "-m", "tfgraph_lessons.cnn_cifar", *args,
                              "--out", str(killed), "--resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    after = json.loads((killed / "metrics.json").read_text())

    full = cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=12, batch_size=32, seed=3,
                                             out=str(tmp_path / "full")))
    assert after["steps"] == full["steps"]
    assert [h["epoch"] for h in after["history"]] == list(range(1, 13))
    assert abs(after["test_accuracy"] - full["test_accuracy"]) <= 0.03


def test_history_has_train_val_test_per_epoch_and_figures(tmp_path):
    m = cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=2, out=str(tmp_path),
                                          snapshot_steps=(1, 3)))
    for entry in m["history"]:
        for key in ("train_loss", "train_eval_accuracy", "val_accuracy", "val_loss",
                    "test_accuracy", "test_loss"):
            assert key in entry, key
    assert m["history"][-1]["test_accuracy"] == pytest.approx(m["test_accuracy"])
    cm = m["confusion_matrix"]
    assert sum(map(sum, cm)) == m["test_examples"] == 359
    assert sum(cm[i][i] for i in range(10)) / 359 == pytest.approx(m["test_accuracy"], abs=1e-6)
    figs = {p.name for p in (tmp_path / "figures").glob("*.png")}
    assert {"learning_curves.png", "confusion_matrix.png", "filters.png", "feature_maps.png",
            "filters_over_time.png"} <= figs
    import numpy as np
    with np.load(tmp_path / "snapshots.npz") as f:
        assert list(f["steps"]) == [1, 3, m["steps"]] and m["steps"] > 3
        assert f["kernel_1"].shape == (7, 7, 1, 28)
        assert not np.allclose(f["kernel_1"], f[f"kernel_{m['steps']}"])  # the filters moved


def test_overfitting_experiment_has_both_arms(tmp_path, capsys):
    status, out, _ = run_cli(["--dataset", "digits", "--experiment", "overfitting", "--fast",
                              "--out", str(tmp_path)], capsys)
    assert status == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m["arms"]) == {"no_regularization", "dropout_augment"}
    assert m["arms"]["no_regularization"]["dropout"] is False
    assert m["arms"]["dropout_augment"]["augment"] is True
    for arm in m["arms"].values():
        assert arm["gap"] == pytest.approx(arm["train_accuracy"] - arm["test_accuracy"])
    assert (tmp_path / "figures" / "overfitting.png").is_file()
    assert (tmp_path / "no_regularization" / "metrics.json").is_file()
    assert "slides             train 100%  test 69%" in out


def test_image_size_the_network_cannot_take(tmp_path, capsys, monkeypatch):
    from tfgraph_lessons import nets

    def needs_32px(images, num_classes, is_training, keep_prob=1.0, wd=None):
        if images.shape[1] < 32:
            raise ValueError(f"[needs_32px] needs 32x32 images, got shape {images.shape}")
        raise AssertionError("not reached with digits")

    nets.get("slide_cnn")  # load the registry before adding to it
    monkeypatch.setitem(nets.NETS, "needs_32px", needs_32px)
    status, _, err = run_cli(["--dataset", "digits", "--model", "needs_32px",
                              "--out", str(tmp_path)], capsys)
    assert status == 2
    assert "--model needs_32px cannot take the digits images (8x8x1)" in error_line(err)


def test_log_placement_shows_the_convolutions(tmp_path, capsys):
    status, out, _ = run_cli(["--dataset", "digits", "--fast", "--device", "cpu",
                              "--log-placement", "--out", str(tmp_path)], capsys)
    assert status == 0
    report = (tmp_path / "placement.txt").read_text()
    assert "Conv2D" in report and "-> /CPU:0" in report
    assert "placement of the slide_cnn ops" in out


def test_missing_gpu_falls_back_with_a_notice(tmp_path, capsys):
    from tfgraph_lessons.core.device import available_gpus
    if available_gpus():
        pytest.skip("this machine has a GPU")
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--device", "gpu",
                              "--out", str(tmp_path)], capsys)
    assert status == 0
    assert "running on /CPU:0" in err
    assert json.loads((tmp_path / "metrics.json").read_text())["device"] == "/CPU:0"


def test_snapshot_figure_is_registered(tmp_path, monkeypatch):
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures import cnn as cnn_figures

    monkeypatch.setenv(cnn_figures.RUN_ENV, str(tmp_path / "no_run"))
    figures.load_all()
    assert "cnn_filters_over_time" in figures.FIGURES
    with pytest.raises(figures.FigureUnavailable, match="run python -m tfgraph_lessons.cnn_cifar"):
        figures.render(["cnn_filters_over_time"], tmp_path / "figs")
    cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", fast=True, out=str(tmp_path / "run")))
    monkeypatch.setenv(cnn_figures.RUN_ENV, str(tmp_path / "run"))
    (path,) = figures.render(["cnn_filters_over_time"], tmp_path / "figs")
    assert path.stat().st_size > 10_000


def test_corrupt_data_file_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(b"\x00" * 3000)  # not a whole 3,073-byte record
    status, _, err = run_cli(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                             capsys)
    assert status == 2
    assert "data_batch_1.bin" in error_line(err)
    assert not (tmp_path / "out" / "metrics.json").exists()
