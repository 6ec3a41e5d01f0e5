"""Network in Network: mlpconv layers, global average pooling, class activation maps.

[1] Min Lin, Qiang Chen, Shuicheng Yan. Network In Network. ICLR 2014,
    arXiv:1312.4400.
[2] The authors' released Caffe definitions (Caffe model zoo): the CIFAR-10
    model, gist mavenlin/e56253735ef32c3c296d (section 4.2 of [1]), and the
    ImageNet model, gist mavenlin/d802a5849de39225bcc6 ("NIN ImageNet", 4
    mlpconv layers, 224x224 crops).
[3] Bolei Zhou, Aditya Khosla, Agata Lapedriza, Aude Oliva, Antonio Torralba.
    Learning Deep Features for Discriminative Localization. CVPR 2016,
    arXiv:1512.04150 (class activation maps).

An mlpconv layer is a convolution followed by a small multilayer perceptron
shared across positions: 1x1 convolutions (Caffe's "cccp", cascaded
cross-channel parametric pooling), every layer with a ReLU. The last mlpconv
layer has one map per class; their global averages are the logits (no fully
connected layer, nothing to overfit, and each map is directly the class's
"confidence map", section 3.2).

``nin_cifar`` ([2]'s CIFAR-10 model, 0.97M parameters)::

    mlpconv1/conv1  5x5 192, cccp1 160, cccp2 96   [b, 32, 32, 96]
    pool1           3x3/2 max                       [b, 16, 16, 96]   then dropout 0.5
    mlpconv2/conv2  5x5 192, cccp3 192, cccp4 192   [b, 16, 16, 192]
    pool2           3x3/2 average                   [b, 8, 8, 192]    then dropout 0.5
    mlpconv3/conv3  3x3 192, cccp5 192, cccp6 10    [b, 8, 8, 10]
    global_pool     8x8 average                     [b, 10]  = logits

``nin`` ([2]'s ImageNet model, 7.6M parameters, 224x224)::

    mlpconv1  11x11/4 96, 96, 96       [b, 54, 54, 96]    pool1 3x3/2  [b, 27, 27, 96]
    mlpconv2  5x5 256, 256, 256        [b, 27, 27, 256]   pool2 3x3/2  [b, 13, 13, 256]
    mlpconv3  3x3 384, 384, 384        [b, 13, 13, 384]   pool3 3x3/2  [b, 6, 6, 384], dropout
    mlpconv4  3x3 1024, 1024, 1000     [b, 6, 6, 1000]    global_pool  [b, 1000]

Both are fully convolutional up to the global average, so other input sizes
work: ``nin_cifar`` takes at least 8x8, ``nin`` at least 59x59 (its VALID
11x11/4 convolution and 3x3 poolings must fit). Caffe rounds pooled sizes
up; each pool's TF padding is chosen to give Caffe's size (``SAME`` where
rounding up adds a window at the end, ``VALID`` where it does not). As in [2],
the class maps pass through a ReLU before the average. Weights start from He
et al.'s ``sqrt(2 / fan_in)`` ([2] used N(0, 0.05) and N(0, 0.01)); biases at 0.

:func:`class_activation_map` is [3]'s CAM for any network that ends in global
average pooling and a fully connected layer; :func:`nin_cam` is its NIN case,
where the class maps are already there.
"""
import math
from typing import NamedTuple

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import avg_pool, conv2d, dropout, global_avg_pool, max_pool
from tfgraph_lessons.nets import check_images, register


class Mlpconv(NamedTuple):
    """One mlpconv layer and what follows it.

    ``convs``: ``(scope, filters, ksize, stride, padding)`` per layer, ``filters``
    None for ``num_classes``; ``pool``: ``(name, 'max' | 'avg', ksize, stride,
    padding)`` or None; ``dropout``: the dropout's name or None.
    """
    name: str
    convs: tuple
    pool: tuple = None
    dropout: str = None


NIN_CIFAR = (
    Mlpconv("mlpconv1", (("conv1", 192, 5, 1, "SAME"), ("cccp1", 160, 1, 1, "SAME"),
                         ("cccp2", 96, 1, 1, "SAME")),                   # [b, 32, 32, 96]
            pool=("pool1", "max", 3, 2, "SAME"), dropout="dropout1"),    # [b, 16, 16, 96]
    Mlpconv("mlpconv2", (("conv2", 192, 5, 1, "SAME"), ("cccp3", 192, 1, 1, "SAME"),
                         ("cccp4", 192, 1, 1, "SAME")),                  # [b, 16, 16, 192]
            pool=("pool2", "avg", 3, 2, "SAME"), dropout="dropout2"),    # [b, 8, 8, 192]
    Mlpconv("mlpconv3", (("conv3", 192, 3, 1, "SAME"), ("cccp5", 192, 1, 1, "SAME"),
                         ("cccp6", None, 1, 1, "SAME"))),                # [b, 8, 8, classes]
)

