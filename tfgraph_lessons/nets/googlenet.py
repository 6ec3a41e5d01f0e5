"""GoogLeNet (Inception v1), built from Table 1 of [1].

[1] Christian Szegedy, Wei Liu, Yangqing Jia, Pierre Sermanet, Scott Reed,
    Dragomir Anguelov, Dumitru Erhan, Vincent Vanhoucke, Andrew Rabinovich.
    Going Deeper with Convolutions. CVPR 2015, arXiv:1409.4842.

The slides' "22 layers deep" network: a convolutional stem, nine Inception
modules whose widths are the columns of Table 1 (:data:`TABLE_1`), global
average pooling instead of fully connected layers, dropout 40%, one linear
layer. Two auxiliary classifiers (section 5) hang off inception (4a) and (4d):
they exist only to push gradient into the middle of the network while
training, their losses weighted by 0.3 (:func:`googlenet_loss`), and are thrown
away at inference.

Table 1 counts about 6.8M parameters (its "params" column, in units of 1,024,
weights only) and 1.5 billion multiply-adds; the auxiliary heads are not in it.

The same module builder makes the small Inception for CIFAR-10 of [2]
(:func:`inception_cifar`, :data:`SMALL_INCEPTION`): two-branch modules (a 1x1
and a 3x3 convolution) and downsample modules (a stride-2 3x3 convolution next
to a stride-2 max pooling), every convolution batch-normalised.

[2] Chiyuan Zhang, Samy Bengio, Moritz Hardt, Benjamin Recht, Oriol Vinyals.
    Understanding Deep Learning Requires Rethinking Generalization. ICLR 2017,
    arXiv:1611.03530 (Appendix A, Figure 3; 1,649,402 parameters in Table 1).

Usage::

    logits, end_points = googlenet(images, 1000, is_training)     # images [b, 224, 224, 3]
    logits, end_points = inception_cifar(images, 10, is_training)  # images [b, 32, 32, 3]
    loss = googlenet_loss(labels, logits, end_points)              # main + 0.3 * each aux
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import (avg_pool, dropout, fully_connected,
                                         global_avg_pool, lrn, max_pool)
from tfgraph_lessons.nets import check_images, register
from tfgraph_lessons.nets.inception import (Conv, Module, Pool, apply_layer, aux_pool_size,
                                            classifier_head, conv_unit, inception_loss,
                                            inception_module, training_only)

# Table 1 of [1]: the widths of every Inception module.
TABLE_1 = (
    # module        #1x1  #3x3 reduce  #3x3  #5x5 reduce  #5x5  pool proj    output
    ("inception_3a",  64,      96,     128,      16,       32,     32),   # 28x28x256
    ("inception_3b", 128,     128,     192,      32,       96,     64),   # 28x28x480
    ("inception_4a", 192,      96,     208,      16,       48,     64),   # 14x14x512
    ("inception_4b", 160,     112,     224,      24,       64,     64),   # 14x14x512
    ("inception_4c", 128,     128,     256,      24,       64,     64),   # 14x14x512
    ("inception_4d", 112,     144,     288,      32,       64,     64),   # 14x14x528
    ("inception_4e", 256,     160,     320,      32,      128,    128),   # 14x14x832
    ("inception_5a", 256,     160,     320,      32,      128,    128),   # 7x7x832
    ("inception_5b", 384,     192,     384,      48,      128,    128),   # 7x7x1024
)
POOL_AFTER = {"inception_3b": "pool3", "inception_4e": "pool4"}   # 3x3/2 max pools
AUX_AFTER = ("inception_4a", "inception_4d")                     # the two auxiliary heads
AUX_WEIGHT = 0.3       # section 5: "the losses of the auxiliary classifiers were weighted by 0.3"
AUX_KEEP_PROB = 0.3    # section 5: "a dropout layer with 70% ratio of dropped outputs"
MIN_SIZE = 32          # five stride-2 layers: a 32x32 image leaves a 1x1 map


def module_branches(n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj):
    """One row of Table 1 as the branches of :func:`inception_module` (Figure 2(b))."""
    return [
        [Conv(n1x1, 1)],
        [Conv(n3x3_reduce, 1), Conv(n3x3, 3)],
        [Conv(n5x5_reduce, 1), Conv(n5x5, 5)],
        [Pool("max", 3, 1), Conv(pool_proj, 1)],
    ]


def _lrn(x, name):
    # The paper draws "LocalRespNorm" (Figure 3) without its constants; these are
    # the BVLC Caffe GoogLeNet's (local_size 5, alpha 1e-4 divided by 5, beta 0.75).
    return lrn(x, depth_radius=2, bias_value=1.0, alpha=1e-4 / 5, beta=0.75, name=name)


def aux_head(net, num_classes, is_training, wd, scope):
    """An auxiliary classifier of section 5 of [1] on inception (4a) or (4d)."""
    with tf1.variable_scope(scope):
        k = aux_pool_size(net)
        x = avg_pool(net, k, 3, "VALID", name="avg_pool")                  # [b, 4, 4, 512|528]
        x = conv_unit(x, Conv(128, 1), is_training, "conv", batch_norm_on=False, wd=wd)
        fan_in = int(x.shape[1]) * int(x.shape[2]) * 128                   # [b, 4, 4, 128]
        x = fully_connected(x, 1024, wd=wd, stddev=math.sqrt(2.0 / fan_in), bias_value=0.0,
                            scope="fc")                                    # [b, 1024]
        x = dropout(x, AUX_KEEP_PROB, is_training)
        return fully_connected(x, num_classes, activation=None, wd=wd,
                               stddev=1.0 / math.sqrt(1024), bias_value=0.0,
                               scope="logits")                             # [b, num_classes]


@register("googlenet", family="inception", input_shape=(224, 224, 3), num_classes=1000,
          paper_params=6.8e6, paper_madds=1.5e9, paper_source="arXiv:1409.4842 Table 1",
          cifar=False)
def googlenet(images, num_classes, is_training, keep_prob=0.6, wd=None, scope="googlenet"):
    """GoogLeNet of [1], Table 1.

    Args:
      images: ``[batch, 224, 224, 3]`` (any known size >= 32: the last pooling is
        global, so other sizes work too).
      num_classes: width of the logits (1000 for ImageNet).
      is_training: Python bool or boolean scalar tensor. True builds the two
        auxiliary heads and turns dropout on; False builds neither (inference).
        A tensor builds the heads too, but only :func:`googlenet_loss` uses them,
        so fetching ``logits`` never runs them.
      keep_prob: dropout keep probability before the linear layer (paper: 40%
        dropped, 0.6).
      wd: weight decay on every kernel, or None.
    Returns:
      ``(logits [batch, num_classes], end_points)``; ``end_points["aux_logits"]``
      is the list of the two auxiliary logits when they are built.
    """
    end_points = {}
    aux_logits = []
    with tf1.variable_scope(scope):
        check_images(images, scope, MIN_SIZE)

        def conv(x, spec, name):
            return conv_unit(x, spec, is_training, name, batch_norm_on=False, wd=wd)

        net = conv(images, Conv(64, 7, 2), "conv1")                  # [b, 112, 112, 64]
        end_points["conv1"] = net
        net = max_pool(net, 3, 2, name="pool1")                      # [b, 56, 56, 64]
        end_points["pool1"] = net
        net = _lrn(net, "norm1")
        end_points["norm1"] = net
        net = conv(net, Conv(64, 1), "conv2_reduce")                 # [b, 56, 56, 64]
        end_points["conv2_reduce"] = net
        net = conv(net, Conv(192, 3), "conv2")                       # [b, 56, 56, 192]
        end_points["conv2"] = net
        net = _lrn(net, "norm2")
        end_points["norm2"] = net
        net = max_pool(net, 3, 2, name="pool2")                      # [b, 28, 28, 192]
        end_points["pool2"] = net
        for name, *widths in TABLE_1:              # [b, 28, 28, 256] ... [b, 7, 7, 1024]
            net = inception_module(net, module_branches(*widths), is_training, name,
                                   batch_norm=False, wd=wd)
            end_points[name] = net
            if name in AUX_AFTER and training_only(is_training):
                aux = aux_head(net, num_classes, is_training, wd, f"aux_{len(aux_logits) + 1}")
                aux_logits.append(aux)
                end_points[f"aux_{len(aux_logits)}"] = aux
            if name in POOL_AFTER:
                net = max_pool(net, 3, 2, name=POOL_AFTER[name])  # [b, 14, 14, 480], [b, 7, 7, 832]
                end_points[POOL_AFTER[name]] = net
        # [b, 1024] (7x7 average pool), dropout, logits
        return classifier_head(net, num_classes, is_training, keep_prob, wd, end_points,
                               "pool5", aux_logits)


def googlenet_loss(labels, logits, end_points, aux_weight=AUX_WEIGHT):
    """Training loss of [1]: cross-entropy of the logits plus ``aux_weight`` (0.3)
    times the cross-entropy of each auxiliary head, when they were built.

    Args:
      labels: ``[batch]`` integer classes.
      logits, end_points: what :func:`googlenet` returned.
    Returns:
      a scalar tensor.
    """
    return inception_loss(labels, logits, end_points, aux_weight, name="googlenet_loss")


# --------------------------------------------------------------------------- CIFAR-10


def small_module(ch1, ch3):
    """[2]'s Inception module: a 1x1 and a 3x3 convolution, ch1 + ch3 channels."""
    return Module(((Conv(ch1, 1),), (Conv(ch3, 3),)))


