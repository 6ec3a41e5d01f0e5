"""AlexNet and the networks that refined it, ZFNet and OverFeat: a layer table each, one builder.

[1] Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton. ImageNet Classification
    with Deep Convolutional Neural Networks. NIPS 2012 (no arXiv version).
[2] Matthew D. Zeiler, Rob Fergus. Visualizing and Understanding Convolutional
    Networks. ECCV 2014, arXiv:1311.2901.
[3] Pierre Sermanet, David Eigen, Xiang Zhang, Michael Mathieu, Rob Fergus,
    Yann LeCun. OverFeat: Integrated Recognition, Localization and Detection
    using Convolutional Networks. ICLR 2014, arXiv:1312.6229.

The slides' AlexNet table, layer by layer (``alexnet``, single tower)::

    input     227x227x3
    conv1     55x55x96     11x11/4, 96 filters, VALID, ReLU, then LRN (norm1)
    pool1     27x27x96     3x3/2 max (overlapping pooling, section 3.4 of [1])
    conv2     27x27x256    5x5, pad 2, ReLU, then LRN (norm2)
    pool2     13x13x256
    conv3     13x13x384    3x3, pad 1
    conv4     13x13x384
    conv5     13x13x256
    pool5     6x6x256
    fc6       4096         dropout 0.5 in training
    fc7       4096         dropout 0.5 in training
    fc8       1000         logits

[1] split conv2, conv4 and conv5 into two groups, one per GPU (each filter of
conv2 sees 48 of conv1's 96 maps). ``alexnet`` is the single-tower version that
every modern re-implementation builds: 62,378,344 parameters with biases. The
grouped two-GPU network has 60,965,224 (conv2, conv4 and conv5 have half the
input channels), the "60 million parameters" of [1] section 4; its
multiply-adds are 724,406,816 against the single tower's 1,135,256,096.

Initialisation as the papers print it: weights from N(0, 0.01) in all three;
[1] sets the biases of conv2, conv4, conv5, fc6 and fc7 to 1 ("accelerates the
early stages of learning by providing the ReLUs with positive inputs") and the
rest to 0; [2] and [3] use 0. (This is what the papers trained with, not the
fastest start: He initialisation trains faster from scratch.)

:data:`TRAINING` holds [1]'s training hyperparameters (section 5).

Usage::

    logits, end_points = alexnet(images, 1000, is_training)   # images [b, 227, 227, 3]
    end_points['pool5']                                         # [b, 6, 6, 256]
"""
import dataclasses
from typing import NamedTuple, Union

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import conv2d, dropout, fully_connected, lrn, max_pool
from tfgraph_lessons.nets import check_images, register

# [1] section 5 ("Details of learning") and section 4.2 (dropout).
TRAINING = {
    "optimizer": "momentum",        # stochastic gradient descent with momentum
    "momentum": 0.9,
    "weight_decay": 0.0005,         # "important for the model to learn", not only a regulariser
    "lr": 0.01,                     # equal for all layers
    "lr_schedule": "divide by 10 when validation error plateaus",  # done three times in [1]
    "batch_size": 128,
    "keep_prob": 0.5,               # dropout 0.5 in fc6 and fc7 (section 4.2)
}


class Conv(NamedTuple):
    """A ReLU convolution. ``padding``: ``'SAME'``, ``'VALID'`` or an int (zero-pad
    that many pixels on each side, then ``VALID``, as Caffe's ``pad``)."""
    name: str
    filters: int
    ksize: int
    stride: int = 1
    padding: Union[str, int] = "SAME"


class Pool(NamedTuple):
    """A max pooling."""
    name: str
    ksize: int
    stride: int
    padding: str = "VALID"


class Norm(NamedTuple):
    """Local response normalisation across channels ([1] section 3.3)."""
    name: str


class FC(NamedTuple):
    """A hidden fully connected ReLU layer, followed by dropout (``dropout<N>``)."""
    name: str
    units: int


@dataclasses.dataclass(frozen=True)
class Spec:
    """One network of the family.

    Attributes:
      layers: the table, in forward order.
      logits: the scope of the last fully connected layer (``'fc8'``).
      input_size: the paper's input side; smaller images are refused.
      source: where the table is printed.
      bias_one: scopes whose biases start at 1 (AlexNet), the others at 0.
    """
    layers: tuple
    logits: str
    input_size: int
    source: str
    bias_one: frozenset = frozenset()