NIN_IMAGENET = (
    Mlpconv("mlpconv1", (("conv1", 96, 11, 4, "VALID"), ("cccp1", 96, 1, 1, "SAME"),
                         ("cccp2", 96, 1, 1, "SAME")),                   # [b, 54, 54, 96]
            pool=("pool1", "max", 3, 2, "SAME")),                        # [b, 27, 27, 96]
    Mlpconv("mlpconv2", (("conv2", 256, 5, 1, "SAME"), ("cccp3", 256, 1, 1, "SAME"),
                         ("cccp4", 256, 1, 1, "SAME")),                  # [b, 27, 27, 256]
            pool=("pool2", "max", 3, 2, "VALID")),                       # [b, 13, 13, 256]
    Mlpconv("mlpconv3", (("conv3", 384, 3, 1, "SAME"), ("cccp5", 384, 1, 1, "SAME"),
                         ("cccp6", 384, 1, 1, "SAME")),                  # [b, 13, 13, 384]
            pool=("pool3", "max", 3, 2, "VALID"), dropout="dropout3"),   # [b, 6, 6, 384]
    Mlpconv("mlpconv4", (("conv4", 1024, 3, 1, "SAME"), ("cccp7", 1024, 1, 1, "SAME"),
                         ("cccp8", None, 1, 1, "SAME"))),                # [b, 6, 6, classes]
)

_POOLS = {"max": max_pool, "avg": avg_pool}


def network_in_network(images, num_classes, is_training, table, keep_prob=0.5, wd=None,
                       min_size=8, scope="nin"):
    """A NIN from its table of :class:`Mlpconv` layers.

    Args:
      images: ``[batch, height, width, channels]``, at least ``min_size`` on a side.
      num_classes: maps of the last mlpconv layer (= width of the logits).
      is_training: Python bool or boolean scalar tensor; dropout only in training.
      table: ``NIN_CIFAR`` or ``NIN_IMAGENET``.
      keep_prob: dropout keep probability ([2]: 0.5); 1.0 disables dropout.
      wd: weight decay on every weight tensor, or None.
      scope: the network's variable scope.
    Returns:
      ``(logits [batch, num_classes], end_points)``; the key before
      ``global_pool`` holds the class maps ``[batch, h, w, num_classes]``.
    """
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, min_size, f"images of at least {min_size}x{min_size}")
        net = images
        for block in table:
            for name, filters, ksize, stride, padding in block.convs:
                fan_in = ksize * ksize * int(net.shape[-1])
                net = conv2d(net, filters or num_classes, ksize, stride, padding, wd=wd,
                             stddev=math.sqrt(2.0 / fan_in), bias_value=0.0,
                             scope=f"{block.name}/{name}")
                end_points[f"{block.name}/{name}"] = net
            if block.pool:
                name, kind, ksize, stride, padding = block.pool
                net = _POOLS[kind](net, ksize, stride, padding, name=name)
                end_points[name] = net
            if block.dropout:
                if not (isinstance(keep_prob, (int, float)) and keep_prob >= 1.0):
                    net = dropout(net, keep_prob, is_training, name=block.dropout)
                end_points[block.dropout] = net
        logits = global_avg_pool(net, name="global_pool")                # [b, num_classes]
        end_points["global_pool"] = logits
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits, name="predictions")
    return logits, end_points


@register("nin_cifar", family="nin", input_shape=(32, 32, 3), num_classes=10,
          paper_source="arXiv:1312.4400 sec. 4.2; Caffe gist mavenlin/e56253735ef32c3c296d "
          "(no count printed)", cifar=True)
def nin_cifar(images, num_classes, is_training, keep_prob=0.5, wd=None, scope="nin_cifar"):
    """[1]'s CIFAR-10 NIN as [2] defines it (three mlpconv layers).
    See network_in_network() for the arguments."""
    return network_in_network(images, num_classes, is_training, NIN_CIFAR, keep_prob, wd,
                              min_size=8, scope=scope)


@register("nin", family="nin", input_shape=(224, 224, 3), num_classes=1000,
          paper_source="Caffe model zoo NIN ImageNet, gist mavenlin/d802a5849de39225bcc6 "
          "(no count printed)", cifar=False)
def nin(images, num_classes, is_training, keep_prob=0.5, wd=None, scope="nin"):
    """[2]'s ImageNet NIN (four mlpconv layers, 224x224).
    See network_in_network() for the arguments."""
    return network_in_network(images, num_classes, is_training, NIN_IMAGENET, keep_prob, wd,
                              min_size=59, scope=scope)


