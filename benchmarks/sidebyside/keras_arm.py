"""The Keras 3 arm (TensorFlow backend): the same networks as ``keras.Model`` s, trained by
``model.fit``, fed by ``tf.data`` as the Keras guides feed it.

Same layers, initialisers and losses as the lesson's graphs: truncated normal
kernels with the lesson's standard deviations, biases 0.1 (the slide CNN) or
none before a batch norm (ResNet-20, option-A shortcuts, batch norm with
momentum 0.9 and epsilon 1e-3), the lesson's L2 weight decay on every kernel
(``wd * l2_loss(w)`` is ``L2(wd / 2)`` in Keras, which leaves out the 1/2),
the lesson's optimiser (SGD with momentum 0.9 by default) on its step schedule
(its cost is the same whatever the schedule's shape); the LSTM with Glorot and
orthogonal kernels, a forget-gate bias of 1, Adam on a cosine schedule and
clipping by the global norm. The uint8 batches are standardised inside the
model, as in the lesson's graph.

Augmentation in the input pipeline, per image, as the lesson does it: zero
padding then a random crop and a random flip (``tf.image`` in a parallel
``map`` before batching: Keras's own ``RandomCrop`` layer would crop a whole
batch at one offset and resize it); the LSTM's random rotation, zoom and shift
as one bilinear affine warp of each image (the op Keras's ``RandomRotation``
runs), after batching. ``tf.data`` runs on the process's ``threads`` too.

``jit_compile`` is left at Keras's default (``'auto'``: XLA when every layer
supports it); the result records what it resolved to.
"""
import math

import numpy as np

from sidebyside.child import StepClock, timed


def _standardize(keras, x, net):
    if net["kind"] == "rnn":
        return keras.ops.cast(x, "float32") / 255.0
    mean = np.array(net["mean"], np.float32)
    std = np.array(net["std"], np.float32)
    return (keras.ops.cast(x, "float32") - mean) / std


def _conv(keras, filters, k, stride, stddev, wd, bias, activation=None):
    L = keras.layers
    return L.Conv2D(filters, k, strides=stride, padding="same", activation=activation,
                    use_bias=bias,
                    kernel_initializer=keras.initializers.TruncatedNormal(stddev=stddev),
                    bias_initializer=keras.initializers.Constant(0.1),
                    kernel_regularizer=keras.regularizers.L2(wd / 2) if wd else None)


def slide_cnn(keras, x, net):
    """conv 7x7x28, pool, conv 5x5x64, pool, fc 1024, dropout, fc (``nets.slide_cnn``)."""
    L, s, wd = keras.layers, net["settings"], net["settings"]["weight_decay"]
    x = _conv(keras, 28, 7, 1, 0.1, wd, True, "relu")(x)
    x = L.MaxPooling2D(2, padding="same")(x)
    x = _conv(keras, 64, 5, 1, math.sqrt(2 / (5 * 5 * 28)), wd, True, "relu")(x)
    x = L.MaxPooling2D(2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(1024, "relu",
                kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=math.sqrt(2 / x.shape[-1])),
                bias_initializer=keras.initializers.Constant(0.1),
                kernel_regularizer=keras.regularizers.L2(wd / 2) if wd else None)(x)
    if s["dropout"] and s["keep_prob"] < 1:
        x = L.Dropout(1 - s["keep_prob"])(x)
    return L.Dense(net["num_classes"],
                   kernel_initializer=keras.initializers.TruncatedNormal(
                       stddev=1 / math.sqrt(1024)),
                   bias_initializer=keras.initializers.Constant(0.1),
                   kernel_regularizer=keras.regularizers.L2(wd / 2) if wd else None)(x)


def resnet20(keras, x, net, n=3):
    """ResNet-20 of He et al. 2015 (``nets.resnet.resnet20``): conv-BN-ReLU, three stages
    of ``n`` basic blocks with option-A shortcuts, global pooling, fc."""
    L, ops, wd = keras.layers, keras.ops, net["settings"]["weight_decay"]

    def conv_bn(x, filters, stride, relu=True):
        fan_in = 9 * x.shape[-1]
        x = _conv(keras, filters, 3, stride, math.sqrt(2 / fan_in), wd, False)(x)
        x = L.BatchNormalization(momentum=0.9, epsilon=1e-3)(x)
        return L.ReLU()(x) if relu else x

    x = conv_bn(x, 16, 1)
    for s, filters in enumerate((16, 32, 64)):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            y = conv_bn(conv_bn(x, filters, stride), filters, 1, relu=False)
            if stride != 1:
                x = x[:, ::stride, ::stride, :]
            extra = filters - x.shape[-1]
            if extra:  # option A: the new channels are zeros
                x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
            x = L.ReLU()(L.Add()([y, x]))
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(net["num_classes"],
                   kernel_initializer=keras.initializers.TruncatedNormal(
                       stddev=1 / math.sqrt(x.shape[-1])),
                   kernel_regularizer=keras.regularizers.L2(wd / 2) if wd else None)(x)