ALEXNET = Spec(
    layers=(
        Conv("conv1", 96, 11, 4, "VALID"),     # [b, 55, 55, 96]
        Norm("norm1"),                         # [b, 55, 55, 96]
        Pool("pool1", 3, 2),                   # [b, 27, 27, 96]
        Conv("conv2", 256, 5),                 # [b, 27, 27, 256]
        Norm("norm2"),                         # [b, 27, 27, 256]
        Pool("pool2", 3, 2),                   # [b, 13, 13, 256]
        Conv("conv3", 384, 3),                 # [b, 13, 13, 384]
        Conv("conv4", 384, 3),                 # [b, 13, 13, 384]
        Conv("conv5", 256, 3),                 # [b, 13, 13, 256]
        Pool("pool5", 3, 2),                   # [b, 6, 6, 256]
        FC("fc6", 4096),                       # [b, 4096]
        FC("fc7", 4096),                       # [b, 4096]
    ),                                         # fc8: [b, num_classes]
    logits="fc8", input_size=227, source="[1] Figure 2 and section 3.5",
    bias_one=frozenset({"conv2", "conv4", "conv5", "fc6", "fc7"}))

# [2] Figure 3: a 7x7/2 first layer (AlexNet's 11x11/4 left dead filters and
# aliasing, section 5.1), 5x5/2 conv2; pool, then contrast normalisation.
ZFNET = Spec(
    layers=(
        Conv("conv1", 96, 7, 2, 1),            # [b, 110, 110, 96]  (224 + 2 pad - 7) / 2 + 1
        Pool("pool1", 3, 2, "SAME"),           # [b, 55, 55, 96]
        Norm("norm1"),                         # [b, 55, 55, 96]
        Conv("conv2", 256, 5, 2, "VALID"),     # [b, 26, 26, 256]
        Pool("pool2", 3, 2, "SAME"),           # [b, 13, 13, 256]
        Norm("norm2"),                         # [b, 13, 13, 256]
        Conv("conv3", 384, 3),                 # [b, 13, 13, 384]
        Conv("conv4", 384, 3),                 # [b, 13, 13, 384]
        Conv("conv5", 256, 3),                 # [b, 13, 13, 256]
        Pool("pool5", 3, 2),                   # [b, 6, 6, 256]
        FC("fc6", 4096),                       # [b, 4096]
        FC("fc7", 4096),                       # [b, 4096]
    ),                                         # fc8: [b, num_classes]
    logits="fc8", input_size=224, source="arXiv:1311.2901 Figure 3")

# [3] Table 1 (fast model): no normalisation, non-overlapping pooling. (The
# table's "spatial input size" row prints 24x24 for layer 2's input; 24x24 is
# conv2's output: 231 -> 56 -> 28 -> 24 -> 12, as its own 12x12 for layer 3 says.)
OVERFEAT_FAST = Spec(
    layers=(
        Conv("conv1", 96, 11, 4, "VALID"),     # [b, 56, 56, 96]
        Pool("pool1", 2, 2),                   # [b, 28, 28, 96]
        Conv("conv2", 256, 5, 1, "VALID"),     # [b, 24, 24, 256]
        Pool("pool2", 2, 2),                   # [b, 12, 12, 256]
        Conv("conv3", 512, 3),                 # [b, 12, 12, 512]
        Conv("conv4", 1024, 3),                # [b, 12, 12, 1024]
        Conv("conv5", 1024, 3),                # [b, 12, 12, 1024]
        Pool("pool5", 2, 2),                   # [b, 6, 6, 1024]
        FC("fc6", 3072),                       # [b, 3072]
        FC("fc7", 4096),                       # [b, 4096]
    ),                                         # fc8: [b, num_classes]
    logits="fc8", input_size=231, source="arXiv:1312.6229 Table 1")

# [3] Table 3 (accurate model): stride 2 first layer, one more convolution.
OVERFEAT_ACCURATE = Spec(
    layers=(
        Conv("conv1", 96, 7, 2, "VALID"),      # [b, 108, 108, 96]
        Pool("pool1", 3, 3),                   # [b, 36, 36, 96]
        Conv("conv2", 256, 7, 1, "VALID"),     # [b, 30, 30, 256]
        Pool("pool2", 2, 2),                   # [b, 15, 15, 256]
        Conv("conv3", 512, 3),                 # [b, 15, 15, 512]
        Conv("conv4", 512, 3),                 # [b, 15, 15, 512]
        Conv("conv5", 1024, 3),                # [b, 15, 15, 1024]
        Conv("conv6", 1024, 3),                # [b, 15, 15, 1024]
        Pool("pool6", 3, 3),                   # [b, 5, 5, 1024]
        FC("fc7", 4096),                       # [b, 4096]
        FC("fc8", 4096),                       # [b, 4096]
    ),                                         # fc9: [b, num_classes]
    logits="fc9", input_size=221, source="arXiv:1312.6229 Table 3")

SPECS = {"alexnet": ALEXNET, "zfnet": ZFNET, "overfeat_fast": OVERFEAT_FAST,
         "overfeat_accurate": OVERFEAT_ACCURATE}