# --------------------------------------------------------------------------- CAM


def _resize_and_normalise(cam, output_size):
    """``[b, h, w]`` -> bilinear ``[b, H, W]``, each map rescaled to ``[0, 1]``
    (a constant map becomes all zeros)."""
    cam = tf.image.resize(cam[..., tf.newaxis], output_size, method="bilinear")[..., 0]
    low = tf.reduce_min(cam, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(cam, axis=[1, 2], keepdims=True)
    return tf.math.divide_no_nan(cam - low, high - low)


def _check_cam_inputs(feature_maps, output_size, name):
    if feature_maps.shape.rank != 4:
        raise ValueError(f"[{name}] needs feature maps [batch, height, width, channels], "
                         f"got shape {feature_maps.shape}")
    if len(output_size) != 2 or min(output_size) < 1:
        raise ValueError(f"[{name}] output_size must be (height, width), got {output_size!r}")


def class_activation_map(feature_maps, class_weights, class_index, output_size, name="cam"):
    """Class activation map, [3] section 2: ``M_c(x, y) = sum_k w_k^c f_k(x, y)``.

    A network that ends in global average pooling and one fully connected layer
    scores class ``c`` with ``sum_k w_k^c mean_xy f_k(x, y)``; moving the sum
    inside the mean gives a map of where the evidence for ``c`` lies. It is
    upsampled (bilinear) to the input size and rescaled to ``[0, 1]`` per image.

    Args:
      feature_maps: ``[batch, h, w, channels]``, the last convolutional maps.
      class_weights: ``[channels, classes]``, the weights of the fully connected
        layer after the global average pooling.
      class_index: an int or a scalar int tensor (one class for the whole batch),
        or an int tensor ``[batch]`` (one class per image, e.g. the predictions).
      output_size: ``(height, width)`` of the heat map (the input image's).
      name: name scope of the ops.
    Returns:
      ``[batch, height, width]`` float32 heat map in ``[0, 1]``.
    """
    with tf.name_scope(name):
        feature_maps = tf.convert_to_tensor(feature_maps, tf.float32)
        class_weights = tf.convert_to_tensor(class_weights, tf.float32)
        _check_cam_inputs(feature_maps, output_size, name)
        if class_weights.shape.rank != 2 or (
                feature_maps.shape[-1] is not None and class_weights.shape[0] is not None
                and feature_maps.shape[-1] != class_weights.shape[0]):
            raise ValueError(f"[{name}] class_weights must be [channels, classes] with the "
                             f"feature maps' {feature_maps.shape[-1]} channels, got shape "
                             f"{class_weights.shape}")
        index = tf.convert_to_tensor(class_index, tf.int32)
        w = tf.gather(class_weights, index, axis=1)            # [channels] or [channels, batch]
        if index.shape.rank == 0:
            cam = tf.tensordot(feature_maps, w, [[3], [0]])    # [b, h, w]
        else:
            cam = tf.einsum("bhwc,cb->bhw", feature_maps, w)   # [b, h, w]
        return _resize_and_normalise(cam, output_size)


def nin_cam(end_points, class_index, output_size, name="nin_cam"):
    """The CAM of a NIN: its last mlpconv layer already has one map per class (the
    map the global average pooling turns into the class's logit), so the heat
    map is that class's map, upsampled and rescaled to ``[0, 1]``. Equal to
    :func:`class_activation_map` with identity class weights.

    Args:
      end_points: a NIN's end_points (``nin_cifar``, ``nin``): the entry just
        before ``global_pool`` is taken as the class maps ``[batch, h, w, classes]``.
      class_index: an int, a scalar int tensor, or an int tensor ``[batch]``.
      output_size: ``(height, width)`` of the heat map.
    Returns:
      ``[batch, height, width]`` float32 heat map in ``[0, 1]``.
    """
    keys = list(end_points)
    if "global_pool" not in keys or keys.index("global_pool") == 0:
        raise ValueError(f"[{name}] needs the end_points of a network ending in global average "
                         f"pooling (a 'global_pool' key after the class maps), got keys {keys}")
    maps = end_points[keys[keys.index("global_pool") - 1]]
    with tf.name_scope(name):
        _check_cam_inputs(maps, output_size, name)
        index = tf.convert_to_tensor(class_index, tf.int32)
        if index.shape.rank == 0:
            cam = tf.gather(maps, index, axis=3)                   # [b, h, w]
        else:
            cam = tf.gather(maps, index, axis=3, batch_dims=1)     # [b, h, w]
        return _resize_and_normalise(cam, output_size)
