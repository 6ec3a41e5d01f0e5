"""The Inception family against its papers and reference implementations.

GoogLeNet: Szegedy et al. 2014, arXiv:1409.4842, Table 1. Inception v3: Szegedy et
al. 2015, arXiv:1512.00567, and Keras's InceptionV3. Inception-v4 and
Inception-ResNet: Szegedy et al. 2016, arXiv:1602.07261, Keras's
InceptionResNetV2 and the Cadene port of the TF-slim Inception-v4. The small
CIFAR Inception: Zhang et al. 2017, arXiv:1611.03530, Table 1 and Figure 3.

Each network is built once (inference mode, batch 1) and shared by the tests:
graph building dominates this file's time.
"""
from typing import NamedTuple

import numpy as np
import pytest

from conftest import count_madds

from tfgraph_lessons import nets
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.nets import googlenet as googlenet_mod
from tfgraph_lessons.nets import inception as inc
from tfgraph_lessons.nets import inception_v3 as v3_mod
from tfgraph_lessons.nets import inception_v4 as v4_mod

IMAGENET = ("googlenet", "inception_v3", "inception_v4", "inception_resnet_v1",
            "inception_resnet_v2")
ALL = IMAGENET + ("inception_cifar",)


# --------------------------------------------------------------------------- helpers


def size(variables):
    return int(sum(np.prod(v.shape.as_list()) for v in variables))





class Built(NamedTuple):
    graph: object
    images: object
    logits: object
    end_points: dict
    variables: list     # every variable of the first build
    madds: int          # counted before the reuse test adds a second copy


_BUILT = {}


def built(name):
    """``name`` built once per session at its paper's input size, batch 1, inference."""
    if name not in _BUILT:
        info = nets.info(name)
        with new_graph(seed=0) as g:
            images = tf1.placeholder(tf.float32, [1, *info.input_shape], name="images")
            logits, end_points = nets.get(name)(images, info.num_classes, False)
            variables = tf1.global_variables()
        _BUILT[name] = Built(g, images, logits, end_points, variables, count_madds(g))
    return _BUILT[name]


def var_shapes(b, prefix):
    return {v.op.name[len(prefix):]: v.shape.as_list() for v in b.variables
            if v.op.name.startswith(prefix)}


def trainable(b):
    names = {v.op.name for v in b.graph.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES)}
    return [v for v in b.variables if v.op.name in names]


def shape(b, key):
    return b.end_points[key].shape.as_list()


def np_cross_entropy(labels, logits, smoothing=0.0):
    """Mean softmax cross-entropy against ``(1 - e) * one_hot + e / K`` targets."""
    k = logits.shape[1]
    targets = np.eye(k)[labels] * (1.0 - smoothing) + smoothing / k
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(np.mean(-(targets * log_p).sum(axis=1)))


# --------------------------------------------------------------------------- registry


def test_registry_entries():
    assert set(ALL) <= set(nets.names())
    assert "inception_cifar" in nets.names(cifar=True)
    assert not set(IMAGENET) & set(nets.names(cifar=True))
    for name in ALL:
        info = nets.info(name)
        assert info.family == "inception"
        assert "arXiv:" in info.paper_source
    assert nets.info("googlenet").input_shape == (224, 224, 3)
    assert nets.info("inception_v3").input_shape == (299, 299, 3)
    assert nets.info("inception_resnet_v2").num_classes == 1000
    assert nets.info("inception_cifar").num_classes == 10


# --------------------------------------------------------------------------- the module builder


def test_inception_module_concatenates_its_branches():
    with new_graph():
        x = tf1.placeholder(tf.float32, [None, 8, 8, 16])
        y = inc.inception_module(x, googlenet_mod.module_branches(4, 3, 5, 2, 6, 7), False,
                                 "m", batch_norm=False)
        shapes = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert y.shape.as_list() == [None, 8, 8, 4 + 5 + 6 + 7]
    assert shapes["m/branch_1/conv2d_0b_3x3/weights"] == [3, 3, 3, 5]
    assert shapes["m/branch_2/conv2d_0b_5x5/weights"] == [5, 5, 2, 6]
    assert shapes["m/branch_3/conv2d_0b_1x1/weights"] == [1, 1, 16, 7]   # after the max pool


