"""The ImageNet ResNets of Table 1 of [1] (ResNet-18 ... ResNet-152), original
and pre-activation ([2]), from one block table and one builder.

[1] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning
    for Image Recognition. CVPR 2016, arXiv:1512.03385.
[2] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Identity Mappings in
    Deep Residual Networks. ECCV 2016, arXiv:1603.05027.

Table 1 of [1], for a 224x224x3 image::

    conv1    7x7, 64, stride 2                       112x112
    pool1    3x3 max pool, stride 2                   56x56
    conv2_x  blocks of 64   (basic) / 64-64-256 (bottleneck)   56x56
    conv3_x  blocks of 128  / 128-128-512, first stride 2      28x28
    conv4_x  blocks of 256  / 256-256-1024, first stride 2     14x14
    conv5_x  blocks of 512  / 512-512-2048, first stride 2      7x7
    global average pool, 1000-d fc, softmax                    1x1

with ``[2, 2, 2, 2]`` basic blocks for ResNet-18, ``[3, 4, 6, 3]`` for ResNet-34,
and ``[3, 4, 6, 3]``, ``[3, 4, 23, 3]``, ``[3, 8, 36, 3]`` bottleneck blocks for
ResNet-50, 101, 152 (:data:`BLOCKS`). The blocks and the shortcut options A, B, C
are in :mod:`tfgraph_lessons.nets.resnet`; B (a projection only where the shape
changes) is the default, as in the reference implementations.

Conventions, which the tests check against the published numbers:

- Parameters: convolutions without biases (a BN follows or precedes each),
  BN's gamma and beta, the fc with biases: the trainable parameters equal
  torchvision's counts (ResNet-50: 25,557,032). BN's moving means and
  variances are variables too, not trainable, and equal Keras's non-trainable
  parameters (53,120); Keras also gives each convolution a bias (+26,560).
- A bottleneck block that halves the map has its stride on the first 1x1
  convolution, as the paper's Caffe models (``stride_in='1x1'``); torchvision
  ("v1.5") puts it on the 3x3 (``'3x3'``), which costs more: 4.09 instead of
  3.86 billion multiply-adds for ResNet-50. Table 1's "FLOPs" are
  multiply-adds of the convolutions and the fc.
- The pre-activation networks (``resnet50_v2``, ...) follow [2] and its code:
  conv1 has no BN of its own (every block begins with BN-ReLU), a projection
  shortcut has no BN, and a BN-ReLU ends the last stage. They have the same
  convolutions, hence the same multiply-adds, as the originals.
- TensorFlow's ``SAME`` padding pads a stride-2 layer on the bottom/right only
  (Caffe and torchvision pad both sides): the same shapes and counts, the
  sampling grid shifted by a pixel.

Usage::

    logits, end_points = resnet50(images, 1000, is_training)
    logits, end_points = resnet_imagenet(images, 1000, is_training, depth=34, shortcut='A')
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import fully_connected, global_avg_pool, max_pool
from tfgraph_lessons.nets import check_images, register
from tfgraph_lessons.nets.resnet import (SHORTCUTS, STRIDES_IN, _conv, _conv_bn,
                                         post_activation, preact_block, residual_block)

# depth: (block kind, blocks in conv2_x, conv3_x, conv4_x, conv5_x) -- Table 1 of [1]
BLOCKS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGES = ("conv2_x", "conv3_x", "conv4_x", "conv5_x")
STAGE_FILTERS = (64, 128, 256, 512)  # a bottleneck block's output is 4x these


def _check_arguments(depth, shortcut, stride_in, scope):
    if depth not in BLOCKS:
        raise ValueError(f"[{scope}] ResNet depth must be one of "
                         f"{', '.join(map(str, BLOCKS))} (Table 1 of arXiv:1512.03385), "
                         f"got {depth!r}")
    if shortcut not in SHORTCUTS:
        raise ValueError(f"[{scope}] shortcut must be one of {', '.join(SHORTCUTS)}, "
                         f"got {shortcut!r}")
    if stride_in not in STRIDES_IN:
        raise ValueError(f"[{scope}] stride_in must be one of {', '.join(STRIDES_IN)}, "
                         f"got {stride_in!r}")


def resnet_imagenet(images, num_classes, is_training, depth=50, preact=False, shortcut="B",
                    stride_in="1x1", keep_prob=1.0, wd=1e-4, scope="resnet"):
    """ResNet-``depth`` of Table 1 of [1] (``preact=True``: of [2]).

    Args:
      images: ``[batch, height, width, 3]`` floats (224x224 in the paper; at least 32x32,
        the total stride).
      num_classes: width of the logits (1000 for ImageNet).
      is_training: bool or boolean tensor (batch norm statistics).
      depth: 18, 34, 50, 101 or 152 (:data:`BLOCKS`).
      preact: pre-activation blocks of [2] (BN-ReLU-conv), a final BN-ReLU.
      shortcut: ``'A'`` zero-padded identity, ``'B'`` projection where the shape
        changes (default), ``'C'`` projection on every block.
      stride_in: ``'1x1'`` (the paper) or ``'3x3'`` (torchvision's v1.5): where a
        downsampling bottleneck block strides.
      keep_prob: unused (no dropout in ResNets); accepted like every registry network.
      wd: weight decay (paper: 0.0001).
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``: ``conv1``, ``pool1``, one key
      per block (``conv2_x/block1`` ...), (``postnorm``), ``global_pool``,
      ``logits``, ``predictions``.
    """
    del keep_prob
    _check_arguments(depth, shortcut, stride_in, scope)
    kind, counts = BLOCKS[depth]
    block = preact_block if preact else residual_block
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, 32)  # five stride-2 steps: conv5_x is 1x1 at 32x32
        if preact:  # the first block's BN-ReLU follows it
            with tf1.variable_scope("conv1"):
                net = _conv(images, 64, 7, 2, wd, scope="conv")                 # [b, 112, 112, 64]
        else:
            net = _conv_bn(images, 64, 2, is_training, wd, "conv1", ksize=7)  # [b, 112, 112, 64]
        end_points["conv1"] = net
        net = max_pool(net, 3, 2, "SAME", name="pool1")                       # [b, 56, 56, 64]
        end_points["pool1"] = net
        for s, (stage, filters, count) in enumerate(zip(STAGES, STAGE_FILTERS, counts)):
            for b in range(count):
                stride = 2 if (s > 0 and b == 0) else 1
                net = block(net, filters, stride, is_training, wd, f"{stage}/block{b + 1}",
                            bottleneck=kind == "bottleneck", shortcut_option=shortcut,
                            stride_in=stride_in)
                end_points[f"{stage}/block{b + 1}"] = net
            # conv2_x [b, 56, 56, 64|256]   conv3_x [b, 28, 28, 128|512]
            # conv4_x [b, 14, 14, 256|1024] conv5_x [b, 7, 7, 512|2048]  (basic|bottleneck)
        if preact:
            net = post_activation(net, is_training)                            # [b, 7, 7, 2048]
            end_points["postnorm"] = net
        net = global_avg_pool(net, name="global_pool")                         # [b, 512|2048]
        end_points["global_pool"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,     # [b, 1000]
                                 stddev=1.0 / math.sqrt(int(net.shape[-1])), bias_value=0.0,
                                 scope="logits")
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points


def last_block(stage, depth):
    """The end-point key of a stage's output: ``last_block('conv2_x', 50) -> 'conv2_x/block3'``."""
    return f"{stage}/block{BLOCKS[depth][1][STAGES.index(stage)]}"


# Reference counts (torchvision's resnet*.meta["num_params"]) and Table 1's FLOPs
# (multiply-adds) of [1].
REFERENCE_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                    152: 60_192_808}
TABLE1_MADDS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}


