"""Xception: Inception modules taken to the extreme, as depthwise separable convolutions.

[1] François Chollet. Xception: Deep Learning with Depthwise Separable
    Convolutions. CVPR 2017, arXiv:1610.02357.

The slides' last Inception: where an Inception module splits the channels into
a few groups and convolves each group spatially, Xception splits them into one
group per channel (a depthwise convolution) and mixes channels with a 1x1
convolution (:func:`tfgraph_lessons.core.layers.separable_conv2d`). 36
convolutional layers in 14 modules, all but the first and last with a linear
residual connection, Figure 5 of [1]::

    entry flow:  conv 3x3/2 32, conv 3x3 64,
                 3 modules (SepConv, SepConv, MaxPool 3x3/2) of 128, 256, 728
                 channels, each with a 1x1/2 convolution on the shortcut
    middle flow: 8 modules (ReLU, SepConv 728) x 3 with an identity shortcut
    exit flow:   1 module (SepConv 728, SepConv 1024, MaxPool 3x3/2) with a 1x1/2
                 shortcut, SepConv 1536, SepConv 2048, global average pooling,
                 dropout 0.5 (section 4.3 of [1]), logistic regression

Every convolution is followed by batch normalisation and no separable
convolution has an activation between its depthwise and pointwise halves
(section 4.7 of [1]). Parameters: 22,855,952 (Table 3 of [1]), exactly what this
builds with its batch norm's beta and gamma counted; the 54,528 moving means
and variances make the 22,910,480 that Keras's ``Xception`` reports as total.

Usage::

    logits, end_points = xception(images, 1000, is_training)   # images [b, 299, 299, 3]
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import (batch_norm, conv2d, dropout, fully_connected,
                                         global_avg_pool, max_pool, separable_conv2d)
from tfgraph_lessons.nets import check_images, register

MIN_SIZE = 71             # the reference implementation's (keras.applications) smallest input
ENTRY_FILTERS = (128, 256, 728)
MIDDLE_MODULES = 8


def _he(fan_in):
    return math.sqrt(2.0 / fan_in)


def _conv_bn(x, filters, ksize, stride, padding, is_training, wd, scope):
    """A convolution without bias, then batch norm (``scope``, ``scope_bn``)."""
    x = conv2d(x, filters, ksize, stride, padding, activation=None, use_bias=False, wd=wd,
               stddev=_he(ksize * ksize * int(x.shape[-1])), scope=scope)
    return batch_norm(x, is_training, scope=scope + "_bn")


def _sepconv_bn(x, filters, is_training, wd, scope):
    """SeparableConv 3x3 (no bias) then batch norm. Both kernels draw from the same
    stddev ``(2 / (9 * c_in)) ** 0.25``: their product then has He's variance."""
    stddev = (2.0 / (9 * int(x.shape[-1]))) ** 0.25
    x = separable_conv2d(x, filters, 3, activation=None, use_bias=False, wd=wd, stddev=stddev,
                         scope=scope)
    return batch_norm(x, is_training, scope=scope + "_bn")


def _module(x, filters, is_training, wd, scope, first_relu=True, pool=True):
    """One Xception module: ``[ReLU] SepConv BN ReLU SepConv BN ... [MaxPool 3x3/2]``
    plus the shortcut, a 1x1/2 convolution + BN when the module pools, else identity.

    ``filters`` lists each separable convolution's output channels.
    """
    with tf1.variable_scope(scope):
        net = x
        for i, f in enumerate(filters):
            if i > 0 or first_relu:
                net = tf.nn.relu(net)
            net = _sepconv_bn(net, f, is_training, wd, f"sepconv{i + 1}")
        if pool:
            net = max_pool(net, 3, 2, "SAME", name="pool")
            shortcut = _conv_bn(x, filters[-1], 1, 2, "SAME", is_training, wd, "shortcut")
        else:
            shortcut = x
        return tf.add(net, shortcut, name="output")


@register("xception", family="inception", input_shape=(299, 299, 3), num_classes=1000,
          paper_params=22_855_952, paper_source="arXiv:1610.02357 Table 3", cifar=False)
def xception(images, num_classes, is_training, keep_prob=0.5, wd=None, scope="xception"):
    """Xception of [1], Figure 5 (ImageNet version: no fully connected layers, dropout
    before the logistic regression).

    Args:
      images: ``[batch, height, width, channels]``, at least 71x71 (paper: 299x299x3).
      num_classes: width of the logits (ImageNet: 1000).
      is_training: bool or boolean tensor: batch norm statistics, and dropout only in training.
      keep_prob: dropout keep probability before the logits (paper: dropout rate 0.5).
      wd: weight decay on every kernel (paper: 1e-5 on ImageNet), or None.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, MIN_SIZE, f"images of at least {MIN_SIZE}x{MIN_SIZE} "
                     "(299x299 in the paper)")
        with tf1.variable_scope("entry_flow"):
            net = tf.nn.relu(_conv_bn(images, 32, 3, 2, "VALID", is_training, wd, "conv1"))
            end_points["entry_flow/conv1"] = net                      # [b, 149, 149, 32]
            net = tf.nn.relu(_conv_bn(net, 64, 3, 1, "VALID", is_training, wd, "conv2"))
            end_points["entry_flow/conv2"] = net                      # [b, 147, 147, 64]
            for i, f in enumerate(ENTRY_FILTERS):
                net = _module(net, (f, f), is_training, wd, f"block{i + 1}",
                              first_relu=i > 0)
                end_points[f"entry_flow/block{i + 1}"] = net
                # [b, 74, 74, 128] -> [b, 37, 37, 256] -> [b, 19, 19, 728]
        with tf1.variable_scope("middle_flow"):
            for i in range(MIDDLE_MODULES):
                net = _module(net, (728, 728, 728), is_training, wd, f"block{i + 1}", pool=False)
                end_points[f"middle_flow/block{i + 1}"] = net         # [b, 19, 19, 728]
        with tf1.variable_scope("exit_flow"):
            net = _module(net, (728, 1024), is_training, wd, "block1")
            end_points["exit_flow/block1"] = net                      # [b, 10, 10, 1024]
            net = tf.nn.relu(_sepconv_bn(net, 1536, is_training, wd, "sepconv1"))
            end_points["exit_flow/sepconv1"] = net                    # [b, 10, 10, 1536]
            net = tf.nn.relu(_sepconv_bn(net, 2048, is_training, wd, "sepconv2"))
            end_points["exit_flow/sepconv2"] = net                    # [b, 10, 10, 2048]
        net = global_avg_pool(net)                                    # [b, 2048]
        end_points["global_pool"] = net
        if keep_prob < 1.0:
            net = dropout(net, keep_prob, is_training)
        end_points["dropout"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=1.0 / math.sqrt(2048), bias_value=0.0,
                                 scope="logits")                      # [b, num_classes]
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points
