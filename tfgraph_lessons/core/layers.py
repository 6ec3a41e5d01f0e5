"""Layer builders in the slides' vocabulary, written from raw ops.

Each builder opens one ``variable_scope``, creates its parameters with
``tf1.get_variable`` (so a scope can be reused to share them) and wires
``tf.nn`` ops, as the TF1 CIFAR-10 tutorial does::

    with tf1.variable_scope('conv1'):
        kernel = tf1.get_variable('weights', [5, 5, 3, 64], ...)
        conv = tf.nn.conv2d(images, kernel, [1, 1, 1, 1], padding='SAME')

Keras 3 removed ``tf.compat.v1.layers``; nothing here depends on Keras.

Initialisers follow the slides: weights from a truncated normal with
stddev 0.1, biases the constant 0.1 (a small positive bias keeps ReLUs alive
at the start). Weight decay is an L2 term per weight tensor, collected in
:data:`WEIGHT_DECAY` and summed by :func:`weight_decay_loss`.

Taught in ``notebooks/03_tensorflow.ipynb`` and the CNN chapter.
"""
import tensorflow as tf

from tfgraph_lessons.core.graph import tf1

WEIGHT_DECAY = "weight_decay_losses"  # graph collection of L2 penalty terms

_PADDINGS = ("SAME", "VALID")


# --------------------------------------------------------------------------- inputs


def inputs(shape, dtype="float32", name="images"):
    """A placeholder for a batch: ``shape`` without the batch dimension.

    ``inputs([32, 32, 3])`` is ``tf1.placeholder(tf.float32, [None, 32, 32, 3])``.
    """
    return tf1.placeholder(dtype, [None] + list(shape), name=name)


def is_training_flag(name="is_training"):
    """A boolean placeholder that defaults to False: feed True only in training steps."""
    return tf1.placeholder_with_default(False, [], name=name)


# --------------------------------------------------------------------------- parameters


def weight(name, shape, stddev=0.1, wd=None):
    """``get_variable`` with the slides' truncated-normal initialiser.

    Args:
      name: variable name inside the current scope (``'weights'``, ``'w1'``).
      shape: list of ints.
      stddev: standard deviation of the truncated normal (slides: 0.1).
      wd: if not None, add ``wd * l2_loss(w)`` to the :data:`WEIGHT_DECAY` collection.
    """
    w = tf1.get_variable(
        name, shape, tf.float32, initializer=tf1.truncated_normal_initializer(stddev=stddev)
    )
    if wd:
        tf1.add_to_collection(WEIGHT_DECAY, tf.multiply(tf.nn.l2_loss(w), wd, name=name + "_decay"))
    return w


def bias(name, shape, value=0.1):
    """``get_variable`` initialised to a constant (slides: 0.1)."""
    return tf1.get_variable(name, shape, tf.float32, initializer=tf1.constant_initializer(value))


def weight_decay_loss(name="weight_decay"):
    """The sum of the graph's weight-decay terms (0.0 when there are none)."""
    terms = tf1.get_collection(WEIGHT_DECAY)
    if not terms:
        return tf.constant(0.0, name=name)
    return tf.add_n(terms, name=name)


# --------------------------------------------------------------------------- shape checks


def _scope_name():
    return tf1.get_variable_scope().name or "<root>"


def _check_rank(x, rank, layer, what):
    shape = x.shape
    if shape.rank is None or shape.rank != rank:
        raise ValueError(
            f"[{layer}] expects a {rank}-D tensor {what}, got shape {shape} "
            f"(rank {shape.rank}); reshape or flatten the input first"
        )


def _known_channels(x, layer):
    channels = x.shape[-1]
    if channels is None:
        raise ValueError(
            f"[{layer}] input has an unknown channel dimension (shape {x.shape}); "
            "give the placeholder a static last dimension"
        )
    return int(channels)


