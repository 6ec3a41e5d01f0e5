"""The network of ``cnn_cifar --recipe fast``: a small residual VGG in the spirit of the
CIFAR-10 speed records.

[1] Keller Jordan. 94% on CIFAR-10 in 3.29 Seconds on a Single GPU. 2024,
    arXiv:2404.00498 ("airbench": whitening layer, three conv groups, scaled logits).
[2] David Page. How to Train Your ResNet (blog series, 2018): a 9-layer ResNet, 94%
    in 79 s on a V100 with batch norm, a one-cycle schedule and test-time flips.

The network, with ``width=1`` giving [1]'s widths (64, 256, 256)::

    whiten   2x2 convolution 3 -> 24, VALID (32x32 -> 31x31): fixed filters that
             decorrelate the pixels of every 2x2 patch (computed from the data)
    group k  3x3 conv -> 2x2 max pool -> BN -> ReLU              the group's input h
             -> 3x3 conv -> BN -> ReLU, added to h               a residual branch, as in [2]
    head     global max pool -> linear (no bias) -> logits * 1/9

Why each part (as the two write-ups measured it on a GPU):

- **Whitening.** The first layer's filters are the eigenvectors of the 2x2-patch
  covariance, each divided by the square root of its eigenvalue (and their
  negatives): the next layer sees decorrelated inputs of unit variance from the
  first step, which saves the first epochs a network spends learning that.
  :func:`whitening_filters` computes them from training images; they are not trained.
- **Pool early.** Each group pools right after its first convolution, so its second
  convolution runs on a quarter of the pixels: most of the multiply-adds of a
  VGG sit in the large maps.
- **Batch norm everywhere** makes a large learning rate safe, and the **1/9 on the
  logits** keeps the softmax from saturating early.

On two CPU cores every multiply-add counts, so ``width`` (default 0.5: 32, 128,
128 channels) trades accuracy for time; ReLU replaces [1]'s GELU, which costs more
on a CPU for little gain here.
"""
import math

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import batch_norm, conv2d, weight
from tfgraph_lessons.nets import check_images, register
from tfgraph_lessons.nets.slide_cnn import he_stddev

WIDTHS = (64, 256, 256)      # [1]'s groups at width 1
WHITEN_SIZE = 2              # the whitening layer's patch size
LOGIT_SCALE = 1.0 / 9.0      # [1]


def whitening_filters(images, patch=WHITEN_SIZE, eps=5e-4, max_images=5000, seed=0):
    """The whitening layer's filters from (standardised) training images.

    Every ``patch x patch x C`` patch of up to ``max_images`` images is a vector of
    ``d = patch * patch * C`` numbers; with ``cov = V diag(lam) V^T`` their
    covariance, filter ``i`` is ``V[:, i] / sqrt(lam_i + eps)``, so the layer's
    outputs are uncorrelated with unit variance. The negated filters follow (``2d``
    outputs), so a ReLU later keeps both signs of each direction.

    Args:
      images: ``[N, H, W, C]`` float array, already standardised.
    Returns:
      ``[patch, patch, C, 2 * patch * patch * C]`` float32 filters for ``tf.nn.conv2d``.
    """
    images = np.asarray(images, np.float64)
    if images.ndim != 4 or images.shape[1] < patch or images.shape[2] < patch:
        raise ValueError(f"[whitening_filters] needs images [N, H, W, C] of at least "
                         f"{patch}x{patch}, got shape {images.shape}")
    rng = np.random.default_rng(seed)
    if len(images) > max_images:
        images = images[rng.choice(len(images), max_images, replace=False)]
    n, h, w, c = images.shape
    # all patches as rows: [n * (h-p+1) * (w-p+1), p * p * c], in (row, col, channel) order
    rows = [images[:, i:h - patch + 1 + i, j:w - patch + 1 + j, :]
            for i in range(patch) for j in range(patch)]
    patches = np.stack(rows, axis=3).reshape(-1, patch * patch * c)
    cov = np.cov(patches, rowvar=False)
    lam, vecs = np.linalg.eigh(cov)
    filters = vecs / np.sqrt(lam + eps)                      # [d, d], one filter per column
    filters = np.concatenate([filters, -filters], axis=1)    # [d, 2d]
    return filters.reshape(patch, patch, c, 2 * patch * patch * c).astype(np.float32)


