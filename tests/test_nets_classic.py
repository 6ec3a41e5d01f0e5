"""The classic networks (LeNet-5, AlexNet, ZFNet, OverFeat, VGG, NIN) against their papers."""
import inspect
import math

import numpy as np
import pytest

from conftest import count_madds, count_params

from tfgraph_lessons import nets
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.nets import alexnet as alexnet_module
from tfgraph_lessons.nets import nin as nin_module
from tfgraph_lessons.nets import vgg as vgg_module

IMAGENET = ["alexnet", "zfnet", "overfeat_fast", "overfeat_accurate",
            "vgg_a", "vgg_a_lrn", "vgg_b", "vgg_c", "vgg_d", "vgg_e", "nin"]
CIFAR = ["lenet5", "vgg11_bn_cifar", "vgg16_bn_cifar", "nin_cifar"]
ALIASES = {"vgg11": "vgg_a", "vgg13": "vgg_b", "vgg16": "vgg_d", "vgg19": "vgg_e"}


# --------------------------------------------------------------------------- helpers


def build(name, shape=None, is_training=False, batch=None, **kwargs):
    """Build ``name`` in the current graph on a placeholder of its paper's input size."""
    info = nets.info(name)
    images = tf1.placeholder(tf.float32, [batch, *(shape or info.input_shape)], name="images")
    logits, end_points = nets.get(name)(images, info.num_classes, is_training, **kwargs)
    return images, logits, end_points


def counts(name, **kwargs):
    """(trainable parameters, all variables, multiply-adds) of ``name`` at batch 1."""
    with new_graph() as g:
        build(name, batch=1, **kwargs)
        return count_params(tf1.trainable_variables()), count_params(tf1.global_variables()), count_madds(g)


def fast_initializer():
    """An op that initialises every variable of the graph: kernels from a He-scaled
    uniform (``+-sqrt(6 / fan_in)``), each vector by its own initialiser. It does the
    job of ``global_variables_initializer()`` at a quarter of its CPU time for
    VGG's 140M parameters (a uniform draw is cheaper than a truncated normal)."""
    ops = []
    for v in tf1.global_variables():
        shape = v.shape.as_list()
        if len(shape) == 1:
            ops.append(v.initializer)
        else:
            limit = math.sqrt(6.0 / np.prod(shape[:-1]))
            ops.append(tf1.assign(v, tf.random.uniform(shape, -limit, limit, seed=1)))
    return tf.group(*ops)


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name,family,shape,classes,cifar", [
    ("lenet5", "lenet", (32, 32, 1), 10, True),
    ("alexnet", "alexnet", (227, 227, 3), 1000, False),
    ("zfnet", "alexnet", (224, 224, 3), 1000, False),
    ("overfeat_fast", "alexnet", (231, 231, 3), 1000, False),
    ("overfeat_accurate", "alexnet", (221, 221, 3), 1000, False),
    ("vgg_c", "vgg", (224, 224, 3), 1000, False),
    ("vgg16", "vgg", (224, 224, 3), 1000, False),
    ("vgg16_bn_cifar", "vgg", (32, 32, 3), 10, True),
    ("nin_cifar", "nin", (32, 32, 3), 10, True),
    ("nin", "nin", (224, 224, 3), 1000, False),
])
def test_registry_entries(name, family, shape, classes, cifar):
    info = nets.info(name)
    assert (info.family, info.input_shape, info.num_classes, info.cifar) == (
        family, shape, classes, cifar)
    assert info.paper_source
    assert name in nets.names(cifar=cifar)


def test_vgg_aliases_are_the_same_builder():
    for alias, name in ALIASES.items():
        assert nets.get(alias) is nets.get(name)
        assert nets.info(alias).paper_params == nets.info(name).paper_params


# --------------------------------------------------------------------------- LeNet-5


