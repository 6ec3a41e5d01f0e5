"""Inception v3, as [1] describes it and as its released model builds it.

[1] Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens,
    Zbigniew Wojna. Rethinking the Inception Architecture for Computer Vision.
    CVPR 2016, arXiv:1512.00567.

What the slides take from [1]:

* **Module A** (Figure 5, 35x35 grid): a 5x5 convolution costs 25/9 of a 3x3,
  so it becomes two stacked 3x3 convolutions (the ``1x1 -> 3x3 -> 3x3`` branch).
* **Module B** (Figure 6, 17x17 grid): an ``n x n`` convolution becomes a
  ``1 x n`` then an ``n x 1`` one, with n = 7: 14 weights per channel pair instead of 49.
* **Module C** (Figure 7, 8x8 grid): the expanded filter bank, whose last
  ``1 x 3`` and ``3 x 1`` convolutions run side by side (:class:`Split`) to
  widen the output to 2048 channels.
* **Grid-size reduction** (Figure 10): a stride-2 convolution branch next to a
  stride-2 pooling, concatenated, instead of pooling then widening.
* **The BN-auxiliary** (section 7): one auxiliary classifier on the 17x17 grid
  whose convolutions are batch-normalised, weighted 0.4 in the loss (TF-slim).
* **Label smoothing** (section 7, epsilon = 0.1): :func:`inception_v3_loss`.

Table 1 of [1] gives the grid sizes (299x299x3 -> 35x35x288 -> 17x17x768 ->
8x8x2048) but not every width; the widths here are those of the released model
(TF-slim's ``inception_v3.py`` and Keras's ``InceptionV3``, identical), whose
stem has a 1x1 convolution to 80 channels and a max pooling where Table 1 lists
3x3 convolutions, and whose first three modules keep one 5x5 branch next to
the factorised double-3x3 branch. Its 23,851,784 parameters (Keras's
``model.summary()``, batch norm without gamma, moving statistics included) are
what the tests check; [1] says "less than 25 million parameters" and "5 billion
multiply-adds" in its abstract.

Usage::

    logits, end_points = inception_v3(images, 1000, is_training)   # images [b, 299, 299, 3]
    loss = inception_v3_loss(labels, logits, end_points)            # smoothed, aux weighted 0.4
"""
import math

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import avg_pool, flatten, fully_connected
from tfgraph_lessons.nets import check_images, register
from tfgraph_lessons.nets.inception import (Conv, Module, Pool, Split, apply_layer,
                                            aux_pool_size, classifier_head,
                                            conv_unit,
                                            inception_loss, training_only)

AUX_WEIGHT = 0.4        # TF-slim train_image_classifier.py: weights=0.4 on the aux loss
LABEL_SMOOTHING = 0.1   # section 7 of [1]: epsilon = 0.1
MIN_SIZE = 75           # the smallest input every VALID layer fits (Keras's minimum too)


def module_a(pool_proj):
    """Figure 5 of [1] on the 35x35 grid: 64 + 64 + 96 + pool_proj channels."""
    return Module((
        (Conv(64, 1),),
        (Conv(48, 1), Conv(64, 5)),
        (Conv(64, 1), Conv(96, 3), Conv(96, 3)),          # the 5x5 factorised into two 3x3
        (Pool("avg", 3), Conv(pool_proj, 1)),
    ))


def module_b(n7):
    """Figure 6 of [1] on the 17x17 grid, n = 7: 192 x 4 = 768 channels."""
    return Module((
        (Conv(192, 1),),
        (Conv(n7, 1), Conv(n7, (1, 7)), Conv(192, (7, 1))),
        (Conv(n7, 1), Conv(n7, (7, 1)), Conv(n7, (1, 7)), Conv(n7, (7, 1)), Conv(192, (1, 7))),
        (Pool("avg", 3), Conv(192, 1)),
    ))


MODULE_C = Module((                                       # Figure 7 of [1]: 320 + 768 + 768 + 192
    (Conv(320, 1),),
    (Conv(384, 1), Split(((Conv(384, (1, 3)),), (Conv(384, (3, 1)),)))),
    (Conv(448, 1), Conv(384, 3), Split(((Conv(384, (1, 3)),), (Conv(384, (3, 1)),)))),
    (Pool("avg", 3), Conv(192, 1)),
))

REDUCTION_35_TO_17 = Module((                             # Figure 10 of [1]: 384 + 96 + 288
    (Conv(384, 3, 2, "VALID"),),
    (Conv(64, 1), Conv(96, 3), Conv(96, 3, 2, "VALID")),
    (Pool("max", 3, 2, "VALID"),),
))

REDUCTION_17_TO_8 = Module((                              # 320 + 192 + 768
    (Conv(192, 1), Conv(320, 3, 2, "VALID")),
    (Conv(192, 1), Conv(192, (1, 7)), Conv(192, (7, 1)), Conv(192, 3, 2, "VALID")),
    (Pool("max", 3, 2, "VALID"),),
))