def test_split_branches_and_mismatched_strides():
    with new_graph():
        x = tf1.placeholder(tf.float32, [None, 9, 9, 4])
        y = inc.inception_module(x, [[inc.Conv(3, 1), inc.Split(((inc.Conv(2, (1, 3)),),
                                                                 (inc.Conv(5, (3, 1)),)))]],
                                 False, "c")
        assert y.shape.as_list() == [None, 9, 9, 7]
        with pytest.raises(ValueError, match=r"\[bad\] the branches give different map sizes"):
            inc.inception_module(x, [[inc.Conv(2, 1)], [inc.Conv(2, 3, 2, "VALID")]], False,
                                 "bad")


def test_residual_block_adds_the_scaled_branch():
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype(np.float32)
    branches = ((inc.Conv(4, 1),), (inc.Conv(4, 1), inc.Conv(4, 3)))
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 5, 5, 8])
        off = inc.residual_block(images, inc.Residual(branches, 0.0), False, "off")
        on = inc.residual_block(images, inc.Residual(branches, 0.2), False, "on")
        branch = tf1.get_default_graph().get_tensor_by_name("on/conv2d_1x1/output:0")
        linear = inc.residual_block(images, inc.Residual(branches, 1.0, activation=False),
                                    False, "linear")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            a, b, up, c = sess.run([off, on, branch, linear], {images: x})
    np.testing.assert_allclose(a, np.maximum(x, 0))              # scale 0: relu(x)
    np.testing.assert_allclose(b, np.maximum(x + 0.2 * up, 0), rtol=1e-5, atol=1e-6)
    assert (c < 0).any()                                          # the last v2 block: no ReLU


# --------------------------------------------------------------------------- GoogLeNet

# Table 1 of arXiv:1409.4842: output size of each module and its "ops" (millions of
# multiply-adds). "conv2" is the table's two-layer "convolution" row (3x3 reduce + 3x3).
TABLE_1 = {
    "conv2": ((56, 56, 192), 360),
    "inception_3a": ((28, 28, 256), 128), "inception_3b": ((28, 28, 480), 304),
    "inception_4a": ((14, 14, 512), 73), "inception_4b": ((14, 14, 512), 88),
    "inception_4c": ((14, 14, 512), 100), "inception_4d": ((14, 14, 528), 119),
    "inception_4e": ((14, 14, 832), 170), "inception_5b": ((7, 7, 1024), 71),
    "logits": ((1000,), 1),
}


def test_googlenet_module_widths_follow_table_1():
    b = built("googlenet")
    for key, (out, _) in TABLE_1.items():
        assert shape(b, key) == [1, *out], key
    assert shape(b, "conv1") == [1, 112, 112, 64]
    assert shape(b, "pool4") == [1, 7, 7, 832] and shape(b, "inception_5a") == [1, 7, 7, 832]
    assert shape(b, "pool5") == [1, 1024]
    assert list(b.end_points)[-2:] == ["logits", "predictions"]


def test_googlenet_multiply_adds_follow_table_1():
    b = built("googlenet")
    for key, (_, ops) in TABLE_1.items():
        ours = count_madds(b.graph, f"googlenet/{key}/")
        if key == "conv2":
            ours += count_madds(b.graph, "googlenet/conv2_reduce/")
        assert abs(ours / 1e6 - ops) < 1.0, (key, ours)
    # Two rows of Table 1 disagree with its own widths. conv1 (7x7/2, 3 -> 64 channels,
    # 112x112 out) is 9,408 weights and 118M multiply-adds, where the table prints 2.7K
    # and 34M; inception (5a) has (4e)'s widths on an 832-channel input, 51.1M where
    # the table prints 54M.
    assert count_madds(b.graph, "googlenet/conv1/") == 112 * 112 * 7 * 7 * 3 * 64
    assert round(count_madds(b.graph, "googlenet/inception_5a/") / 1e6, 1) == 51.1
    # The paper's "1.5 billion multiply-adds" is the ops column's sum (1,502M); with
    # conv1 counted as the table prints it ours give the same to 0.3%, and 1.58G in all.
    table_sum = 34 + 360 + 128 + 304 + 73 + 88 + 100 + 119 + 170 + 54 + 71 + 1
    as_printed = b.madds - count_madds(b.graph, "googlenet/conv1/") + 34e6
    assert abs(as_printed / (table_sum * 1e6) - 1) < 0.003
    assert 1.5e9 <= b.madds < 1.6e9


