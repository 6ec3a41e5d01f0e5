"""The side-by-side benchmark harness (``benchmarks/run.py``): it runs every arm and
reports consistent numbers, its FLOP count matches a hand count and the library's own
layer tables, and the other frameworks' augmentations are the lesson's. Timings are
never asserted: only that they exist and that the ratios are made from them."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

from sidebyside import report  # noqa: E402
from sidebyside.flops import count_flops  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None


def load_driver():
    """``benchmarks/run.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the quick run


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``run.py --quick`` on the digits (offline), one thread, the CNN and the LSTM."""
    out = tmp_path_factory.mktemp("bench")
    results_md = (BENCH / "RESULTS.md").read_bytes() if (BENCH / "RESULTS.md").is_file() else None
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--dataset", "digits",
         "--threads", "1", "--networks", "slide_cnn", "lstm", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = (BENCH / "RESULTS.md").read_bytes() if (BENCH / "RESULTS.md").is_file() else None
    assert after == results_md, "a run without --write-results changed benchmarks/RESULTS.md"
    return out, json.loads((out / "results.json").read_text()), proc.stdout


def test_quick_run_measures_every_arm(quick_run):
    out, results, stdout = quick_run
    assert results["finished"] and results["settings"]["quick"]
    rows = {(r["network"], r["framework"]): r for r in results["summary"]}
    assert set(rows) == {(n, f) for n in ("slide_cnn", "lstm") for f in ("ours", "keras", "torch")}
    for (network, fw), row in rows.items():
        if fw == "torch" and not HAS_TORCH:
            assert row["status"] == "skipped" and "torch is not installed" in row["reason"]
            continue
        assert row["status"] == "ok", row
        assert row["batch_size"] == 32 and row["threads"] == 1
        assert row["train"]["median"] > 0 and row["eval"]["median"] > 0
        assert row["max_rss_mb"] > 50                     # a TensorFlow or PyTorch process
        # the same network in every framework: the parameters of the cost table
        assert row["params"] == results["networks"][network]["flops"]["params"], (network, fw)
        flops = results["networks"][network]["flops"]["train_flops"]
        assert row["train_flops_per_second"] == pytest.approx(row["train"]["median"] * flops)
        peak = results["peak"]["1"]["flops_per_second"]
        assert row["fraction_of_peak"] == pytest.approx(row["train_flops_per_second"] / peak)
    for (network, fw), row in rows.items():
        if fw != "ours" and row["status"] == "ok":
            ours = rows[(network, "ours")]
            for key in ("train", "eval"):
                assert row["ours_over"][key] == pytest.approx(
                    ours[key]["median"] / row[key]["median"])
    assert "ours_over" not in rows[("slide_cnn", "ours")]
    assert "session_train" in rows[("lstm", "ours")]      # the Trainer's own figure, beside


def test_quick_run_writes_table_chart_and_markdown(quick_run):
    out, results, stdout = quick_run
    assert (out / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "train img/s" in stdout and "float32 matmul peak" in stdout
    md = (out / "results.md").read_text()
    assert f"Command: `{results['command']}`" in md
    assert results["machine"]["onednn"] in md and results["machine"]["cpu"] in md
    table = [line for line in md.splitlines() if line.startswith("| slide_cnn")]
    assert len(table) == 3                                # ours, keras, torch


# --------------------------------------------------------------------------- FLOPs


def test_flops_of_the_slide_cnn_match_a_hand_count():
    # conv1: 32x32 outputs x 7x7x3 x 28; conv2: 16x16 x 5x5x28 x 64; fc1: 8x8x64 x 1024;
    # logits: 1024 x 10 (multiply-adds per image)
    macs = 32 * 32 * 7 * 7 * 3 * 28 + 16 * 16 * 5 * 5 * 28 * 64 + 4096 * 1024 + 1024 * 10
    assert macs == 19_888_128
    cost = count_flops("slide_cnn", (32, 32, 3), 10)
    assert cost["forward_flops"] == 2 * macs
    assert cost["train_flops"] == 3 * 2 * macs
    assert cost["params"] == (7 * 7 * 3 * 28 + 28) + (5 * 5 * 28 * 64 + 64) + (
        4096 * 1024 + 1024) + (1024 * 10 + 10)


def test_lstm_flops_match_a_hand_count():
    # 28 steps, each [x_t (28), h (128)] x [156, 4 * 128]; the softmax layer once
    cost = count_flops("lstm", (28, 28), 10)
    assert cost["forward_flops"] == 2 * (28 * 156 * 512 + 128 * 10)
    assert cost["params"] == 156 * 512 + 512 + 128 * 10 + 10


@pytest.mark.parametrize("network, shape", [("slide_cnn", (32, 32, 3)), ("resnet20", (32, 32, 3)),
                                            ("slide_cnn", (8, 8, 1)), ("resnet20", (8, 8, 1))])
def test_flops_agree_with_the_librarys_layer_table(network, shape):
    """The cost table, counted from shapes, against ``nets.summary``, counted from the graph."""
    from tfgraph_lessons.nets import summary

    table = summary.layer_table(network, shape)
    cost = count_flops(network, shape, 10)
    assert cost["forward_flops"] == 2 * table.madds
    assert cost["params"] == table.trainable_params


def test_unknown_network_has_no_cost_table():
    with pytest.raises(ValueError, match="no cost table for 'vgg16'"):
        count_flops("vgg16", (32, 32, 3), 10)


# --------------------------------------------------------------------------- the same augmentation


def _distortion_draws(n, seed, rotation=10.0, scale=0.1, shift=2.0):
    """The draws ``preprocess.distort`` makes from ``default_rng(seed)``, in its order."""
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    zoom = rng.uniform(1 - scale, 1 + scale, n)
    dy, dx = rng.uniform(-shift, shift, (2, n))
    return angle, zoom, dy, dx


@pytest.fixture
def sequences():
    """16 grey images 23x28 (not square, so rows and columns cannot be swapped unseen)."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (16, 23, 28), dtype=np.uint8)


