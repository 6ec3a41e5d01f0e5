"""The main job's faster options: one-cycle, label smoothing, test-time flips, fused
batch norm, the fast recipe's network and its whitening layer, ``--recipe`` and the
time to a target accuracy."""
import dataclasses
import json
import types

import numpy as np
import pytest

from conftest import run_lesson
from tfgraph_lessons import cnn_cifar
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.nets import fast_cifar as fc


def _session_run(build, feeds=None):
    """Build a graph with ``build()`` (returns fetches), initialise, run once."""
    from tfgraph_lessons.core.graph import new_graph, tf1
    with new_graph(seed=0) as g:
        fetches = build()
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            return sess.run(fetches, feeds(g) if feeds else None)


def test_one_cycle_rises_to_the_peak_then_falls_to_zero():
    from tfgraph_lessons.core.graph import tf, tf1

    def build():
        step = tf1.placeholder(tf.int64, [], name="step")
        return step, cnn_cifar.one_cycle(step, 0.4, train_steps=100, warmup=0.2)

    from tfgraph_lessons.core.graph import new_graph
    with new_graph() as g:
        step, rate = build()
        with tf1.Session(graph=g) as sess:
            rates = {s: sess.run(rate, {step: s}) for s in (0, 10, 20, 60, 100, 120)}
    assert rates[0] == pytest.approx(0.04)          # peak / 10
    assert rates[10] == pytest.approx(0.04 + 0.36 * 0.5)
    assert rates[20] == pytest.approx(0.4)          # the top, after 20% of the run
    assert rates[60] == pytest.approx(0.2)          # half way down
    assert rates[100] == pytest.approx(0.0) and rates[120] == pytest.approx(0.0)


def test_label_smoothing_changes_the_objective_not_the_reported_loss():
    from tfgraph_lessons.core.graph import new_graph, tf1
    x = np.random.default_rng(0).integers(0, 255, (16, 8, 8, 1), dtype=np.uint8)
    y = np.arange(16) % 10
    out = {}
    for e in (0.0, 0.3):
        config = cnn_cifar.CNNConfig(dataset="digits", label_smoothing=e, weight_decay=0.0,
                                     dropout=False)
        with new_graph(seed=0) as g:
            m = cnn_cifar.build_graph(config, (8, 8, 1), 10, [0.0], [255.0], train_steps=10)
            with tf1.Session(graph=g) as sess:
                sess.run(tf1.global_variables_initializer())
                out[e] = sess.run([m["loss"], m["cross_entropy"]],
                                  {m["images"]: x, m["labels"]: y})
    assert out[0.0][0] == pytest.approx(out[0.0][1])           # no smoothing: the same
    assert out[0.3][1] == pytest.approx(out[0.0][1], rel=1e-6)  # the same network's xent
    assert abs(out[0.3][0] - out[0.3][1]) > 1e-3                # the objective differs


def test_tta_reports_the_mean_of_image_and_mirror_in_inference_only():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)
    config = cnn_cifar.CNNConfig(model="resnet20", tta=True)
    with new_graph(seed=0) as g:
        m = cnn_cifar.build_graph(config, (16, 16, 3), 10, [128.0] * 3, [64.0] * 3, 10)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            # the network's own logits (inference mode) on the image and on its mirror
            plain = sess.run(m["logits"], {m["images"]: x})
            mirror = sess.run(m["logits"], {m["images"]: x[:, :, ::-1]})
            # the same variables, the argmax the lesson reports
            preds = sess.run(m["predictions"], {m["images"]: x})
            xent = sess.run(m["cross_entropy"], {m["images"]: x, m["labels"]: np.zeros(6)})
    mean = (plain + mirror) / 2
    np.testing.assert_array_equal(preds, mean.argmax(1))
    logp = mean - np.log(np.exp(mean).sum(1, keepdims=True))
    assert xent == pytest.approx(-logp[:, 0].mean(), rel=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_matches_the_spelled_out_one(training):
    from tfgraph_lessons.core.graph import tf, tf1
    from tfgraph_lessons.core.layers import batch_norm
    x = np.random.default_rng(2).normal(3.0, 2.0, (8, 5, 5, 4)).astype(np.float32)

    def build():
        flag = tf1.placeholder_with_default(training, [])
        xt = tf.constant(x)
        plain = batch_norm(xt, flag, decay=0.5, scope="plain")
        fused = batch_norm(xt, flag, decay=0.5, scope="fused", fused=True)
        with tf.control_dependencies([plain, fused]):
            means = [tf.identity(v) for v in tf1.global_variables() if "moving_mean" in v.name]
        return plain, fused, means

    plain, fused, means = _session_run(build)
    np.testing.assert_allclose(fused, plain, atol=1e-4)
    np.testing.assert_allclose(means[0], means[1], atol=1e-5)
    if training:  # normalised by the batch: mean 0 per channel
        np.testing.assert_allclose(fused.mean(axis=(0, 1, 2)), 0, atol=1e-4)


def test_whitening_filters_decorrelate_the_patches():
    rng = np.random.default_rng(3)
    # correlated channels: one underlying picture in all three
    base = rng.normal(size=(200, 12, 12, 1))
    images = np.concatenate([base, base + 0.1 * rng.normal(size=base.shape),
                             -base + 0.3 * rng.normal(size=base.shape)], axis=3)
    w = fc.whitening_filters(images, eps=1e-6)
    assert w.shape == (2, 2, 3, 24)
    patches = np.stack([images[:, i:11 + i, j:11 + j, :] for i in range(2) for j in range(2)],
                       axis=3).reshape(-1, 12)
    out = patches @ w.reshape(12, 24)[:, :12]
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(12), atol=0.02)
    np.testing.assert_allclose(w[..., 12:], -w[..., :12])
    with pytest.raises(ValueError, match=r"^\[whitening_filters\] needs images"):
        fc.whitening_filters(np.zeros((3, 1, 5, 3)))