def _table_1_weights(cin, n1, r3, n3, r5, n5, pool):
    """Weights (no biases) of one Table 1 row, from its widths."""
    return cin * n1 + cin * r3 + 9 * r3 * n3 + cin * r5 + 25 * r5 * n5 + cin * pool


def test_googlenet_parameters_follow_table_1():
    b = built("googlenet")
    weights = {v.op.name: size([v]) for v in trainable(b) if v.op.name.endswith("weights")}
    cin = 192
    for name, *widths in googlenet_mod.TABLE_1:
        ours = sum(n for k, n in weights.items() if k.startswith(f"googlenet/{name}/"))
        assert ours == _table_1_weights(cin, *widths), name
        cin = widths[0] + widths[2] + widths[4] + widths[5]
    # Table 1's "params" column counts weights without biases in units of 1,024
    # (conv2: 64*64 + 9*64*192 = 114,688 = "112K"; linear: 1024*1000 = "1000K"); it
    # sums to 6,797.7K, the paper's ~6.8M. Several of its rows are rounded loosely
    # (4c prints 463K for 497.5K), so the total is compared to its printed precision.
    total = sum(weights.values())
    assert weights["googlenet/conv2/weights"] + weights["googlenet/conv2_reduce/weights"] \
        == 112 * 1024
    assert weights["googlenet/logits/weights"] == 1000 * 1024
    assert round(total / 1024 / 1e3, 1) == 6.8
    # With a bias per filter the main network (no auxiliary heads) has 8,280 more.
    biases = size([v for v in trainable(b) if v.op.name.endswith("biases")])
    assert biases == 8_280 and size(trainable(b)) == total + biases == 6_998_552


def _aux_size(cin, num_classes=1000):
    # 5x5/3 average pool on 14x14 -> 4x4; 1x1 conv to 128; fc 4*4*128 -> 1024; fc 1024 -> classes
    return (cin * 128 + 128) + (4 * 4 * 128 * 1024 + 1024) + (1024 * num_classes + num_classes)


def test_googlenet_aux_heads_exist_only_in_training():
    main = {v.op.name: v.shape.as_list() for v in trainable(built("googlenet"))}
    assert "aux_logits" not in built("googlenet").end_points
    assert not any("/aux_" in n for n in main)
    with new_graph():
        images = tf1.placeholder(tf.float32, [None, 224, 224, 3])
        logits, end_points = nets.get("googlenet")(images, 1000, True)
        variables = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    aux = end_points["aux_logits"]
    assert isinstance(aux, list) and len(aux) == 2
    assert all(a.shape.as_list() == [None, 1000] for a in aux)
    assert list(end_points).index("aux_1") == list(end_points).index("inception_4a") + 1
    assert list(end_points).index("aux_2") == list(end_points).index("inception_4d") + 1
    # The heads' parameters, counted apart from the main network's (Table 1 leaves
    # them out): 3,188,840 on inception (4a), 3,190,888 on (4d).
    aux_1 = sum(np.prod(s) for n, s in variables.items() if n.startswith("googlenet/aux_1/"))
    aux_2 = sum(np.prod(s) for n, s in variables.items() if n.startswith("googlenet/aux_2/"))
    assert (aux_1, aux_2) == (_aux_size(512), _aux_size(528)) == (3_188_840, 3_190_888)
    assert {n: s for n, s in variables.items() if "/aux_" not in n} == main


def _ancestors(tensor):
    seen, stack = set(), [tensor.op]
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen.add(op.name)
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
    return seen


def test_googlenet_loss_weights_each_aux_head_by_0_3():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 224, 224, 3)).astype(np.float32)
    y = np.array([3, 7])
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 224, 224, 3])
        labels = tf1.placeholder(tf.int64, [None])
        flag = tf1.placeholder_with_default(False, [])
        logits, end_points = nets.get("googlenet")(images, 10, flag)
        loss = googlenet_mod.googlenet_loss(labels, logits, end_points)
        # a tensor flag builds the heads, but the logits do not depend on them
        assert not any("/aux_" in n for n in _ancestors(logits))
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            got, main, a1, a2 = sess.run([loss, logits, *end_points["aux_logits"]],
                                         {images: x, labels: y, flag: True})
    want = np_cross_entropy(y, main) + 0.3 * (np_cross_entropy(y, a1) + np_cross_entropy(y, a2))
    assert got == pytest.approx(want, rel=1e-5)


