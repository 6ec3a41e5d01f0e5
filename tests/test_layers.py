"""Every builder in core.layers against a plain NumPy computation of the same thing."""
import numpy as np
import pytest

from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.graph import new_graph, tf, tf1

RNG = np.random.default_rng(0)


def np_conv2d(x, k, stride, padding, rate=1):
    """Cross-correlation as tf.nn.conv2d computes it; x [b,h,w,c], k [kh,kw,c,o].

    With ``rate`` the kernel's taps are ``rate`` pixels apart: the filter covers
    ``(k - 1) * rate + 1`` pixels, and SAME pads for that effective size."""
    b, h, w, c = x.shape
    kh, kw, _, o = k.shape
    eh, ew = (kh - 1) * rate + 1, (kw - 1) * rate + 1   # effective filter size
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + eh - h, 0)
        pw = max((ow - 1) * stride + ew - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - eh) // stride + 1, (w - ew) // stride + 1
    out = np.zeros((b, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + eh:rate, j * stride:j * stride + ew:rate, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def np_depthwise_conv2d(x, k, stride, padding, rate=1):
    """Each input channel c under each of its filters k[:, :, c, m], alone, into output
    channel ``c * mult + m``; x [b,h,w,c], k [kh,kw,c,mult]."""
    c, mult = k.shape[2], k.shape[3]
    maps = [np_conv2d(x[..., ci:ci + 1], k[:, :, ci:ci + 1, m:m + 1], stride, padding, rate)
            for ci in range(c) for m in range(mult)]       # in the order c * mult + m
    return np.concatenate(maps, axis=-1)


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


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_dilated_conv2d_matches_numpy(padding):
    x = RNG.normal(size=(2, 9, 8, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    with new_graph():
        xp = L.inputs([9, 8, 3])
        y = L.conv2d(xp, 4, 3, padding=padding, rate=2, scope="conv1")
        assert var("conv1/weights").shape.as_list() == [3, 3, 3, 4]  # still 9 taps per map
        static = y.shape.as_list()
        out = run(y, {xp: x}, {var("conv1/weights"): k, var("conv1/biases"): b})
    expect = np.maximum(np_conv2d(x, k, 1, padding, rate=2) + b, 0)
    # a 3x3 filter at rate 2 covers 5x5: VALID leaves 9 - 4 = 5 rows and 8 - 4 = 4 columns
    assert static == [None, *expect.shape[1:]] == ([None, 9, 8, 4] if padding == "SAME"
                                                   else [None, 5, 4, 4])
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-4)


SPATIAL_CASES = [("SAME", 1, 1), ("VALID", 1, 1), ("SAME", 2, 1), ("VALID", 2, 1),
                 ("SAME", 1, 2), ("VALID", 1, 2)]   # (padding, stride, rate)


@pytest.mark.parametrize("padding,stride,rate", SPATIAL_CASES)
def test_depthwise_conv2d_matches_numpy(padding, stride, rate):
    x = RNG.normal(size=(2, 9, 8, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)
    with new_graph():
        xp = L.inputs([9, 8, 3])
        y = L.depthwise_conv2d(xp, 3, stride=stride, multiplier=2, padding=padding, rate=rate,
                               scope="dw1")
        static = y.shape.as_list()
        out = run(y, {xp: x}, {var("dw1/depthwise_weights"): k})
    expect = np_depthwise_conv2d(x, k, stride, padding, rate)   # linear, no bias by default
    assert static == [None, *expect.shape[1:]] and expect.shape[-1] == 6
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-4)


def test_depthwise_output_channel_is_input_channel_times_multiplier_plus_filter():
    x = np.ones((1, 4, 4, 3), np.float32) * np.array([1, 2, 3], np.float32)  # channel c = c+1
    k = np.zeros((1, 1, 3, 2), np.float32)
    k[0, 0, :, 0], k[0, 0, :, 1] = 1.0, 10.0     # filter m multiplies by 10 ** m
    with new_graph():
        xp = L.inputs([4, 4, 3])
        y = L.depthwise_conv2d(xp, 1, multiplier=2, scope="dw1")
        out = run(y, {xp: x}, {var("dw1/depthwise_weights"): k})
    # output channel c * 2 + m = (c + 1) * 10 ** m
    np.testing.assert_allclose(out[0, 0, 0], [1, 10, 2, 20, 3, 30])


@pytest.mark.parametrize("padding,stride,rate", SPATIAL_CASES)
def test_separable_conv2d_matches_numpy(padding, stride, rate):
    x = RNG.normal(size=(2, 9, 8, 3)).astype(np.float32)
    dw = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)
    pw = RNG.normal(size=(1, 1, 6, 5)).astype(np.float32)
    b = RNG.normal(size=5).astype(np.float32)
    with new_graph():
        xp = L.inputs([9, 8, 3])
        y = L.separable_conv2d(xp, 5, 3, stride=stride, multiplier=2, padding=padding,
                               rate=rate, scope="sep1")
        static = y.shape.as_list()
        out = run(y, {xp: x}, {var("sep1/depthwise_weights"): dw,
                               var("sep1/pointwise_weights"): pw, var("sep1/biases"): b})
    # depthwise (no activation between), then a 1x1 convolution mixing the 6 channels
    expect = np.maximum(np_depthwise_conv2d(x, dw, stride, padding, rate) @ pw[0, 0] + b, 0)
    assert static == [None, *expect.shape[1:]]
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-4)


def test_depthwise_and_separable_variables_decay_and_reuse():
    with new_graph():
        xp = L.inputs([8, 8, 3])
        L.depthwise_conv2d(xp, 3, multiplier=2, wd=0.1, scope="dw1")
        L.separable_conv2d(xp, 5, (3, 5), multiplier=2, wd=0.1, scope="sep1")
        shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
        assert shapes == {"dw1/depthwise_weights": [3, 3, 3, 2],
                          "sep1/depthwise_weights": [3, 5, 3, 2],
                          "sep1/pointwise_weights": [1, 1, 6, 5],
                          "sep1/biases": [5]}
        assert len(tf1.get_collection(L.WEIGHT_DECAY)) == 3   # one per kernel, none on biases
        gray = L.inputs([8, 8, 1], name="gray")
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            L.separable_conv2d(xp, 5, (3, 5), multiplier=2, scope="sep1")
            assert len(tf1.global_variables()) == 4          # shared, none new
            with pytest.raises(ValueError, match=r"\[sep1\].*\[3, 5, 3, 2\].*\[3, 5, 1, 2\]"):
                L.separable_conv2d(gray, 5, (3, 5), multiplier=2, scope="sep1")


def np_conv2d_grads(x, k, r, padding, rate):
    """Gradients of ``sum(r * conv(x, k))`` (stride 1) with respect to x and k: every output
    pixel's upstream gradient ``r`` flows back to the input patch it read and to the kernel."""
    b, h, w, c = x.shape
    kh, kw = k.shape[:2]
    eh, ew = (kh - 1) * rate + 1, (kw - 1) * rate + 1
    ph, pw = (eh - 1, ew - 1) if padding == "SAME" else (0, 0)
    top, left = ph // 2, pw // 2
    xp = np.pad(x, ((0, 0), (top, ph - top), (left, pw - left), (0, 0)))
    gx, gk = np.zeros_like(xp), np.zeros_like(k)
    for i in range(r.shape[1]):
        for j in range(r.shape[2]):
            at = (slice(None), slice(i, i + eh, rate), slice(j, j + ew, rate), slice(None))
            gk += np.einsum("bxyc,bo->xyco", xp[at], r[:, i, j, :])
            gx[at] += np.einsum("xyco,bo->bxyc", k, r[:, i, j, :])
    return gx[:, top:top + h, left:left + w, :], gk


def np_depthwise_grads(x, k, r, padding, rate):
    """As :func:`np_conv2d_grads`, one input channel and one filter at a time."""
    mult = k.shape[3]
    gx, gk = np.zeros_like(x), np.zeros_like(k)
    for c in range(k.shape[2]):
        for m in range(mult):
            o = c * mult + m
            gxc, gkc = np_conv2d_grads(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1],
                                       r[..., o:o + 1], padding, rate)
            gx[..., c:c + 1] += gxc
            gk[:, :, c:c + 1, m:m + 1] = gkc
    return gx, gk


