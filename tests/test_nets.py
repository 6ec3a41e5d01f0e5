"""Networks against their papers: names, shapes and parameter counts."""
import numpy as np
import pytest

from tfgraph_lessons import nets
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1


def count_params(variables):
    return int(sum(np.prod(v.shape.as_list()) for v in variables))


def build(name, shape=(32, 32, 3), num_classes=10, is_training=False):
    images = tf1.placeholder(tf.float32, [None, *shape])
    return nets.get(name)(images, num_classes, is_training)


def test_slide_cnn_matches_the_slide():
    with new_graph():
        logits, end_points = build("slide_cnn")
        names = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert names == {
        "slide_cnn/w1": [7, 7, 3, 28], "slide_cnn/b1": [28],
        "slide_cnn/w2": [5, 5, 28, 64], "slide_cnn/b2": [64],
        "slide_cnn/w3": [8 * 8 * 64, 1024], "slide_cnn/b3": [1024],
        "slide_cnn/w4": [1024, 10], "slide_cnn/b4": [10],
    }
    assert sum(int(np.prod(s)) for s in names.values()) == 4_254_586
    assert end_points["conv1"].shape.as_list() == [None, 32, 32, 28]
    assert end_points["pool1"].shape.as_list() == [None, 16, 16, 28]
    assert end_points["conv2"].shape.as_list() == [None, 16, 16, 64]
    assert end_points["pool2"].shape.as_list() == [None, 8, 8, 64]
    assert logits.shape.as_list() == [None, 10]


def test_slide_cnn_on_grayscale_digits():
    with new_graph():
        logits, _ = build("slide_cnn", shape=(8, 8, 1))
        w1 = [v for v in tf1.trainable_variables() if v.op.name == "slide_cnn/w1"][0]
    assert w1.shape.as_list() == [7, 7, 1, 28] and logits.shape.as_list() == [None, 10]


# Table 6 of He et al. 2016: parameters of the CIFAR-10 ResNets, in millions
@pytest.mark.parametrize("name,millions", [("resnet20", 0.27), ("resnet32", 0.46),
                                           ("resnet44", 0.66), ("resnet56", 0.85)])
def test_resnet_parameter_counts_match_the_paper(name, millions):
    with new_graph():
        logits, end_points = build(name)
        weights = [v for v in tf1.trainable_variables() if "/bn/" not in v.op.name]
        n = count_params(weights)
    assert round(n / 1e6, 2) == millions
    assert end_points["stage1"].shape.as_list() == [None, 32, 32, 16]
    assert end_points["stage2"].shape.as_list() == [None, 16, 16, 32]
    assert end_points["stage3"].shape.as_list() == [None, 8, 8, 64]
    assert logits.shape.as_list() == [None, 10]


def test_resnet_runs_and_batch_norm_follows_is_training():
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 32, 32, 3])
        flag = tf1.placeholder_with_default(False, [])
        logits, _ = nets.get("resnet20")(images, 10, flag)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            a = sess.run(logits, {images: x})
            b = sess.run(logits, {images: x})
            c = sess.run(logits, {images: x, flag: True})
    np.testing.assert_array_equal(a, b)      # inference: deterministic, moving averages
    assert not np.allclose(a, c)             # training: batch statistics


def test_too_small_images_are_refused():
    with new_graph():
        with pytest.raises(ValueError, match=r"\[slide_cnn\].*at least 4x4"):
            build("slide_cnn", shape=(3, 3, 1))


def test_unknown_model():
    with pytest.raises(UsageError, match="unknown --model 'vgg99'.*resnet20.*slide_cnn"):
        nets.get("vgg99")