def test_fast_network_shapes_fixed_whitening_and_bad_input():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    w = fc.whitening_filters(np.random.default_rng(4).normal(size=(20, 8, 8, 3)))
    with new_graph() as g:
        logits, ends = fc.fast_cifar(tf1.placeholder(tf.float32, [None, 32, 32, 3]), 10, True,
                                     whitening=w)
        assert logits.shape.as_list() == [None, 10]
        assert ends["whiten"].shape.as_list() == [None, 31, 31, 24]
        assert [ends[f"group{i}"].shape.as_list()[1:] for i in (1, 2, 3)] == [
            [15, 15, 32], [7, 7, 128], [3, 3, 128]]
        trainable = {v.op.name for v in tf1.trainable_variables()}
        assert "fast_cifar/whiten/weights" not in trainable      # fixed filters
        assert "fast_cifar/whiten/biases" in trainable
    with new_graph():
        with pytest.raises(ValueError, match=r"needs images of at least 16x16"):
            fc.fast_cifar(tf1.placeholder(tf.float32, [None, 8, 8, 3]), 10, True)
    with new_graph():
        with pytest.raises(ValueError, match=r"whiten\] needs filters of shape"):
            fc.fast_cifar(tf1.placeholder(tf.float32, [None, 32, 32, 3]), 10, True,
                          whitening=w[..., :12])


def test_recipe_sets_its_values_and_given_flags_win():
    fast = cnn_cifar.parse_config(["--recipe", "fast"])
    for key, value in cnn_cifar.RECIPES["fast"].items():
        assert getattr(fast, key) == value, key
    mine = cnn_cifar.parse_config(["--recipe", "fast", "--lr", "0.1", "--batch-size", "128",
                                   "--no-augment"])
    assert (mine.lr, mine.batch_size, mine.augment) == (0.1, 128, False)  # 128: the default, typed
    assert mine.model == "fast_cifar" and mine.tta
    assert cnn_cifar.resolve_config(fast).epochs == cnn_cifar.RECIPE_EPOCHS["fast"]
    slides = cnn_cifar.parse_config([])
    assert slides == cnn_cifar.CNNConfig(**{**slides.__dict__})
    assert slides.model == "slide_cnn" and not slides.tta and slides.schedule == "one-cycle"


def test_fast_mode_shrinks_the_recipe_and_times_the_target(tmp_path, capsys):
    status, out, _ = run_lesson(cnn_cifar.main, [
        "--dataset", "digits", "--model", "slide_cnn", "--recipe", "fast", "--fast",
        "--out", str(tmp_path)], capsys)
    assert status == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["epochs"] == 1 and m["config"]["tta"] and m["target"] == 0.9
    reached = [h for h in m["history"] if h["test_accuracy"] >= 0.9]
    assert (m["seconds_to_target"] is None) == (not reached)
    assert "time to 90% test accuracy" in out
    # a target the first evaluation passes is timed at that evaluation
    config = cnn_cifar.resolve_config(cnn_cifar.CNNConfig(
        dataset="digits", fast=True, steps=3, target=0.0, out=str(tmp_path / "t")))
    m = cnn_cifar.train_and_evaluate(config, tmp_path / "t")
    assert m["epochs_to_target"] == m["history"][0]["epoch"]
    assert 0 < m["seconds_to_target"] <= m["wall_seconds"]


def test_width_reaches_the_fast_network_and_is_refused_for_others(tmp_path, monkeypatch):
    config = cnn_cifar.parse_config(["--recipe", "fast", "--width", "0.25"])
    assert config.width == 0.25 and config.model == "fast_cifar"
    with pytest.raises(UsageError, match="--width 0.5: .*not of --model slide_cnn"):
        cnn_cifar.resolve_config(cnn_cifar.CNNConfig(width=0.5))
    with pytest.raises(UsageError, match="--width 0: a positive multiplier"):
        cnn_cifar.resolve_config(dataclasses.replace(config, width=0.0))

    seen = {}

    class Built(Exception):
        pass

    def build_graph(config, image_shape, num_classes, mean, std, steps, net_options=None):
        seen.update(net_options)
        raise Built

    monkeypatch.setattr(cnn_cifar, "build_graph", build_graph)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    split = (images, rng.integers(0, 10, 64))
    ds = types.SimpleNamespace(image_shape=(32, 32, 3), num_classes=10)
    with pytest.raises(Built):
        cnn_cifar.train_and_evaluate(cnn_cifar.resolve_config(config), tmp_path,
                                     splits=(ds, split, None, split))
    assert seen["width"] == 0.25 and seen["whitening"].shape == (2, 2, 3, 24)