def _variant(depth, preact):
    name = f"resnet{depth}_v2" if preact else f"resnet{depth}"

    def builder(images, num_classes, is_training, keep_prob=1.0, wd=1e-4, shortcut="B",
                stride_in="1x1", scope=name):
        return resnet_imagenet(images, num_classes, is_training, depth=depth, preact=preact,
                               shortcut=shortcut, stride_in=stride_in, keep_prob=keep_prob,
                               wd=wd, scope=scope)
    builder.__name__ = name
    builder.__doc__ = (f"{'Pre-activation ' if preact else ''}ResNet-{depth} of "
                       f"{'[2]' if preact else '[1]'}. See resnet_imagenet() for the arguments.")
    if preact:  # [2] prints no parameter or multiply-add count for these depths
        info = dict(paper_source="arXiv:1603.05027 (no count printed)")
    else:
        info = dict(paper_params=REFERENCE_PARAMS[depth], paper_madds=TABLE1_MADDS[depth],
                    paper_source=f"arXiv:1512.03385 Table 1 (FLOPs); params: torchvision "
                                 f"resnet{depth}")
    return register(name, family="resnet", input_shape=(224, 224, 3), num_classes=1000,
                    cifar=False, **info)(builder)


for _depth in BLOCKS:
    for _preact in (False, True):
        _builder = _variant(_depth, _preact)
        globals()[_builder.__name__] = _builder