def test_lenet5_parameters_and_why_they_differ_from_the_papers_60000():
    with new_graph():
        _, _, end_points = build("lenet5")
        per_layer = {v.op.name: int(np.prod(v.shape.as_list())) for v in tf1.trainable_variables()}
    layer = {k: sum(n for name, n in per_layer.items() if name.startswith(f"lenet5/{k}/"))
             for k in ("c1", "c3", "c5", "f6", "output")}
    # C1, C5 and F6 are the paper's (sec. II.B: 156, 48,120, 10,164).
    assert layer == {"c1": 156, "c3": 2416, "c5": 48_120, "f6": 10_164, "output": 850}
    # The paper's per-layer figures: C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
    # F6 10,164, RBF output 840 = 60,840 ("60,000" in its text). Ours: C3 fully
    # connected (+900: 16 maps x 25 x 6 inputs + 16 biases = 2,416, not the partial
    # connection table's 1,516), parameter-free average pooling (-12 - 32) and a
    # fully connected output with biases (+10).
    paper = 156 + 12 + 1516 + 32 + 48_120 + 10_164 + 840
    assert paper == 60_840 and paper + 900 - 44 + 10 == sum(layer.values()) == 61_706
    assert round(sum(layer.values()) / 1e4) == round(nets.info("lenet5").paper_params / 1e4)
    shapes = {k: v.shape.as_list()[1:] for k, v in end_points.items()}
    assert shapes["c1"] == [28, 28, 6] and shapes["s2"] == [14, 14, 6]
    assert shapes["c3"] == [10, 10, 16] and shapes["s4"] == [5, 5, 16]
    assert shapes["c5"] == [1, 1, 120] and shapes["f6"] == [84] and shapes["logits"] == [10]


def test_lenet5_pads_mnist_digits_and_takes_cifar():
    with new_graph():
        _, logits, end_points = build("lenet5", shape=(28, 28, 1))
        assert end_points["c1"].shape.as_list() == [None, 28, 28, 6]   # 28 + 2 * 2 - 5 + 1
        assert end_points["c5"].shape.as_list() == [None, 1, 1, 120]
    with new_graph():
        build("lenet5", shape=(32, 32, 3))
        c1 = [v for v in tf1.trainable_variables() if v.op.name == "lenet5/c1/weights"][0]
        assert c1.shape.as_list() == [5, 5, 3, 6]


def test_lenet5_activation_choice():
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 1)).astype(np.float32)
    with new_graph(seed=0):
        images, _, tanh_ep = build("lenet5")
        _, relu_ep = nets.get("lenet5")(images, 10, False, activation="relu",
                                        scope="lenet5_relu")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            c1_tanh, c1_relu = sess.run([tanh_ep["c1"], relu_ep["c1"]], {images: x})
    assert np.abs(c1_tanh).max() <= 1.7159 and c1_tanh.min() < 0      # 1.7159 tanh(2a/3)
    assert c1_relu.min() == 0.0
    with new_graph(), pytest.raises(ValueError, match=r"\[lenet5\] activation must be one of"):
        build("lenet5", activation="sigmoid")


# --------------------------------------------------------------------------- AlexNet family


# The slide's table, layer by layer.
ALEXNET_TABLE = [("conv1", [55, 55, 96]), ("pool1", [27, 27, 96]), ("conv2", [27, 27, 256]),
                 ("pool2", [13, 13, 256]), ("conv3", [13, 13, 384]), ("conv4", [13, 13, 384]),
                 ("conv5", [13, 13, 256]), ("pool5", [6, 6, 256]), ("fc6", [4096]),
                 ("fc7", [4096]), ("fc8", [1000])]


def test_alexnet_shapes_equal_the_slide_table():
    with new_graph():
        images, _, end_points = build("alexnet")
    assert images.shape.as_list()[1:] == [227, 227, 3]
    assert [(k, end_points[k].shape.as_list()[1:]) for k, _ in ALEXNET_TABLE] == ALEXNET_TABLE
    # nothing else in between but the LRNs (after conv1, conv2) and the dropouts
    assert list(end_points) == ["conv1", "norm1", "pool1", "conv2", "norm2", "pool2", "conv3",
                                "conv4", "conv5", "pool5", "fc6", "dropout6", "fc7", "dropout7",
                                "fc8", "logits", "predictions"]
    assert end_points["norm1"].op.type == "LRN" and end_points["norm2"].op.type == "LRN"


def test_alexnet_parameters_and_multiply_adds():
    params, _, madds = counts("alexnet")
    assert params == 62_378_344                  # single tower, biases included
    # [1]'s two GPUs split conv2, conv4, conv5 into two groups: each filter sees
    # half the input channels, so those kernels are half as big.
    grouped = params - (5 * 5 * 48 * 256) - (3 * 3 * 192 * 384) - (3 * 3 * 192 * 256)
    assert grouped == 60_965_224
    # "60 million parameters" (section 4): 60.97M
    assert grouped // 1_000_000 == nets.info("alexnet").paper_params / 1e6 == 60
    assert madds == 1_135_256_096
    assert madds - 27 * 27 * 5 * 5 * 48 * 256 - 13 * 13 * 9 * (192 * 384 + 192 * 256) \
        == 724_406_816                           # the grouped network's multiply-adds


