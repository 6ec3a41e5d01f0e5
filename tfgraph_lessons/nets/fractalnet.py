"""FractalNet: very deep networks from one expansion rule, with no residuals.

[1] Gustav Larsson, Michael Maire, Gregory Shakhnarovich. FractalNet: Ultra-Deep
    Neural Networks without Residuals. ICLR 2017, arXiv:1605.07648.
[2] The authors' Caffe generator, gustavla/fractalnet ``generation/fractalnet.py``
    and ``globals.crox`` (layer order conv, dropout, batch norm, ReLU).

A block with ``C`` columns is built by the rule of section 2 of [1]::

    f_1(z)     = conv(z)
    f_{C+1}(z) = join(f_C(f_C(z)), conv(z))        join = elementwise mean

Unrolled, column ``c`` (1 = shallowest) is a chain of ``2^(c-1)`` 3x3
convolutions, and the joins of the expansion meet at the levels where several
columns end together (they are drawn as one join of all of them, as in
Figure 1 of [1]). ``B = 5`` blocks, each followed by 2x2 max pooling, take a
32x32 CIFAR image down to 1x1; the deepest path has ``B * 2^(C-1)``
convolutions: 20 layers for ``C = 3``, 40 for ``C = 4``. Filters per block 64,
128, 256, 512, 512; every convolution is followed by dropout (rates 0, 0.1, 0.2,
0.3, 0.4 per block), batch norm and ReLU; a fully connected layer gives the
logits.

Drop-path (section 3 of [1]), only in training, one draw per mini-batch:

* local (probability ``1 - global_ratio``): every join drops each of its inputs
  with probability ``drop_path`` (0.15), keeping at least one, and averages the rest;
* global (probability ``global_ratio``, 0.5): one column is chosen for the whole
  network and every join keeps only that column's input, so the network is a
  plain chain of that column's convolutions. Joins that column does not reach
  output zeros; they lie on paths that are dropped further on.

In inference every join is the plain mean and the output is deterministic.

Parameters: C=3 (20 layers) builds 33,724,618 with 10 classes, exactly the count
of the reference PyTorch port (osmr/imgclsmob ``fractalnet_cifar10``, same
layers); C=4 (40 layers) builds 76,106,634. Table 1 of [1] prints 38.6M for 20
layers and 22.9M for 40 layers: neither follows from the widths the paper
states (the 40-layer network has more convolutions of every width than the
20-layer one, so it cannot have fewer parameters with the same widths); see
``tests/test_nets_modern.py``.

Usage::

    logits, end_points = fractalnet(images, 10, is_training)   # images [b, 32, 32, 3]
"""
import math

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import (batch_norm, conv2d, dropout, fully_connected,
                                         max_pool)
from tfgraph_lessons.nets import check_images, register

BLOCK_FILTERS = (64, 128, 256, 512, 512)
BLOCK_KEEP_PROBS = (1.0, 0.9, 0.8, 0.7, 0.6)   # dropout 0%, 10%, 20%, 30%, 40% (section 4)
DROP_PATH = 0.15                               # local drop-path rate (section 4)
GLOBAL_RATIO = 0.5                             # half the mini-batches global, half local
COLUMNS = {"fractalnet": 4, "fractalnet20": 3}
PAPER_PARAMS = {"fractalnet": 22.9e6, "fractalnet20": 38.6e6}   # Table 1 of [1]


def _conv_unit(x, filters, keep_prob, is_training, wd, scope):
    """conv 3x3 (no bias) -> dropout -> batch norm -> ReLU, the order of [2]."""
    x = conv2d(x, filters, 3, 1, "SAME", activation=None, use_bias=False, wd=wd,
               stddev=math.sqrt(2.0 / (9 * int(x.shape[-1]))), scope=scope)
    if keep_prob < 1.0:
        x = dropout(x, keep_prob, is_training, name=scope + "_dropout")
    return tf.nn.relu(batch_norm(x, is_training, scope=scope + "_bn"))


def _drop_path_mask(columns, drop_path, sampler):
    """The 0/1 mask over a join's inputs (from ``columns``) for one mini-batch."""
    use_global, global_column = sampler
    n = len(columns)
    global_mask = tf.cast(tf.equal(tf.constant(columns), global_column), tf.float32)
    local_mask = tf.cast(tf.random.uniform([n]) >= drop_path, tf.float32)
    any_kept = tf.reduce_sum(local_mask) > 0
    one_kept = tf.one_hot(tf.random.uniform([], 0, n, dtype=tf.int32), n)
    local_mask = tf.where(any_kept, local_mask, one_kept)   # a join keeps at least one input
    return tf.where(use_global, global_mask, local_mask)


def join(inputs, columns, is_training, drop_path, sampler, name="join"):
    """Elementwise mean of ``inputs`` (one per column in ``columns``); in training the
    mean of the inputs drop-path keeps (zeros when it keeps none, see the module doc)."""
    with tf.name_scope(name):
        stacked = tf.stack(inputs)                                  # [n, b, h, w, c]
        if is_training is False or sampler is None:
            return tf.reduce_mean(stacked, axis=0)
        mask = _drop_path_mask(columns, drop_path, sampler)
        if is_training is not True:
            mask = tf.where(is_training, mask, tf.ones_like(mask))
        mask = tf.identity(mask, name="drop_path_mask")
        kept = tf.tensordot(mask, stacked, axes=1)                  # [b, h, w, c]
        return kept / tf.maximum(tf.reduce_sum(mask), 1.0)