def test_keras_warp_is_the_lessons_distortion(sequences):
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.data import preprocess
    from sidebyside import keras_arm

    expected = preprocess.distort(sequences, np.random.default_rng(3), 10.0, 0.1, 2.0)
    draws = _distortion_draws(len(sequences), 3)
    with new_graph():
        warped = keras_arm.warp(tf, tf.constant(sequences),
                                *(tf.constant(a, tf.float32) for a in draws))
        with tf1.Session() as sess:
            got = sess.run(warped)
    assert got.dtype == np.uint8
    # float32 here, float64 in NumPy: a pixel may round the other way
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert np.mean(got == expected) > 0.99


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install -e .[bench])")
def test_torch_warp_is_the_lessons_distortion(sequences):
    import torch

    from tfgraph_lessons.data import preprocess
    from sidebyside import torch_arm

    expected = preprocess.distort(sequences, np.random.default_rng(3), 10.0, 0.1, 2.0)
    draws = _distortion_draws(len(sequences), 3)
    got = torch_arm.warp(torch, torch.tensor(sequences, dtype=torch.float32),
                         *(torch.tensor(a) for a in draws)).numpy()
    assert np.abs(got - expected).max() <= 1
    assert np.mean(got == expected) > 0.99


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install -e .[bench])")
def test_torch_crop_flip_cuts_a_window_of_the_padded_image():
    import torch

    from sidebyside import torch_arm

    rng = np.random.default_rng(1)
    images = rng.integers(1, 256, (64, 3, 8, 8), dtype=np.uint8)   # no zeros: padding shows
    out = torch_arm.crop_flip(torch, torch.tensor(images), 2, True,
                              torch.Generator().manual_seed(0)).numpy()
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    flipped = 0
    for image, window in zip(padded, out):
        matches = [(y, x, f) for y in range(5) for x in range(5) for f in (False, True)
                   if np.array_equal(window, (lambda w: w[..., ::-1] if f else w)(
                       image[:, y:y + 8, x:x + 8]))]
        assert matches, "an output that is no window of the padded image"
        flipped += all(f for _, _, f in matches)
    assert 10 < flipped < 54        # about half of 64 mirrored (p < 1e-5 outside)


# --------------------------------------------------------------------------- the driver


def test_a_missing_framework_is_skipped_not_failed(monkeypatch):
    run = load_driver()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert run.available("torch").startswith("torch is not installed")
    assert run.available("ours") is None
    results = {"runs": [{"network": "lstm", "batch_size": 32, "threads": 1, "framework": "torch",
                         "skipped": run.available("torch")}], "networks": {}, "peak": {}}
    (row,) = report.summarise(results)
    assert row["status"] == "skipped" and "not installed" in row["reason"]


@pytest.mark.parametrize("argv, message", [
    (["--threads", "4096"], "--threads 4096: this process may use"),
    (["--batch-sizes", "0"], "must be > 0"),
    (["--networks", "vgg16"], "invalid choice: 'vgg16'"),
])
def test_bad_arguments_are_one_line_and_status_2(argv, message, capsys):
    run = load_driver()
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_configurations_run_one_axis_at_a_time_and_the_full_grid(tmp_path):
    run = load_driver()
    args = run.resolve(run.parse_args(["--threads", "1", "--out", str(tmp_path)]))
    args.threads = [1, 2]   # as on a two-core machine, whatever this one has
    assert run.configurations(args) == [(128, 2, 3), (32, 2, 1), (512, 2, 1), (128, 1, 1)]
    args.full_grid = True
    grid = run.configurations(args)
    assert grid[0] == (128, 2, 3) and len(grid) == 6
    assert {(b, t) for b, t, _ in grid} == {(b, t) for b in (32, 128, 512) for t in (1, 2)}
    # the same images at every batch size
    assert run.steps_for(args, "slide_cnn", 32) == 4 * run.steps_for(args, "slide_cnn", 128)
    assert run.steps_for(args, "resnet20", 512) == run.MIN_STEPS


def test_results_file_keeps_the_notes_around_its_markers(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Results\n\nintro\n\n{report.BEGIN}\nold table\n{report.END}\n\n## Notes\n")
    report.update_results_file(path, "new table\n")
    text = path.read_text()
    assert "old table" not in text and "new table" in text
    assert text.startswith("# Results\n\nintro\n") and text.endswith("## Notes\n")
    report.update_results_file(path, "newer table")
    text = path.read_text()
    assert text.count(report.BEGIN) == 1 and "newer table" in text and "new table\n" not in text
    fresh = tmp_path / "fresh.md"
    report.update_results_file(fresh, "table")
    assert report.BEGIN in fresh.read_text() and "table" in fresh.read_text()


def test_spread_is_median_min_max():
    s = report.spread([3.0, 1.0, 2.0, 10.0])
    assert (s["median"], s["min"], s["max"]) == (2.5, 1.0, 10.0)
    assert math.isclose(report.spread([5.0])["median"], 5.0)
