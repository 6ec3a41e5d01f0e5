"""``python -m tfgraph_lessons.detection``: a fast run end to end, resume, and bad input."""
import json
import subprocess
import sys

import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons.detection import lesson

FIGURES = ("detections.png", "pr_curves.png", "iou.png", "anchors.png", "learning_curves.png")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory, shared_data):
    """One fast run on real MNIST digits: 4 epochs of 9 steps (about 20 s)."""
    if not (shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("real MNIST test set not in ../shared/data/mnist")
    out = tmp_path_factory.mktemp("detection") / "run"
    config = lesson.parse_config(["--fast", "--data-dir", str(shared_data), "--out", str(out),
                                  "--epochs", "4"])
    metrics = lesson.run(config)
    return out, metrics


def test_fast_run_writes_the_issue_metrics_and_figures(fast_run):
    out, metrics = fast_run
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("map_50", "map_50_95", "ap_per_class", "images_per_second", "history",
                "config", "inference_images_per_second", "wall_seconds"):
        assert saved[key] is not None, key
    assert saved["source"] == "mnist-test-split" and saved["test_images"] == 100
    assert sorted(saved["ap_per_class"]) == [str(d) for d in range(10)]
    assert 0 <= saved["map_50_95"] <= saved["map_50"] <= 1
    assert [h["epoch"] for h in saved["history"]] == [1, 2, 3, 4]
    assert all(0 <= h["val_map_50"] <= 1 for h in saved["history"])
    assert saved["steps"] == 4 * (600 // 64)
    for name in FIGURES:
        assert (out / "figures" / name).stat().st_size > 5000, name
    assert list((out / "logs" / "train").glob("events.out.tfevents.*"))


def test_fast_epochs_find_digits_the_untrained_grid_does_not(fast_run, shared_data, tmp_path):
    """36 steps already find digits (0.092 mAP@0.5 measured here; the default run's
    figures are in the README, not here); the same network with no training step
    finds none: every cell starts at P(object) = 0.01, below the score threshold
    once multiplied by a class probability."""
    _, metrics = fast_run
    untrained = lesson.run(lesson.parse_config([
        "--fast", "--data-dir", str(shared_data), "--out", str(tmp_path / "untrained"),
        "--steps", "0"]))
    assert untrained["steps"] == 0 and untrained["history"] == []
    assert untrained["map_50"] < 0.01
    assert metrics["map_50"] > 0.05, metrics["map_50"]


def test_resume_continues_to_the_longer_length(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--dataset", "digits-sklearn", "--fast", "--out", str(out),
              "--train-images", "128", "--val-images", "16", "--test-images", "16"]
    status, _, err = run_lesson(lesson.main, common + ["--steps", "3"], capsys)
    assert status == 0, err
    status, stdout, err = run_lesson(lesson.main, common + ["--steps", "5", "--resume"], capsys)
    assert status == 0, err
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 5 and saved["source"] == "sklearn-digits"
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["step"] == 5
    # another data size is another run: refused, nothing touched
    status, _, err = run_lesson(lesson.main, common[:-6] + ["--train-images", "256",
                                                           "--val-images", "16",
                                                           "--test-images", "16",
                                                           "--steps", "6", "--resume"], capsys)
    assert status == 2 and "train images 128, this one has 256" in error_line(err)
    assert json.loads((out / "metrics.json").read_text())["steps"] == 5


@pytest.mark.parametrize("argv, fragment", [
    (["--nms-iou", "1.5"], "--nms-iou must be in [0, 1]"),
    (["--score-threshold", "-0.1"], "--score-threshold must be in [0, 1]"),
    (["--stride", "6"], "--stride must be a power of two"),
    (["--canvas-size", "60"], "multiple of --stride 8"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--dataset", "coco"], "--dataset"),
])
def test_bad_settings_exit_2_with_one_line_and_write_nothing(argv, fragment, tmp_path, capsys):
    out = tmp_path / "run"
    status, _, err = run_lesson(lesson.main, argv + ["--out", str(out)], capsys)
    assert status == 2
    assert fragment in err
    assert not out.exists()


def test_python_dash_m_runs_the_lesson(tmp_path):
    """``python -m tfgraph_lessons.detection --help`` reaches this lesson's parser."""
    result = subprocess.run([sys.executable, "-m", "tfgraph_lessons.detection", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--nms-iou" in result.stdout and "--dataset" in result.stdout
