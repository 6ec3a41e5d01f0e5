"""ResNet for CIFAR-10, as in section 4.2 of [1].

[1] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning
    for Image Recognition. CVPR 2016, arXiv:1512.03385.

A 3x3 convolution with 16 filters, then three stages of ``n`` basic blocks
(two 3x3 convolutions each) with 16, 32 and 64 filters on 32x32, 16x16 and
8x8 maps, global average pooling and a fully connected layer: ``6n + 2``
weighted layers. The first block of a stage halves the map with stride 2;
its shortcut is option A of the paper (subsample and pad the new channels
with zeros), which adds no parameters, so the parameter counts match the
paper's Table 6 (ResNet-20: 0.27M).

Usage::

    logits, end_points = resnet20(images, 10, is_training)
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import batch_norm, conv2d, fully_connected
from tfgraph_lessons.nets import register

DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
STAGE_FILTERS = (16, 32, 64)


def _conv_bn(x, filters, stride, is_training, wd, scope, relu=True):
    with tf1.variable_scope(scope):
        fan_in = 3 * 3 * int(x.shape[-1])
        x = conv2d(x, filters, 3, stride, activation=None, use_bias=False, wd=wd,
                   stddev=math.sqrt(2.0 / fan_in), scope="conv")
        x = batch_norm(x, is_training, scope="bn")
        return tf.nn.relu(x) if relu else x


def basic_block(x, filters, stride, is_training, wd, scope):
    """Two 3x3 conv + BN layers plus the shortcut, then ReLU (Figure 2 of [1])."""
    with tf1.variable_scope(scope):
        in_filters = int(x.shape[-1])
        y = _conv_bn(x, filters, stride, is_training, wd, "a")
        y = _conv_bn(y, filters, 1, is_training, wd, "b", relu=False)
        shortcut = x
        if stride != 1:
            shortcut = shortcut[:, ::stride, ::stride, :]
        if filters != in_filters:  # option A: zero-pad the new channels
            extra = filters - in_filters
            shortcut = tf.pad(shortcut, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
        return tf.nn.relu(y + shortcut)


def resnet_cifar(images, num_classes, is_training, n=3, keep_prob=1.0, wd=1e-4,
                 scope="resnet"):
    """The ``6n + 2``-layer CIFAR ResNet of [1].

    Args:
      images: ``[batch, height, width, channels]``, standardised floats.
      num_classes: width of the logits.
      is_training: bool or boolean tensor (batch norm statistics).
      n: blocks per stage (3 -> ResNet-20, 9 -> ResNet-56).
      keep_prob: unused (the paper uses no dropout); accepted so every network
        in the registry takes the same arguments.
      wd: weight decay (paper: 0.0001).
    Returns:
      ``(logits, end_points)``.
    """
    del keep_prob
    end_points = {}
    with tf1.variable_scope(scope):
        if images.shape.rank != 4 or images.shape[-1] is None:
            raise ValueError(f"[{scope}] expects images [batch, height, width, channels], "
                             f"got shape {images.shape}")
        if images.shape[1] is None or images.shape[1] < 4 or images.shape[2] < 4:
            raise ValueError(f"[{scope}] needs images of at least 4x4 (two stride-2 stages), "
                             f"got shape {images.shape}")
        net = _conv_bn(images, STAGE_FILTERS[0], 1, is_training, wd, "conv1")  # [b, 32, 32, 16]
        end_points["conv1"] = net
        for s, filters in enumerate(STAGE_FILTERS):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                net = basic_block(net, filters, stride, is_training, wd, f"stage{s + 1}/block{b + 1}")
            end_points[f"stage{s + 1}"] = net  # [b, 32, 32, 16] -> [b, 16, 16, 32] -> [b, 8, 8, 64]
        net = tf.reduce_mean(net, axis=[1, 2], name="global_pool")  # [b, 64]
        end_points["global_pool"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=1.0 / math.sqrt(STAGE_FILTERS[-1]), bias_value=0.0,
                                 scope="logits")
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points


def _variant(name, n):
    def builder(images, num_classes, is_training, keep_prob=1.0, wd=1e-4, scope=name):
        return resnet_cifar(images, num_classes, is_training, n=n, keep_prob=keep_prob, wd=wd,
                            scope=scope)
    builder.__name__ = name
    builder.__doc__ = f"ResNet-{6 * n + 2} of [1] (n={n}). See resnet_cifar() for the arguments."
    return register(name)(builder)


for _name, _n in DEPTHS.items():
    globals()[_name] = _variant(_name, _n)
