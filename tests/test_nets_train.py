"""A few training steps of every CIFAR-size network lower its loss on real CIFAR-10 images.

The issue's check "a few training steps of each CIFAR-size network lower the
loss on real CIFAR-10 images": for every network in ``nets.names(cifar=True)``
(read when the tests are collected, so a newly registered network is checked
without editing this file), one fixed batch of real CIFAR-10 training images,
standardised with the training set's channel statistics, a few Adam steps on
that batch, and the cross-entropy on the same batch before and after.

The network is trained as it is meant to be (``is_training=True``: its own
dropout, batch norm with batch statistics, FractalNet's drop-path), so its
loss is random. To compare like with like, "before" and "after" are each the
first run of a fresh Session, in which every random op starts its sequence
again: both see the same dropout masks and drop-path draws, and with a
learning rate of 0 the two numbers are equal to the last bit
(:func:`test_the_comparison_is_exact_when_nothing_is_learned`).

Uses ``../shared/data`` (skipped without it).
"""
import os

import numpy as np
import pytest

from tfgraph_lessons import nets
from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.data import datasets, preprocess

BATCH, STEPS, LR = 32, 5, 1e-3   # Adam at its usual rate; a fixed batch is learned fast
MIN_DROP = 0.10                  # the loss after must be at least 10% below the loss before

# (batch, steps) where the default does not fit. NIN has no batch norm and drops half
# its units in training: more, smaller steps (5 steps of 32 lower its loss only 5%).
# Networks whose training graph takes long to build (the Python side of ~20,000 ops,
# about 1 ms each) train on a smaller batch for fewer steps. Seconds measured on two
# CPU cores for the whole case with 32 images and 5 steps: resnet110 31,
# preact_resnet110 34, preact_resnet164 55; with 8 images and 3 steps: 23, 21, 31.
SETTINGS = {"nin_cifar": (16, 10),
            **{name: (8, 3) for name in ("resnet110", "resnet164", "preact_resnet110",
                                         "preact_resnet164", "preact_resnet1001",
                                         "fractalnet20", "fractalnet")}}

# Run only with TFGRAPH_HEAVY_TESTS=1 (each passed when run so).
HEAVY = {
    "preact_resnet1001": "ResNet-1001: 230 s on two cores even with 8 images and 3 steps (most "
                         "of it building the 1001-layer training graph); its builder and block "
                         "table are checked here through preact_resnet110 and preact_resnet164",
    "fractalnet": "FractalNet-40 (76M parameters): 31 s on two cores with 8 images and 3 "
                  "steps; the same builder and expansion rule are checked here through "
                  "fractalnet20",
}
RUN_HEAVY = os.environ.get("TFGRAPH_HEAVY_TESTS", "").lower() in ("1", "true", "yes", "on")

# grappler's rewrites of a graph this size cost more than the few steps they would speed
# up (resnet110's case: 36 s with them, 21 s without)
SESSION_CONFIG = tf1.ConfigProto()
SESSION_CONFIG.graph_options.rewrite_options.disable_meta_optimizer = True


def cases():
    for name in nets.names(cifar=True):
        marks = []
        if name in HEAVY and not RUN_HEAVY:
            marks.append(pytest.mark.skip(reason=HEAVY[name] + " (TFGRAPH_HEAVY_TESTS=1 runs it)"))
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def cifar_batch(cifar10_root):
    """The first 32 CIFAR-10 training images, standardised per channel with the statistics
    of the whole training set (as ``cnn_cifar`` does), and their labels."""
    images, labels = datasets.load_split("cifar10", "train", cifar10_root)
    mean, std = preprocess.channel_stats(images)
    return preprocess.standardize(images[:BATCH], mean, std), labels[:BATCH]   # [32, 32, 32, 3]


def loss_before_and_after(name, images, labels, lr, steps):
    """The cross-entropy of ``images`` before and after ``steps`` Adam steps on them.

    Each is the first run of its own Session, so random ops (dropout, drop-path)
    draw the same numbers for both.
    """
    with new_graph(seed=0):
        x = tf1.placeholder(tf.float32, [None, 32, 32, 3], name="images")
        y = tf1.placeholder(tf.int64, [None], name="labels")
        logits, _ = nets.get(name)(x, 10, True)                  # training mode
        loss = L.softmax_cross_entropy(y, logits)
        train_op = tf1.train.AdamOptimizer(lr).minimize(loss)
        variables = tf1.global_variables()
        feed = {x: images, y: labels}
        with tf1.Session(config=SESSION_CONFIG) as sess:
            sess.run(tf1.global_variables_initializer())
            before = sess.run(loss, feed)
            for _ in range(steps):
                sess.run(train_op, feed)
            trained = sess.run(variables)
        with tf1.Session(config=SESSION_CONFIG) as sess:            # random ops start again
            sess.run([v.initializer for v in variables],
                     {v.initializer.inputs[1]: value for v, value in zip(variables, trained)})
            after = sess.run(loss, feed)
    return float(before), float(after)


@pytest.mark.parametrize("name", cases())
def test_a_few_steps_lower_the_loss_on_real_cifar10(name, cifar_batch):
    batch, steps = SETTINGS.get(name, (BATCH, STEPS))
    images, labels = cifar_batch[0][:batch], cifar_batch[1][:batch]
    before, after = loss_before_and_after(name, images, labels, LR, steps)
    assert np.isfinite(before) and np.isfinite(after), (before, after)
    assert after < (1 - MIN_DROP) * before, (
        f"{name}: cross-entropy of {batch} CIFAR-10 images {before:.3f} before and "
        f"{after:.3f} after {steps} Adam steps (lr {LR})")


def test_the_comparison_is_exact_when_nothing_is_learned(cifar_batch):
    # slide_cnn drops half its fully connected units in training: with lr 0 the loss
    # before and after is still the same number, so a drop above is learning, not noise
    before, after = loss_before_and_after("slide_cnn", *cifar_batch, lr=0.0, steps=3)
    assert before == after