# --------------------------------------------------------------------------- Inception v3


def test_inception_v3_grids_follow_table_1():
    b = built("inception_v3")
    assert shape(b, "conv2d_1a_3x3") == [1, 149, 149, 32]
    assert shape(b, "maxpool_5a_3x3") == [1, 35, 35, 192]
    assert shape(b, "mixed_5d") == [1, 35, 35, 288]
    assert shape(b, "mixed_6e") == [1, 17, 17, 768]
    assert shape(b, "mixed_7c") == [1, 8, 8, 2048]
    assert shape(b, "logits") == [1, 1000]


def test_inception_v3_factorised_convolutions():
    k = var_shapes(built("inception_v3"), "inception_v3/")
    # module A (Figure 5): the 5x5 as two stacked 3x3
    assert k["mixed_5b/branch_2/conv2d_0b_3x3/conv/weights"] == [3, 3, 64, 96]
    assert k["mixed_5b/branch_2/conv2d_0c_3x3/conv/weights"] == [3, 3, 96, 96]
    # module B (Figure 6): 7x7 as 1x7 then 7x1
    assert k["mixed_6b/branch_1/conv2d_0b_1x7/conv/weights"] == [1, 7, 128, 128]
    assert k["mixed_6b/branch_1/conv2d_0c_7x1/conv/weights"] == [7, 1, 128, 192]
    # module C (Figure 7): 1x3 and 3x1 side by side
    assert k["mixed_7b/branch_1/conv2d_0b_1x3/conv/weights"] == [1, 3, 384, 384]
    assert k["mixed_7b/branch_1/conv2d_0c_3x1/conv/weights"] == [3, 1, 384, 384]


def test_inception_v3_parameters_match_keras():
    b = built("inception_v3")
    every = size(b.variables)
    gammas = size([v for v in b.variables if v.op.name.endswith("/gamma")])
    moving = size([v for v in b.variables if "/moving_" in v.op.name])
    # Keras's InceptionV3 model.summary(): 23,851,784 parameters, 23,817,352 trainable,
    # 34,432 non-trainable (batch norm's moving mean and variance). Its batch norm has
    # no gamma (scale=False, as in TF-slim); ours has one per channel, 17,216 in all.
    assert every - gammas == 23_851_784
    assert moving == 34_432
    assert size(trainable(b)) == 23_817_352 + gammas == 23_834_568
    assert nets.info("inception_v3").paper_params == 23_851_784


def test_inception_v3_multiply_adds():
    # The abstract: "a computational cost of 5 billion multiply-adds per inference";
    # the released model counts 5.71G (convolutions and the last layer).
    m = built("inception_v3").madds
    assert int(m / 1e9) == 5
    assert round(m / 1e9, 2) == 5.71


def test_inception_v3_bn_auxiliary_and_smoothed_loss():
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 299, 299, 3])
        logits, end_points = nets.get("inception_v3")(images, 1000, True)
        k = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert len(end_points["aux_logits"]) == 1
    assert end_points["aux_logits"][0].shape.as_list() == [None, 1000]
    assert end_points["aux"] is end_points["aux_logits"][0]
    assert k["inception_v3/aux/conv2d_1b_1x1/conv/weights"] == [1, 1, 768, 128]
    assert k["inception_v3/aux/conv2d_2a/conv/weights"] == [5, 5, 128, 768]
    assert "inception_v3/aux/conv2d_2a/bn/beta" in k          # the BN-auxiliary
    rng = np.random.default_rng(1)
    y = np.array([0, 4, 9])
    main, aux = rng.normal(size=(3, 10)) * 3, rng.normal(size=(3, 10)) * 3
    with new_graph():
        loss = v3_mod.inception_v3_loss(tf.constant(y), tf.constant(main, tf.float32),
                                        {"aux_logits": [tf.constant(aux, tf.float32)]})
        plain = v3_mod.inception_v3_loss(tf.constant(y), tf.constant(main, tf.float32), {},
                                         label_smoothing=0.0)
        with tf1.Session() as sess:
            got, got_plain = sess.run([loss, plain])
    want = np_cross_entropy(y, main, 0.1) + 0.4 * np_cross_entropy(y, aux, 0.1)
    assert got == pytest.approx(want, rel=1e-5)
    assert got_plain == pytest.approx(np_cross_entropy(y, main), rel=1e-5)