@pytest.mark.parametrize("kind", ["conv2d", "depthwise", "separable"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_dilated_layers_have_cpu_gradients_that_match_numpy(kind, padding):
    # the backward pass is what training runs: Conv2D's own dilations have no CPU gradient
    x = RNG.normal(size=(2, 9, 8, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 2 if kind != "conv2d" else 4)).astype(np.float32)
    pw = RNG.normal(size=(1, 1, 6, 4)).astype(np.float32)
    with new_graph(), tf1.device("/CPU:0"):
        xp = L.inputs([9, 8, 3])
        common = dict(padding=padding, rate=2, activation=None, use_bias=False, scope="l1")
        if kind == "conv2d":
            y = L.conv2d(xp, 4, 3, **common)
            kernels = {var("l1/weights"): k}
        elif kind == "depthwise":
            y = L.depthwise_conv2d(xp, 3, multiplier=2, **common)
            kernels = {var("l1/depthwise_weights"): k}
        else:
            y = L.separable_conv2d(xp, 4, 3, multiplier=2, **common)
            kernels = {var("l1/depthwise_weights"): k, var("l1/pointwise_weights"): pw}
        r = RNG.normal(size=[2, *y.shape.as_list()[1:]]).astype(np.float32)
        grads = tf.gradients(tf.reduce_sum(y * r), [xp, *kernels])
        got = run(grads, {xp: x}, kernels)
    if kind == "conv2d":
        expect = np_conv2d_grads(x, k, r, padding, 2)
    elif kind == "depthwise":
        expect = np_depthwise_grads(x, k, r, padding, 2)
    else:   # the pointwise 1x1 passes r back as r @ pw^T; its own gradient is dw^T r
        dw_out = np_depthwise_conv2d(x, k, 1, padding, 2)
        expect = (*np_depthwise_grads(x, k, r @ pw[0, 0].T, padding, 2),
                  np.einsum("bijc,bijo->co", dw_out, r)[None, None])
    for g, e in zip(got, expect):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-3)


def _conv(x, **kw):
    return L.conv2d(x, 4, 3, scope="layer1", **kw)


def _depthwise(x, **kw):
    return L.depthwise_conv2d(x, 3, scope="layer1", **kw)


def _separable(x, **kw):
    return L.separable_conv2d(x, 4, 3, scope="layer1", **kw)


@pytest.mark.parametrize("build", [_conv, _depthwise, _separable])
@pytest.mark.parametrize("kwargs,needle", [
    ({"rate": 2, "stride": 2}, r"rate 2\) needs stride 1, got stride \(2, 2\)"),
    ({"rate": 0}, r"rate \(dilation\) must be a whole number >= 1, got 0"),
    ({"rate": 1.5}, r"whole number >= 1, got 1.5"),
    ({"rate": 3, "padding": "VALID"}, r"a 7x7 VALID filter does not fit a 6x6 input"),
])
def test_dilation_errors_are_one_line_naming_the_layer(build, kwargs, needle):
    with new_graph():
        x = L.inputs([6, 6, 3])
        with pytest.raises(ValueError, match=r"^\[layer1\] .*" + needle) as e:
            build(x, **kwargs)
        assert "\n" not in str(e.value)
        assert not tf1.global_variables()      # refused before creating anything
        build(x, rate=2, padding="VALID")      # 5x5 effective fits 6x6


def test_global_avg_pool_is_the_spatial_mean_at_any_size():
    x = RNG.normal(size=(2, 5, 7, 3)).astype(np.float32)
    with new_graph():
        xp = tf1.placeholder(tf.float32, [None, None, None, 3])
        flat = L.global_avg_pool(xp)
        kept = L.global_avg_pool(xp, keepdims=True, name="kept")
        assert flat.shape.as_list() == [None, 3]
        assert kept.shape.as_list() == [None, 1, 1, 3]
        a, b = run([flat, kept], {xp: x})
        assert not tf1.global_variables()          # no parameters
        with pytest.raises(ValueError, match=r"^\[global_pool\] expects a 4-D tensor"):
            L.global_avg_pool(tf1.placeholder(tf.float32, [None, 3]))
    np.testing.assert_allclose(a, x.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, x.mean(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)


def np_smoothed_cross_entropy(labels, logits, e):
    """Mean of -sum(target * log softmax(logits)), target (1 - e) one-hot + e / K."""
    k = logits.shape[1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = (1 - e) * np.eye(k)[labels] + e / k
    return -(target * log_softmax).sum(axis=1).mean()


@pytest.mark.parametrize("e", [0.0, 0.1, 0.4])
def test_label_smoothing_matches_numpy(e):
    logits = (RNG.normal(size=(6, 5)) * 3).astype(np.float32)
    labels = np.array([0, 4, 2, 2, 1, 3], np.int64)
    with new_graph():
        lp = tf1.placeholder(tf.int64, [None])
        zp = tf1.placeholder(tf.float32, [None, 5])
        loss = L.softmax_cross_entropy(lp, zp, label_smoothing=e)
        sparse = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=lp, logits=zp))
        got, plain = run([loss, sparse], {lp: labels, zp: logits})
    expect = np_smoothed_cross_entropy(labels, logits.astype(np.float64), e)
    np.testing.assert_allclose(got, expect, rtol=1e-5)
    if e == 0:
        np.testing.assert_allclose(got, plain, rtol=1e-6)   # the plain sparse loss
    else:
        assert abs(got - plain) > 0.01                       # smoothing changes it


@pytest.mark.parametrize("e", [1.0, -0.1, 1.5])
def test_label_smoothing_outside_0_1_is_refused(e):
    with new_graph():
        zp = tf1.placeholder(tf.float32, [None, 5])
        lp = tf1.placeholder(tf.int64, [None])
        with pytest.raises(ValueError, match=r"^\[xent\] label_smoothing must be in \[0, 1\), "
                                             rf"got {e}$"):
            L.softmax_cross_entropy(lp, zp, label_smoothing=e, name="xent")


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


def test_dropouts_in_a_seeded_graph_draw_different_masks():
    """Each dropout on a tensor flag sits in a tf.cond branch, where TensorFlow's op-seed
    count starts again: without an op seed of its own every one drew the same mask."""
    x = np.ones((4, 500), np.float32)

    def masks(build):
        with new_graph(seed=0):
            flag = tf1.placeholder_with_default(True, [])
            outs = build(tf.constant(x), flag)
            with tf1.Session() as sess:
                return [m > 0 for m in sess.run(outs)]

    a, b, c = masks(lambda t, flag: [L.dropout(t, 0.5, flag, name=n) for n in "abc"])
    assert not np.array_equal(a, b) and not np.array_equal(b, c) and not np.array_equal(a, c)
    assert all(abs(m.mean() - 0.5) < 0.05 for m in (a, b, c))
    # the first dropout of a graph draws the mask it drew before the fix (TensorFlow's own
    # seed), so the runs of one-dropout networks reproduce
    (old,) = masks(lambda t, flag: [tf.cond(flag, lambda: tf.nn.dropout(t, rate=0.5),
                                            lambda: tf.identity(t))])
    np.testing.assert_array_equal(a, old)
    again = masks(lambda t, flag: [L.dropout(t, 0.5, flag, name=n) for n in "abc"])
    assert all(np.array_equal(m, n) for m, n in zip((a, b, c), again))   # seeded: repeatable


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
