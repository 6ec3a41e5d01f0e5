"""Xception, ENet and FractalNet against their papers: parameters, multiply-adds, shapes,
reuse, inference without dropout or drop-path, a forward pass, bad input."""
import numpy as np
import pytest

from conftest import count_madds, count_params

from tfgraph_lessons import nets
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.nets import enet as enet_module

NAMES = ("xception", "enet", "fractalnet", "fractalnet20")
RANDOM_OPS = {"RandomUniform", "RandomUniformInt", "RandomStandardNormal"}


def _is_random(op):
    # dropout and drop-path draw random numbers; initialisers do so only once, at init
    return op.type in RANDOM_OPS and "/Initializer/" not in op.name


def build(name, shape=None, num_classes=None, is_training=False):
    info = nets.info(name)
    shape = shape or info.input_shape
    images = tf1.placeholder(tf.float32, [None, *shape], name="images")
    logits, end_points = nets.get(name)(images, num_classes or info.num_classes, is_training)
    return images, logits, end_points


class Built:
    """One inference build of a network at its paper input size, shared by the tests
    (building is the slow part: a few seconds for a few hundred variables)."""

    def __init__(self, name):
        self.name = name
        with new_graph() as g:
            self.graph = g
            self.images, self.logits, end_points = build(name)
            self.predictions = end_points["predictions"]
            self.shapes = {k: tuple(v.shape.as_list()[1:]) for k, v in end_points.items()}
            self.keys = list(end_points)
            self.trainable = count_params(tf1.trainable_variables())
            self.all = count_params(tf1.global_variables())
            self.madds = count_madds(g)
            self.random_ops = [op.name for op in g.get_operations() if _is_random(op)]
            self.variables = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
            self.ops = {op.name: op.type for op in g.get_operations()}
            self.num_variables = len(tf1.global_variables())


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = Built(name)
        return cache[name]
    return get


# --------------------------------------------------------------------------- Xception


def xception_madds(classes=1000):
    """Figure 5 of arXiv:1610.02357 by hand: a separable 3x3 from c to d channels on an
    s x s map costs s*s*(9*c + c*d)."""
    def sep(s, c, d):
        return s * s * (9 * c + c * d)
    total = 149 * 149 * 9 * 3 * 32 + 147 * 147 * 9 * 32 * 64            # conv1, conv2
    for c, d, s, s_out in ((64, 128, 147, 74), (128, 256, 74, 37), (256, 728, 37, 19)):
        total += sep(s, c, d) + sep(s, d, d) + s_out * s_out * c * d    # + 1x1/2 shortcut
    total += 8 * 3 * sep(19, 728, 728)                                  # middle flow
    total += sep(19, 728, 728) + sep(19, 728, 1024) + 10 * 10 * 728 * 1024
    total += sep(10, 1024, 1536) + sep(10, 1536, 2048) + 2048 * classes
    return total


def test_xception_parameters_match_table3_and_keras(built):
    net = built("xception")
    # Table 3 of arXiv:1610.02357: 22,855,952 parameters = every trainable number,
    # batch norm's beta and gamma included. keras.applications.Xception's summary:
    # "Total params: 22,910,480, Trainable params: 22,855,952, Non-trainable params:
    # 54,528": the non-trainable ones are batch norm's moving mean and variance
    # (2 x 27,264 channels), which all_params counts too.
    assert net.trainable == 22_855_952
    assert net.all == 22_910_480
    assert nets.info("xception").paper_params == 22_855_952
    # the paper prints no multiply-adds; 8.36 billion is Figure 5 counted by hand
    assert net.madds == xception_madds() == 8_357_403_496


