"""ResNet for CIFAR-10 (section 4.2 of [1], and the pre-activation ResNets of [2]),
and the residual blocks that the ImageNet ResNets of :mod:`.resnet_imagenet` share.

[1] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning
    for Image Recognition. CVPR 2016, arXiv:1512.03385.
[2] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Identity Mappings in
    Deep Residual Networks. ECCV 2016, arXiv:1603.05027.

The CIFAR ResNet of [1]: a 3x3 convolution with 16 filters, then three stages
of ``n`` basic blocks (two 3x3 convolutions each) with 16, 32 and 64 filters on
32x32, 16x16 and 8x8 maps, global average pooling and a fully connected
layer: ``6n + 2`` weighted layers. The first block of a stage halves the map
with stride 2; its shortcut is option A of the paper (subsample and pad the
new channels with zeros), which adds no parameters, so the parameter counts
match the paper's Table 6 (ResNet-20: 0.27M).

The deeper CIFAR networks of [2] (ResNet-164, ResNet-1001) use bottleneck
blocks (1x1 reduce, 3x3, 1x1 expand to 4x the width: 64, 128, 256 channels),
``9n + 2`` layers, and a 1x1 projection where the shape changes (option B), as
the authors' code (github.com/KaimingHe/resnet-1k-layers) does. A
pre-activation block (Figure 1b of [2]) runs BN -> ReLU -> conv on its branch
and adds the shortcut with nothing after it; the network then ends with one
more BN -> ReLU before the pooling.

The blocks, all four kinds (basic or bottleneck, original or pre-activation)::

    original (v1)                      pre-activation (v2)
    y = relu(BN(conv(x)))   ...        y = conv(relu(BN(x)))   ...
    out = relu(BN(conv(y)) + s(x))     out = conv(relu(BN(y))) + s(x)

Shortcuts ``s``: option A is the identity, subsampled with the stride and
zero-padded to the new width; B is a 1x1 convolution (+ BN in v1) only where
the shape changes, the identity elsewhere; C is a 1x1 projection on every
block (Table 3 of [1]).

Batch norm runs as one fused kernel (``core.layers.batch_norm(fused=True)``, TF-slim's
default too): the same numbers up to rounding, and on the course's two-core CPU
ResNet-20's training step at batch 128 runs 1.18x to 1.20x faster than with the
spelled-out ``tf.nn.moments`` + ``tf.nn.batch_normalization`` (two interleaved
runs: 274 -> 329 and 245 -> 288 images/s).

Usage::

    logits, end_points = resnet20(images, 10, is_training)
    logits, end_points = preact_resnet164(images, 10, is_training)
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import batch_norm, conv2d, fully_connected
from tfgraph_lessons.nets import check_images, register

DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
STAGE_FILTERS = (16, 32, 64)
SHORTCUTS = ("A", "B", "C")
STRIDES_IN = ("1x1", "3x3")


def _conv(x, filters, ksize, stride, wd, scope="conv"):
    """A ``ksize`` convolution without bias (a BN follows or precedes it), He initialised."""
    fan_in = ksize * ksize * int(x.shape[-1])
    return conv2d(x, filters, ksize, stride, activation=None, use_bias=False, wd=wd,
                  stddev=math.sqrt(2.0 / fan_in), scope=scope)


def _conv_bn(x, filters, stride, is_training, wd, scope, relu=True, ksize=3):
    """conv -> BN (-> ReLU): one layer of an original (v1) block."""
    with tf1.variable_scope(scope):
        x = _conv(x, filters, ksize, stride, wd, scope="conv")
        x = batch_norm(x, is_training, scope="bn", fused=True)
        return tf.nn.relu(x) if relu else x


def _bn_relu_conv(x, filters, stride, is_training, wd, scope, ksize=3):
    """BN -> ReLU -> conv: one layer of a pre-activation (v2) block. Returns
    ``(conv output, the activation it read)``."""
    with tf1.variable_scope(scope):
        act = tf.nn.relu(batch_norm(x, is_training, scope="bn", fused=True))
        return _conv(act, filters, ksize, stride, wd, scope="conv"), act


def branch_layers(filters, stride, bottleneck=False, stride_in="1x1"):
    """The residual branch as ``(scope, ksize, filters, stride)`` rows.

    A basic block is two 3x3 layers of ``filters``; a bottleneck block a 1x1 of
    ``filters``, a 3x3 of ``filters`` and a 1x1 of ``4 * filters`` (Figure 5 of
    [1]). A bottleneck that halves the map puts its stride on the first 1x1, as
    the paper's Caffe models and [2]'s code do (``stride_in='1x1'``), or on the
    3x3 as torchvision and fb.resnet.torch do ("ResNet v1.5", ``'3x3'``): the
    same parameters, more multiply-adds (ResNet-50: 4.09 instead of 3.86 billion).
    """
    if not bottleneck:
        return [("a", 3, filters, stride), ("b", 3, filters, 1)]
    if stride_in not in STRIDES_IN:
        raise ValueError(f"stride_in must be one of {', '.join(STRIDES_IN)}, got {stride_in!r}")
    s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
    return [("a", 1, filters, s1), ("b", 3, filters, s3), ("c", 1, 4 * filters, 1)]


def shortcut(x, out_filters, stride, option, is_training, wd, projection_input=None):
    """The shortcut ``s(x)`` of a block whose branch maps ``x`` to ``out_filters``
    channels with ``stride`` (options A, B, C of [1], section 3.3 and Table 3).

    A projection is a strided 1x1 convolution in scope ``shortcut``: on ``x``
    followed by BN (v1), or, when ``projection_input`` is given (v2, the block's
    first pre-activation ``relu(BN(x))``), on that and without BN, as [2]'s code.
    """
    if option not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {option!r}")
    in_filters = int(x.shape[-1])
    changes = stride != 1 or in_filters != out_filters
    if option == "C" or (option == "B" and changes):
        if projection_input is None:
            return _conv_bn(x, out_filters, stride, is_training, wd, "shortcut", relu=False,
                            ksize=1)
        with tf1.variable_scope("shortcut"):
            return _conv(projection_input, out_filters, 1, stride, wd, scope="conv")
    if stride != 1:
        x = x[:, ::stride, ::stride, :]
    if out_filters != in_filters:  # option A: zero-pad the new channels
        extra = out_filters - in_filters
        x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
    return x


def residual_block(x, filters, stride, is_training, wd, scope, bottleneck=False,
                   shortcut_option="B", stride_in="1x1"):
    """An original block (Figures 2 and 5 of [1]): conv-BN-ReLU layers, the last
    without ReLU, plus the shortcut, then ReLU. Scopes ``a``, ``b`` (``c``), ``shortcut``.

    Returns ``[batch, h / stride, w / stride, filters (x4 for a bottleneck)]``.
    """
    with tf1.variable_scope(scope):
        layers = branch_layers(filters, stride, bottleneck, stride_in)
        y = x
        for i, (name, ksize, out, s) in enumerate(layers):
            y = _conv_bn(y, out, s, is_training, wd, name, relu=i < len(layers) - 1, ksize=ksize)
        s_x = shortcut(x, layers[-1][2], stride, shortcut_option, is_training, wd)
        return tf.nn.relu(y + s_x)


def preact_block(x, filters, stride, is_training, wd, scope, bottleneck=False,
                 shortcut_option="B", stride_in="1x1"):
    """A pre-activation block (Figure 1b of [2]): BN-ReLU-conv layers, plus the
    shortcut, nothing after the addition. A projection shortcut reads the first
    pre-activation, an identity one reads ``x`` itself.

    Returns ``[batch, h / stride, w / stride, filters (x4 for a bottleneck)]``.
    """
    with tf1.variable_scope(scope):
        layers = branch_layers(filters, stride, bottleneck, stride_in)
        y, first_act = x, None
        for name, ksize, out, s in layers:
            y, act = _bn_relu_conv(y, out, s, is_training, wd, name, ksize=ksize)
            first_act = act if first_act is None else first_act
        s_x = shortcut(x, layers[-1][2], stride, shortcut_option, is_training, wd,
                       projection_input=first_act)
        return tf.add(y, s_x, name="output")


def basic_block(x, filters, stride, is_training, wd, scope):
    """Two 3x3 conv + BN layers plus the option-A shortcut, then ReLU (Figure 2 of [1])."""
    return residual_block(x, filters, stride, is_training, wd, scope, shortcut_option="A")


def post_activation(x, is_training, scope="postnorm"):
    """The final BN -> ReLU of a pre-activation network (the last block adds
    without an activation)."""
    with tf1.variable_scope(scope):
        return tf.nn.relu(batch_norm(x, is_training, scope="bn", fused=True))


def blocks_per_stage(n=None, depth=None, bottleneck=False, scope="resnet"):
    """``n`` from ``depth`` (``6n + 2`` basic, ``9n + 2`` bottleneck) or checked as given."""
    per_block = 9 if bottleneck else 6
    if depth is not None:
        if n is not None:
            raise ValueError(f"[{scope}] give n or depth, not both (n={n}, depth={depth})")
        if not isinstance(depth, int) or depth < per_block + 2 or (depth - 2) % per_block:
            kind = "bottleneck" if bottleneck else "basic"
            examples = "164, 1001" if bottleneck else "20, 32, 44, 56, 110"
            raise ValueError(f"[{scope}] a CIFAR ResNet with {kind} blocks has depth "
                             f"{per_block}n + 2 ({examples}, ...), got {depth!r}")
        return (depth - 2) // per_block
    n = 3 if n is None else n
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"[{scope}] n (blocks per stage) must be a whole number >= 1, got {n!r}")
    return n


def resnet_cifar(images, num_classes, is_training, n=None, keep_prob=1.0, wd=1e-4,
                 scope="resnet", depth=None, bottleneck=False, preact=False,
                 shortcut_option=None):
    """The CIFAR ResNets: ``6n + 2`` layers of [1], ``9n + 2`` bottleneck layers
    of [2], either with pre-activation blocks.

    Args:
      images: ``[batch, height, width, channels]``, standardised floats, at least 4x4.
      num_classes: width of the logits.
      is_training: bool or boolean tensor (batch norm statistics).
      n: blocks per stage (3 -> ResNet-20, 9 -> ResNet-56; default 3).
      keep_prob: unused (the papers use no dropout); accepted so every network
        in the registry takes the same arguments.
      wd: weight decay (papers: 0.0001).
      depth: the network's depth instead of ``n`` (``6n + 2``; ``9n + 2`` bottleneck).
      bottleneck: bottleneck blocks of widths 16, 32, 64 (outputs 64, 128, 256).
      preact: pre-activation blocks, a conv1 without BN and a final BN-ReLU ([2]).
      shortcut_option: ``'A'``, ``'B'`` or ``'C'``; default the papers' choice,
        A for basic blocks, B for bottleneck blocks.
    Returns:
      ``(logits, end_points)``; end points ``conv1``, ``stage1..3``
      (``postnorm``), ``global_pool``, ``logits``, ``predictions``.
    """
    del keep_prob
    n = blocks_per_stage(n, depth, bottleneck, scope)
    option = shortcut_option or ("B" if bottleneck else "A")
    block = preact_block if preact else residual_block
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, 4, known_size=False)  # two stride-2 stages
        if preact:  # the first block's BN-ReLU follows it
            with tf1.variable_scope("conv1"):
                net = _conv(images, STAGE_FILTERS[0], 3, 1, wd, scope="conv")  # [b, 32, 32, 16]
        else:
            net = _conv_bn(images, STAGE_FILTERS[0], 1, is_training, wd, "conv1")  # [b, 32, 32, 16]
        end_points["conv1"] = net
        for s, filters in enumerate(STAGE_FILTERS):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                net = block(net, filters, stride, is_training, wd, f"stage{s + 1}/block{b + 1}",
                            bottleneck=bottleneck, shortcut_option=option)
            # [b, 32, 32, 16] -> [b, 16, 16, 32] -> [b, 8, 8, 64] (x4 channels for bottleneck)
            end_points[f"stage{s + 1}"] = net
        if preact:
            net = post_activation(net, is_training)  # [b, 8, 8, 64 | 256]
            end_points["postnorm"] = net
        net = tf.reduce_mean(net, axis=[1, 2], name="global_pool")  # [b, 64 | 256]
        end_points["global_pool"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=1.0 / math.sqrt(int(net.shape[-1])), bias_value=0.0,
                                 scope="logits")
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points


def _variant(name, n, bottleneck=False, preact=False, **info):
    def builder(images, num_classes, is_training, keep_prob=1.0, wd=1e-4, scope=name):
        return resnet_cifar(images, num_classes, is_training, n=n, keep_prob=keep_prob, wd=wd,
                            scope=scope, bottleneck=bottleneck, preact=preact)
    depth = (9 if bottleneck else 6) * n + 2
    builder.__name__ = name
    builder.__doc__ = (f"{'Pre-activation ' if preact else ''}ResNet-{depth} of "
                       f"{'[2]' if preact or bottleneck else '[1]'} (n={n}"
                       f"{', bottleneck' if bottleneck else ''}). "
                       "See resnet_cifar() for the arguments.")
    return register(name, family="resnet", input_shape=(32, 32, 3), num_classes=10,
                    cifar=True, **info)(builder)


# Table 6 of [1] prints the CIFAR-10 ResNets' parameters (0.27M ... 1.7M); [2] prints
# 1.7M for ResNet-110 and ResNet-164 and 10.2M for ResNet-1001 with its results.
TABLE6_PARAMS = {"resnet20": 0.27e6, "resnet32": 0.46e6, "resnet44": 0.66e6,
                 "resnet56": 0.85e6, "resnet110": 1.7e6}
for _name, _n in DEPTHS.items():
    globals()[_name] = _variant(_name, _n, paper_params=TABLE6_PARAMS[_name],
                                paper_source="arXiv:1512.03385 Table 6")

# name: (n, bottleneck, pre-activation, the parameters [2] prints)
CIFAR_V2 = {
    "resnet164": (18, True, False, 1.7e6),
    "preact_resnet110": (18, False, True, 1.7e6),
    "preact_resnet164": (18, True, True, 1.7e6),
    "preact_resnet1001": (111, True, True, 10.2e6),
}
for _name, (_n, _bottleneck, _preact, _params) in CIFAR_V2.items():
    globals()[_name] = _variant(_name, _n, _bottleneck, _preact, paper_params=_params,
                                paper_source="arXiv:1603.05027 Table 4")