# --------------------------------------------------------------------------- Inception-v4 / -ResNet


@pytest.mark.parametrize("name,k,l,m,n", [("inception_v4", 192, 224, 256, 384),
                                          ("inception_resnet_v1", 192, 192, 256, 384),
                                          ("inception_resnet_v2", 256, 256, 384, 384)])
def test_reduction_a_filters_follow_table_1(name, k, l, m, n):
    b = built(name)
    shapes = var_shapes(b, f"{name}/mixed_6a/")
    c = shape(b, list(b.end_points)[list(b.end_points).index("mixed_6a") - 1])[-1]
    assert shapes["branch_0/conv2d_0a_3x3/conv/weights"] == [3, 3, c, n]
    assert shapes["branch_1/conv2d_0a_1x1/conv/weights"] == [1, 1, c, k]
    assert shapes["branch_1/conv2d_0b_3x3/conv/weights"] == [3, 3, k, l]
    assert shapes["branch_1/conv2d_0c_3x3/conv/weights"] == [3, 3, l, m]
    assert shape(b, "mixed_6a") == [1, 17, 17, c + n + m]


def test_inception_v4_shapes_parameters_and_madds():
    b = built("inception_v4")
    assert shape(b, "mixed_3a") == [1, 73, 73, 160]               # Figure 3, the stem
    assert shape(b, "mixed_4a") == [1, 71, 71, 192]
    assert shape(b, "mixed_5e") == [1, 35, 35, 384]               # 4 x Inception-A
    assert shape(b, "mixed_6h") == [1, 17, 17, 1024]              # 7 x Inception-B
    assert shape(b, "mixed_7d") == [1, 8, 8, 1536]                # 3 x Inception-C
    # The TF-slim Inception-v4 as ported to PyTorch by Cadene (timm): 42,679,816
    # parameters with batch norm's gamma and beta (no moving statistics), 1000 classes;
    # timm's model card: 12.3 GMACs.
    assert size(trainable(b)) == 42_679_816
    assert round(b.madds / 1e9, 1) == 12.3


def test_inception_resnet_v2_matches_keras():
    b = built("inception_resnet_v2")
    assert shape(b, "mixed_5b") == [1, 35, 35, 320]
    assert shape(b, "block35_10") == [1, 35, 35, 320]
    assert shape(b, "mixed_6a") == [1, 17, 17, 1088]
    assert shape(b, "block17_20") == [1, 17, 17, 1088]
    assert shape(b, "mixed_7a") == [1, 8, 8, 2080]
    assert shape(b, "conv2d_7b_1x1") == [1, 8, 8, 1536]
    up = var_shapes(b, "inception_resnet_v2/block17_1/conv2d_1x1/")
    assert up == {"weights": [1, 1, 384, 1088], "biases": [1088]}   # linear, no batch norm
    gammas = size([v for v in b.variables if v.op.name.endswith("/gamma")])
    # Keras's InceptionResNetV2: 55,873,736 parameters, 55,813,192 trainable, 60,544
    # moving statistics; no gamma in its batch norm (30,272 here).
    assert size(b.variables) - gammas == 55_873_736
    assert size(trainable(b)) == 55_813_192 + gammas == 55_843_464
    assert round(b.madds / 1e9, 1) == 13.2                         # timm: 13.2 GMACs


def test_inception_resnet_v1_follows_figures_10_to_15():
    b = built("inception_resnet_v1")
    assert shape(b, "conv2d_4b_3x3") == [1, 35, 35, 256]          # Figure 14, the stem
    assert shape(b, "block35_5") == [1, 35, 35, 256]              # 5 x Inception-ResNet-A
    assert shape(b, "block17_10") == [1, 17, 17, 896]             # 10 x Inception-ResNet-B
    assert shape(b, "mixed_7a") == [1, 8, 8, 1792]                # Reduction-B, Figure 12
    assert shape(b, "block8_5") == [1, 8, 8, 1792]                # 5 x Inception-ResNet-C
    assert "block35_6" not in b.end_points and "block8_6" not in b.end_points
    up = var_shapes(b, "inception_resnet_v1/block8_1/conv2d_1x1/")
    assert up["weights"] == [1, 1, 192 + 192, 1792]
    # The paper prints no count; this pins the count of its figures' widths.
    assert size(trainable(b)) == 22_756_328