# The stem, shared by the released Inception-ResNet-v2 (nets.inception_v4).
STEM = (
    ("conv2d_1a_3x3", Conv(32, 3, 2, "VALID")),           # [b, 149, 149, 32]
    ("conv2d_2a_3x3", Conv(32, 3, 1, "VALID")),           # [b, 147, 147, 32]
    ("conv2d_2b_3x3", Conv(64, 3)),                       # [b, 147, 147, 64]
    ("maxpool_3a_3x3", Pool("max", 3, 2, "VALID")),       # [b, 73, 73, 64]
    ("conv2d_3b_1x1", Conv(80, 1, 1, "VALID")),           # [b, 73, 73, 80]
    ("conv2d_4a_3x3", Conv(192, 3, 1, "VALID")),          # [b, 71, 71, 192]
    ("maxpool_5a_3x3", Pool("max", 3, 2, "VALID")),       # [b, 35, 35, 192]
)

# The network, one row per layer; output shapes at 299x299x3.
LAYERS = (
    *STEM,
    ("mixed_5b", module_a(32)),                           # [b, 35, 35, 256]
    ("mixed_5c", module_a(64)),                           # [b, 35, 35, 288]
    ("mixed_5d", module_a(64)),                           # [b, 35, 35, 288]
    ("mixed_6a", REDUCTION_35_TO_17),                     # [b, 17, 17, 768]
    ("mixed_6b", module_b(128)),                          # [b, 17, 17, 768]
    ("mixed_6c", module_b(160)),                          # [b, 17, 17, 768]
    ("mixed_6d", module_b(160)),                          # [b, 17, 17, 768]
    ("mixed_6e", module_b(192)),                          # [b, 17, 17, 768]
    ("mixed_7a", REDUCTION_17_TO_8),                      # [b, 8, 8, 1280]
    ("mixed_7b", MODULE_C),                               # [b, 8, 8, 2048]
    ("mixed_7c", MODULE_C),                               # [b, 8, 8, 2048]
)
AUX_AFTER = "mixed_6e"


def aux_head(net, num_classes, is_training, wd, scope="aux"):
    """The BN-auxiliary classifier on the 17x17 grid (section 7 of [1]; TF-slim's widths)."""
    with tf1.variable_scope(scope):
        x = avg_pool(net, aux_pool_size(net), 3, "VALID", name="avg_pool")    # [b, 5, 5, 768]
        x = conv_unit(x, Conv(128, 1), is_training, "conv2d_1b_1x1", wd=wd)   # [b, 5, 5, 128]
        k = (int(x.shape[1]), int(x.shape[2]))                                # 5x5 at 299x299
        x = conv_unit(x, Conv(768, k, 1, "VALID"), is_training, "conv2d_2a",
                      wd=wd)                                                  # [b, 1, 1, 768]
        x = flatten(x)                                                        # [b, 768]
        return fully_connected(x, num_classes, activation=None, wd=wd,
                               stddev=1.0 / math.sqrt(768), bias_value=0.0,
                               scope="logits")                                # [b, num_classes]


@register("inception_v3", family="inception", input_shape=(299, 299, 3), num_classes=1000,
          paper_params=23_851_784, paper_madds=5e9,
          paper_source="arXiv:1512.00567 abstract (5G MACs); Keras InceptionV3 summary "
                       "(23,851,784 params)", cifar=False)
def inception_v3(images, num_classes, is_training, keep_prob=0.8, wd=None,
                 scope="inception_v3"):
    """Inception v3 of [1].

    Args:
      images: ``[batch, 299, 299, 3]`` (any known size >= 75).
      num_classes: width of the logits.
      is_training: Python bool or boolean scalar tensor: batch norm's statistics,
        dropout, and the auxiliary head (built for True and for a tensor, where
        only :func:`inception_v3_loss` uses it; not built for False).
      keep_prob: dropout keep probability before the logits (TF-slim: 0.8).
      wd: weight decay on every kernel, or None.
    Returns:
      ``(logits [batch, num_classes], end_points)``; ``end_points["aux_logits"]``
      is a one-element list when the auxiliary head is built.
    """
    end_points = {}
    aux_logits = []
    with tf1.variable_scope(scope):
        check_images(images, scope, MIN_SIZE)
        net = images
        for name, spec in LAYERS:
            net = apply_layer(net, spec, is_training, name, wd=wd)
            end_points[name] = net
            if name == AUX_AFTER and training_only(is_training):
                aux_logits.append(aux_head(net, num_classes, is_training, wd))
                end_points["aux"] = aux_logits[0]
        # [b, 2048] (8x8 average pool), dropout, logits
        return classifier_head(net, num_classes, is_training, keep_prob, wd, end_points,
                               "avgpool_8x8", aux_logits)


def inception_v3_loss(labels, logits, end_points, label_smoothing=LABEL_SMOOTHING,
                      aux_weight=AUX_WEIGHT):
    """The training loss of Inception v3: label-smoothed cross-entropy (epsilon 0.1,
    section 7 of [1]) of the logits plus 0.4 times that of the auxiliary head
    (TF-slim's ``train_image_classifier.py``), when it was built.

    With ``K`` classes the target is ``(1 - epsilon) * one_hot + epsilon / K``.
    """
    return inception_loss(labels, logits, end_points, aux_weight, label_smoothing,
                          name="inception_v3_loss")
