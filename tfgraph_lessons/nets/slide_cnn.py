"""The CNN drawn on the slides ("Let's draw scheme of TensorFlow"), line by line.

    w1 = get_variable('w1', [7, 7, color_ch, 28])   # truncated normal, stddev 0.1
    b1 = constant 0.1;  conv stride [1, 1, 1, 1], 'SAME', ReLU;  max pool 2x2
    w2 = get_variable('w2', [5, 5, 28, 64]);  ReLU;  max pool 2x2
    fully connected (w3, b3), ReLU, dropout (keep_prob), w4 -> logits -> softmax

The variable names are the slide's, so the code can be read against it.

One change from the slide: ``w1`` keeps its truncated normal with stddev 0.1,
but the deeper weights use a stddev scaled to their fan-in (He et al. 2015,
"Delving Deep into Rectifiers", arXiv:1502.01852). With 0.1 everywhere, the
4,096-wide input of the fully connected layer multiplies the activations'
scale by about 6 and the first logits reach the tens: the initial loss was
23.8 on CIFAR-10 instead of ln(10) = 2.3, and training lost its first epochs
recovering from it.
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import bias, dropout, flatten, weight
from tfgraph_lessons.nets import register


def he_stddev(fan_in):
    """sqrt(2 / fan_in) (He et al. 2015): keeps a ReLU layer's output scale equal to its input's."""
    return math.sqrt(2.0 / int(fan_in))


@register("slide_cnn", family="slides", input_shape=(32, 32, 3), num_classes=10,
          paper_source="the slides (no published count)")
def slide_cnn(images, num_classes, is_training, keep_prob=0.5, fc_units=1024, wd=None,
              scope="slide_cnn"):
    """The slides' two-convolution network.

    Args:
      images: ``[batch, height, width, color_ch]`` float32 (height and width
        divisible by 4 keeps every pooled size whole; any size >= 4 works).
      num_classes: width of the logits.
      is_training: bool or boolean tensor; dropout is applied only in training.
      keep_prob: dropout keep probability (slides: 0.5); 1.0 disables dropout.
      fc_units: width of the fully connected layer.
      wd: weight decay on every weight tensor, or None.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        if images.shape.rank != 4 or images.shape[-1] is None:
            raise ValueError(f"[{scope}] expects images [batch, height, width, color_ch] "
                             f"with a known color_ch, got shape {images.shape}")
        h, w = images.shape[1], images.shape[2]
        if h is None or w is None or h < 4 or w < 4:
            raise ValueError(f"[{scope}] needs images of known size at least 4x4 "
                             f"(two 2x2 poolings), got shape {images.shape}")
        color_ch = int(images.shape[-1])
        w1 = weight("w1", [7, 7, color_ch, 28], wd=wd)
        b1 = bias("b1", [28])
        h1 = tf.nn.relu(tf.nn.conv2d(images, w1, [1, 1, 1, 1], "SAME") + b1)  # [b, H, W, 28]
        end_points["conv1"] = h1
        p1 = tf.nn.max_pool2d(h1, 2, 2, "SAME")                          # [b, H/2, W/2, 28]
        end_points["pool1"] = p1
        w2 = weight("w2", [5, 5, 28, 64], stddev=he_stddev(5 * 5 * 28), wd=wd)
        b2 = bias("b2", [64])
        h2 = tf.nn.relu(tf.nn.conv2d(p1, w2, [1, 1, 1, 1], "SAME") + b2)     # [b, H/2, W/2, 64]
        end_points["conv2"] = h2
        p2 = tf.nn.max_pool2d(h2, 2, 2, "SAME")                          # [b, H/4, W/4, 64]
        end_points["pool2"] = p2
        flat = flatten(p2)                                               # [b, H/4*W/4*64]
        w3 = weight("w3", [int(flat.shape[-1]), fc_units], stddev=he_stddev(flat.shape[-1]),
                    wd=wd)
        b3 = bias("b3", [fc_units])
        h3 = tf.nn.relu(tf.matmul(flat, w3) + b3)                        # [b, fc_units]
        end_points["fc1"] = h3
        if keep_prob < 1.0:
            h3 = dropout(h3, keep_prob, is_training)
        end_points["dropout"] = h3
        w4 = weight("w4", [fc_units, num_classes], stddev=1.0 / math.sqrt(fc_units), wd=wd)
        b4 = bias("b4", [num_classes])
        logits = tf.matmul(h3, w4) + b4                                  # [b, num_classes]
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points