def _layer(net, layer, spec, wd):
    if isinstance(layer, Conv):
        padding = layer.padding
        if isinstance(padding, int):
            p = padding
            net = tf.pad(net, [[0, 0], [p, p], [p, p], [0, 0]], name=f"{layer.name}_pad")
            padding = "VALID"
        return conv2d(net, layer.filters, layer.ksize, layer.stride, padding, wd=wd,
                      stddev=0.01, bias_value=1.0 if layer.name in spec.bias_one else 0.0,
                      scope=layer.name)
    if isinstance(layer, Pool):
        return max_pool(net, layer.ksize, layer.stride, layer.padding, name=layer.name)
    if isinstance(layer, Norm):
        return lrn(net, name=layer.name)
    raise TypeError(f"unknown layer {layer!r}")


def alexnet_family(images, num_classes, is_training, spec, keep_prob=0.5, wd=None,
                   scope="alexnet"):
    """Build one network of the family from its :class:`Spec`.

    Args:
      images: ``[batch, height, width, 3]`` float32, height and width at least the
        paper's input size (227 for AlexNet); a larger image makes fc6 wider.
      num_classes: width of the logits (1000 for ImageNet).
      is_training: Python bool or boolean scalar tensor; dropout only in training.
      spec: a :class:`Spec` (``SPECS['alexnet']``).
      keep_prob: dropout keep probability on the hidden fully connected layers
        (the papers: 0.5); 1.0 disables dropout.
      wd: weight decay on every weight tensor, or None ([1]: 0.0005, see :data:`TRAINING`).
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``; end_points in forward order,
      one per table row plus ``dropout6``/``dropout7``..., the logits layer,
      ``logits`` and ``predictions``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, spec.input_size,
                     f"images of at least {spec.input_size}x{spec.input_size} "
                     "(the paper's input size)")
        net = images
        for layer in spec.layers:
            if isinstance(layer, FC):
                net = fully_connected(net, layer.units, wd=wd, stddev=0.01,
                                      bias_value=1.0 if layer.name in spec.bias_one else 0.0,
                                      scope=layer.name)
                end_points[layer.name] = net
                name = "dropout" + layer.name[2:]
                if not (isinstance(keep_prob, (int, float)) and keep_prob >= 1.0):
                    net = dropout(net, keep_prob, is_training, name=name)
                end_points[name] = net
            else:
                net = _layer(net, layer, spec, wd)
                end_points[layer.name] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd, stddev=0.01,
                                 bias_value=0.0, scope=spec.logits)
        end_points[spec.logits] = logits
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits, name="predictions")
    return logits, end_points


@register("alexnet", family="alexnet", input_shape=(227, 227, 3), num_classes=1000,
          paper_params=60e6, paper_source="Krizhevsky et al. NIPS 2012 sec. 4 ('60 million': the "
          "two-GPU grouped net, 60,965,224; single tower 62,378,344)", cifar=False)
def alexnet(images, num_classes, is_training, keep_prob=0.5, wd=None, scope="alexnet"):
    """AlexNet of [1], single tower (see the module docstring for the table).
    See alexnet_family() for the arguments."""
    return alexnet_family(images, num_classes, is_training, ALEXNET, keep_prob, wd, scope)


@register("zfnet", family="alexnet", input_shape=(224, 224, 3), num_classes=1000,
          paper_source="arXiv:1311.2901 Figure 3 (no count printed)", cifar=False)
def zfnet(images, num_classes, is_training, keep_prob=0.5, wd=None, scope="zfnet"):
    """ZFNet of [2] Figure 3 (224x224 input). See alexnet_family() for the arguments."""
    return alexnet_family(images, num_classes, is_training, ZFNET, keep_prob, wd, scope)


@register("overfeat_fast", family="alexnet", input_shape=(231, 231, 3), num_classes=1000,
          paper_params=145e6, paper_madds=2810e6,
          paper_source="arXiv:1312.6229 Tables 1 and 4 (145M params, 2810M connections)",
          cifar=False)
def overfeat_fast(images, num_classes, is_training, keep_prob=0.5, wd=None,
                  scope="overfeat_fast"):
    """OverFeat's fast model, [3] Table 1 (231x231 input). See alexnet_family()."""
    return alexnet_family(images, num_classes, is_training, OVERFEAT_FAST, keep_prob, wd, scope)


@register("overfeat_accurate", family="alexnet", input_shape=(221, 221, 3), num_classes=1000,
          paper_params=144e6, paper_madds=5369e6,
          paper_source="arXiv:1312.6229 Tables 3 and 4 (144M params, 5369M connections)",
          cifar=False)
def overfeat_accurate(images, num_classes, is_training, keep_prob=0.5, wd=None,
                      scope="overfeat_accurate"):
    """OverFeat's accurate model, [3] Table 3 (221x221 input). See alexnet_family()."""
    return alexnet_family(images, num_classes, is_training, OVERFEAT_ACCURATE, keep_prob, wd,
                          scope)
