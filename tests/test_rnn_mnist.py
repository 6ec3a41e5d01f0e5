"""The rnn_mnist lesson: its graph for each cell, the data it chooses (the full MNIST
training set, or the split of the test set), a fast run on the real test images,
--resume, and bad input."""
import gzip
import json
import struct

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import rnn_mnist as R
from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.tf_mechanism import summary_tags

COMMON_KEYS = ("test_accuracy", "val_accuracy", "train_accuracy", "test_loss",
               "images_per_second", "wall_seconds", "device", "steps", "epochs", "history",
               "config")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test downloads: a missing MNIST training set is an OfflineError at once."""
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    monkeypatch.delenv("TFGRAPH_FAST", raising=False)


def run_cli(argv, capsys):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    return run_lesson(R.main, argv, capsys)



# --------------------------------------------------------------------------- the graph


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_graph_names_shapes_and_parameter_count(cell):
    units, g = 16, GATES[cell]
    with new_graph():
        model = R.build_graph(R.RNNMnistConfig(cell=cell, units=units), (28, 28), 10, 100)
        variables = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert variables == {
        f"rnn/{cell}/kernel": [28, g * units],              # x_t (one row) -> gates
        f"rnn/{cell}/recurrent_kernel": [units, g * units],  # h_{t-1} -> gates
        f"rnn/{cell}/bias": [g * units],
        "softmax/weights": [units, 10], "softmax/biases": [10]}
    n_params = sum(int(np.prod(s)) for s in variables.values())
    assert n_params == g * (units * (28 + units) + units) + units * 10 + 10
    assert model["images"].shape.as_list() == [None, 28, 28]
    assert model["images"].dtype == tf.uint8
    assert model["hidden_states"].shape.as_list() == [None, 28, units]
    assert model["logits"].shape.as_list() == [None, 10]
    assert model["step_probabilities"].shape.as_list() == [None, 28, 10]


def test_stacked_layers_each_have_their_own_variables():
    with new_graph():
        R.build_graph(R.RNNMnistConfig(cell="gru", units=8, layers=2, keep_prob=0.5), (8, 8),
                      10, 10)
        shapes = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert shapes["rnn/layer_0/gru/kernel"] == [8, 24]   # 8 pixels per row in
    assert shapes["rnn/layer_1/gru/kernel"] == [8, 24]   # layer 0's h_t in
    assert len(shapes) == 2 * 3 + 2


def test_the_classifier_reads_the_last_step_and_the_norm_is_the_gradients():
    """The figure's guess after the last row is the classifier's softmax, and the
    logged global norm is that of the unclipped gradients."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 5)
    with new_graph(seed=1):
        m = R.build_graph(R.RNNMnistConfig(units=12, clip_norm=1e-3), (28, 28), 10, 10)
        grads = tf.gradients(m["loss"], tf1.trainable_variables())
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            logits, probs, norm, g = sess.run(
                [m["logits"], m["step_probabilities"], m["gradient_norm"], grads],
                {m["images"]: x, m["labels"]: y})
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probs[:, -1], softmax, rtol=1e-5, atol=1e-6)
    assert not np.allclose(probs[:, 0], probs[:, -1])  # the guess changes as rows are read
    np.testing.assert_allclose(norm, np.sqrt(sum((v ** 2).sum() for v in g)), rtol=1e-4)
    assert norm > 1e-3  # so the clip (1e-3) really scales the step down


def test_row_t_is_time_step_t():
    """Two digits that differ only in their last row: the same h_t for every earlier step."""
    x = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    x[1, :27] = x[0, :27]
    with new_graph(seed=1):
        m = R.build_graph(R.RNNMnistConfig(units=12), (28, 28), 10, 10)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            h = sess.run(m["hidden_states"], {m["images"]: x})
    np.testing.assert_array_equal(h[0, :27], h[1, :27])
    assert np.abs(h[0, 27] - h[1, 27]).max() > 1e-3


