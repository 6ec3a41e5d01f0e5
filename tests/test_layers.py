"""Every builder in core.layers against a plain NumPy computation of the same thing."""
import numpy as np
import pytest

from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.graph import new_graph, tf, tf1

RNG = np.random.default_rng(0)


def np_conv2d(x, k, stride, padding):
    """Cross-correlation as tf.nn.conv2d computes it; x [b,h,w,c], k [kh,kw,c,o]."""
    b, h, w, c = x.shape
    kh, kw, _, o = k.shape
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((b, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def np_pool(x, k, s, fn):
    b, h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((b, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = fn(x[:, i * s:i * s + k, j * s:j * s + k, :], axis=(1, 2))
    return out


def run(fetch, feed=None, assign=None):
    sess = tf1.Session()
    sess.run(tf1.global_variables_initializer())
    for var, value in (assign or {}).items():
        var.load(value, sess)
    out = sess.run(fetch, feed)
    sess.close()
    return out


def var(name):
    return [v for v in tf1.global_variables() if v.op.name == name][0]


@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("VALID", 1), ("SAME", 2), ("VALID", 2)])
def test_conv2d_matches_numpy(padding, stride):
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    with new_graph():
        xp = L.inputs([7, 6, 3])
        y = L.conv2d(xp, 4, 3, stride=stride, padding=padding, scope="conv1")
        out = run(y, {xp: x}, {var("conv1/weights"): k, var("conv1/biases"): b})
    expect = np.maximum(np_conv2d(x, k, stride, padding) + b, 0)
    assert out.shape == expect.shape
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-4)


def np_conv2d_transpose(x, k, stride, padding):
    """The transposed convolution by its definition: every input value adds its kernel
    patch (scaled) into the output, at ``stride`` steps; x [b,h,w,c], k [kh,kw,o,c]."""
    b, h, w, c = x.shape
    kh, kw, o, _ = k.shape
    full_h, full_w = (h - 1) * stride + kh, (w - 1) * stride + kw
    out = np.zeros((b, full_h, full_w, o))
    for i in range(h):
        for j in range(w):
            # [b, c] x [kh, kw, o, c] -> [b, kh, kw, o]
            out[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :] += np.einsum(
                "bc,xyoc->bxyo", x[:, i, j, :], k)
    if padding == "VALID":
        return out
    oh, ow = h * stride, w * stride          # SAME: crop what conv2d's SAME padding added
    top = max((h - 1) * stride + kh - oh, 0) // 2
    left = max((w - 1) * stride + kw - ow, 0) // 2
    return out[:, top:top + oh, left:left + ow, :]


@pytest.mark.parametrize("padding,stride,ksize", [("SAME", 2, 4), ("SAME", 2, 5),
                                                  ("VALID", 2, 3), ("SAME", 1, 3)])
def test_conv2d_transpose_matches_numpy_and_inverts_conv_shapes(padding, stride, ksize):
    x = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    k = RNG.normal(size=(ksize, ksize, 5, 3)).astype(np.float32)
    b = RNG.normal(size=5).astype(np.float32)
    with new_graph():
        xp = L.inputs([4, 3, 3])
        y = L.conv2d_transpose(xp, 5, ksize, stride=stride, padding=padding,
                               activation=None, scope="deconv1")
        static = y.shape.as_list()
        out = run(y, {xp: x}, {var("deconv1/weights"): k, var("deconv1/biases"): b})
        if padding == "SAME":   # conv2d with the same stride maps the output back to 4x3
            back = L.conv2d(y, 3, ksize, stride=stride, padding=padding, scope="conv_back")
            assert back.shape.as_list()[1:3] == [4, 3]
    expect = np_conv2d_transpose(x, k, stride, padding) + b
    assert static == [None, *expect.shape[1:]]
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-4)


def test_leaky_relu_keeps_a_fraction_of_negatives():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    with new_graph():
        out = run(L.leaky_relu(tf1.constant(x), alpha=0.2))
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.2 * x), rtol=1e-6)


def test_initialisers_are_the_slides():
    with new_graph(seed=1):
        w = L.weight("w", [200, 50])
        b = L.bias("b", [50])
        wv, bv = run([w, b])
    assert np.all(np.abs(wv) <= 0.2 + 1e-6)  # truncated at two standard deviations
    assert abs(wv.std() - 0.1 * 0.88) < 0.01  # std of a normal truncated at +-2 sigma
    np.testing.assert_array_equal(bv, np.full(50, 0.1, np.float32))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools_match_numpy(kind):
    x = RNG.normal(size=(2, 6, 6, 3)).astype(np.float32)
    with new_graph():
        xp = L.inputs([6, 6, 3])
        y = (L.max_pool if kind == "max" else L.avg_pool)(xp, 2, 2, "VALID")
        out = run(y, {xp: x})
    expect = np_pool(x, 2, 2, np.max if kind == "max" else np.mean)
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