def _get_or_check(name, shape, layer, make):
    """Create a parameter, or on reuse check that the existing one has ``shape``."""
    scope = tf1.get_variable_scope()
    if scope.reuse:
        full = f"{scope.name}/{name}" if scope.name else name
        existing = [v for v in tf1.global_variables() if v.op.name == full]
        if existing and existing[0].shape.as_list() != list(shape):
            raise ValueError(
                f"[{layer}] input does not fit the shared variable {full}: expected "
                f"shape {existing[0].shape.as_list()}, this input needs {list(shape)}"
            )
    return make()


def _pair(value):
    """``3 -> (3, 3)``; a pair stays a pair (filter sizes and strides)."""
    return (value, value) if isinstance(value, int) else tuple(value)


def _check_image_input(x, padding, layer):
    """A convolution's input checks: rank 4, a known padding, known channels (returned)."""
    _check_rank(x, 4, layer, "[batch, height, width, channels]")
    if padding not in _PADDINGS:
        raise ValueError(f"[{layer}] padding must be 'SAME' or 'VALID', got {padding!r}")
    return _known_channels(x, layer)


def relu(x):
    """``tf.nn.relu(x)``, the layers' default activation: a function of this module
    rather than ``tf.nn.relu`` itself, so that importing the module reads nothing from
    TensorFlow (a ``--help`` run never loads it, :mod:`~tfgraph_lessons.core.startup`)."""
    return tf.nn.relu(x)


def _bias_and_activation(y, channels, use_bias, bias_value, activation):
    """What every convolution ends with: ``+ biases``, the activation, the ``output`` name."""
    if use_bias:
        y = tf.nn.bias_add(y, bias("biases", [channels], bias_value))
    if activation is not None:
        y = activation(y)
    return tf.identity(y, name="output")


# --------------------------------------------------------------------------- layers


def conv2d(x, out_channels, ksize, stride=1, padding="SAME", activation=relu,
           wd=None, stddev=0.1, bias_value=0.1, use_bias=True, rate=1, scope="conv"):
    """Convolution + bias + activation: one slide line.

    Args:
      x: ``[batch, height, width, in_channels]``.
      out_channels: number of filters.
      ksize: filter size, an int or ``(kh, kw)``.
      stride: an int or ``(sh, sw)``; the op's strides are ``[1, sh, sw, 1]``.
      padding: ``'SAME'`` (output ``ceil(n / s)``) or ``'VALID'`` (``ceil((n - k + 1) / s)``).
      activation: applied last; None for a linear output.
      wd: weight decay factor for the kernel, or None.
      rate: dilation ("atrous" convolution, ENet's dilated bottlenecks): the filter's
        taps are ``rate`` pixels apart, so a 3x3 filter sees a ``2 * rate + 1`` square
        with 9 weights. Only with ``stride=1``.
      scope: the layer's variable scope (``'conv1'``).
    Returns:
      ``[batch, out_height, out_width, out_channels]``.
    """
    (kh, kw), (sh, sw), padding = _pair(ksize), _pair(stride), padding.upper()
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        in_channels = _check_filter_input(x, kh, kw, sh, sw, padding, rate, layer)
        shape = [kh, kw, in_channels, out_channels]
        kernel = _get_or_check("weights", shape, layer,
                               lambda: weight("weights", shape, stddev=stddev, wd=wd))
        if rate == 1:
            y = tf.nn.conv2d(x, kernel, [1, sh, sw, 1], padding=padding)
        else:
            # Conv2D's own dilations have no CPU gradient; tf.nn.convolution rearranges the
            # map (SpaceToBatchND), runs a plain convolution and puts it back, on any device
            y = tf.nn.convolution(x, kernel, padding=padding, dilations=[rate, rate])
        return _bias_and_activation(y, out_channels, use_bias, bias_value, activation)


def _check_filter_input(x, kh, kw, sh, sw, padding, rate, layer):
    """Every filter layer's checks (rank, padding, channels, dilation, a VALID filter
    that fits); returns the input's channels."""
    in_channels = _check_image_input(x, padding, layer)
    _check_rate(rate, sh, sw, layer)
    _check_fits(x, (kh - 1) * rate + 1, (kw - 1) * rate + 1, padding, layer)
    return in_channels


