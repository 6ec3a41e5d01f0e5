"""The Session runner: epochs, checkpoints and resume, the NaN stop, TensorBoard events."""
import glob
import threading

import numpy as np
import pytest

from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.device import session_config
from tfgraph_lessons.core.errors import TrainingError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.core.runner import Batches, Trainer, epoch_order


def toy_data(n=240, seed=0):
    """Two Gaussian blobs per class in 6 dimensions, 3 classes: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = rng.normal(size=(3, 6)) * 3
    images = (centers[labels] + rng.normal(size=(n, 6))).astype(np.float32)
    return images, labels.astype(np.int64)


def toy_model(lr=0.1):
    x = L.inputs([6])
    y = tf1.placeholder(tf.int64, [None], name="labels")
    flag = L.is_training_flag()
    logits = L.fully_connected(x, 3, activation=None, scope="fc")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    gs = tf1.train.get_or_create_global_step()
    train_op = tf1.train.GradientDescentOptimizer(lr).minimize(loss, global_step=gs)
    tf1.summary.histogram("logits", logits)
    return {"images": x, "labels": y, "is_training": flag, "logits": logits, "loss": loss,
            "accuracy": acc, "train_op": train_op, "global_step": gs}


def train(out, epochs, resume=False, batch_fn=None, seed=0, identity=None, **fit):
    data = toy_data()
    with new_graph(seed=seed) as g:
        model = toy_model()
        cfg = session_config(intra_threads=1, inter_threads=1)  # deterministic sums
        with Trainer(g, model, out, resume=resume, seed=seed, config=cfg,
                     identity=identity or {"lesson": "toy", "seed": seed}) as t:
            history = t.fit((data[0][:200], data[1][:200]), (data[0][200:], data[1][200:]),
                            epochs=epochs, batch_size=20, batch_fn=batch_fn, summary_steps=5,
                            **fit)
            weights = t.sess.run(tf1.trainable_variables())
            return history, weights, t


def test_fit_learns_and_records_history(tmp_path):
    history, _, t = train(tmp_path, epochs=3)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert [h["step"] for h in history] == [10, 20, 30]
    assert history[-1]["val_accuracy"] > 0.8
    assert history[-1]["train_running_loss"] < history[0]["train_running_loss"]
    assert t.images_per_second > 0
    assert tf1.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("model.ckpt-30")


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    _, full, _ = train(tmp_path / "full", epochs=4)
    first, _, _ = train(tmp_path / "split", epochs=2)
    history, resumed, _ = train(tmp_path / "split", epochs=4, resume=True)
    assert len(first) == 2
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # earlier epochs kept from state.json
    for a, b in zip(full, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_resume_without_checkpoint_starts_fresh(tmp_path, capsys):
    history, _, _ = train(tmp_path, epochs=1, resume=True)
    assert history[0]["step"] == 10
    assert "starting from scratch" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    train(tmp_path, epochs=1)  # one good epoch -> checkpoint at step 10
    good = tf1.train.latest_checkpoint(str(tmp_path / "checkpoints"))

    def poison(images, labels, rng):
        return np.full_like(images, np.nan), labels

    with pytest.raises(TrainingError, match=r"loss became nan at step 10.*model.ckpt-10 is kept"):
        train(tmp_path, epochs=3, resume=True, batch_fn=poison)
    assert tf1.train.latest_checkpoint(str(tmp_path / "checkpoints")) == good
    reader = tf1.train.load_checkpoint(good)
    assert np.all(np.isfinite(reader.get_tensor("fc/weights")))


def test_events_hold_scalars_histograms_and_graph(tmp_path):
    train(tmp_path, epochs=2)
    tags, graph_seen = set(), False
    for path in glob.glob(str(tmp_path / "logs" / "train" / "events.*")):
        for event in tf1.train.summary_iterator(path):
            graph_seen |= event.HasField("graph_def")
            for v in event.summary.value:
                tags.add(v.tag)
    assert graph_seen
    assert {"loss", "accuracy", "logits", "params/fc/weights", "params/fc/biases"} <= tags
    val_tags = set()
    for path in glob.glob(str(tmp_path / "logs" / "val" / "events.*")):
        for event in tf1.train.summary_iterator(path):
            val_tags |= {v.tag for v in event.summary.value}
    assert {"loss", "accuracy"} <= val_tags


def test_graph_is_finalized_during_training(tmp_path):
    data = toy_data()
    with new_graph() as g:
        model = toy_model()
        with Trainer(g, model, tmp_path) as t:
            with pytest.raises(RuntimeError, match="finalized"):
                tf.constant(1.0)  # an op created inside the loop would leak
            t.fit(data, epochs=1, batch_size=40)


def test_bad_lengths_and_model(tmp_path):
    data = toy_data()
    with new_graph() as g:
        model = toy_model()
        with Trainer(g, model, tmp_path) as t:
            with pytest.raises(UsageError, match="epochs and steps must be >= 0"):
                t.fit(data, epochs=-1)
            with pytest.raises(UsageError, match="one of them"):
                t.fit(data, epochs=1, steps=3)
            with pytest.raises(UsageError, match="batch size"):
                t.fit(data, epochs=1, batch_size=0)
    with new_graph() as g:
        with pytest.raises(ValueError, match=r"lacks \['train_op'"):
            Trainer(g, {"images": 1, "labels": 1, "loss": 1, "global_step": 1}, tmp_path)


def test_epoch_order_is_a_function_of_seed_and_epoch():
    a, b = epoch_order(50, 0, 3), epoch_order(50, 0, 3)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(50))
    assert not np.array_equal(a, epoch_order(50, 0, 4))


def test_train_eval_is_measured_in_inference_mode_and_running_stats_in_training_mode(tmp_path):
    """A model whose training mode scrambles its predictions: the running accuracy (training
    mode) must be low, the train_eval and val accuracy (inference mode) high."""
    data = toy_data()
    with new_graph(seed=0) as g:
        model = toy_model(lr=0.1)
        wrong = tf.roll(model["logits"], shift=1, axis=1)  # training mode: the next class
        logits = tf1.cond(model["is_training"], lambda: wrong, lambda: model["logits"])
        model["accuracy"] = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1),
                                                            model["labels"]), tf.float32))
        with Trainer(g, model, tmp_path) as t:
            history = t.fit((data[0][:200], data[1][:200]), (data[0][200:], data[1][200:]),
                            epochs=4, batch_size=20, train_eval_size=100)
    last = history[-1]
    assert last["train_eval_accuracy"] > 0.8 and last["val_accuracy"] > 0.8
    assert last["train_running_accuracy"] < 0.3


def test_eval_steps_draw_a_curve_inside_one_epoch_and_losses_are_cross_entropy(tmp_path):
    data = toy_data()
    with new_graph(seed=0) as g:
        model = toy_model()
        with tf1.variable_scope("fc", reuse=True):
            w = tf1.get_variable("weights")
        penalty = 10.0 * tf.nn.l2_loss(w)
        model.update(cross_entropy=model["loss"], weight_decay=penalty)
        model["loss"] = model["loss"] + penalty
        model["train_op"] = tf1.train.GradientDescentOptimizer(0.001).minimize(
            model["loss"], global_step=model["global_step"])
        with Trainer(g, model, tmp_path) as t:
            history = t.fit(data, data, epochs=1, batch_size=20, eval_steps=3)
            xent = t.sess.run(model["cross_entropy"], {model["images"]: data[0],
                                                       model["labels"]: data[1]})
    assert [h["step"] for h in history] == [3, 6, 9, 12]
    assert [h["epoch"] for h in history] == [0.25, 0.5, 0.75, 1]
    assert history[-1]["weight_decay"] > 0.3  # the penalty (0.9 at the start), on its own
    assert history[-1]["val_loss"] == pytest.approx(float(xent), rel=1e-4)


# ----------------------------------------------------------------- prefetched batches


def noisy(images, labels, rng):
    """A batch_fn that depends on its generator: the batches differ with the seed."""
    return images + rng.normal(size=images.shape).astype(np.float32), labels


def test_prefetched_batches_are_the_batches_made_in_line_and_made_ahead():
    images, labels = toy_data()
    made_in = []

    def where(x, y, rng):
        made_in.append(threading.current_thread().name)
        return noisy(x, y, rng)

    ahead = Batches(images, labels, 32, seed=3, batch_fn=where, prefetch=True)
    inline = Batches(images, labels, 32, seed=3, batch_fn=noisy, prefetch=False)
    try:
        total = 3 * ahead.steps_per_epoch + 2          # across epoch boundaries
        for step in range(total):
            x, y = ahead.get(step, total)
            x0, y0 = inline.get(step, total)
            np.testing.assert_array_equal(x, x0)
            np.testing.assert_array_equal(y, y0)
        # a resumed run asks for a step out of sequence: made at once, then ahead again
        np.testing.assert_array_equal(ahead.get(5, total)[0], inline.make(5)[0])
    finally:
        ahead.close()
    assert made_in[0] == threading.current_thread().name
    assert all(name.startswith("tfgraph-batches") for name in made_in[1:total])
    # each step once, then step 5 again in line; step 6's, started ahead, may be
    # cancelled by close() before it begins
    assert made_in[total] == threading.current_thread().name
    assert len(made_in) in (total + 1, total + 2)


def test_fit_gives_the_same_run_with_and_without_prefetch(tmp_path):
    h1, w1, _ = train(tmp_path / "a", epochs=3, batch_fn=noisy, prefetch=True)
    h2, w2, _ = train(tmp_path / "b", epochs=3, batch_fn=noisy, prefetch=False)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert [h["val_loss"] for h in h1] == [h["val_loss"] for h in h2]


def test_an_error_in_the_batch_function_reaches_the_caller(tmp_path):
    def broken(x, y, rng):
        if rng.integers(0, 4) == 0:  # fails at some step after the first few
            raise ValueError("augmentation failed")
        return x, y

    with pytest.raises(ValueError, match="augmentation failed"):
        train(tmp_path, epochs=5, batch_fn=broken)
