"""ENet: a small, fast encoder-decoder for semantic segmentation.

[1] Adam Paszke, Abhishek Chaurasia, Sangpil Kim, Eugenio Culurciello. ENet: A Deep
    Neural Network Architecture for Real-Time Semantic Segmentation.
    arXiv:1606.02147, 2016.
[2] The authors' Torch code, e-lab/ENet-training: ``train/models/encoder.lua`` and
    ``decoder.lua`` (the details Table 1 leaves out: biases, batch norm, ReLU in the
    decoder).

A segmentation network labels every pixel: its logits are
``[batch, height, width, num_classes]`` at the input's resolution, one rank more
than a classifier's ``[batch, num_classes]``, and ``predictions`` is the softmax over
the last axis, per pixel. Table 1 of [1], for a 512x512x3 input::

    initial          3x3/2 conv (13 filters) || 2x2 max pool, concat   16 x 256 x 256
    bottleneck1.0    downsampling                                      64 x 128 x 128
    4 x bottleneck1.x                                                  64 x 128 x 128
    bottleneck2.0    downsampling                                     128 x 64 x 64
    bottleneck2.1-2.8  regular, dilated 2, asymmetric 5, dilated 4,
                       regular, dilated 8, asymmetric 5, dilated 16   128 x 64 x 64
    bottleneck3.1-3.8  stage 2 again, without 2.0                     128 x 64 x 64
    bottleneck4.0    upsampling                                        64 x 128 x 128
    bottleneck4.1-4.2                                                  64 x 128 x 128
    bottleneck5.0    upsampling                                        16 x 256 x 256
    bottleneck5.1                                                      16 x 256 x 256
    fullconv         2x2/2 transposed conv                              C x 512 x 512

A bottleneck (Figure 2b of [1]) is a residual block whose branch is a 1x1
projection to a quarter of the channels (2x2/2 when downsampling), the main
convolution, and a 1x1 expansion, each followed by batch norm and (not the
last) PReLU, then spatial dropout (whole feature maps; p = 0.01 in stage 1, 0.1
after); the sum passes a PReLU. The main convolution is a regular 3x3, a
dilated 3x3 (``conv2d(rate=...)``: a 3x3 filter whose taps are ``rate`` pixels
apart, so the receptive field grows without pooling) or an asymmetric 5x1
then 1x5 (a 5x5 view for 10 instead of 25 weights per channel pair). A
downsampling bottleneck's shortcut max-pools and pads the new channels with
zeros.

The decoder's upsampling bottlenecks undo the encoder's two poolings with
**max unpooling**: the shortcut (a 1x1 convolution to the new width + batch norm)
puts each value back where the encoder's 2x2 max was found, at the indices
``tf.nn.max_pool_with_argmax`` stored, zeros elsewhere; the branch upsamples with
a 3x3/2 transposed convolution (``conv2d_transpose``). Both, because [1]
(section 3) and [2] pair each max pooling with a max unpooling on the shortcut
and use a "full convolution" in the branch: unpooling restores the exact
positions of the encoder's maxima (sharp object boundaries) for no parameters,
which a learned transposed convolution alone would have to rediscover. As in
[2], the decoder uses ReLU and no dropout, and the last layer is a 2x2/2
transposed convolution to the classes.

Parameters (Table 3 of [1]: 0.37M): with 19 classes (Cityscapes) this builds
364,311 trainable parameters (weights, biases, batch norm's beta and gamma, the
PReLU slopes) and 372,663 with batch norm's moving means and variances.

Usage::

    logits, end_points = enet(images, 19, is_training)   # images [b, 512, 512, 3]
    labels = tf.argmax(logits, axis=-1)                   # [b, 512, 512]
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import batch_norm, conv2d, conv2d_transpose, max_pool
from tfgraph_lessons.nets import register

STEM_CHANNELS = 16
DOWNSAMPLINGS = 3   # the initial block, bottleneck1.0 and bottleneck2.0 each halve the map
_STAGE = (("regular", None), ("dilated", 2), ("asymmetric", 5), ("dilated", 4),
          ("regular", None), ("dilated", 8), ("asymmetric", 5), ("dilated", 16))
# Table 1 of [1]: (name, output channels, kind, dilation rate or asymmetric size)
ENCODER = (
    (("bottleneck1.0", 64, "downsampling", None),)
    + tuple((f"bottleneck1.{i}", 64, "regular", None) for i in range(1, 5))
    + (("bottleneck2.0", 128, "downsampling", None),)
    + tuple((f"bottleneck2.{i + 1}", 128, kind, arg) for i, (kind, arg) in enumerate(_STAGE))
    + tuple((f"bottleneck3.{i + 1}", 128, kind, arg) for i, (kind, arg) in enumerate(_STAGE))
)
# (name, output channels, upsampling?); an upsampling bottleneck unpools with the
# indices of the encoder's bottleneck of the same resolution
DECODER = (
    ("bottleneck4.0", 64, True), ("bottleneck4.1", 64, False), ("bottleneck4.2", 64, False),
    ("bottleneck5.0", 16, True), ("bottleneck5.1", 16, False),
)


def _he(fan_in):
    return math.sqrt(2.0 / fan_in)


def prelu(x, scope="prelu"):
    """Parametric ReLU (He et al. 2015, arXiv:1502.01852): ``max(0, x) + a * min(0, x)``
    with one learned slope ``a`` per channel, initialised to 0.25."""
    with tf1.variable_scope(scope):
        alpha = tf1.get_variable("alpha", [int(x.shape[-1])],
                                 initializer=tf1.constant_initializer(0.25))
        return tf.add(tf.nn.relu(x), alpha * tf.minimum(x, 0.0), name="output")


def spatial_dropout(x, keep_prob, is_training, name="spatial_dropout"):
    """Dropout of whole feature maps (Tompson et al. 2015): one keep/drop draw per
    image and channel, shared by every pixel (``noise_shape [b, 1, 1, c]``); only
    while training."""
    if keep_prob >= 1.0 or is_training is False:
        return x
    with tf.name_scope(name):
        def drop():
            noise_shape = tf.stack([tf.shape(x)[0], 1, 1, tf.shape(x)[3]])
            return tf.nn.dropout(x, rate=1.0 - keep_prob, noise_shape=noise_shape)
        if is_training is True:
            return drop()
        return tf.cond(is_training, drop, lambda: tf.identity(x))


def max_pool_argmax(x, name="pool"):
    """2x2/2 max pooling that also returns where each maximum was:
    ``([b, h/2, w/2, c], argmax)``, ``argmax`` the flat index into ``[b, h, w, c]``."""
    return tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=True, name=name)


def max_unpool(x, argmax, shape, name="unpool"):
    """The inverse of :func:`max_pool_argmax`: ``[b, h/2, w/2, c] -> [b, h, w, c]`` with
    each value put back at its ``argmax`` position and zeros elsewhere.

    Args:
      x: the values to place, the shape of the pooled map.
      argmax: the indices :func:`max_pool_argmax` returned.
      shape: ``(h, w, c)`` of the map before pooling.
    """
    with tf.name_scope(name):
        h, w, c = shape
        size = tf.cast(tf.shape(x)[0] * h * w * c, tf.int64)
        flat = tf.scatter_nd(tf.reshape(argmax, [-1, 1]), tf.reshape(x, [-1]),
                             tf.reshape(size, [1]))
        return tf.reshape(flat, [-1, h, w, c])


def _conv_bn(x, filters, ksize, stride, is_training, wd, scope, rate=1, use_bias=False):
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    x = conv2d(x, filters, (kh, kw), stride, "SAME", activation=None, wd=wd,
               stddev=_he(kh * kw * int(x.shape[-1])), bias_value=0.0, use_bias=use_bias,
               rate=rate, scope=scope)
    return batch_norm(x, is_training, epsilon=1e-3, scope=scope + "_bn")


def initial_block(images, is_training, wd, scope="initial"):
    """Figure 2a of [1]: a 3x3/2 convolution (16 - channels filters) beside a 2x2 max
    pooling of the image, concatenated, then batch norm and PReLU as in [2]."""
    with tf1.variable_scope(scope):
        channels = int(images.shape[-1])
        conv = conv2d(images, STEM_CHANNELS - channels, 3, 2, "SAME", activation=None,
                      wd=wd, stddev=_he(9 * channels), bias_value=0.0, scope="conv")
        pool = max_pool(images, 2, 2, "VALID", name="pool")
        net = tf.concat([conv, pool], axis=3)                 # [b, H/2, W/2, 16]
        net = batch_norm(net, is_training, epsilon=1e-3, scope="bn")
        return prelu(net)


def encoder_bottleneck(x, filters, kind, arg, is_training, keep_prob, wd, scope):
    """One encoder bottleneck of Table 1; returns ``(output, argmax or None)``."""
    with tf1.variable_scope(scope):
        in_filters, internal = int(x.shape[-1]), filters // 4
        down = kind == "downsampling"
        net = _conv_bn(x, internal, 2 if down else 1, 2 if down else 1, is_training, wd,
                       "projection")
        net = prelu(net, "projection_prelu")
        if kind == "asymmetric":
            net = conv2d(net, internal, (arg, 1), 1, "SAME", activation=None, wd=wd,
                         stddev=_he(arg * internal), use_bias=False, scope=f"conv_{arg}x1")
            net = _conv_bn(net, internal, (1, arg), 1, is_training, wd, f"conv_1x{arg}",
                           use_bias=True)
        else:
            net = _conv_bn(net, internal, 3, 1, is_training, wd, "conv",
                           rate=arg if kind == "dilated" else 1, use_bias=True)
        net = prelu(net, "conv_prelu")
        net = _conv_bn(net, filters, 1, 1, is_training, wd, "expansion")
        net = spatial_dropout(net, keep_prob, is_training)
        shortcut, argmax = x, None
        if down:
            shortcut, argmax = max_pool_argmax(x)
        if filters != in_filters:   # zero-pad the new channels
            shortcut = tf.pad(shortcut, [[0, 0], [0, 0], [0, 0], [0, filters - in_filters]])
        return prelu(net + shortcut), argmax


def decoder_bottleneck(x, filters, argmax, unpooled_shape, is_training, wd, scope):
    """One decoder bottleneck of Table 1 ([2]'s ``decoder.lua``): ReLU, no dropout; an
    upsampling one (``argmax`` given) unpools its shortcut and upsamples its branch
    with a 3x3/2 transposed convolution."""
    with tf1.variable_scope(scope):
        in_filters, internal = int(x.shape[-1]), filters // 4
        net = tf.nn.relu(_conv_bn(x, internal, 1, 1, is_training, wd, "projection"))
        if argmax is not None:
            net = conv2d_transpose(net, internal, 3, 2, "SAME", activation=None,
                                   stddev=_he(9 * internal / 4), bias_value=0.0, scope="conv")
            net = batch_norm(net, is_training, epsilon=1e-3, scope="conv_bn")
        else:
            net = _conv_bn(net, internal, 3, 1, is_training, wd, "conv", use_bias=True)
        net = tf.nn.relu(net)
        net = _conv_bn(net, filters, 1, 1, is_training, wd, "expansion")
        shortcut = x
        if filters != in_filters or argmax is not None:
            shortcut = _conv_bn(x, filters, 1, 1, is_training, wd, "shortcut")
        if argmax is not None:
            shortcut = max_unpool(shortcut, argmax, unpooled_shape)
        return tf.nn.relu(net + shortcut)


def _check_images(images, scope):
    shape = images.shape
    step = 2 ** DOWNSAMPLINGS
    if shape.rank != 4 or shape[-1] is None or shape[-1] >= STEM_CHANNELS:
        raise ValueError(f"[{scope}] needs images [batch, height, width, channels] with fewer "
                         f"than {STEM_CHANNELS} known channels, got shape {shape}")
    h, w = shape[1], shape[2]
    if h is None or w is None or h < step or w < step or h % step or w % step:
        raise ValueError(f"[{scope}] needs a known height and width that are multiples of "
                         f"{step} (three 2x2 poolings, undone by unpooling; 512x512 in the "
                         f"paper), got shape {shape}")


def _keep_probs(keep_prob):
    """``keep_prob`` as ``(stage 1, stages 2-3)``: a pair, or one float for both."""
    if isinstance(keep_prob, (tuple, list)):
        return tuple(keep_prob)
    return keep_prob, keep_prob


@register("enet", family="segmentation", input_shape=(512, 512, 3), num_classes=19,
          paper_params=0.37e6, paper_source="arXiv:1606.02147 Table 3", cifar=False)
def enet(images, num_classes, is_training, keep_prob=(0.99, 0.9), wd=None, scope="enet"):
    """ENet of [1], Table 1: per-pixel logits at the input's resolution.

    Args:
      images: ``[batch, height, width, channels]``, height and width multiples of 8
        (paper: 512x512x3; 640x360 in its timing tables).
      num_classes: classes per pixel (Cityscapes 19, CamVid 11, SUN RGB-D 37).
      is_training: bool or boolean tensor: batch norm statistics, and spatial
        dropout only in training.
      keep_prob: spatial dropout keep probability, ``(stage 1, stages 2-3)``
        (paper: dropout 0.01 before bottleneck2.0, 0.1 after) or one float for both.
      wd: weight decay on every convolution kernel (paper: 2e-4), or None.
    Returns:
      ``(logits [batch, height, width, num_classes], end_points)`` -- note the rank:
      a classifier's logits are ``[batch, num_classes]``.
    """
    keep_early, keep_late = _keep_probs(keep_prob)
    end_points, argmaxes = {}, {}
    with tf1.variable_scope(scope):
        _check_images(images, scope)
        net = initial_block(images, is_training, wd)
        end_points["initial"] = net                                   # [b, 256, 256, 16]
        for name, filters, kind, arg in ENCODER:
            shape_in = tuple(net.shape.as_list()[1:])
            keep = keep_early if name.startswith("bottleneck1.") else keep_late
            net, argmax = encoder_bottleneck(net, filters, kind, arg, is_training, keep, wd,
                                             name)
            if argmax is not None:
                argmaxes[shape_in[:2]] = (argmax, shape_in)
            end_points[name] = net
            # 1.x: [b, 128, 128, 64]; 2.x and 3.x: [b, 64, 64, 128]
        for name, filters, upsample in DECODER:
            argmax = unpooled = None
            if upsample:
                target = (2 * int(net.shape[1]), 2 * int(net.shape[2]))
                argmax, shape_in = argmaxes[target]
                unpooled = target + (filters,)
                if shape_in[2] != filters:
                    raise ValueError(f"[{scope}/{name}] unpools to {filters} channels but the "
                                     f"encoder pooled {shape_in[2]}")
            net = decoder_bottleneck(net, filters, argmax, unpooled, is_training, wd, name)
            end_points[name] = net
            # 4.x: [b, 128, 128, 64]; 5.x: [b, 256, 256, 16]
        logits = conv2d_transpose(net, num_classes, 2, 2, "SAME", activation=None,
                                  stddev=math.sqrt(1.0 / int(net.shape[-1])), bias_value=0.0,
                                  scope="fullconv")                   # [b, 512, 512, C]
        end_points["fullconv"] = logits
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)             # per pixel, last axis
    return logits, end_points
