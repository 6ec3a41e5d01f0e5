"""VGG, configurations A to E, from one configuration table and one builder.

[1] Karen Simonyan, Andrew Zisserman. Very Deep Convolutional Networks for
    Large-Scale Image Recognition. ICLR 2015, arXiv:1409.1556.
[2] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning
    for Image Recognition. CVPR 2016, arXiv:1512.03385 (VGG's multiply-adds).
[3] Kuang Liu, pytorch-cifar, ``models/vgg.py`` (github.com/kuangliu/pytorch-cifar):
    the widely used VGG for CIFAR-10, batch norm after every convolution and a
    single 512 -> 10 classifier; the same family as Liu & Deng, "Very Deep
    Convolutional Neural Network Based Image Classification Using Small Training
    Sample Size", ACPR 2015.

:data:`CONFIGS` is [1]'s Table 1: five stacks of 3x3 convolutions ("conv3-64"),
each followed by a 2x2/2 max pooling, then FC-4096, FC-4096, FC-1000. A stack
is a tuple of layers; a layer is ``(kernel, filters)`` or ``'LRN'``::

    >>> CONFIGS['C'][2]
    ((3, 256), (3, 256), (1, 256))       # conv3-256, conv3-256, conv1-256

Configuration C puts a 1x1 convolution at the end of stacks 3, 4 and 5 (more
non-linearity without changing the receptive field); D (VGG-16) makes those
3x3; A-LRN adds local response normalisation after the first layer (it did not
help, section 4.1). The names ``vgg11``/``vgg13``/``vgg16``/``vgg19`` are A, B,
D and E (their weighted-layer counts).

Scopes as in the released models: ``conv<stack>_<i>``, ``pool<stack>``,
``norm1``, ``fc6``, ``fc7``, ``fc8``. fc6 is a fully connected layer on the
flattened 7x7x512 map (the same weights as the 7x7 convolution [1] uses at
test time). Dropout 0.5 on fc6 and fc7 in training (section 3.1).

Parameters with biases (224x224, 1000 classes): A 132,863,336, A-LRN the same
(LRN has none), B 133,047,848, C 133,638,952, D 138,357,544, E 143,667,240:
Table 2's 133, 133, 133, 134, 138, 144 millions. Multiply-adds of D: 15.47 G
(15.35 G in the convolutions, the "15.3 billion FLOPs" of [2] section 4.1).

Initialisation: He et al. 2015 (``sqrt(2 / fan_in)``) for every ReLU layer, so
D and E train from scratch; [1] trained A from N(0, 0.01) and initialised the
deeper ones from it (and notes after the submission that Glorot
initialisation works without pre-training).

CIFAR-10 (:func:`vgg_bn_cifar`, ``vgg11_bn_cifar``, ``vgg16_bn_cifar``): the
same table on 32x32 images as [3] builds it: each convolution followed by batch
norm and ReLU (no bias: batch norm's beta replaces it), five poolings down to
1x1x512, one fully connected 512 -> num_classes layer, no dropout.
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import (batch_norm, conv2d, dropout, flatten, fully_connected,
                                         lrn, max_pool)
from tfgraph_lessons.nets import check_images, register

# [1] Table 1. Every stack ends in a 2x2/2 max pooling.
CONFIGS = {
    "A": (((3, 64),),
          ((3, 128),),
          ((3, 256), (3, 256)),
          ((3, 512), (3, 512)),
          ((3, 512), (3, 512))),
    "A-LRN": (((3, 64), "LRN"),
              ((3, 128),),
              ((3, 256), (3, 256)),
              ((3, 512), (3, 512)),
              ((3, 512), (3, 512))),
    "B": (((3, 64), (3, 64)),
          ((3, 128), (3, 128)),
          ((3, 256), (3, 256)),
          ((3, 512), (3, 512)),
          ((3, 512), (3, 512))),
    "C": (((3, 64), (3, 64)),
          ((3, 128), (3, 128)),
          ((3, 256), (3, 256), (1, 256)),
          ((3, 512), (3, 512), (1, 512)),
          ((3, 512), (3, 512), (1, 512))),
    "D": (((3, 64), (3, 64)),
          ((3, 128), (3, 128)),
          ((3, 256), (3, 256), (3, 256)),
          ((3, 512), (3, 512), (3, 512)),
          ((3, 512), (3, 512), (3, 512))),
    "E": (((3, 64), (3, 64)),
          ((3, 128), (3, 128)),
          ((3, 256), (3, 256), (3, 256), (3, 256)),
          ((3, 512), (3, 512), (3, 512), (3, 512)),
          ((3, 512), (3, 512), (3, 512), (3, 512))),
}
FC_UNITS = (4096, 4096)   # fc6, fc7; fc8 has num_classes


def layer_label(layer):
    """The paper's notation: ``(3, 64)`` -> ``'conv3-64'``, ``'LRN'`` -> ``'LRN'``."""
    if layer == "LRN":
        return "LRN"
    kernel, filters = layer
    return f"conv{kernel}-{filters}"