def _check_rate(rate, sh, sw, layer):
    if not isinstance(rate, int) or rate < 1:
        raise ValueError(f"[{layer}] rate (dilation) must be a whole number >= 1, got {rate!r}")
    if rate > 1 and (sh, sw) != (1, 1):
        raise ValueError(f"[{layer}] a dilated filter (rate {rate}) needs stride 1, "
                         f"got stride {(sh, sw)}")


def _check_fits(x, kh, kw, padding, layer):
    """A VALID filter (of effective size ``kh x kw``) must fit inside the input."""
    h, w = x.shape[1], x.shape[2]
    if padding == "VALID" and ((h is not None and h < kh) or (w is not None and w < kw)):
        raise ValueError(
            f"[{layer}] a {kh}x{kw} VALID filter does not fit a {h}x{w} input "
            f"(shape {x.shape}); use padding='SAME' or a larger image"
        )


def depthwise_conv2d(x, ksize, stride=1, multiplier=1, padding="SAME", activation=None,
                     wd=None, stddev=0.1, bias_value=0.1, use_bias=False, rate=1,
                     scope="depthwise"):
    """Depthwise convolution: each input channel filtered by its own ``multiplier``
    filters, channels never mixed (MobileNet's and Xception's first half).

    The kernel is ``[kh, kw, in_channels, multiplier]``; the output has
    ``in_channels * multiplier`` channels, output channel ``c * multiplier + m``
    being input channel ``c`` under its ``m``-th filter. It costs
    ``kh * kw * in_channels * multiplier`` multiply-adds per output pixel instead of
    a full convolution's ``kh * kw * in_channels * out_channels``.

    Args:
      x: ``[batch, height, width, in_channels]``.
      ksize, stride, padding, rate: as :func:`conv2d`.
      multiplier: filters per input channel.
    Returns:
      ``[batch, out_height, out_width, in_channels * multiplier]``.
    """
    (kh, kw), (sh, sw), padding = _pair(ksize), _pair(stride), padding.upper()
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        in_channels = _check_filter_input(x, kh, kw, sh, sw, padding, rate, layer)
        shape = [kh, kw, in_channels, multiplier]
        kernel = _get_or_check("depthwise_weights", shape, layer,
                               lambda: weight("depthwise_weights", shape, stddev=stddev, wd=wd))
        y = tf.nn.depthwise_conv2d(x, kernel, [1, sh, sw, 1], padding, dilations=[rate, rate])
        return _bias_and_activation(y, in_channels * multiplier, use_bias, bias_value,
                                    activation)


def separable_conv2d(x, out_channels, ksize, stride=1, multiplier=1, padding="SAME",
                     activation=relu, wd=None, stddev=0.1, bias_value=0.1,
                     use_bias=True, rate=1, scope="separable"):
    """Depthwise separable convolution (Xception, Chollet 2017, arXiv:1610.02357):
    a :func:`depthwise_conv2d` (space, per channel) then a 1x1 convolution (channels).

    Two kernels, ``depthwise_weights [kh, kw, in, multiplier]`` and
    ``pointwise_weights [1, 1, in * multiplier, out_channels]``; no activation
    between them, as in Xception.

    Args: as :func:`conv2d`, plus ``multiplier`` (depthwise filters per channel).
    Returns:
      ``[batch, out_height, out_width, out_channels]``.
    """
    (kh, kw), (sh, sw), padding = _pair(ksize), _pair(stride), padding.upper()
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        in_channels = _check_filter_input(x, kh, kw, sh, sw, padding, rate, layer)
        dw_shape = [kh, kw, in_channels, multiplier]
        pw_shape = [1, 1, in_channels * multiplier, out_channels]
        depthwise = _get_or_check("depthwise_weights", dw_shape, layer,
                                  lambda: weight("depthwise_weights", dw_shape, stddev=stddev,
                                                 wd=wd))
        pointwise = _get_or_check("pointwise_weights", pw_shape, layer,
                                  lambda: weight("pointwise_weights", pw_shape, stddev=stddev,
                                                 wd=wd))
        y = tf.nn.separable_conv2d(x, depthwise, pointwise, [1, sh, sw, 1], padding,
                                   dilations=[rate, rate])
        return _bias_and_activation(y, out_channels, use_bias, bias_value, activation)


