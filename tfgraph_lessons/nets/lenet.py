"""LeNet-5, the slides' first architecture.

[1] Yann LeCun, Leon Bottou, Yoshua Bengio, Patrick Haffner. Gradient-Based
    Learning Applied to Document Recognition. Proceedings of the IEEE 86(11),
    1998, section II.B (Figure 2). No arXiv version.

Layer by layer, with the paper's names as scopes (32x32 input)::

    c1      [b, 28, 28, 6]     5x5 convolution, 6 maps, VALID
    s2      [b, 14, 14, 6]     2x2 average pooling, stride 2
    c3      [b, 10, 10, 16]    5x5 convolution, 16 maps, VALID
    s4      [b, 5, 5, 16]      2x2 average pooling, stride 2
    c5      [b, 1, 1, 120]     5x5 convolution, 120 maps (a fully connected layer at 32x32)
    f6      [b, 84]            fully connected
    output  [b, num_classes]   fully connected (logits)

Where this follows the paper and where it does not:

* The squashing function is the paper's scaled tanh, ``1.7159 tanh(2a/3)``
  (its Appendix A), by default; ``activation='relu'`` swaps in ReLU (trains
  faster on CIFAR-10).
* S2 and S4 are plain average pooling. In [1] each subsampling map also has a
  trainable coefficient and bias (12 and 32 parameters) and a sigmoid.
* C3 is fully connected to S2's six maps. [1] connects each C3 map to only 3,
  4 or 6 of them (its Table I) to break symmetry and save connections: 1,516
  parameters instead of 2,416.
* The output is a fully connected layer with biases, not the paper's Euclidean
  RBF units (84 x 10 fixed-then-trained centres, no bias).

So the parameter count is 61,706 for one grey channel and 10 classes, not the
paper's "60,000" (section II: 340,908 connections, 60,000 trainable
parameters; its per-layer figures sum to 60,840):
``60,840 + 900 (full C3) - 44 (S2, S4 coefficients) + 10 (output biases) = 61,706``.

The paper feeds 32x32 images: MNIST's 28x28 digits centred in a 32x32 field so
that stroke ends reach the centre of C5's receptive fields. A 28x28 input is
zero-padded by 2 on each side here, as that MNIST practice does.

Weights start from a truncated normal with stddev ``1/sqrt(fan_in)`` (LeCun's
scaling for tanh) or ``sqrt(2/fan_in)`` with ReLU (He et al. 2015); biases at 0.

Usage::

    logits, end_points = lenet5(images, 10, is_training)   # images [b, 32, 32, 1] or [b, 28, 28, 1]
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import avg_pool, conv2d, fully_connected, relu
from tfgraph_lessons.nets import check_images, register


def scaled_tanh(x):
    """``1.7159 tanh(2x/3)``, [1] Appendix A: f(1) = 1 and f(-1) = -1, with gain
    near 1 around 0."""
    return 1.7159 * tf.tanh(x * (2.0 / 3.0))


ACTIVATIONS = {"tanh": (scaled_tanh, 1.0), "relu": (relu, 2.0)}   # (function, init gain)


@register("lenet5", family="lenet", input_shape=(32, 32, 1), num_classes=10,
          paper_params=60_000,
          paper_source="LeCun et al. 1998, Proc. IEEE, sec. II.B ('60,000 trainable parameters')",
          cifar=True)
def lenet5(images, num_classes, is_training, keep_prob=1.0, wd=None, activation="tanh",
           scope="lenet5"):
    """LeNet-5 of [1] (see the module docstring for what differs from the paper).

    Args:
      images: ``[batch, 32, 32, channels]`` (1 for digits, 3 for CIFAR-10), or
        ``[batch, 28, 28, channels]`` (zero-padded to 32x32); larger images make
        C5's output bigger than 1x1 and F6 wider.
      num_classes: width of the logits.
      is_training: unused (LeNet-5 has neither dropout nor batch norm); accepted so
        every network in the registry takes the same arguments.
      keep_prob: unused, for the same reason.
      wd: weight decay on every weight tensor, or None.
      activation: ``'tanh'`` (the paper's scaled tanh) or ``'relu'``.
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    del is_training, keep_prob
    if activation not in ACTIVATIONS:
        raise ValueError(f"[{scope}] activation must be one of {', '.join(ACTIVATIONS)}, "
                         f"got {activation!r}")
    act, gain = ACTIVATIONS[activation]

    def stddev(fan_in):
        return math.sqrt(gain / fan_in)

    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, 28, "images of 32x32 (or 28x28, zero-padded to 32x32) "
                                        "or larger")
        channels = int(images.shape[-1])
        net = images
        if images.shape[1] < 32 or images.shape[2] < 32:
            ph, pw = max(0, 32 - images.shape[1]), max(0, 32 - images.shape[2])
            net = tf.pad(net, [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]],
                         name="pad_to_32")                                       # [b, 32, 32, c]
        net = conv2d(net, 6, 5, padding="VALID", activation=act, wd=wd,
                     stddev=stddev(25 * channels), bias_value=0.0, scope="c1")  # [b, 28, 28, 6]
        end_points["c1"] = net
        net = avg_pool(net, 2, 2, "VALID", name="s2")                           # [b, 14, 14, 6]
        end_points["s2"] = net
        net = conv2d(net, 16, 5, padding="VALID", activation=act, wd=wd,
                     stddev=stddev(25 * 6), bias_value=0.0, scope="c3")         # [b, 10, 10, 16]
        end_points["c3"] = net
        net = avg_pool(net, 2, 2, "VALID", name="s4")                           # [b, 5, 5, 16]
        end_points["s4"] = net
        net = conv2d(net, 120, 5, padding="VALID", activation=act, wd=wd,
                     stddev=stddev(25 * 16), bias_value=0.0, scope="c5")        # [b, 1, 1, 120]
        end_points["c5"] = net
        fan_in = math.prod(net.shape.as_list()[1:])
        net = fully_connected(net, 84, activation=act, wd=wd, stddev=stddev(fan_in),
                              bias_value=0.0, scope="f6")                       # [b, 84]
        end_points["f6"] = net
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=math.sqrt(1.0 / 84), bias_value=0.0,
                                 scope="output")                                # [b, num_classes]
        end_points["output"] = logits
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits, name="predictions")
    return logits, end_points
