"""Two small networks of the chapter: the slide's ReLU question, and overfitting vs dropout.

**"Could you divide two sorted sectors using just one line?"** Points of a disc
labelled by the sector they fall in. Two classes that are the two halves of
the disc: yes, one line (a linear classifier, ``softmax(x W + b)``) separates
them. Alternating sectors (``sectors=6``: three of each class): no line does; a
linear classifier stays near chance. One hidden layer of ReLUs changes that:
each unit ``max(0, w_j . x + b_j)`` is zero on one side of its own line and
grows on the other, so the hidden layer folds the plane along a few lines, and
in that new space the output layer (still linear) separates the classes. The
network is built from the library's graph layers and trained in a Session:
:func:`fit_sector_classifier`, :func:`relu_question`.

**Overfitting and dropout** [1]. A network with far more weights than training
examples (two hidden layers of 256 ReLUs, about 85,000 weights, on 100 of the
8x8 digits) learns its training set by heart: training accuracy reaches 100%
while test accuracy stops well short. Dropout (``keep_prob`` 0.5, the slides')
zeroes each hidden unit with probability 0.5 in every training step and scales
the others by 2, so no unit can rely on another; at test time nothing is
dropped. :func:`overfitting_demo` trains both in mini-batches, evaluates
training and test sets in inference mode along the way, and reports the gap
(training minus test accuracy) of each, with a verdict computed from the gaps
(:func:`tfgraph_lessons.cnn_cifar.overfitting_verdict`).

[1] N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov.
    "Dropout: A Simple Way to Prevent Neural Networks from Overfitting." JMLR 15, 2014.
"""
import contextlib

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.core.layers import dropout, fully_connected, is_training_flag
from tfgraph_lessons.data import datasets, preprocess

GRID = 121          # the decision boundary is drawn from a GRID x GRID evaluation
GRID_EXTENT = 1.1   # ... over [-1.1, 1.1]^2 (the points fill the unit disc)


# --------------------------------------------------------------------------- the ReLU question


def sector_points(n, sectors, seed=0):
    """``n`` points spread evenly over the unit disc, labelled by sector.

    Args:
      n: number of points.
      sectors: the disc is cut into this many equal sectors, labelled 0, 1, 0, 1, ...
        counter-clockwise from the positive x axis: 2 gives the upper (0) and lower (1)
        half; 4 is XOR's four quadrants.
      seed: seed of the points.
    Returns:
      ``(X float32 [n, 2], y int64 [n])``.
    """
    if sectors < 2 or sectors % 2:
        raise UsageError(f"[sector_points] sectors must be an even number >= 2, got {sectors}")
    rng = np.random.default_rng(seed)
    radius = np.sqrt(rng.random(n))          # sqrt: even over the area, not crowded at the centre
    angle = rng.random(n) * 2 * np.pi
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    y = np.floor(angle / (2 * np.pi / sectors)).astype(np.int64) % 2
    return X, y


def grid_points(size=GRID, extent=GRID_EXTENT):
    """The ``size * size`` points ``[x, y]`` of a regular grid over ``[-extent, extent]^2``,
    row by row from the bottom (``y`` grows with the row)."""
    axis = np.linspace(-extent, extent, size, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def build_sector_classifier(hidden, lr):
    """The graph: ``x_ [None, 2]`` -> (``hidden`` ReLUs) -> 2 logits, Adam on the cross-entropy.

    ``hidden=0`` is the linear classifier (logistic regression: one line, ``x W + b``).
    Returns a dict of named tensors.
    """
    x_ = tf1.placeholder(tf.float32, [None, 2], name="x_")
    y_ = tf1.placeholder(tf.int64, [None], name="y_")
    net = x_
    if hidden:
        net = fully_connected(x_, hidden, activation=tf.nn.relu, scope="hidden")  # [b, hidden]
    logits = fully_connected(net, 2, activation=None, scope="output")               # [b, 2]
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y_), tf.float32))
    return {"images": x_, "labels": y_, "logits": logits, "loss": loss, "accuracy": accuracy,
            "probability": tf.nn.softmax(logits)[:, 1],
            "train_op": tf1.train.AdamOptimizer(lr).minimize(loss)}