def weight_layers(config):
    """Weighted layers of a configuration: convolutions plus three fully connected
    (``weight_layers('D') == 16``)."""
    return sum(1 for stack in _config(config, "vgg") for layer in stack if layer != "LRN") + 3


def _config(config, scope):
    if config not in CONFIGS:
        raise ValueError(f"[{scope}] unknown VGG configuration {config!r}; "
                         f"accepted: {', '.join(CONFIGS)}")
    return CONFIGS[config]


def _stacks(net, config, scope, conv_layer, end_points):
    """The five stacks of ``config``: ``conv_layer(net, kernel, filters, name)`` per
    convolution, LRN where the table says, a 2x2/2 max pooling after each stack."""
    for s, stack in enumerate(_config(config, scope), start=1):
        i = 0
        for layer in stack:
            if layer == "LRN":
                net = lrn(net, name=f"norm{s}")
                end_points[f"norm{s}"] = net
                continue
            i += 1
            kernel, filters = layer
            net = conv_layer(net, kernel, filters, f"conv{s}_{i}")   # [b, h, w, filters]
            end_points[f"conv{s}_{i}"] = net
        net = max_pool(net, 2, 2, "VALID", name=f"pool{s}")          # [b, h/2, w/2, filters]
        end_points[f"pool{s}"] = net
    return net


def vgg(images, num_classes, is_training, config="D", keep_prob=0.5, wd=None, scope="vgg16"):
    """VGG configuration ``config`` of [1] (``'A'``, ``'A-LRN'``, ``'B'``, ``'C'``,
    ``'D'``, ``'E'``).

    Args:
      images: ``[batch, height, width, channels]``, height and width at least 32
        (five 2x2 poolings); [1] uses 224x224 (fc6 sees 7x7x512).
      num_classes: width of the logits.
      is_training: Python bool or boolean scalar tensor; dropout only in training.
      config: a key of :data:`CONFIGS`.
      keep_prob: dropout keep probability on fc6 and fc7 ([1]: 0.5); 1.0 disables it.
      wd: weight decay on every weight tensor, or None ([1]: 5e-4).
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        _config(config, scope)
        check_images(images, scope, 32, "images of at least 32x32 (five 2x2 poolings)")

        def conv_layer(net, kernel, filters, name):
            fan_in = kernel * kernel * int(net.shape[-1])
            return conv2d(net, filters, kernel, wd=wd, stddev=math.sqrt(2.0 / fan_in),
                          bias_value=0.0, scope=name)

        net = _stacks(images, config, scope, conv_layer, end_points)  # [b, 7, 7, 512] at 224
        for i, units in enumerate(FC_UNITS, start=6):
            fan_in = math.prod(net.shape.as_list()[1:])
            net = fully_connected(net, units, wd=wd, stddev=math.sqrt(2.0 / fan_in),
                                  bias_value=0.0, scope=f"fc{i}")     # [b, 4096]
            end_points[f"fc{i}"] = net
            if not (isinstance(keep_prob, (int, float)) and keep_prob >= 1.0):
                net = dropout(net, keep_prob, is_training, name=f"dropout{i}")
            end_points[f"dropout{i}"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=math.sqrt(1.0 / FC_UNITS[-1]), bias_value=0.0,
                                 scope="fc8")                         # [b, num_classes]
        end_points["fc8"] = logits
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits, name="predictions")
    return logits, end_points


def vgg_bn_cifar(images, num_classes, is_training, config="D", keep_prob=1.0, wd=5e-4,
                 scope="vgg16_bn_cifar"):
    """VGG configuration ``config`` with batch norm, for 32x32 images, as [3] builds it.

    Args:
      images: ``[batch, 32, 32, channels]``.
      num_classes: width of the logits.
      is_training: Python bool or boolean scalar tensor (batch norm statistics).
      config: a key of :data:`CONFIGS`.
      keep_prob: unused ([3] has no dropout); accepted so every network in the
        registry takes the same arguments.
      wd: weight decay on every weight tensor ([3] trains with 5e-4), or None.
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    del keep_prob
    end_points = {}
    with tf1.variable_scope(scope):
        _config(config, scope)
        check_images(images, scope, 32, "32x32 images (CIFAR size)")
        if images.shape[1] != 32 or images.shape[2] != 32:
            raise ValueError(f"[{scope}] needs 32x32 images (CIFAR size; its classifier takes "
                             f"the 1x1x512 map), got shape {images.shape}")

        def conv_layer(net, kernel, filters, name):
            with tf1.variable_scope(name):
                fan_in = kernel * kernel * int(net.shape[-1])
                net = conv2d(net, filters, kernel, activation=None, use_bias=False, wd=wd,
                             stddev=math.sqrt(2.0 / fan_in), scope="conv")
                return tf.nn.relu(batch_norm(net, is_training, scope="bn"))

        net = _stacks(images, config, scope, conv_layer, end_points)  # [b, 1, 1, 512]
        net = flatten(net)                                            # [b, 512]
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=math.sqrt(1.0 / int(net.shape[-1])), bias_value=0.0,
                                 scope="logits")                      # [b, num_classes]
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits, name="predictions")
    return logits, end_points