def _he(x, ksize):
    """He et al.'s stddev for a ``ksize`` x ``ksize`` filter over ``x``'s channels."""
    return he_stddev(ksize * ksize * int(x.shape[-1]))


def conv_group(x, filters, is_training, wd, scope):
    """conv -> pool -> BN -> ReLU, then a residual 3x3 conv -> BN -> ReLU branch added."""
    with tf1.variable_scope(scope):
        h = conv2d(x, filters, 3, activation=None, use_bias=False, wd=wd, stddev=_he(x, 3),
                   scope="conv1")
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.nn.relu(batch_norm(h, is_training, scope="bn1", fused=True))
        r = conv2d(h, filters, 3, activation=None, use_bias=False, wd=wd, stddev=_he(h, 3),
                   scope="conv2")
        r = tf.nn.relu(batch_norm(r, is_training, scope="bn2", fused=True))
        return h + r


@register("fast_cifar", family="speed", input_shape=(32, 32, 3), num_classes=10,
          paper_source="airbench, arXiv:2404.00498 (widths 64/256/256; no count printed)")
def fast_cifar(images, num_classes, is_training, keep_prob=1.0, wd=5e-4, width=0.5,
               whitening=None, scope="fast_cifar"):
    """The fast recipe's network (module docstring).

    Args:
      images: ``[batch, height, width, channels]`` float32, standardised.
      keep_prob: accepted for the registry's signature; the network has no dropout.
      wd: weight decay on the convolution and output weights (not on batch norm).
      width: multiplies [1]'s widths (64, 256, 256).
      whitening: ``[2, 2, C, 4C]`` filters from :func:`whitening_filters`, fixed; None
        makes the first layer an ordinary trained 2x2 convolution of the same shape
        (e.g. to build the network without data).
    Returns:
      ``(logits, end_points)``.
    """
    check_images(images, scope, 16)  # 16 -> 15 (whiten) -> 7 -> 3 -> 1 after three pools
    channels = int(images.shape[-1])
    d = WHITEN_SIZE * WHITEN_SIZE * channels
    widths = [max(8, int(round(w * width))) for w in WIDTHS]
    end_points = {}
    with tf1.variable_scope(scope):
        with tf1.variable_scope("whiten"):
            shape = [WHITEN_SIZE, WHITEN_SIZE, channels, 2 * d]
            if whitening is not None:
                if tuple(np.shape(whitening)) != tuple(shape):
                    raise ValueError(f"[{scope}/whiten] needs filters of shape {shape}, got "
                                     f"{np.shape(whitening)}")
                kernel = tf1.get_variable("weights", shape, tf.float32, trainable=False,
                                          initializer=tf1.constant_initializer(whitening))
            else:
                kernel = weight("weights", shape, stddev=_he(images, WHITEN_SIZE), wd=wd)
            b = tf1.get_variable("biases", [2 * d], initializer=tf1.zeros_initializer())
            x = tf.nn.conv2d(images, kernel, 1, "VALID") + b          # [b, 31, 31, 2d]
        end_points["whiten"] = x
        for i, filters in enumerate(widths, start=1):
            x = conv_group(x, filters, is_training, wd, f"group{i}")
            end_points[f"group{i}"] = x
        pooled = tf.reduce_max(x, axis=[1, 2])                         # global max pool
        with tf1.variable_scope("logits"):
            w = weight("weights", [widths[-1], num_classes],
                       stddev=1.0 / math.sqrt(widths[-1]), wd=wd)
            logits = tf.matmul(pooled, w) * LOGIT_SCALE
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points
