"""The Inception module, built once for the whole family (GoogLeNet, Inception v3,
Inception-v4, Inception-ResNet, the small CIFAR Inception).

[1] Christian Szegedy et al. Going Deeper with Convolutions. CVPR 2015,
    arXiv:1409.4842 (Figure 2(b): the module with dimension reductions).

An Inception module runs several *branches* side by side on the same input and
concatenates their outputs along the channels::

    x ──┬── 1x1 ──────────────────┐
        ├── 1x1 ── 3x3 ───────────┤
        ├── 1x1 ── 5x5 ───────────┼── concat ──>
        └── 3x3 max pool ── 1x1 ──┘

Every network of the family is a list of such modules whose branches differ
only in their layers and widths, so a module is given as data: a list of
branches, each a list of layer specs (:class:`Conv`, :class:`Pool`,
:class:`Split`). GoogLeNet's inception (3a) is::

    [[Conv(64, 1)],
     [Conv(96, 1), Conv(128, 3)],
     [Conv(16, 1), Conv(32, 5)],
     [Pool("max", 3), Conv(32, 1)]]                 # 28x28x(64+128+32+32 = 256)

and one convolution of the stem is ``Conv(32, 3, 2, "VALID")``. A network is a
table of ``(scope, spec)`` rows; :func:`apply_layer` builds one row.

Usage::

    net = inception_module(net, branches, is_training, "inception_3a", batch_norm=False)
    loss = inception_loss(labels, logits, end_points, aux_weight=0.3)
"""
import math
from typing import NamedTuple

import tensorflow as tf

from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.layers import (avg_pool, batch_norm, conv2d, dropout, fully_connected,
                                         global_avg_pool, max_pool, softmax_cross_entropy)


class Conv(NamedTuple):
    """A convolution (+ batch norm) + ReLU: ``Conv(filters, ksize, stride, padding)``.

    ``ksize`` is an int or ``(kh, kw)``: Inception v3's factorised ``(1, 7)``
    and ``(7, 1)``. ``"VALID"`` is the papers' "V" mark (no padding).
    """
    filters: int
    ksize: object
    stride: int = 1
    padding: str = "SAME"


class Pool(NamedTuple):
    """A max or average pooling: ``Pool("max" | "avg", ksize, stride, padding)``."""
    kind: str
    ksize: int = 3
    stride: int = 1
    padding: str = "SAME"


class Split(NamedTuple):
    """Sub-branches on the same input, concatenated: Inception v3's expanded filter
    bank (Figure 7 of arXiv:1512.00567), ``Split(((Conv(384, (1, 3)),), (Conv(384, (3, 1)),)))``."""
    branches: tuple


class Module(NamedTuple):
    """A row of a network table that is an Inception module (a list of branches)."""
    branches: tuple


class Residual(NamedTuple):
    """An Inception-ResNet block (arXiv:1602.07261, Figures 10-13, 16, 17, 19): the
    module's branches, a linear 1x1 convolution back to the input's width, the
    sum ``x + scale * branch``, then a ReLU unless ``activation`` is False."""
    branches: tuple
    scale: float
    activation: bool = True


def _ksize_text(ksize):
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    return f"{kh}x{kw}"


def conv_unit(x, spec, is_training, scope, batch_norm_on=True, wd=None):
    """One :class:`Conv`: convolution, batch norm (when ``batch_norm_on``), ReLU.

    With batch norm the convolution has no bias (batch norm's beta is the
    bias); without it (GoogLeNet, 2014) the convolution carries its own bias.
    He initialisation, ``stddev = sqrt(2 / fan_in)``, for the ReLU.
    """
    kh, kw = (spec.ksize, spec.ksize) if isinstance(spec.ksize, int) else spec.ksize
    fan_in = kh * kw * int(x.shape[-1])
    stddev = math.sqrt(2.0 / fan_in)
    if not batch_norm_on:
        return conv2d(x, spec.filters, (kh, kw), spec.stride, spec.padding, wd=wd,
                      stddev=stddev, bias_value=0.0, scope=scope)
    with tf1.variable_scope(scope):
        y = conv2d(x, spec.filters, (kh, kw), spec.stride, spec.padding, activation=None,
                   wd=wd, stddev=stddev, use_bias=False, scope="conv")
        y = batch_norm(y, is_training, scope="bn")
        return tf.nn.relu(y)


def _pool(x, spec, name):
    if spec.kind == "max":
        return max_pool(x, spec.ksize, spec.stride, spec.padding, name=name)
    if spec.kind == "avg":
        return avg_pool(x, spec.ksize, spec.stride, spec.padding, name=name)
    raise ValueError(f"[{name}] pool kind must be 'max' or 'avg', got {spec.kind!r}")


def _branch(x, layers, is_training, batch_norm_on, wd, counter):
    """Apply one branch's layers in order; ``counter`` numbers them a, b, c... ."""
    for layer in layers:
        if isinstance(layer, Split):
            x = tf.concat([_branch(x, sub, is_training, batch_norm_on, wd, counter)
                           for sub in layer.branches], axis=3)
            continue
        letter = "abcdefghijklmnopqrstuvwxyz"[counter[0]]
        counter[0] += 1
        if isinstance(layer, Conv):
            x = conv_unit(x, layer, is_training, f"conv2d_0{letter}_{_ksize_text(layer.ksize)}",
                          batch_norm_on, wd)
        elif isinstance(layer, Pool):
            x = _pool(x, layer, f"{layer.kind}pool_0{letter}_{_ksize_text(layer.ksize)}")
        else:
            raise ValueError(f"[inception_module] unknown layer spec {layer!r}")
    return x