def lstm(keras, x, net):
    """LSTM(units) over the rows, the softmax layer on the last step (``rnn_mnist``)."""
    L = keras.layers
    x = L.LSTM(net["settings"]["units"], unit_forget_bias=True)(x)  # h_T [b, units]
    return L.Dense(net["num_classes"], kernel_initializer="glorot_uniform")(x)


def build_model(keras, net):
    inputs = keras.Input(tuple(net["input_shape"]), dtype="uint8")
    body = {"slide_cnn": slide_cnn, "resnet20": resnet20, "lstm": lstm}[net["name"]]
    return keras.Model(inputs, body(keras, _standardize(keras, inputs, net), net))


def optimizer(keras, net, total_steps):
    """The lesson's optimiser and schedule over ``total_steps``."""
    s = net["settings"]
    if net["kind"] == "rnn":
        lr = keras.optimizers.schedules.CosineDecay(s["lr"], max(1, total_steps),
                                                    alpha=s["lr_floor"])
        return keras.optimizers.Adam(lr, global_clipnorm=s["clip_norm"])
    boundaries = sorted({max(1, int(f * total_steps)) for f in s["lr_drops"]})
    lr = keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, [s["lr"] * 0.1 ** i for i in range(len(boundaries) + 1)])
    if s["optimizer"] == "adam":
        return keras.optimizers.Adam(lr)
    return keras.optimizers.SGD(lr, momentum=s["momentum"], nesterov=s["optimizer"] == "nesterov")


def train_dataset(tf, images, labels, net, batch_size, seed, threads):
    """Shuffled, repeated, augmented batches of ``batch_size`` (the last partial one dropped,
    so the step never sees a second shape and is traced once)."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    if net["kind"] == "cnn" and net["settings"]["augment"]:
        pad, flip = net["augment"]["pad"], net["augment"]["flip"]

        def augment(x, y):
            x = tf.pad(x, [[pad, pad], [pad, pad], [0, 0]])
            x = tf.image.random_crop(x, tf.shape(x) - [2 * pad, 2 * pad, 0])
            return (tf.image.random_flip_left_right(x) if flip else x), y
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=True)
    if net["kind"] == "rnn":
        s = net["settings"]
        ds = ds.map(lambda x, y: (distort(tf, x, s["rotation"], s["scale"],
                                          net["augment"]["shift"]), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def distort(tf, images, rotation, scale, shift):
    """Each image of ``[b, H, W]`` uint8 turned by up to ``rotation`` degrees, zoomed by
    ``1 +- scale`` and moved by up to ``shift`` pixels about its centre (the draws of
    ``tfgraph_lessons.data.preprocess.distort``), then :func:`warp` ed."""
    n = tf.shape(images)[0]
    angle = tf.random.uniform([n], -rotation, rotation) * (math.pi / 180)
    zoom = tf.random.uniform([n], 1 - scale, 1 + scale)
    dy, dx = tf.random.uniform([n], -shift, shift), tf.random.uniform([n], -shift, shift)
    return warp(tf, images, angle, zoom, dy, dx)


def warp(tf, images, angle, zoom, dy, dx):
    """The affine map of ``preprocess.distort``: output pixel ``p`` reads the input at the
    inverse map of ``p`` (turn by ``angle`` radians, zoom, shift by ``(dy, dx)`` about the
    centre), bilinear, zeros outside; rounded back to uint8. ``images``: ``[b, H, W]``."""
    n, h, w = tf.shape(images)[0], images.shape[1], images.shape[2]
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # output (x, y) reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transforms = tf.stack([cos, sin, cx - cos * (cx + dx) - sin * (cy + dy),
                           -sin, cos, cy + sin * (cx + dx) - cos * (cy + dy),
                           tf.zeros([n]), tf.zeros([n])], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32)[..., None], transforms=tf.cast(transforms, tf.float32),
        output_shape=[h, w], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.cast(tf.clip_by_value(tf.round(out[..., 0]), 0, 255), tf.uint8)


def measure(spec, data):
    import tensorflow as tf

    threads, batch = spec["threads"], spec["batch_size"]
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    keras.utils.set_random_seed(spec["seed"])
    net, warmup, steps = spec["network"], spec["warmup_steps"], spec["steps"]
    total = warmup + steps
    model = build_model(keras, net)
    model.compile(optimizer=optimizer(keras, net, total),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    clock = StepClock(warmup, steps)
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch_index, logs: clock.step_done(batch_index + 1))
    ds = train_dataset(tf, data["train_images"], data["train_labels"].astype(np.int64), net,
                       batch, spec["seed"], threads)
    model.fit(ds, epochs=1, steps_per_epoch=total, callbacks=[callback], verbose=0)
    n = spec["eval_batches"] * batch
    x, y = data["test_images"], data["test_labels"].astype(np.int64)
    model.evaluate(x[:batch], y[:batch], batch_size=batch, verbose=0)  # traces the test step
    seconds, _ = timed(lambda: model.evaluate(x[:n], y[:n], batch_size=batch, verbose=0))
    return {"train_images_per_second": clock.images_per_second(batch),
            "eval_images_per_second": n / seconds,
            "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "jit_compile": bool(model.jit_compile)}