def fit_sector_classifier(train, test, hidden=0, steps=500, lr=0.05, seed=0, device=None,
                          config=None):
    """Train a linear (``hidden=0``) or one-hidden-ReLU-layer classifier on 2-D points.

    Args:
      train, test: ``(X [n, 2], y [n])`` each.
      hidden: ReLU units of the hidden layer (0: none, a linear classifier).
      steps: full-batch Adam steps.
      lr: Adam's learning rate.
      seed: the graph seed (initial weights).
      device: a ``tf.device`` string, or None.
      config: a ``tf1.ConfigProto`` for the Session.
    Returns:
      dict: ``train_accuracy``, ``test_accuracy``, ``final_loss``, ``grid`` (the
      probability of class 1 on :func:`grid_points`, ``[GRID, GRID]``) and, with a
      hidden layer, ``hidden_weights [2, hidden]`` and ``hidden_biases [hidden]``
      (unit j is active where ``x . w_j + b_j > 0``).
    """
    with new_graph(seed=seed) as graph:
        with tf.device(device) if device else contextlib.nullcontext():
            model = build_sector_classifier(hidden, lr)
        feed = {model["images"]: train[0], model["labels"]: train[1]}
        with tf1.Session(graph=graph, config=config) as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(steps):
                sess.run(model["train_op"], feed)
            result = {"train_accuracy": float(sess.run(model["accuracy"], feed)),
                      "test_accuracy": float(sess.run(model["accuracy"], {
                          model["images"]: test[0], model["labels"]: test[1]})),
                      "final_loss": float(sess.run(model["loss"], feed)),
                      "grid": sess.run(model["probability"],
                                       {model["images"]: grid_points()}).reshape(GRID, GRID)}
            if hidden:
                weights = {v.op.name: v for v in tf1.trainable_variables()}
                result["hidden_weights"], result["hidden_biases"] = sess.run(
                    [weights["hidden/weights"], weights["hidden/biases"]])
    return result


def relu_question(sectors=6, units=16, steps=500, lr=0.05, points=600, test_points=2000,
                  seed=0, device=None, config=None):
    """The slide's question answered three times on held-out points.

    Returns:
      ``{'halves': ..., 'linear': ..., 'relu': ...}``, each :func:`fit_sector_classifier`'s
      result plus ``sectors``, ``hidden_units`` and the data (``train``, ``test``):
      a line on the two halves, a line on ``sectors`` alternating sectors, and one
      hidden layer of ``units`` ReLUs on the same sectors.
    """
    runs = {"halves": (2, 0), "linear": (sectors, 0), "relu": (sectors, units)}
    results = {}
    for name, (k, hidden) in runs.items():
        train = sector_points(points, k, seed=seed)
        test = sector_points(test_points, k, seed=seed + 1)   # other points, never trained on
        results[name] = {**fit_sector_classifier(train, test, hidden, steps, lr, seed, device,
                                                 config),
                         "sectors": k, "hidden_units": hidden, "train": train, "test": test}
    return results


# ----------------------------------------------------------------------- overfitting and dropout

ARMS = {"no_dropout": 1.0, "dropout": None}   # keep_prob of each arm (None: the config's)


def digits_subset(train_size, seed=0):
    """``train_size`` training digits (the same share of every class) and the whole test
    split, as min-max normalised vectors: pixels ``/ 255`` -> [0, 1], ``[N, 64]``.

    Returns:
      ``((X_train, y_train), (X_test, y_test))``.
    """
    ds = datasets.load("digits")
    n = len(ds.train_labels)
    if not 10 <= train_size < n:
        raise UsageError(f"train_size must be in 10..{n - 1} (the digits' training split), "
                         f"got {train_size}")
    # split()'s held-out part is a stratified sample of exactly train_size digits
    _, (images, labels) = preprocess.split(ds.train_images, ds.train_labels, train_size / n,
                                           seed=seed)

    def vectors(x):   # the pixel range is known (0..255), so it is the min-max of the data type
        return preprocess.min_max(x, lo=0, hi=255).reshape(len(x), -1)

    return (vectors(images), labels), (vectors(ds.test_images), ds.test_labels)


def build_mlp(num_inputs, num_classes, hidden, keep_prob, stddev, lr):
    """``images [None, num_inputs]`` -> two ReLU layers of ``hidden`` (dropout after each
    when ``keep_prob < 1``) -> logits; Adam on the cross-entropy.

    Returns:
      dict of named tensors: images, labels, is_training (feed True in training
      steps: dropout is on only then), logits, loss, accuracy, train_op.
    """
    images = tf1.placeholder(tf.float32, [None, num_inputs], name="images")
    labels = tf1.placeholder(tf.int64, [None], name="labels")
    is_training = is_training_flag()
    net = images
    for k in (1, 2):
        net = fully_connected(net, hidden, stddev=stddev, scope=f"fc{k}")   # [b, hidden]
        if keep_prob < 1:
            net = dropout(net, keep_prob, is_training, name=f"dropout{k}")
    logits = fully_connected(net, num_classes, activation=None, stddev=stddev, scope="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                         logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    return {"images": images, "labels": labels, "is_training": is_training, "logits": logits,
            "loss": loss, "accuracy": accuracy,
            "train_op": tf1.train.AdamOptimizer(lr).minimize(loss)}