def test_xception_shapes_follow_figure5(built):
    s = built("xception").shapes
    assert s["entry_flow/conv1"] == (149, 149, 32)
    assert s["entry_flow/conv2"] == (147, 147, 64)
    assert [s[f"entry_flow/block{i}"] for i in (1, 2, 3)] == [(74, 74, 128), (37, 37, 256),
                                                              (19, 19, 728)]
    assert all(s[f"middle_flow/block{i}"] == (19, 19, 728) for i in range(1, 9))
    assert s["exit_flow/block1"] == (10, 10, 1024)
    assert s["exit_flow/sepconv2"] == (10, 10, 2048)
    assert s["global_pool"] == (2048,) and s["logits"] == (1000,)
    assert built("xception").keys[-2:] == ["logits", "predictions"]


def test_xception_uses_separable_convolutions_without_bias(built):
    net = built("xception")
    depthwise = [n for n, t in net.ops.items() if t == "DepthwiseConv2dNative"]
    # 2 + 2 + 2 entry, 8 x 3 middle, 2 + 2 exit separable convolutions
    assert len(depthwise) == 34
    assert net.variables["xception/middle_flow/block8/sepconv3/depthwise_weights"] == [3, 3,
                                                                                       728, 1]
    assert net.variables["xception/middle_flow/block8/sepconv3/pointwise_weights"] == [1, 1,
                                                                                       728, 728]
    assert [n for n in net.variables if n.endswith("biases")] == ["xception/logits/biases"]


# --------------------------------------------------------------------------- ENet


def enet_params(classes=19):
    """Trainable parameters of Table 1 of arXiv:1606.02147 with the biases and batch
    norm of the authors' Torch code (e-lab/ENet-training): 1x1 projections and
    expansions have no bias, the main 3x3 / 1x5 / transposed convolutions one; every
    convolution has batch norm (beta, gamma); the encoder has per-channel PReLU."""
    def enc(c_in, c_out, kind):
        n = c_out // 4
        p = (4 if kind == "down" else 1) * c_in * n + 3 * n              # conv, BN, PReLU
        p += (10 if kind == "asym" else 9) * n * n + n + 3 * n           # main conv + bias
        return p + n * c_out + 2 * c_out + c_out                         # expansion, BN, PReLU

    def dec(c_in, c_out, up):
        n = c_out // 4
        p = c_in * n + 2 * n + 9 * n * n + n + 2 * n + n * c_out + 2 * c_out
        return p + (c_in * c_out + 2 * c_out if (c_in != c_out or up) else 0)

    stage = ["reg", "dil", "asym", "dil", "reg", "dil", "asym", "dil"]
    total = 9 * 3 * 13 + 13 + 2 * 16 + 16                                # initial block
    total += enc(16, 64, "down") + 4 * enc(64, 64, "reg") + enc(64, 128, "down")
    total += 2 * sum(enc(128, 128, k) for k in stage)
    total += dec(128, 64, True) + 2 * dec(64, 64, False) + dec(64, 16, True) + dec(16, 16, False)
    return total + 2 * 2 * 16 * classes + classes                        # fullconv


def enet_madds(h, w, classes=19):
    """Table 1 by hand; a transposed convolution counted on its input's pixels."""
    def enc(s, c_in, c_out, kind):
        n = c_out // 4
        return s * (c_in * n * (4 if kind == "down" else 1)
                    + n * n * (10 if kind == "asym" else 9) + n * c_out)

    def dec(s, c_in, c_out, up):           # s: output pixels
        n, s_in = c_out // 4, s // 4 if up else s
        short = s_in * c_in * c_out if (c_in != c_out or up) else 0
        return s_in * c_in * n + (s_in if up else s) * 9 * n * n + s * n * c_out + short
    p2, p4, p8 = h * w // 4, h * w // 16, h * w // 64
    stage = ["reg", "dil", "asym", "dil", "reg", "dil", "asym", "dil"]
    total = p2 * 9 * 3 * 13
    total += enc(p4, 16, 64, "down") + 4 * enc(p4, 64, 64, "reg") + enc(p8, 64, 128, "down")
    total += 2 * sum(enc(p8, 128, 128, k) for k in stage)
    total += dec(p4, 128, 64, True) + 2 * dec(p4, 64, 64, False)
    total += dec(p2, 64, 16, True) + dec(p2, 16, 16, False)
    return total + p2 * 2 * 2 * 16 * classes