def inception_module(x, branches, is_training, scope, batch_norm=True, wd=None):
    """An Inception module: every branch on ``x``, outputs concatenated on channels.

    Args:
      x: ``[batch, height, width, channels]``.
      branches: a list of branches, each a list of :class:`Conv`, :class:`Pool`
        and :class:`Split` specs applied in order. Branch ``i``'s layers live in
        ``scope/branch_i/conv2d_0a_1x1``, ``.../conv2d_0b_3x3``, ... (TF-slim's names).
      is_training: Python bool or boolean scalar tensor (batch norm).
      scope: the module's variable scope (``'inception_3a'``, ``'mixed_5b'``).
      batch_norm: convolution + batch norm + ReLU when True; convolution with a
        bias + ReLU when False (GoogLeNet).
      wd: weight decay on the kernels, or None.
    Returns:
      ``[batch, out_height, out_width, sum of the branches' widths]``; every branch
      must give the same height and width (a reduction module's branches all
      stride 2).
    """
    with tf1.variable_scope(scope) as sc:
        outputs = []
        for i, layers in enumerate(branches):
            with tf1.variable_scope(f"branch_{i}"):
                outputs.append(_branch(x, layers, is_training, batch_norm, wd, [0]))
        sizes = {tuple(o.shape.as_list()[1:3]) for o in outputs}
        if len(sizes) != 1:
            raise ValueError(f"[{sc.name}] the branches give different map sizes {sorted(sizes)} "
                             f"for an input of shape {x.shape}; give every branch the same strides")
        return tf.concat(outputs, axis=3, name="concat")


def residual_block(x, spec, is_training, scope, wd=None):
    """An Inception-ResNet block (:class:`Residual`): ``relu(x + scale * up(module(x)))``.

    ``up`` is a linear 1x1 convolution with a bias and no batch norm (the papers
    put batch norm "only on top of the traditional layers, but not on top of the
    summations"). Scaling the branch by 0.1-0.3 keeps very wide residual
    Inception networks from dying early in training (Section 3.3 of arXiv:1602.07261).
    """
    channels = int(x.shape[-1])
    with tf1.variable_scope(scope):
        mixed = inception_module(x, spec.branches, is_training, "mixed", wd=wd)
        up = conv2d(mixed, channels, 1, activation=None, wd=wd, bias_value=0.0,
                    stddev=math.sqrt(1.0 / int(mixed.shape[-1])), scope="conv2d_1x1")
        y = x + spec.scale * up
        return tf.nn.relu(y) if spec.activation else tf.identity(y)


def apply_layer(net, spec, is_training, scope, batch_norm=True, wd=None):
    """Build one row of a network table: a :class:`Conv`, :class:`Pool`,
    :class:`Module` or :class:`Residual` under ``scope``."""
    if isinstance(spec, Conv):
        return conv_unit(net, spec, is_training, scope, batch_norm, wd)
    if isinstance(spec, Pool):
        return _pool(net, spec, scope)
    if isinstance(spec, Module):
        return inception_module(net, spec.branches, is_training, scope, batch_norm, wd)
    if isinstance(spec, Residual):
        return residual_block(net, spec, is_training, scope, wd)
    raise ValueError(f"[{scope}] unknown layer spec {spec!r}")


def aux_pool_size(net):
    """The auxiliary heads' 5x5 average pool, shrunk to the map when the map is
    smaller (TF-slim does the same for small inputs); 5 at the papers' input sizes."""
    return min(5, int(net.shape[1]), int(net.shape[2]))


def training_only(is_training):
    """True unless ``is_training`` is the Python bool False: the auxiliary heads
    are built for True and for a boolean tensor (then only the training loss uses
    them), never for False."""
    return not (isinstance(is_training, bool) and not is_training)


def inception_loss(labels, logits, end_points, aux_weight, label_smoothing=0.0,
                   name="inception_loss"):
    """Softmax cross-entropy of the main logits plus ``aux_weight`` times each
    auxiliary head's (``end_points["aux_logits"]``, a list; absent at inference).

    ``loss = CE(labels, logits) + aux_weight * sum_i CE(labels, aux_i)``, each CE
    with the same label smoothing (TF-slim's ``train_image_classifier.py`` smooths
    the auxiliary loss too).
    """
    with tf.name_scope(name):
        loss = softmax_cross_entropy(labels, logits, label_smoothing, name="main")
        for i, aux in enumerate(end_points.get("aux_logits", [])):
            loss += aux_weight * softmax_cross_entropy(labels, aux, label_smoothing,
                                                       name=f"aux_{i + 1}")
        return tf.identity(loss, name="total")


def classifier_head(net, num_classes, is_training, keep_prob, wd, end_points, pool_name,
                    aux_logits=()):
    """The top every Inception network shares: global average pooling (named as in its
    paper), dropout, a linear layer to the logits, and the end points ``pool_name``,
    ``dropout``, ``aux_logits`` (when any head was built), ``logits``, ``predictions``.

    Returns:
      ``(logits, end_points)``.
    """
    net = global_avg_pool(net, name=pool_name)                       # [b, channels]
    end_points[pool_name] = net
    net = dropout(net, keep_prob, is_training)
    end_points["dropout"] = net
    logits = fully_connected(net, num_classes, activation=None, wd=wd,
                             stddev=1.0 / math.sqrt(int(net.shape[-1])), bias_value=0.0,
                             scope="logits")                         # [b, num_classes]
    if aux_logits:
        end_points["aux_logits"] = list(aux_logits)
    end_points["logits"] = logits
    end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points