def test_unknown_variant_is_refused():
    with new_graph():
        images = tf1.placeholder(tf.float32, [None, 299, 299, 3])
        with pytest.raises(ValueError, match="accepted: inception_v4, inception_resnet_v1"):
            v4_mod.inception_v4_family(images, 10, False, "inception_v5")


# --------------------------------------------------------------------------- CIFAR


def test_inception_cifar_matches_zhang_et_al():
    b = built("inception_cifar")
    assert shape(b, "conv1") == [1, 32, 32, 96]
    assert shape(b, "inception_1b") == [1, 32, 32, 80]
    assert shape(b, "downsample_1") == [1, 16, 16, 160]
    assert shape(b, "inception_2d") == [1, 16, 16, 144]
    assert shape(b, "downsample_2") == [1, 8, 8, 240]
    assert shape(b, "inception_3b") == [1, 8, 8, 336]
    weights = [v for v in trainable(b) if "/bn/" not in v.op.name]
    convs = [v for v in weights if v.op.name.endswith("conv/weights")]
    biases = sum(v.shape.as_list()[-1] for v in convs)
    # Table 1 of arXiv:1611.03530: 1,649,402 parameters, the same with and without
    # batch norm, so a bias per convolution filter and no batch norm parameters. Our
    # convolutions leave the bias to batch norm's beta: 1,712 fewer.
    assert biases == 1712
    assert size(weights) + biases == 1_649_402


# --------------------------------------------------------------------------- every network


@pytest.mark.parametrize("name", ALL)
def test_end_points_name_every_variable(name):
    b = built(name)
    keys = [k for k in b.end_points if k not in ("logits", "predictions")] + ["logits"]
    for v in b.variables:
        below = v.op.name.split("/", 1)[1]
        assert any(below.startswith(k + "/") for k in keys), v.op.name
    assert list(b.end_points)[-2:] == ["logits", "predictions"]


@pytest.mark.parametrize("name", ALL)
def test_inference_has_no_dropout_and_no_aux_head(name):
    b = built(name)
    assert not [op for op in b.graph.get_operations() if op.type == "RandomUniform"]
    assert "aux_logits" not in b.end_points
    assert not [v for v in b.variables if "/aux" in v.op.name]


@pytest.mark.parametrize("name", ALL)
def test_reuse_creates_no_new_variables(name):
    b = built(name)
    info = nets.info(name)
    with b.graph.as_default():
        before = [v.op.name for v in tf1.global_variables()]
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            nets.get(name)(b.images, info.num_classes, False)
        assert [v.op.name for v in tf1.global_variables()] == before


@pytest.mark.parametrize("name", ALL)
def test_forward_pass_at_batch_1(name):
    b = built(name)
    x = np.random.default_rng(0).uniform(-1, 1, size=b.images.shape.as_list())
    with tf1.Session(graph=b.graph) as sess:
        sess.run(tf1.variables_initializer(b.variables))
        logits, probs = sess.run([b.logits, b.end_points["predictions"]], {b.images: x})
    assert logits.shape == (1, nets.info(name).num_classes)
    assert np.isfinite(logits).all()
    assert probs.sum() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("name,size_,smallest", [
    ("googlenet", 31, 32), ("inception_v3", 74, 75), ("inception_v4", 74, 75),
    ("inception_resnet_v1", 74, 75), ("inception_resnet_v2", 74, 75),
    ("inception_cifar", 3, 4)])
def test_too_small_or_malformed_input_is_refused(name, size_, smallest):
    with new_graph():
        small = tf1.placeholder(tf.float32, [None, size_, size_, 3])
        with pytest.raises(ValueError, match=rf"\[{name}\] needs .*>= {smallest}, got shape"):
            nets.get(name)(small, 10, False)
        unknown = tf1.placeholder(tf.float32, [None, 299, 299, None])
        with pytest.raises(ValueError, match=rf"\[{name}\] needs .*known channels"):
            nets.get(name)(unknown, 10, False)
        flat = tf1.placeholder(tf.float32, [None, 299 * 299 * 3])
        with pytest.raises(ValueError, match=rf"\[{name}\] needs images \[batch"):
            nets.get(name)(flat, 10, False)