def conv2d_transpose(x, out_channels, ksize, stride=2, padding="SAME", activation=relu,
                     stddev=0.1, bias_value=0.1, use_bias=True, scope="deconv"):
    """Transposed convolution ("deconvolution"): the gradient of :func:`conv2d` with
    respect to its input, used as a layer that *enlarges* the feature map.

    With ``SAME`` padding the output is ``stride`` times the input
    (``[b, 7, 7, c] -> [b, 14, 14, out]`` for stride 2), exactly the shape a
    ``conv2d`` with that stride would map back to the input's. Each input value
    scatters a ``ksize`` patch of the kernel into the output (DCGAN's generator,
    Radford et al. 2015; ENet's decoder). The kernel is stored as
    ``[kh, kw, out_channels, in_channels]``, ``tf.nn.conv2d_transpose``'s layout.

    Args:
      x: ``[batch, height, width, in_channels]`` with known height and width.
      out_channels: channels of the output.
      ksize: filter size, an int or ``(kh, kw)``.
      stride: an int or ``(sh, sw)``.
      padding: ``'SAME'`` (output ``n * s``) or ``'VALID'`` (``(n - 1) * s + k``).
      activation: applied last; None for a linear output.
      scope: the layer's variable scope.
    Returns:
      ``[batch, out_height, out_width, out_channels]``.
    """
    (kh, kw), (sh, sw), padding = _pair(ksize), _pair(stride), padding.upper()
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        in_channels = _check_image_input(x, padding, layer)
        h, w = x.shape[1], x.shape[2]
        if h is None or w is None:
            raise ValueError(f"[{layer}] needs a known height and width to size its output, "
                             f"got shape {x.shape}")
        if padding == "SAME":
            out_h, out_w = h * sh, w * sw
        else:
            out_h, out_w = (h - 1) * sh + kh, (w - 1) * sw + kw
        shape = [kh, kw, out_channels, in_channels]
        kernel = _get_or_check("weights", shape, layer,
                               lambda: weight("weights", shape, stddev=stddev))
        output_shape = tf.stack([tf.shape(x)[0], out_h, out_w, out_channels])
        y = tf.nn.conv2d_transpose(x, kernel, output_shape, [1, sh, sw, 1], padding=padding)
        y = tf.reshape(y, [-1, out_h, out_w, out_channels])   # static shape for the next layer
        return _bias_and_activation(y, out_channels, use_bias, bias_value, activation)


def leaky_relu(x, alpha=0.2, name="leaky_relu"):
    """``max(x, alpha * x)``: a ReLU that lets a small gradient through for ``x < 0``
    (DCGAN's discriminator uses ``alpha = 0.2``), so no unit dies for good."""
    with tf.name_scope(name):
        return tf.maximum(x, alpha * x)


def _pool(op, x, ksize, stride, padding, name):
    k = [ksize, ksize] if isinstance(ksize, int) else list(ksize)
    s = [stride, stride] if isinstance(stride, int) else list(stride)
    _check_rank(x, 4, name, "[batch, height, width, channels]")
    return op(x, ksize=k, strides=s, padding=padding.upper(), name=name)


def max_pool(x, ksize=2, stride=2, padding="SAME", name="pool"):
    """Max pooling over ``ksize`` windows: ``[b, h, w, c] -> [b, h/stride, w/stride, c]`` (SAME)."""
    return _pool(tf.nn.max_pool2d, x, ksize, stride, padding, name)


def avg_pool(x, ksize=2, stride=2, padding="SAME", name="avg_pool"):
    """Average pooling over ``ksize`` windows."""
    return _pool(tf.nn.avg_pool2d, x, ksize, stride, padding, name)


def global_avg_pool(x, keepdims=False, name="global_pool"):
    """The mean over height and width (Network in Network, Lin et al. 2014,
    arXiv:1312.4400): ``[b, h, w, c] -> [b, c]`` (``[b, 1, 1, c]`` with ``keepdims``).
    It has no parameters and takes any input size."""
    _check_rank(x, 4, name, "[batch, height, width, channels]")
    return tf.reduce_mean(x, axis=[1, 2], keepdims=keepdims, name=name)