def test_sequences_of_the_wrong_rank_are_refused_by_name():
    with new_graph(), pytest.raises(UsageError, match=r"sequence_shape must be \(time, feat"):
        R.build_graph(R.RNNMnistConfig(), (28,), 10, 10)
    with pytest.raises(UsageError, match=r"images must be .* got shape \(4, 784\) \(rank 2\)"):
        R.as_sequences(np.zeros((4, 784), np.uint8))
    assert R.as_sequences(np.zeros((4, 28, 28, 1), np.uint8)).shape == (4, 28, 28)


# --------------------------------------------------------------------------- data


def test_held_out_split_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    parts = R.held_out_split(labels, 2000, 1000, seed=0)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"train": 7000, "val": 1000, "test": 2000}
    every = np.concatenate(list(parts.values()))
    assert len(np.unique(every)) == 10000  # disjoint, and together all of them
    share = np.bincount(labels[parts["test"]], minlength=10) / np.bincount(labels)
    assert np.all(np.abs(share - 0.2) < 0.002)  # each class gives a fifth to the test set
    again, other = R.held_out_split(labels, 2000, 1000, 0), R.held_out_split(labels, 2000,
                                                                            1000, 1)
    assert np.array_equal(again["test"], parts["test"])
    assert not np.array_equal(other["test"], parts["test"])