def downsample_module(ch3):
    """[2]'s downsample module: a stride-2 3x3 convolution next to a stride-2 max pool."""
    return Module(((Conv(ch3, 3, 2),), (Pool("max", 3, 2),)))


# Figure 3 of [2], one row per module; shapes at 32x32 ([2] crops CIFAR-10 to 28x28:
# 28 -> 14 -> 7; the parameters do not depend on the input size).
SMALL_INCEPTION = (
    ("conv1", Conv(96, 3)),                       # [b, 32, 32, 96]
    ("inception_1a", small_module(32, 32)),       # [b, 32, 32, 64]
    ("inception_1b", small_module(32, 48)),       # [b, 32, 32, 80]
    ("downsample_1", downsample_module(80)),      # [b, 16, 16, 160]
    ("inception_2a", small_module(112, 48)),      # [b, 16, 16, 160]
    ("inception_2b", small_module(96, 64)),       # [b, 16, 16, 160]
    ("inception_2c", small_module(80, 80)),       # [b, 16, 16, 160]
    ("inception_2d", small_module(48, 96)),       # [b, 16, 16, 144]
    ("downsample_2", downsample_module(96)),      # [b, 8, 8, 240]
    ("inception_3a", small_module(176, 160)),     # [b, 8, 8, 336]
    ("inception_3b", small_module(176, 160)),     # [b, 8, 8, 336]
)