def flatten(x, name="flatten"):
    """``[batch, d1, d2, ...] -> [batch, d1 * d2 * ...]``; the trailing dims must be known."""
    dims = x.shape.as_list()[1:] if x.shape.rank is not None else None
    if not dims or any(d is None for d in dims):
        raise ValueError(f"[{name}] needs known non-batch dimensions, got shape {x.shape}")
    size = 1
    for d in dims:
        size *= d
    return tf.reshape(x, [-1, size], name=name)


def fully_connected(x, units, activation=relu, wd=None, stddev=0.1,
                    bias_value=0.1, scope="fc"):
    """``activation(x @ W + b)`` with ``x: [batch, in_units] -> [batch, units]``.

    A 4-D input is flattened first, as the slides' ``reshape`` before ``fc1``.
    """
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        if x.shape.rank == 4:
            x = flatten(x)
        _check_rank(x, 2, layer, "[batch, units]")
        in_units = _known_channels(x, layer)
        shape = [in_units, units]
        w = _get_or_check("weights", shape, layer,
                          lambda: weight("weights", shape, stddev=stddev, wd=wd))
        y = tf.matmul(x, w) + bias("biases", [units], bias_value)
        if activation is not None:
            y = activation(y)
        return tf.identity(y, name="output")


_DROPOUTS = "tfgraph_lessons_dropouts"   # graph collection: the dropouts built on a tensor flag
_DROPOUT_SEEDS = 2 ** 30                  # op seeds of the second and later of them


def dropout(x, keep_prob=0.5, is_training=None, name="dropout"):
    """Dropout with the slides' ``keep_prob``.

    Args:
      x: any tensor.
      keep_prob: a float or a scalar tensor (a fed placeholder, as on the slides).
      is_training: None to always drop with ``keep_prob``; a Python bool or a
        boolean tensor to drop only while training and pass ``x`` through otherwise.
    """
    with tf.name_scope(name):
        if is_training is None:
            return tf.nn.dropout(x, rate=1.0 - keep_prob)
        if isinstance(is_training, bool):
            return tf.nn.dropout(x, rate=1.0 - keep_prob) if is_training else tf.identity(x)
        # In a graph with a seed, TensorFlow counts op seeds per graph and each tf.cond
        # branch is a graph of its own, so every dropout built here would get op seed 0
        # and draw the same mask as the others. The k-th one (k >= 1) in a graph takes op
        # seed 2**30 + k instead (far from the outer graph's own count); the first keeps
        # TensorFlow's, so the runs of one-dropout networks made before this fix reproduce.
        built = tf1.get_collection_ref(_DROPOUTS)
        seeded = built and tf1.get_default_graph().seed is not None
        seed = _DROPOUT_SEEDS + len(built) if seeded else None
        built.append(x)
        return tf.cond(is_training,
                       lambda: tf.nn.dropout(x, rate=1.0 - keep_prob, seed=seed),
                       lambda: tf.identity(x))


def lrn(x, depth_radius=2, bias_value=2.0, alpha=1e-4, beta=0.75, name="lrn"):
    """Local response normalisation, AlexNet section 3.3 (k=2, n=5, alpha=1e-4, beta=0.75).

    ``tf.nn.lrn`` sums squares over ``2 * depth_radius + 1`` channels and does not
    divide alpha by n, so AlexNet's n=5 is ``depth_radius=2`` with alpha as printed.
    """
    _check_rank(x, 4, name, "[batch, height, width, channels]")
    return tf.nn.lrn(x, depth_radius=depth_radius, bias=bias_value, alpha=alpha, beta=beta,
                     name=name)


