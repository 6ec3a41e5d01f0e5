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