def test_enet_parameters_match_table3(built):
    net = built("enet")
    assert net.trainable == enet_params(19) == 364_311
    # Table 3 of arXiv:1606.02147 prints 0.37M. Counting what trains (weights, biases,
    # batch norm's beta and gamma, PReLU slopes) gives 364,311 = 0.36M at 19 classes;
    # with batch norm's moving mean and variance (8,352 more) it is 372,663 = 0.37M.
    # The paper does not say what it counts nor for how many classes (65 per class).
    assert round(net.trainable / 1e6, 2) == 0.36
    assert round(net.all / 1e6, 2) == nets.info("enet").paper_params / 1e6 == 0.37


def test_enet_multiply_adds(built):
    assert built("enet").madds == enet_madds(512, 512) == 1_961_033_728
    # Table 3 of arXiv:1606.02147 gives 3.83 GFLOPs at 640x360 without saying how it
    # counts. The multiply-adds there are 1.72 billion (3.45 GFLOPs at 2 FLOPs each);
    # the rest of 3.83 would be batch norm, PReLU and pooling, which we do not count.
    assert enet_madds(360, 640) == 1_723_564_800


def test_enet_shapes_follow_table1(built):
    s = built("enet").shapes
    assert s["initial"] == (256, 256, 16)
    assert all(s[f"bottleneck1.{i}"] == (128, 128, 64) for i in range(5))
    assert s["bottleneck2.0"] == (64, 64, 128)
    assert all(s[f"bottleneck{j}.{i}"] == (64, 64, 128) for j in (2, 3) for i in range(1, 9))
    assert "bottleneck3.0" not in s
    assert all(s[f"bottleneck4.{i}"] == (128, 128, 64) for i in range(3))
    assert all(s[f"bottleneck5.{i}"] == (256, 256, 16) for i in range(2))
    # a segmentation network: per-pixel logits at the input resolution, rank 4, where a
    # classifier's are [batch, classes]
    assert s["logits"] == s["predictions"] == (512, 512, 19)
    assert built("enet").logits.shape.rank == 4


def _dilation(graph, scope):
    """The rate of the convolution in ``scope``: the Conv2D's ``dilations``, or the block
    shape of a SpaceToBatchND in front of it (how ``tf.nn.convolution`` dilates)."""
    ops = [op for op in graph.get_operations() if op.name.startswith(scope + "/")]
    for op in ops:
        if op.type == "SpaceToBatchND":
            return [int(r) for r in tf.get_static_value(op.inputs[1])]
    return [op for op in ops if op.type == "Conv2D"][0].get_attr("dilations")[1:3]


def test_enet_dilated_and_asymmetric_convolutions(built):
    net = built("enet")
    kernels = net.variables
    rates = {name: _dilation(net.graph, f"enet/{name}/conv")
             for name in ("bottleneck2.2", "bottleneck2.4", "bottleneck2.6", "bottleneck2.8",
                          "bottleneck3.8", "bottleneck2.1")}
    assert rates == {"bottleneck2.2": [2, 2], "bottleneck2.4": [4, 4], "bottleneck2.6": [8, 8],
                     "bottleneck2.8": [16, 16], "bottleneck3.8": [16, 16],
                     "bottleneck2.1": [1, 1]}
    assert kernels["enet/bottleneck2.3/conv_5x1/weights"] == [5, 1, 32, 32]
    assert kernels["enet/bottleneck2.3/conv_1x5/weights"] == [1, 5, 32, 32]
    assert kernels["enet/bottleneck1.0/projection/weights"] == [2, 2, 16, 16]   # 2x2/2
    assert kernels["enet/bottleneck4.0/conv/weights"] == [3, 3, 16, 16]         # transposed
    assert kernels["enet/fullconv/weights"] == [2, 2, 19, 16]