def batch_norm(x, is_training, decay=0.9, epsilon=1e-3, scope="bn", fused=False):
    """Batch normalisation (Ioffe & Szegedy 2015) over all axes but the last.

    In training the batch's mean and variance normalise ``x``, and computing the
    output also updates the moving averages (the updates are control
    dependencies of the batch statistics, so no ``UPDATE_OPS`` bookkeeping is
    needed); in inference the moving averages are used.

    Args:
      x: ``[batch, ..., channels]`` (2-D or 4-D).
      is_training: Python bool or boolean scalar tensor.
      fused: for a 4-D ``x``, one ``FusedBatchNorm`` kernel instead of the ops
        ``tf.nn.moments`` and ``tf.nn.batch_normalization`` spell out (the same
        numbers up to rounding; faster, the more so on a CPU with oneDNN). Its batch
        variance for the moving average is the unbiased one (divided by n - 1).
    """
    with tf1.variable_scope(scope) as sc:
        layer = sc.name
        if x.shape.rank not in (2, 4):
            raise ValueError(f"[{layer}] expects a 2-D or 4-D tensor, got shape {x.shape}")
        channels = _known_channels(x, layer)
        axes = list(range(x.shape.rank - 1))
        beta = tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [channels], initializer=tf1.ones_initializer())
        moving_mean = tf1.get_variable("moving_mean", [channels], trainable=False,
                                       initializer=tf1.zeros_initializer())
        moving_var = tf1.get_variable("moving_variance", [channels], trainable=False,
                                      initializer=tf1.ones_initializer())

        if fused and x.shape.rank == 4:
            return _fused_batch_norm(x, is_training, gamma, beta, moving_mean, moving_var,
                                     decay, epsilon)

        def train_branch():
            mean, var = tf.nn.moments(x, axes)
            upd_mean = tf1.assign_sub(moving_mean, (1 - decay) * (moving_mean - mean))
            upd_var = tf1.assign_sub(moving_var, (1 - decay) * (moving_var - var))
            with tf.control_dependencies([upd_mean, upd_var]):
                return tf.identity(mean), tf.identity(var)

        if isinstance(is_training, bool):
            mean, var = train_branch() if is_training else (moving_mean, moving_var)
        else:
            mean, var = tf.cond(is_training, train_branch,
                                lambda: (tf.identity(moving_mean), tf.identity(moving_var)))
        y = tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon)
        return tf.identity(y, name="output")


def _fused_batch_norm(x, is_training, gamma, beta, moving_mean, moving_var, decay, epsilon):
    """:func:`batch_norm` with the fused kernel (training and inference branches)."""
    def train_branch():
        y, mean, var = tf1.nn.fused_batch_norm(x, gamma, beta, epsilon=epsilon,
                                               is_training=True)
        upd_mean = tf1.assign_sub(moving_mean, (1 - decay) * (moving_mean - mean))
        upd_var = tf1.assign_sub(moving_var, (1 - decay) * (moving_var - var))
        with tf.control_dependencies([upd_mean, upd_var]):
            return tf.identity(y)

    def infer_branch():
        y, _, _ = tf1.nn.fused_batch_norm(x, gamma, beta, moving_mean, moving_var,
                                          epsilon=epsilon, is_training=False)
        return y

    if isinstance(is_training, bool):
        y = train_branch() if is_training else infer_branch()
    else:
        y = tf.cond(is_training, train_branch, infer_branch)
    return tf.identity(y, name="output")


# --------------------------------------------------------------------------- losses


def softmax_cross_entropy(labels, logits, label_smoothing=0.0, name="cross_entropy"):
    """Mean softmax cross-entropy of integer ``labels`` ``[batch]`` and ``logits``
    ``[batch, classes]``, with label smoothing (Inception v3, Szegedy et al. 2016,
    arXiv:1512.00567, section 7).

    With ``label_smoothing = e`` the target is ``(1 - e)`` on the true class plus
    ``e / classes`` on every class, so the network is not pushed towards infinitely
    large logits (Inception v3 uses ``e = 0.1``). ``e = 0`` is the plain loss.
    """
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(f"[{name}] label_smoothing must be in [0, 1), got {label_smoothing}")
    _check_rank(logits, 2, name, "of logits [batch, classes]")
    classes = _known_channels(logits, name)
    with tf.name_scope(name):
        if not label_smoothing:
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits))
        targets = tf.one_hot(labels, classes, dtype=logits.dtype)
        targets = targets * (1.0 - label_smoothing) + label_smoothing / classes
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            labels=targets, logits=logits))