def _evaluate(sess, model, train, test, step, steps_per_epoch):
    """One history entry: loss and accuracy of both sets in inference mode (no dropout)."""
    entry = {"epoch": round(step / steps_per_epoch, 3), "step": step}
    for name, (X, y) in (("train_eval", train), ("test", test)):
        loss, acc = sess.run([model["loss"], model["accuracy"]],
                             {model["images"]: X, model["labels"]: y})
        entry[f"{name}_loss"], entry[f"{name}_accuracy"] = float(loss), float(acc)
    return entry


def train_arm(train, test, keep_prob, total_steps, batch_size, hidden=256, stddev=0.3,
              lr=1e-3, seed=0, evaluations=20, device=None, config=None):
    """Train one network in mini-batches, epoch after epoch, for ``total_steps`` steps.

    Each epoch visits the training set in a new order (:func:`preprocess.batches`
    seeded with ``[seed, epoch]``); the last batch of an epoch may be smaller.

    Returns:
      ``(history, parameters)``: one entry per evaluation (at step 0, then every
      ``total_steps // evaluations`` steps and at the end) with ``epoch``, ``step``,
      ``train_eval_*`` and ``test_*`` loss and accuracy; the number of weights.
    """
    X, y = train
    spe = preprocess.num_batches(len(X), batch_size)
    every = max(1, total_steps // evaluations)
    with new_graph(seed=seed) as graph:
        with tf.device(device) if device else contextlib.nullcontext():
            model = build_mlp(X.shape[1], 10, hidden, keep_prob, stddev, lr)
        parameters = int(sum(np.prod(v.shape.as_list()) for v in tf1.trainable_variables()))
        with tf1.Session(graph=graph, config=config) as sess:
            sess.run(tf1.global_variables_initializer())
            history, step, epoch = [_evaluate(sess, model, train, test, 0, spe)], 0, 0
            while step < total_steps:
                rng = np.random.default_rng([seed, epoch])
                for xb, yb in preprocess.batches(X, y, batch_size, rng=rng):
                    sess.run(model["train_op"], {model["images"]: xb, model["labels"]: yb,
                                                 model["is_training"]: True})
                    step += 1
                    if step % every == 0 or step == total_steps:
                        history.append(_evaluate(sess, model, train, test, step, spe))
                    if step == total_steps:
                        break
                epoch += 1
    return history, parameters


def overfitting_demo(train_size=100, epochs=300, steps=None, batch_size=20, keep_prob=0.5,
                     hidden=256, stddev=0.3, lr=1e-3, seed=0, device=None, config=None):
    """The same network trained twice on ``train_size`` digits: without and with dropout.

    Args:
      train_size: training digits (stratified); the test set is the digits' whole test split.
      epochs, steps: the length (``steps`` wins when given).
      batch_size, hidden, stddev, lr, seed: see :func:`train_arm`.
      keep_prob: the dropout arm's keep probability.
    Returns:
      dict: ``arms`` (per arm: ``keep_prob``, ``train_accuracy``, ``test_accuracy``,
      ``test_loss``, ``gap`` = train - test accuracy, all in inference mode, and the
      ``best_test_accuracy`` along the way), ``history`` per arm, ``train_examples``,
      ``test_examples``, ``parameters``, ``steps``, ``epochs``, and
      ``shows_overfitting``, ``regularization_narrows_gap``, ``verdict``.
    """
    from tfgraph_lessons.cnn_cifar import overfitting_verdict

    train, test = digits_subset(train_size, seed)
    spe = preprocess.num_batches(train_size, batch_size)
    total = steps if steps is not None else epochs * spe
    arms, histories = {}, {}
    for arm, keep in ARMS.items():
        keep = keep_prob if keep is None else keep
        history, parameters = train_arm(train, test, keep, total, batch_size, hidden, stddev,
                                        lr, seed, device=device, config=config)
        last = history[-1]
        arms[arm] = {"keep_prob": keep, "train_accuracy": last["train_eval_accuracy"],
                     "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
                     "gap": last["train_eval_accuracy"] - last["test_accuracy"],
                     "best_test_accuracy": max(h["test_accuracy"] for h in history)}
        histories[arm] = history
    result = {"arms": arms, "history": histories, "train_examples": len(train[1]),
              "test_examples": len(test[1]), "parameters": parameters, "steps": total,
              "epochs": round(total / spe, 3)}
    result.update(overfitting_verdict(arms["no_dropout"]["gap"], arms["dropout"]["gap"]))
    return result