@register("inception_cifar", family="inception", input_shape=(32, 32, 3), num_classes=10,
          paper_params=1_649_402, paper_source="arXiv:1611.03530 Table 1, Fig. 3",
          cifar=True)
def inception_cifar(images, num_classes, is_training, keep_prob=1.0, wd=None,
                    scope="inception_cifar"):
    """The small Inception of [2] (Figure 3) for 32x32 images.

    Every convolution is convolution + batch norm + ReLU (the "conv module" of
    [2]); the convolutions carry no bias, batch norm's beta taking its place.
    [2] counts a bias per filter: its 1,649,402 parameters are ours without batch
    norm plus the 1,712 biases.

    Args:
      images: ``[batch, 32, 32, 3]`` ([2]: 28x28 crops); any known size >= 4.
      num_classes: width of the logits (10).
      is_training: Python bool or boolean scalar tensor (batch norm, dropout).
      keep_prob: dropout keep probability before the logits; [2] uses none (1.0).
      wd: weight decay on every kernel, or None ([2] trains with and without).
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, 4)
        net = images
        for name, spec in SMALL_INCEPTION:
            net = apply_layer(net, spec, is_training, name, wd=wd)
            end_points[name] = net
        net = global_avg_pool(net, name="mean_pool")                 # [b, 336]
        end_points["mean_pool"] = net
        if keep_prob < 1.0:
            net = dropout(net, keep_prob, is_training)
            end_points["dropout"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=1.0 / math.sqrt(int(net.shape[-1])), bias_value=0.0,
                                 scope="logits")                     # [b, num_classes]
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points