_SOURCE = "arXiv:1409.1556 Table 2"
# (registry names, configuration, Table 2's millions or the exact published count, MACs of [2])
VARIANTS = (
    (("vgg_a", "vgg11"), "A", 133e6, None),
    (("vgg_a_lrn",), "A-LRN", 133e6, None),
    (("vgg_b", "vgg13"), "B", 133e6, None),
    (("vgg_c",), "C", 134e6, None),
    (("vgg_d", "vgg16"), "D", 138_357_544, 15.3e9),
    (("vgg_e", "vgg19"), "E", 143_667_240, 19.6e9),
)
CIFAR_VARIANTS = (("vgg11_bn_cifar", "A"), ("vgg16_bn_cifar", "D"))


def _variant(names, config, params, madds):
    scope = names[-1]

    def builder(images, num_classes, is_training, keep_prob=0.5, wd=None, scope=scope):
        return vgg(images, num_classes, is_training, config=config, keep_prob=keep_prob, wd=wd,
                   scope=scope)
    builder.__name__ = scope
    builder.__doc__ = (f"VGG configuration {config} of [1] ({weight_layers(config)} weight "
                       "layers). See vgg() for the arguments.")
    source = _SOURCE + (f" ({params / 1e6:.0f}M; exact count of the released model); "
                        f"MACs: arXiv:1512.03385 sec. 4.1" if madds else "")
    for name in names:
        register(name, family="vgg", input_shape=(224, 224, 3), num_classes=1000,
                 paper_params=params, paper_madds=madds, paper_source=source,
                 cifar=False)(builder)
    return builder


def _cifar_variant(name, config):
    def builder(images, num_classes, is_training, keep_prob=1.0, wd=5e-4, scope=name):
        return vgg_bn_cifar(images, num_classes, is_training, config=config,
                            keep_prob=keep_prob, wd=wd, scope=scope)
    builder.__name__ = name
    builder.__doc__ = (f"VGG-{weight_layers(config)} with batch norm for CIFAR "
                       f"(configuration {config}, [3]). See vgg_bn_cifar() for the arguments.")
    return register(name, family="vgg", input_shape=(32, 32, 3), num_classes=10,
                    paper_source="pytorch-cifar models/vgg.py (no count printed)",
                    cifar=True)(builder)


for _names, _config_name, _params, _madds in VARIANTS:
    _builder = _variant(_names, _config_name, _params, _madds)
    for _name in _names:
        globals()[_name] = _builder
for _name, _config_name in CIFAR_VARIANTS:
    globals()[_name] = _cifar_variant(_name, _config_name)