def test_a_dilated_bottleneck_trains_on_the_cpu():
    with new_graph(), tf.device("/cpu:0"):
        x = tf1.placeholder(tf.float32, [None, 8, 8, 128])
        y, _ = enet_module.encoder_bottleneck(x, 128, "dilated", 2, True, 1.0, None,
                                              "bottleneck2.2")
        grads = tf.gradients(tf.reduce_sum(y * y), tf1.trainable_variables())
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            values = sess.run(grads, {x: np.ones([1, 8, 8, 128])})
    assert all(np.isfinite(v).all() for v in values)


def test_max_unpool_puts_the_maxima_back_where_they_were():
    x = np.random.default_rng(0).normal(size=(2, 4, 6, 3)).astype(np.float32)
    # NumPy: keep each 2x2 window's maximum in place, zero the rest
    windows = x.reshape(2, 2, 2, 3, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 3, 3, 4)
    keep = windows == windows.max(axis=-1, keepdims=True)
    expect = (windows * keep).reshape(2, 2, 3, 3, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    expect = expect.reshape(2, 4, 6, 3)
    with new_graph():
        images = tf1.placeholder(tf.float32, [None, 4, 6, 3])
        pooled, argmax = enet_module.max_pool_argmax(images)
        restored = enet_module.max_unpool(pooled, argmax, (4, 6, 3))
        with tf1.Session() as sess:
            got = sess.run(restored, {images: x})
    np.testing.assert_array_equal(got, expect)


def test_spatial_dropout_drops_whole_feature_maps():
    with new_graph(seed=0):
        x = tf.ones([4, 8, 8, 16])
        y = enet_module.spatial_dropout(x, 0.5, True)
        z = enet_module.spatial_dropout(x, 0.5, False)
        with tf1.Session() as sess:
            got, same = sess.run([y, z])
    per_map = got.reshape(4, 64, 16)
    assert (per_map == per_map[:, :1, :]).all()            # one draw per image and channel
    assert set(np.unique(got)) == {0.0, 2.0}
    np.testing.assert_array_equal(same, np.ones([4, 8, 8, 16]))


# --------------------------------------------------------------------------- FractalNet


def fractal_params(columns, classes=10):
    """Section 4 of arXiv:1605.07648: per block, ``columns`` 3x3 convolutions read the
    block's input and 2^C - 1 - C the block's width; no bias, batch norm beta and
    gamma after each; a fully connected layer on the final 1x1x512 map."""
    total, c_in = 0, 3
    for c in (64, 128, 256, 512, 512):
        first, rest = columns, 2 ** columns - 1 - columns
        total += first * (9 * c_in * c + 2 * c) + rest * (9 * c * c + 2 * c)
        c_in = c
    return total + 512 * classes + classes


@pytest.mark.parametrize("name,columns,layers,params,madds", [
    ("fractalnet20", 3, 20, 33_724_618, 845_222_912),
    ("fractalnet", 4, 40, 76_106_634, 2_036_077_568),
])
def test_fractalnet_parameters(built, name, columns, layers, params, madds):
    net = built(name)
    # 20 layers (the deepest path, B * 2^(C-1) with B = 5) is C = 3, 40 layers C = 4.
    # C = 3 gives 33,724,618, exactly the reference PyTorch port's count
    # (osmr/imgclsmob fractalnet_cifar10 asserts weight_count == 33724618: same layers,
    # conv without bias, batch norm, a linear layer). Table 1 of arXiv:1605.07648 prints
    # 38.6M for 20 layers and 22.9M for 40 layers. Neither follows from the stated
    # widths 64, 128, 256, 512, 512: C = 4 has more convolutions of every width than
    # C = 3 (15 per block instead of 7), so with those widths it cannot be the smaller
    # one, and no plain choice of widths gives either figure. We test the architecture
    # as the paper describes it, and record the paper's figures in the registry.
    assert net.trainable == fractal_params(columns) == params
    assert nets.info(name).paper_params == {3: 38.6e6, 4: 22.9e6}[columns]
    assert net.madds == madds
    deepest = [n for n, t in net.ops.items() if t == "Conv2D" and f"/column{columns}/" in n]
    assert len(deepest) == layers
    assert not [n for n in net.ops if f"/column{columns + 1}/" in n]


def test_fractalnet_shapes(built):
    s = built("fractalnet").shapes
    assert [s[f"block{b}"] for b in range(1, 6)] == [(32, 32, 64), (16, 16, 128), (8, 8, 256),
                                                     (4, 4, 512), (2, 2, 512)]
    assert s["pool5"] == (1, 1, 512) and s["logits"] == (10,)


def _drop_path_masks(graph):
    return {op.name: op.outputs[0] for op in graph.get_operations()
            if op.name.endswith("/drop_path_mask")}


def test_drop_path_only_in_training():
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with new_graph(seed=3) as g:
        images = tf1.placeholder(tf.float32, [None, 32, 32, 3])
        is_training = tf1.placeholder_with_default(False, [])
        logits, _ = nets.get("fractalnet20")(images, 10, is_training, keep_prob=1.0)
        masks = _drop_path_masks(g)
        names = sorted(masks)
        fetch = [masks[n] for n in names]
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            infer = [sess.run([logits] + fetch, {images: x}) for _ in range(2)]
            train = [sess.run([logits] + fetch, {images: x, is_training: True})
                     for _ in range(12)]
    # C = 3: joins of 2 and 3 columns at levels 2 and 4 of each of the 5 blocks
    assert len(names) == 10 and names[1] == "fractalnet20/block1/join4/drop_path_mask"
    # inference: every join is the plain mean, the output deterministic
    np.testing.assert_array_equal(infer[0][0], infer[1][0])
    assert all((m == 1).all() for m in infer[0][1:])
    # training (no dropout here): paths are dropped and the output changes from step to step
    assert any((np.concatenate(step[1:]) == 0).any() for step in train)
    assert any(not np.allclose(train[0][0], step[0]) for step in train[1:])
    last_joins = [step[2::2] for step in train]                  # each block's 3-column join
    assert all(m.sum() >= 1 for step in last_joins for m in step)   # never the whole block
    # a global step keeps one column, the same one in every block's last join
    global_steps = [step for step in last_joins
                    if all(m.sum() == 1 for m in step)
                    and len({int(np.argmax(m)) for m in step}) == 1]
    assert global_steps


# --------------------------------------------------------------------------- all of them


@pytest.mark.parametrize("name", NAMES)
def test_reuse_creates_no_new_variables_and_only_training_is_random(built, name):
    net = built(name)
    assert net.random_ops == []     # no dropout, spatial dropout or drop-path in inference
    with net.graph.as_default():
        ops_before = len(net.graph.get_operations())
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            nets.get(name)(net.images, nets.info(name).num_classes, True)
        assert len(tf1.global_variables()) == net.num_variables
    new_ops = net.graph.get_operations()[ops_before:]
    assert [op for op in new_ops if _is_random(op)]      # ... but in training


@pytest.mark.parametrize("name", NAMES)
def test_forward_pass_at_the_paper_input_size(built, name):
    net = built(name)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, *nets.info(name).input_shape))
    with net.graph.as_default(), tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        out, probs = sess.run([net.logits, net.predictions], {net.images: x})
    assert out.shape == (1, *net.shapes["logits"])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name,shape,needs", [
    ("xception", (70, 70, 3), "at least 71x71"),
    ("xception", (299, 299, None), "known channels"),
    ("enet", (4, 4, 3), "multiples of 8"),
    ("enet", (100, 100, 3), "multiples of 8"),
    ("fractalnet", (16, 16, 3), "at least 32x32"),
    ("fractalnet20", (31, 32, 3), "at least 32x32"),
])
def test_too_small_input_raises(name, shape, needs):
    with new_graph():
        images = tf1.placeholder(tf.float32, [None, *shape])
        with pytest.raises(ValueError, match=needs):
            nets.get(name)(images, 10, False)