def test_alexnet_lrn_and_init_follow_the_paper():
    with new_graph():
        _, _, end_points = build("alexnet")
        lrn = end_points["norm1"].op
        init = {v.op.name: v.initial_value for v in tf1.global_variables()}
        with tf1.Session() as sess:
            biases = sess.run({k: init[f"alexnet/{k}/biases"] for k in
                               ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")})
    # k=2, n=5, alpha=1e-4, beta=0.75 (section 3.3)
    assert (lrn.get_attr("depth_radius"), lrn.get_attr("bias")) == (2, 2.0)
    assert (lrn.get_attr("alpha"), lrn.get_attr("beta")) == (pytest.approx(1e-4), 0.75)
    # section 5: biases 1 in conv2, conv4, conv5, fc6, fc7; 0 elsewhere
    assert {k for k, b in biases.items() if np.all(b == 1.0)} == {"conv2", "conv4", "conv5",
                                                                   "fc6", "fc7"}
    assert all(np.all(b == 0.0) for k, b in biases.items() if k in ("conv1", "conv3", "fc8"))


def test_alexnet_training_config_is_the_papers():
    # [1] section 5: SGD, batch 128, momentum 0.9, weight decay 0.0005, lr 0.01
    # divided by 10 when the validation error stopped improving; 4.2: dropout 0.5.
    assert alexnet_module.TRAINING == {
        "optimizer": "momentum", "momentum": 0.9, "weight_decay": 0.0005, "lr": 0.01,
        "lr_schedule": "divide by 10 when validation error plateaus", "batch_size": 128,
        "keep_prob": 0.5}
    # the builder's default dropout is the paper's
    keep_prob = inspect.signature(alexnet_module.alexnet).parameters["keep_prob"].default
    assert keep_prob == alexnet_module.TRAINING["keep_prob"]


def test_alexnet_refuses_images_below_227():
    with new_graph(), pytest.raises(ValueError, match=r"\[alexnet\] needs images of at least "
                                                      r"227x227.*224, 224, 3"):
        build("alexnet", shape=(224, 224, 3))
    with new_graph(), pytest.raises(ValueError, match=r"\[alexnet\] needs images \[batch"):
        nets.get("alexnet")(tf1.placeholder(tf.float32, [None, 227, 227]), 1000, False)


def test_zfnet_shapes_follow_figure_3():
    with new_graph():
        _, _, end_points = build("zfnet")
        params = count_params(tf1.trainable_variables())
    shapes = {k: v.shape.as_list()[1:] for k, v in end_points.items()}
    assert shapes["conv1"] == [110, 110, 96] and shapes["pool1"] == [55, 55, 96]
    assert shapes["conv2"] == [26, 26, 256] and shapes["pool2"] == [13, 13, 256]
    assert shapes["conv5"] == [13, 13, 256] and shapes["pool5"] == [6, 6, 256]
    assert shapes["fc6"] == [4096] and shapes["logits"] == [1000]
    # [2] prints no count; from Figure 3's layers: AlexNet's, with a 7x7x3x96 conv1
    assert params == 62_378_344 - 11 * 11 * 3 * 96 + 7 * 7 * 3 * 96 == 62_357_608


# Table 4 of [3] prints the counts in millions, truncated (145.9M -> "145", 144.7M
# -> "144"), and "connections" for the multiply-adds, without saying what it counts
# (bias additions, pooling?): ours, convolutions and matrix products only, are
# 0.3% below.
@pytest.mark.parametrize("name,params,madds,shapes", [
    ("overfeat_fast", 145_920_872, 2_801_403_904,
     {"conv1": [56, 56, 96], "pool1": [28, 28, 96], "conv2": [24, 24, 256],
      "pool2": [12, 12, 256], "conv5": [12, 12, 1024], "pool5": [6, 6, 1024], "fc6": [3072]}),
    ("overfeat_accurate", 144_656_488, 5_355_446_784,
     {"conv1": [108, 108, 96], "pool1": [36, 36, 96], "conv2": [30, 30, 256],
      "pool2": [15, 15, 256], "conv6": [15, 15, 1024], "pool6": [5, 5, 1024], "fc7": [4096]}),
])
def test_overfeat_against_tables_1_3_4(name, params, madds, shapes):
    info = nets.info(name)
    ours, _, our_madds = counts(name)
    assert ours == params and our_madds == madds
    assert ours // 1_000_000 == info.paper_params / 1e6
    assert our_madds == pytest.approx(info.paper_madds, rel=0.01)
    with new_graph():
        _, _, end_points = build(name)
    assert {k: end_points[k].shape.as_list()[1:] for k in shapes} == shapes


# --------------------------------------------------------------------------- VGG


def test_vgg_configuration_table():
    configs = vgg_module.CONFIGS
    assert list(configs) == ["A", "A-LRN", "B", "C", "D", "E"]
    assert [vgg_module.weight_layers(c) for c in configs] == [11, 11, 13, 16, 16, 19]
    assert all(len(stacks) == 5 for stacks in configs.values())
    # C: a 1x1 convolution closes stacks 3, 4, 5; D makes it 3x3
    assert [stack[-1] for stack in configs["C"][2:]] == [(1, 256), (1, 512), (1, 512)]
    assert [stack[-1] for stack in configs["D"][2:]] == [(3, 256), (3, 512), (3, 512)]
    assert [vgg_module.layer_label(x) for x in configs["A-LRN"][0]] == ["conv3-64", "LRN"]
    assert [vgg_module.layer_label(x) for x in configs["C"][2]] == [
        "conv3-256", "conv3-256", "conv1-256"]


# Table 2 of [1], millions; exact counts of the released VGG-16/19 (Caffe, Keras) with biases
@pytest.mark.parametrize("name,millions,exact", [
    ("vgg_a", 133, 132_863_336), ("vgg_a_lrn", 133, 132_863_336), ("vgg_b", 133, 133_047_848),
    ("vgg_c", 134, 133_638_952), ("vgg_d", 138, 138_357_544), ("vgg_e", 144, 143_667_240),
])
def test_vgg_parameter_counts_match_table_2(name, millions, exact):
    with new_graph():
        _, _, end_points = build(name)
        params = count_params(tf1.trainable_variables())
    assert params == exact and round(params / 1e6) == millions
    assert round(nets.info(name).paper_params / 1e6) == millions
    assert end_points["pool5"].shape.as_list() == [None, 7, 7, 512]
    assert end_points["fc6"].shape.as_list() == [None, 4096]


def test_vgg_c_has_1x1_convolutions_and_a_lrn_its_lrn():
    with new_graph():
        build("vgg_c")
        build("vgg_a_lrn")
        kernels = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
        lrns = [op.name for op in tf1.get_default_graph().get_operations() if op.type == "LRN"]
    assert [kernels[f"vgg_c/conv{s}_3/weights"][:2] for s in (3, 4, 5)] == [[1, 1]] * 3
    assert kernels["vgg_c/conv3_2/weights"] == [3, 3, 256, 256]
    assert lrns == ["vgg_a_lrn/norm1"]


def test_vgg_multiply_adds():
    _, _, d = counts("vgg_d")
    _, _, e = counts("vgg_e")
    fc = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert d == 15_470_264_320
    assert d == pytest.approx(15.5e9, rel=0.01)
    # [2] sec. 4.1: "VGG-16/19 nets (15.3/19.6 billion FLOPs)"; 15.3 is the
    # convolutions alone (15.35 G), 19.6 the whole of VGG-19 (19.63 G)
    assert d - fc == pytest.approx(nets.info("vgg16").paper_madds, rel=0.01)
    assert e == pytest.approx(nets.info("vgg19").paper_madds, rel=0.01)


# pytorch-cifar's VGG puts a bias in each convolution before batch norm; ours has
# none (beta does that job): its 14,728,266 / 9,231,114 less the 4,224 / 2,752
# conv biases. All variables add batch norm's moving mean and variance.
@pytest.mark.parametrize("name,reference,conv_channels", [
    ("vgg11_bn_cifar", 9_231_114, 64 + 128 + 2 * 256 + 4 * 512),
    ("vgg16_bn_cifar", 14_728_266, 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512),
])
def test_vgg_bn_cifar_against_pytorch_cifar(name, reference, conv_channels):
    params, all_params, _ = counts(name)
    assert params == reference - conv_channels
    assert all_params == params + 2 * conv_channels
    with new_graph():
        _, logits, end_points = build(name)
    assert end_points["pool5"].shape.as_list() == [None, 1, 1, 512]
    assert logits.shape.as_list() == [None, 10]
    assert "fc6" not in end_points                       # one 512 -> 10 classifier


def test_vgg_bad_input():
    with new_graph(), pytest.raises(ValueError, match=r"\[vgg16_bn_cifar\] needs 32x32 images"):
        build("vgg16_bn_cifar", shape=(224, 224, 3))
    with new_graph(), pytest.raises(ValueError, match=r"\[vgg16\] needs images of at least 32x32"):
        build("vgg16", shape=(16, 16, 3))
    with new_graph(), pytest.raises(ValueError, match=r"unknown VGG configuration 'F'.*A, A-LRN, "
                                                      r"B, C, D, E"):
        images = tf1.placeholder(tf.float32, [None, 224, 224, 3])
        vgg_module.vgg(images, 1000, False, config="F")


# --------------------------------------------------------------------------- NIN


def test_nin_cifar_follows_the_caffe_definition():
    with new_graph():
        _, logits, end_points = build("nin_cifar")
        kernels = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()
                   if v.op.name.endswith("weights")}
        fcs = [op for op in tf1.get_default_graph().get_operations() if op.type == "MatMul"]
    assert kernels == {
        "nin_cifar/mlpconv1/conv1/weights": [5, 5, 3, 192],
        "nin_cifar/mlpconv1/cccp1/weights": [1, 1, 192, 160],
        "nin_cifar/mlpconv1/cccp2/weights": [1, 1, 160, 96],
        "nin_cifar/mlpconv2/conv2/weights": [5, 5, 96, 192],
        "nin_cifar/mlpconv2/cccp3/weights": [1, 1, 192, 192],
        "nin_cifar/mlpconv2/cccp4/weights": [1, 1, 192, 192],
        "nin_cifar/mlpconv3/conv3/weights": [3, 3, 192, 192],
        "nin_cifar/mlpconv3/cccp5/weights": [1, 1, 192, 192],
        "nin_cifar/mlpconv3/cccp6/weights": [1, 1, 192, 10],
    }
    assert not fcs                                       # no fully connected layer
    assert end_points["pool1"].shape.as_list() == [None, 16, 16, 96]
    assert end_points["pool1"].op.type == "MaxPool" and end_points["pool2"].op.type == "AvgPool"
    assert end_points["pool2"].shape.as_list() == [None, 8, 8, 192]
    assert end_points["mlpconv3/cccp6"].shape.as_list() == [None, 8, 8, 10]
    assert logits.shape.as_list() == [None, 10]
    assert counts("nin_cifar")[0] == 966_986           # the Caffe model's weights and biases


def test_nin_imagenet_follows_the_model_zoo():
    params, _, _ = counts("nin")
    # The model zoo's caffemodel is "29 MB": 7,595,176 float32 numbers are 28.97 MiB.
    assert params == 7_595_176 and round(params * 4 / 2 ** 20) == 29
    with new_graph():
        _, _, end_points = build("nin")
    shapes = {k: v.shape.as_list()[1:] for k, v in end_points.items()}
    assert shapes["mlpconv1/conv1"] == [54, 54, 96] and shapes["pool1"] == [27, 27, 96]
    assert shapes["pool2"] == [13, 13, 256] and shapes["pool3"] == [6, 6, 384]
    assert shapes["mlpconv4/cccp8"] == [6, 6, 1000] and shapes["logits"] == [1000]
    with new_graph(), pytest.raises(ValueError, match=r"\[nin\] needs images of at least 59x59"):
        build("nin", shape=(58, 58, 3))
    with new_graph():
        build("nin", shape=(59, 59, 3))                  # the smallest it takes


def bilinear(x, out_h, out_w):
    """NumPy bilinear resize of ``[b, h, w]`` with half-pixel centres (tf.image.resize)."""
    _, h, w = x.shape

    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    y0, y1, fy = axis(out_h, h)
    x0, x1, fx = axis(out_w, w)
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def normalise(x):
    low = x.min(axis=(1, 2), keepdims=True)
    return (x - low) / (x.max(axis=(1, 2), keepdims=True) - low)


def test_class_activation_map_against_numpy():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    w = rng.normal(size=(5, 7)).astype(np.float32)
    with new_graph():
        one = nin_module.class_activation_map(f, w, 3, (6, 8))
        each = nin_module.class_activation_map(f, w, tf.constant([3, 6]), (6, 8))
        with tf1.Session() as sess:
            one, each = sess.run([one, each])
    expected = normalise(bilinear(np.einsum("bhwc,c->bhw", f, w[:, 3]), 6, 8))
    np.testing.assert_allclose(one, expected, atol=1e-5)
    assert one.shape == (2, 6, 8) and one.min() == 0.0 and one.max() == pytest.approx(1.0)
    expected_6 = normalise(bilinear(np.einsum("bhwc,c->bhw", f, w[:, 6]), 6, 8))
    np.testing.assert_allclose(each[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(each[1], expected_6[1], atol=1e-5)
    with new_graph(), pytest.raises(ValueError, match=r"\[cam\] class_weights must be"):
        nin_module.class_activation_map(f, w[:4], 3, (6, 8))


def test_nin_cam_is_the_class_map_upsampled():
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with new_graph(seed=0):
        images, _, end_points = build("nin_cifar")
        heat = nin_module.nin_cam(end_points, 4, (32, 32))
        same = nin_module.class_activation_map(end_points["mlpconv3/cccp6"], np.eye(10), 4,
                                               (32, 32))
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            heat, same, maps = sess.run([heat, same, end_points["mlpconv3/cccp6"]], {images: x})
    assert heat.shape == (2, 32, 32) and heat.min() >= 0.0 and heat.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(heat, same, atol=1e-5)
    np.testing.assert_allclose(heat, normalise(bilinear(maps[..., 4], 32, 32)), atol=1e-5)
    with pytest.raises(ValueError, match=r"\[nin_cam\] needs the end_points"):
        nin_module.nin_cam({"logits": None}, 0, (32, 32))


# --------------------------------------------------------------------------- every network


@pytest.mark.parametrize("name", IMAGENET + CIFAR)
def test_reuse_shares_variables_and_inference_drops_dropout(name):
    with new_graph() as g:
        def random_ops():
            return sum(op.type == "RandomUniform" for op in g.get_operations())

        build(name, is_training=True)
        n_vars, n_random = len(tf1.global_variables()), random_ops()
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            build(name, is_training=False)
        assert len(tf1.global_variables()) == n_vars     # nothing new: all shared
        assert random_ops() == n_random                  # inference adds no dropout
        has_dropout = name not in ("lenet5", "vgg11_bn_cifar", "vgg16_bn_cifar")
        assert (n_random > 0) == has_dropout             # training has it (where the paper does)


def test_is_training_may_be_a_tensor():
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 32, 32, 3])
        flag = tf1.placeholder_with_default(False, [])
        logits, _ = nets.get("nin_cifar")(images, 10, flag)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            a, b = sess.run(logits, {images: x}), sess.run(logits, {images: x})
            c = sess.run(logits, {images: x, flag: True})
    np.testing.assert_array_equal(a, b)      # inference: no dropout
    assert not np.allclose(a, c)             # training: dropout 0.5


@pytest.mark.parametrize("name", IMAGENET + CIFAR)
def test_forward_pass_at_batch_1(name):
    info = nets.info(name)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, *info.input_shape)).astype(np.float32)
    with new_graph(seed=0):
        images, logits, end_points = build(name, batch=1)
        init = fast_initializer()
        with tf1.Session() as sess:
            sess.run(init)
            out, probs = sess.run([logits, end_points["predictions"]], {images: x})
    assert out.shape == (1, info.num_classes) and np.all(np.isfinite(out))
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["lenet5", "nin_cifar", "vgg11_bn_cifar"])
def test_a_few_steps_lower_the_loss_on_real_cifar10(name, cifar10_root):
    from tfgraph_lessons.data import datasets

    images_u8, labels = datasets.load_split("cifar10", "test", data_dir=cifar10_root,
                                            download=False)
    x = images_u8[:8].astype(np.float32) / 255.0
    x = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))
    y = labels[:8].astype(np.int64)
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 32, 32, 3])
        targets = tf1.placeholder(tf.int64, [None])
        logits, _ = nets.get(name)(images, 10, True, keep_prob=1.0)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=logits))
        train = tf1.train.AdamOptimizer(1e-3).minimize(loss)
        feed = {images: x, targets: y}
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            before = sess.run(loss, feed)
            for _ in range(5):
                sess.run(train, feed)
            after = sess.run(loss, feed)
    assert np.isfinite(before) and after < before - 0.15   # (nin_cifar, the slowest: 2.38 -> 1.66)
