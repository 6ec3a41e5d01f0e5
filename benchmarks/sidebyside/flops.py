"""The work of one training step, counted from the network's shapes, and the machine's
float32 matrix-multiply peak it is compared with.

FLOPs are counted as the papers count multiply-adds, then doubled (one multiply
and one add are two floating-point operations): convolutions, matrix products and
the LSTM's gate products only; biases, batch norm, pooling, activations and the
optimiser's update are left out (together a few per cent of a convolution
network's work). Training costs about three forward passes: the forward pass,
the gradient with respect to the activations and the one with respect to the
weights, each the size of the forward product (Kaplan et al. 2020,
arXiv:2001.08361, section 2.1).

Per example, forward (``out`` = output height x width, SAME padding:
``ceil(in / stride)``)::

    convolution   out_h * out_w * k_h * k_w * c_in * c_out    multiply-adds
    dense         in * out
    LSTM          T * 4 * units * (features + units)          (x_t and h_{t-1} -> 4 gates)

The slides' CNN on a 32x32x3 image: 4,214,784 + 11,468,800 + 4,194,304 + 10,240
= 19,888,128 multiply-adds, 39.8 MFLOP forward, 119.3 MFLOP per trained image.
"""
import math
import time
from typing import NamedTuple

TRAIN_PER_FORWARD = 3   # forward + backward to activations + backward to weights
NETWORKS = ("slide_cnn", "resnet20", "lstm")


class Layer(NamedTuple):
    """One row of a network's cost table."""

    name: str
    macs: int      # multiply-adds per example, forward
    params: int    # trainable parameters


def _conv(name, out_hw, k, c_in, c_out, bias):
    h, w = out_hw
    return Layer(name, h * w * k * k * c_in * c_out, k * k * c_in * c_out + (c_out if bias else 0))


def _same(size, stride):
    """A SAME-padded map's side after ``stride`` (convolution or 2x2 pooling)."""
    return math.ceil(size / stride)


def _slide_cnn_layers(input_shape, num_classes, fc_units=1024):
    """``tfgraph_lessons.nets.slide_cnn``: 7x7x28 conv, pool, 5x5x64 conv, pool, fc, fc."""
    h, w, c = input_shape
    h2, w2 = _same(h, 2), _same(w, 2)
    h4, w4 = _same(h2, 2), _same(w2, 2)
    flat = h4 * w4 * 64
    return [_conv("conv1", (h, w), 7, c, 28, bias=True),
            _conv("conv2", (h2, w2), 5, 28, 64, bias=True),
            Layer("fc1", flat * fc_units, flat * fc_units + fc_units),
            Layer("logits", fc_units * num_classes, fc_units * num_classes + num_classes)]


def _resnet_cifar_layers(input_shape, num_classes, n=3, filters=(16, 32, 64)):
    """``tfgraph_lessons.nets.resnet`` (He et al. 2015, section 4.2): a 3x3 conv, three
    stages of ``n`` two-conv blocks, option-A shortcuts (no parameters), BN after
    every conv (gamma and beta: 2 parameters per channel), global pooling, fc."""
    h, w, c = input_shape
    layers = [_conv("conv1", (h, w), 3, c, filters[0], bias=False),
              Layer("conv1/bn", 0, 2 * filters[0])]
    c_in = filters[0]
    for s, width in enumerate(filters):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            h, w = _same(h, stride), _same(w, stride)
            for part, cin in (("a", c_in), ("b", width)):
                name = f"stage{s + 1}/block{b + 1}/{part}"
                layers += [_conv(name, (h, w), 3, cin, width, bias=False),
                           Layer(f"{name}/bn", 0, 2 * width)]
            c_in = width
    layers.append(Layer("logits", c_in * num_classes, c_in * num_classes + num_classes))
    return layers


def _lstm_layers(input_shape, num_classes, units=128):
    """``tfgraph_lessons.rnn_mnist``'s network: one LSTM reads ``T`` steps of ``F``
    features; the softmax layer reads the last step's ``h_T``."""
    steps, features = input_shape
    gates = 4 * units
    return [Layer("lstm", steps * gates * (features + units), gates * (features + units) + gates),
            Layer("logits", units * num_classes, units * num_classes + num_classes)]


_TABLES = {"slide_cnn": _slide_cnn_layers, "resnet20": _resnet_cifar_layers,
           "lstm": _lstm_layers}


def count_flops(network, input_shape, num_classes):
    """The cost of one example through ``network``, counted from its layer shapes.

    Args:
      network: ``'slide_cnn'``, ``'resnet20'`` or ``'lstm'``.
      input_shape: ``(height, width, channels)`` of an image; ``(time, features)``
        of a sequence for the LSTM.
      num_classes: width of the logits.
    Returns:
      ``{'forward_flops', 'train_flops', 'params', 'layers'}``: FLOPs per example of
      a forward pass (2 x multiply-adds) and of a training step (3 x forward),
      the trainable parameters, and the :class:`Layer` rows they were summed from.
    """
    if network not in _TABLES:
        raise ValueError(f"no cost table for {network!r}; known: {', '.join(_TABLES)}")
    layers = _TABLES[network](tuple(int(d) for d in input_shape), int(num_classes))
    forward = 2 * sum(layer.macs for layer in layers)
    return {"forward_flops": forward, "train_flops": TRAIN_PER_FORWARD * forward,
            "params": sum(layer.params for layer in layers), "layers": layers}


def matmul_peak(threads, n=2048, repeats=5):
    """This machine's float32 matrix-multiply speed in FLOP/s: the best of ``repeats``
    TensorFlow products of two ``n x n`` matrices (``2 n^3`` FLOPs each), after one
    untimed product, on ``threads`` intra-op threads.

    Call it in a fresh process: TensorFlow's thread pools are sized once per process.
    """
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.standard_normal((n, n), dtype=np.float32)) for _ in range(2))
    tf.linalg.matmul(a, b).numpy()                       # allocator, oneDNN primitive
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b)                           # eager on the CPU: done on return
        best = min(best, time.perf_counter() - start)
    return {"flops_per_second": 2 * n ** 3 / best, "n": n, "repeats": repeats,
            "best_seconds": best}
