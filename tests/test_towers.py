"""Data-parallel towers on logical CPU devices: they train, share one set of variables,
run each tower on its own device, and one averaged step equals a full-batch step."""
import numpy as np
import pytest

from tfgraph_lessons import towers as T
from tfgraph_lessons.core.device import available_gpus, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.tf_mechanism import summary_tags


def test_two_towers_on_two_logical_cpus_train_and_share_variables(tmp_path):
    m = T.run(T.TowersConfig(towers=2, device="cpu", fast=True, out=str(tmp_path)))
    assert m["devices"] == ["/CPU:0", "/CPU:1"] and m["images_per_tower"] == 64
    assert m["last_loss"] < m["first_loss"]
    assert m["images_per_second"] > 0 and m["timed_steps"] > 0
    # one set of variables, created by tower 0 on /CPU:0, reused by tower 1
    assert len(m["shared_variables"]) == 8
    assert not any("tower" in name for name in m["shared_variables"])
    # each tower's convolutions (forward, fused with bias + ReLU, and backward) on its device
    convs = m["conv_devices"]
    for i in (0, 1):
        mine = {name: dev for name, dev in convs.items() if name.startswith(f"tower_{i}/")}
        assert len(mine) >= 4, convs  # 2 forward + at least 2 backward convolutions
        assert set(mine.values()) == {f"/CPU:{i}"}, mine
    assert max(m["placement"]["tower_1"], key=m["placement"]["tower_1"].get) == "/CPU:1"
    tags = summary_tags(tmp_path / "logs")
    assert tags["graph"]
    assert {"loss", "accuracy", "tower_0/loss", "tower_1/loss"} <= set(tags["scalars"])
    assert "gradients/slide_cnn/w1" in tags["histograms"]
    assert "inputs" in tags["images"]


def test_variables_exist_once_in_the_graph():
    with new_graph() as graph:
        model = T.build_graph(T.TowersConfig(towers=3), (8, 8, 1), 10, 0.0, 1.0,
                              ["/CPU:0", "/CPU:1", "/CPU:2"])
    variables = graph.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES)
    assert sorted(v.op.name for v in variables) == sorted(
        f"slide_cnn/{n}" for n in ("w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4"))
    assert all(v.device == "/device:CPU:0" for v in variables)
    assert len(model["tower_losses"]) == 3
    assert [g[1] for g in model["grads_and_vars"]] == variables


def linear_step(num_towers, x, y, lr=0.1):
    """One SGD step of a linear least-squares model on ``num_towers`` logical CPUs."""
    with new_graph() as graph:
        images = tf1.placeholder(tf.float32, [None, x.shape[1]])
        labels = tf1.placeholder(tf.float32, [None])

        def tower_fn(tower_x, tower_y):
            w = tf1.get_variable("w", [x.shape[1]], tf.float32,
                                 initializer=tf1.constant_initializer(0.5))
            b = tf1.get_variable("b", [], tf.float32, initializer=tf1.zeros_initializer())
            pred = tf.reduce_sum(tower_x * w, axis=1) + b
            return tf.reduce_mean(tf.square(pred - tower_y)), {}

        devices = [f"/CPU:{i}" for i in range(num_towers)]
        model = T.build_towers(images, labels, devices, tower_fn,
                               tf1.train.GradientDescentOptimizer(lr))
        init = tf1.global_variables_initializer()
        variables = tf1.global_variables()
    config = session_config(cpu_devices=num_towers, intra_threads=1, inter_threads=1)
    with tf1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        sess.run(model["train_op"], {images: x, labels: y})
        return {v.op.name: sess.run(v) for v in variables}


def test_averaged_tower_gradients_equal_one_full_batch_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    y = rng.normal(size=12).astype(np.float32)
    one = linear_step(1, x, y)
    for n in (2, 3, 4):
        many = linear_step(n, x, y)
        for name in one:
            np.testing.assert_allclose(many[name], one[name], rtol=1e-6, atol=1e-6)
    # and both equal the textbook gradient of the mean squared error
    err = x @ np.full(5, 0.5, np.float32) - y
    np.testing.assert_allclose(one["w"], 0.5 - 0.1 * 2 * (x.T @ err) / len(x), rtol=1e-5)
    np.testing.assert_allclose(one["b"], -0.1 * 2 * err.mean(), rtol=1e-5, atol=1e-7)


def test_average_gradients_means_each_variable_over_towers():
    with new_graph():
        v = tf1.get_variable("v", [2])
        u = tf1.get_variable("u", [])
        grads = [[(tf.constant([1.0, 2.0]), v), (None, u)],
                 [(tf.constant([3.0, 6.0]), v), (None, u)]]
        averaged = T.average_gradients(grads)
        with tf1.Session() as sess:
            assert len(averaged) == 1 and averaged[0][1] is v
            np.testing.assert_allclose(sess.run(averaged[0][0]), [2.0, 4.0])


def test_tower_devices():
    assert T.tower_devices(2, "cpu") == (["/CPU:0", "/CPU:1"], {"cpu_devices": 2})
    if not available_gpus():
        notes = []
        assert T.tower_devices(2, "gpu", notice=notes.append)[0] == ["/CPU:0", "/CPU:1"]
        assert len(notes) == 1 and "no GPU" in notes[0]
        with pytest.raises(UsageError, match="no-soft-placement"):
            T.tower_devices(2, "gpu", soft_placement=False)
    with pytest.raises(UsageError, match="use auto, cpu or gpu"):
        T.tower_devices(2, "/GPU:1")


def test_bad_tower_settings_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not split evenly over 3 towers"):
        T.run(T.TowersConfig(towers=3, batch_size=128, out=str(tmp_path / "a")))
    with pytest.raises(SystemExit) as e:
        T.parse_config(["--towers", "0"])
    assert e.value.code == 2
    assert not (tmp_path / "a").exists()


def test_placement_demo_shows_tower_1_reading_the_shared_variables_on_cpu0():
    devices, placed = T.placement_demo(T.TowersConfig(towers=2, device="cpu"))
    assert devices == ["/CPU:0", "/CPU:1"]
    tower_1 = {name: p for name, p in placed.items() if T.tower_of(name) == 1}
    on_cpu0 = [name for name, p in tower_1.items() if p["device"] == "/CPU:0"]
    reads = [name for name in on_cpu0 if tower_1[name]["op"] == "ReadVariableOp"]
    # one read of each of the 8 shared variables, where the variable lives ...
    assert len(reads) == 8, on_cpu0
    # ... and the tower's own work (its convolutions among it) on its own device
    assert sum(p["device"] == "/CPU:1" for p in tower_1.values()) > len(on_cpu0)
    assert all(p["device"] == "/CPU:1" for p in tower_1.values() if "Conv2D" in p["op"])