def fractal_block(x, filters, num_columns, keep_prob, is_training, wd, drop_path, sampler,
                  scope):
    """One block ``f_C`` of [1], unrolled level by level (the deepest column has one
    convolution per level, column ``c`` one every ``2^(C-c)`` levels)."""
    with tf1.variable_scope(scope):
        current = {c: x for c in range(1, num_columns + 1)}       # each column's next input
        count = {c: 0 for c in current}
        for level in range(2 ** (num_columns - 1)):
            ending = [c for c in sorted(current, reverse=True)
                      if (level + 1) % 2 ** (num_columns - c) == 0]
            outputs = []
            for c in ending:
                count[c] += 1
                outputs.append(_conv_unit(current[c], filters, keep_prob, is_training, wd,
                                          f"column{c}/conv{count[c]}"))
            if len(outputs) > 1:
                joined = join(outputs, ending, is_training, drop_path, sampler,
                              name=f"join{level + 1}")
            else:
                joined = outputs[0]
            for c in ending:
                current[c] = joined
        return joined


def fractalnet_cifar(images, num_classes, is_training, num_columns=4,
                     keep_prob=BLOCK_KEEP_PROBS, drop_path=DROP_PATH, global_ratio=GLOBAL_RATIO,
                     wd=None, scope="fractalnet"):
    """The CIFAR FractalNet of [1], section 4: 5 blocks of ``num_columns`` columns.

    Args:
      images: ``[batch, height, width, channels]``, at least 32x32 (CIFAR 32x32x3).
      num_classes: width of the logits.
      is_training: bool or boolean tensor: batch norm statistics; dropout and
        drop-path only in training.
      num_columns: ``C`` (3 -> 20 layers, 4 -> 40 layers).
      keep_prob: dropout keep probability per block (paper: 1.0, 0.9, 0.8, 0.7, 0.6),
        or one float for every block.
      drop_path: local drop-path rate per join input (paper: 0.15); 0 disables it.
      global_ratio: share of mini-batches that use global drop-path (paper: 0.5).
      wd: weight decay on every kernel, or None.
    Returns:
      ``(logits [batch, num_classes], end_points)``.
    """
    if num_columns not in (1, 2, 3, 4, 5, 6):
        raise ValueError(f"[{scope}] num_columns must be 1..6 (paper: 3 or 4), "
                         f"got {num_columns!r}")
    keep_probs = (tuple(keep_prob) if isinstance(keep_prob, (tuple, list))
                  else (keep_prob,) * len(BLOCK_FILTERS))
    end_points = {}
    with tf1.variable_scope(scope):
        least = 2 ** len(BLOCK_FILTERS)
        check_images(images, scope, least, f"images of at least {least}x{least} "
                     f"({len(BLOCK_FILTERS)} 2x2 poolings; CIFAR 32x32)")
        sampler = None
        if is_training is not False and (drop_path > 0 or global_ratio > 0):
            with tf.name_scope("drop_path"):   # one draw per mini-batch, shared by every join
                sampler = (tf.random.uniform([]) < global_ratio,
                           tf.random.uniform([], 1, num_columns + 1, dtype=tf.int32))
        net = images
        for b, (filters, keep) in enumerate(zip(BLOCK_FILTERS, keep_probs)):
            net = fractal_block(net, filters, num_columns, keep, is_training, wd, drop_path,
                                sampler, f"block{b + 1}")
            end_points[f"block{b + 1}"] = net
            # [b, 32, 32, 64], [b, 16, 16, 128], [b, 8, 8, 256], [b, 4, 4, 512], [b, 2, 2, 512]
            net = max_pool(net, 2, 2, "VALID", name=f"pool{b + 1}")
            end_points[f"pool{b + 1}"] = net
            # [b, 16, 16, 64], [b, 8, 8, 128], [b, 4, 4, 256], [b, 2, 2, 512], [b, 1, 1, 512]
        fan_in = int(net.shape[1]) * int(net.shape[2]) * int(net.shape[3])
        logits = fully_connected(net, num_classes, activation=None, wd=wd,
                                 stddev=1.0 / math.sqrt(fan_in), bias_value=0.0,
                                 scope="logits")                      # [b, num_classes]
        end_points["logits"] = logits
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points


def _variant(name, num_columns):
    def builder(images, num_classes, is_training, keep_prob=BLOCK_KEEP_PROBS, wd=None,
                scope=name):
        return fractalnet_cifar(images, num_classes, is_training, num_columns=num_columns,
                                keep_prob=keep_prob, wd=wd, scope=scope)
    builder.__name__ = name
    builder.__doc__ = (f"FractalNet of [1] with C={num_columns} columns "
                       f"({5 * 2 ** (num_columns - 1)} layers). See fractalnet_cifar().")
    return register(name, family="fractalnet", input_shape=(32, 32, 3), num_classes=10,
                    paper_params=PAPER_PARAMS[name], paper_source="arXiv:1605.07648 Table 1",
                    cifar=True)(builder)


for _name, _columns in COLUMNS.items():
    globals()[_name] = _variant(_name, _columns)