def write_idx(path, array):
    """An IDX file as MNIST ships it: magic 0x0000 08 NDIM, big-endian dims, bytes; gzipped."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + np.asarray(array, np.uint8).tobytes()))


def fake_mnist(root, n_train, n_test):
    """A tiny MNIST in the real file layout: digit k is a bright band at row 2k."""
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), np.uint8)
        images[np.arange(n), 2 * labels + 3] = 255
        if n:
            write_idx(root / "mnist" / f"{split}-images-idx3-ubyte.gz", images)
            write_idx(root / "mnist" / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


def test_full_training_set_is_used_when_it_is_on_disk(tmp_path, capsys):
    root = fake_mnist(tmp_path / "data", n_train=300, n_test=100)
    m = R.run(R.RNNMnistConfig(data_dir=str(root), out=str(tmp_path / "out"), units=8,
                               val_size=50, fast=True, figures=False))
    assert m["data_source"] == "full"
    assert (m["train_examples"], m["val_examples"], m["test_examples"]) == (250, 50, 100)
    assert not (tmp_path / "out" / R.SPLIT_FILE).exists()
    assert "test-split" not in capsys.readouterr().out


def test_a_corrupt_training_file_is_an_error_not_a_fallback(tmp_path):
    root = fake_mnist(tmp_path / "data", n_train=30, n_test=20)
    path = root / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated"):
        R.run(R.RNNMnistConfig(data_dir=str(root), out=str(tmp_path / "out"), fast=True))
    assert not (tmp_path / "out").exists()


def test_no_mnist_at_all_names_the_offline_data_set(tmp_path, capsys):
    status, _, err = run_cli(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                             capsys)
    assert status == 2
    line = error_line(err)
    assert "t10k-images-idx3-ubyte.gz" in line and "--dataset digits" in line
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- runs


def test_fast_run_on_the_real_test_images_uses_the_split(mnist_test_dir, tmp_path, capsys):
    out = tmp_path / "out"
    status, stdout, _ = run_cli(["--fast", "--data-dir", str(mnist_test_dir.parent),
                                 "--out", str(out)], capsys)
    assert status == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in COMMON_KEYS + ("train_examples", "test_examples", "data_source"):
        assert key in m, key
    assert m["data_source"] == "test-split" and "data_source test-split" in stdout
    assert (m["train_examples"], m["val_examples"], m["test_examples"]) == (1000, 1000, 1000)
    assert m["images_per_second"] > 0 and m["fast"] is True
    assert [h["step"] for h in m["history"]] == [2, 4, 6, 7]  # 1,000 // 128 steps, every 2
    assert m["test_accuracy"] == m["history"][-1]["test_accuracy"]
    split = json.loads((out / R.SPLIT_FILE).read_text())
    parts = {k: set(split[k]) for k in ("train", "val", "test")}
    assert [len(parts[k]) for k in ("train", "val", "test")] == [1000, 1000, 1000]
    assert not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
    assert not parts["train"] & parts["val"] and max(map(max, parts.values())) < 10000
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"learning_curves.png", "confusion_matrix.png", "hidden_state.png"} <= figures
    tags = summary_tags(out / "logs" / "train")["scalars"]
    assert {"loss", "accuracy", "gradient_global_norm", "learning_rate"} <= set(tags)


def digits_run(tmp_path, **settings):
    """A short digits run without figures (they cost seconds and are tested above)."""
    return R.run(R.RNNMnistConfig(dataset="digits", units=8, out=str(tmp_path), figures=False,
                                  **settings))


class Killed(Exception):
    """Stands for a kill -9 right after a checkpoint."""


def test_a_killed_run_resumes_to_the_same_network(tmp_path, monkeypatch, capsys):
    full = digits_run(tmp_path / "full", epochs=2, lr=0.01)  # 2 x 9 steps, uninterrupted
    save = Trainer.save

    def save_then_die(self, step):
        save(self, step)
        raise Killed

    monkeypatch.setattr(Trainer, "save", save_then_die)
    with pytest.raises(Killed):
        digits_run(tmp_path / "killed", epochs=2, lr=0.01)
    monkeypatch.setattr(Trainer, "save", save)
    assert not (tmp_path / "killed" / "metrics.json").exists()
    resumed = digits_run(tmp_path / "killed", epochs=2, lr=0.01, resume=True)
    assert "resumed from" in capsys.readouterr().err
    assert resumed["steps"] == full["steps"] == 18
    assert [h["step"] for h in resumed["history"]] == [9, 18]
    # the same weights, Adam moments, learning-rate schedule, batches and distortions
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], abs=1e-4)
    assert resumed["history"][0]["val_loss"] == pytest.approx(full["history"][0]["val_loss"],
                                                              abs=1e-5)


@pytest.mark.parametrize("argv,needle", [
    (["--cell", "transformer"], "argument --cell: invalid choice: 'transformer'"),
    (["--units", "0"], "argument --units: must be > 0, got 0"),
    (["--layers", "0"], "argument --layers: must be > 0, got 0"),
    (["--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
    (["--lr", "0"], "--lr must be > 0"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(["--dataset", "digits", *argv, "--out", str(tmp_path / "o")],
                             capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "o").exists()


def test_no_distort_trains_on_the_images_as_they_are():
    plain = R.parse_config(["--no-distort"])
    assert (plain.rotation, plain.scale, plain.shift) == (0, 0, 0)
    assert R.distorter(plain, 28) is None
    x = np.zeros((3, 28, 28), np.uint8)
    x[:, 10:18, 12:16] = 255
    moved, _ = R.distorter(R.parse_config([]), 28)(x, None, np.random.default_rng(0))
    assert moved.shape == x.shape and moved.dtype == np.uint8 and not np.array_equal(moved, x)
    np.testing.assert_array_equal(R.distort(x, np.random.default_rng(0), 0, 0, 0), x)


def test_config_values_from_python_are_checked_by_name():
    for bad, needle in (({"cell": "elman"}, "unknown --cell 'elman'"),
                        ({"units": 0}, "--units must be > 0"),
                        ({"layers": -1}, "--layers must be > 0"),
                        ({"keep_prob": 0.0}, "keep_prob must be in (0, 1]")):
        with pytest.raises(UsageError) as e:
            R.resolve_config(R.RNNMnistConfig(**bad))
        assert needle in str(e.value)


def test_resume_with_another_cell_is_refused_and_the_run_is_untouched(tmp_path, capsys):
    digits_run(tmp_path, steps=2)
    args = ["--dataset", "digits", "--units", "8", "--steps", "2", "--out", str(tmp_path)]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    status, _, err = run_cli(args + ["--cell", "gru", "--resume"], capsys)
    assert status == 2
    line = error_line(err)
    assert "--cell lstm" in line and "--cell gru" in line
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