def test_fully_connected_flattens_and_matches_numpy():
    x = RNG.normal(size=(5, 2, 2, 3)).astype(np.float32)
    w = RNG.normal(size=(12, 4)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    with new_graph():
        xp = L.inputs([2, 2, 3])
        y = L.fully_connected(xp, 4, scope="fc1")
        assert y.shape.as_list() == [None, 4]
        out = run(y, {xp: x}, {var("fc1/weights"): w, var("fc1/biases"): b})
    np.testing.assert_allclose(out, np.maximum(x.reshape(5, 12) @ w + b, 0), rtol=1e-5,
                               atol=1e-5)


def test_dropout_follows_is_training():
    x = np.ones((200, 50), np.float32)
    with new_graph(seed=3):
        xp = L.inputs([50])
        flag = L.is_training_flag()
        y = L.dropout(xp, keep_prob=0.5, is_training=flag)
        sess = tf1.Session()
        infer = sess.run(y, {xp: x})
        train = sess.run(y, {xp: x, flag: True})
        sess.close()
    np.testing.assert_array_equal(infer, x)
    assert set(np.unique(train)) == {0.0, 2.0}  # dropped, or scaled by 1 / keep_prob
    assert abs((train > 0).mean() - 0.5) < 0.03


def test_lrn_matches_alexnet_formula():
    x = RNG.normal(size=(2, 3, 3, 8)).astype(np.float32)
    with new_graph():
        xp = L.inputs([3, 3, 8])
        out = run(L.lrn(xp), {xp: x})
    sq = x.astype(np.float64) ** 2
    expect = np.empty_like(sq)
    for c in range(8):
        s = sq[..., max(0, c - 2):c + 3].sum(-1)
        expect[..., c] = x[..., c] / (2.0 + 1e-4 * s) ** 0.75
    np.testing.assert_allclose(out, expect, rtol=1e-5)


def test_batch_norm_train_and_inference():
    x = (RNG.normal(size=(64, 4, 4, 3)) * 3 + 5).astype(np.float32)
    with new_graph():
        xp = L.inputs([4, 4, 3])
        flag = L.is_training_flag()
        y = L.batch_norm(xp, flag, decay=0.5, scope="bn1")
        sess = tf1.Session()
        sess.run(tf1.global_variables_initializer())
        train = sess.run(y, {xp: x, flag: True})
        mm, mv = sess.run([var("bn1/moving_mean"), var("bn1/moving_variance")])
        infer = sess.run(y, {xp: x})
        sess.close()
    np.testing.assert_allclose(train.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=(0, 1, 2)), 1, atol=1e-3)
    # one update with decay 0.5 from (0, 1): halfway to the batch statistics
    np.testing.assert_allclose(mm, 0.5 * x.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(mv, 0.5 + 0.5 * x.var(axis=(0, 1, 2)), rtol=1e-3)
    expect = (x - mm) / np.sqrt(mv + 1e-3)
    np.testing.assert_allclose(infer, expect, rtol=1e-4, atol=1e-4)


def test_weight_decay_collection():
    with new_graph():
        w1 = L.weight("w1", [3, 4], wd=0.01)
        w2 = L.weight("w2", [4, 2], wd=0.5)
        L.weight("w3", [2, 2])  # no decay
        total, a, b = run([L.weight_decay_loss(), w1, w2])
    np.testing.assert_allclose(total, 0.01 * (a ** 2).sum() / 2 + 0.5 * (b ** 2).sum() / 2,
                               rtol=1e-5)


def test_variable_sharing_with_reuse():
    with new_graph():
        a = L.inputs([4, 4, 3], name="a")
        b = L.inputs([4, 4, 3], name="b")
        L.conv2d(a, 8, 3, scope="shared")
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            L.conv2d(b, 8, 3, scope="shared")
        assert len(tf1.trainable_variables()) == 2


def test_wrong_rank_names_layer_and_shapes():
    with new_graph():
        x = tf1.placeholder(tf.float32, [None, 28, 28], name="flat_images")
        with pytest.raises(ValueError, match=r"\[conv1\].*4-D.*\(None, 28, 28\)"):
            L.conv2d(x, 8, 5, scope="conv1")


def test_wrong_channels_on_shared_layer():
    with new_graph():
        rgb = L.inputs([8, 8, 3], name="rgb")
        gray = L.inputs([8, 8, 1], name="gray")
        L.conv2d(rgb, 4, 3, scope="conv1")
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            with pytest.raises(ValueError, match=r"\[conv1\].*\[3, 3, 3, 4\].*\[3, 3, 1, 4\]"):
                L.conv2d(gray, 4, 3, scope="conv1")


def test_valid_filter_larger_than_image():
    with new_graph():
        x = L.inputs([4, 4, 1])
        with pytest.raises(ValueError, match=r"\[conv1\].*5x5 VALID.*4x4"):
            L.conv2d(x, 2, 5, padding="VALID", scope="conv1")


def test_wrong_feed_shape_names_placeholder():
    with new_graph():
        x = tf1.placeholder(tf.float32, [None, 32, 32, 3], name="x_")
        y = tf.reduce_sum(x)
        with tf1.Session() as sess:
            with pytest.raises(ValueError, match=r"x_:0.*\(None, 32, 32, 3\)"):
                sess.run(y, {x: np.zeros((2, 28, 28, 1), np.float32)})


def test_new_graph_isolates_graphs():
    with new_graph() as g1:
        L.weight("w", [2])
    with new_graph() as g2:
        L.weight("w", [2])  # same name, new graph: no clash
    assert g1 is not g2
    assert len(g2.get_collection(tf1.GraphKeys.GLOBAL_VARIABLES)) == 1
