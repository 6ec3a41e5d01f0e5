"""CNN chapter: train the slides' network on CIFAR-10 (the project's main job).

    python -m tfgraph_lessons.cnn_cifar [--dataset cifar10|cifar100|mnist|svhn|digits]
        [--model slide_cnn] [--no-dropout] [--no-augment] [shared lesson options]

The slides' scheme: ``x_ = placeholder([None, height, width, color_ch])``,
``y_`` for the labels, the network of :mod:`tfgraph_lessons.nets.slide_cnn`,
softmax cross-entropy, then mini-batch training in a Session
(:class:`tfgraph_lessons.core.runner.Trainer`), validated every epoch and
evaluated once on the test set.

Writes ``OUT/metrics.json``, ``OUT/logs/`` (TensorBoard) and ``OUT/checkpoints/``.
Taught in ``notebooks/04_cnn.ipynb``.
"""
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from tfgraph_lessons import data as datasets
from tfgraph_lessons import nets
from tfgraph_lessons.core import cli
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core.layers import weight_decay_loss
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.data import preprocess

LESSON = "cnn_cifar"
MIRROR_SAFE = {"cifar10", "cifar100"}  # data sets whose labels survive a horizontal flip


@dataclass
class CNNConfig:
    """Every setting of a run; ``metrics.json`` records all of them."""

    dataset: str = "cifar10"
    model: str = "slide_cnn"
    epochs: int = 10
    steps: int = None            # overrides epochs when set
    batch_size: int = 128
    optimizer: str = "momentum"  # momentum (SGD + Nesterov-free momentum 0.9) or adam
    lr: float = 0.01             # slides (AlexNet): SGD lr 0.01, dropped 10x on plateaus
    momentum: float = 0.9
    lr_drops: tuple = (0.5, 0.75)  # fractions of the run where lr is divided by 10
    weight_decay: float = 5e-4   # slides (AlexNet): 0.0005
    dropout: bool = True
    keep_prob: float = 0.5       # slides: dropout 0.5
    augment: bool = True         # random shifts (pad H/8, crop) + flips where labels allow
    val_size: int = 5000         # held out of the training set for validation
    train_limit: int = 0         # use only the first N training examples (0: all)
    test_limit: int = 0
    data_dir: str = None
    out: str = None
    device: str = "auto"
    seed: int = 0
    fast: bool = False
    resume: bool = False


def fast_config(config):
    """The smoke-sized version of ``config`` (``--fast``): a minute or less on two cores."""
    return dataclasses.replace(
        config, epochs=1 if config.steps is None else config.epochs, train_limit=2000,
        val_size=500, test_limit=1000, fast=True)


def build_graph(config, image_shape, num_classes, mean, std, train_steps):
    """Draw the lesson's graph.

    Args:
      config: a :class:`CNNConfig`.
      image_shape: ``(height, width, color_ch)`` of the data set.
      num_classes: number of labels.
      mean, std: per-channel statistics of the training images (0..255 scale),
        baked into the graph as constants so uint8 batches are fed as they are.
      train_steps: the run's total steps (for the learning-rate schedule).
    Returns:
      dict of named tensors: images, labels, is_training, logits, loss,
      accuracy, train_op, global_step, learning_rate, end_points.
    """
    height, width, color_ch = image_shape
    x_ = tf1.placeholder(tf.uint8, [None, height, width, color_ch], name="x_")  # raw pixels
    y_ = tf1.placeholder(tf.int64, [None], name="y_")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    with tf.name_scope("standardize"):
        images = (tf.cast(x_, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
            std, tf.float32)                                  # [b, H, W, C], mean 0, std 1
    builder = nets.get(config.model)
    keep_prob = config.keep_prob if config.dropout else 1.0
    logits, end_points = builder(images, num_classes, is_training, keep_prob=keep_prob,
                                 wd=config.weight_decay or None)
    with tf.name_scope("loss"):
        xent = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
        loss = xent + weight_decay_loss()
    with tf.name_scope("accuracy"):
        correct = tf.equal(tf.argmax(logits, 1), y_)
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    global_step = tf1.train.get_or_create_global_step()
    boundaries = [max(1, int(f * train_steps)) for f in config.lr_drops]
    boundaries = sorted(set(boundaries))
    values = [config.lr * 0.1 ** i for i in range(len(boundaries) + 1)]
    learning_rate = tf1.train.piecewise_constant(global_step, boundaries, values)
    if config.optimizer == "momentum":
        opt = tf1.train.MomentumOptimizer(learning_rate, config.momentum)
    elif config.optimizer == "adam":
        opt = tf1.train.AdamOptimizer(learning_rate)
    else:
        raise UsageError(f"unknown optimizer {config.optimizer!r}; use momentum or adam")
    train_op = opt.minimize(loss, global_step=global_step)
    tf1.summary.scalar("learning_rate", learning_rate)
    tf1.summary.image("inputs", x_, max_outputs=4)
    return {"images": x_, "labels": y_, "is_training": is_training, "logits": logits,
            "loss": loss, "cross_entropy": xent, "accuracy": accuracy,
            "train_op": train_op, "global_step": global_step,
            "learning_rate": learning_rate, "end_points": end_points}


def load_splits(config):
    """Load the data set and cut train / validation / test as the config says."""
    ds = datasets.load(config.dataset, config.data_dir)
    train_images, train_labels = ds.train_images, ds.train_labels
    if config.train_limit:
        train_images, train_labels = train_images[:config.train_limit], train_labels[
            :config.train_limit]
    val_fraction = min(config.val_size / len(train_images), 0.5) if config.val_size else 0.0
    if val_fraction:
        train, val = preprocess.split(train_images, train_labels, val_fraction, seed=config.seed)
    else:
        train, val = (train_images, train_labels), None
    test_images, test_labels = ds.test_images, ds.test_labels
    if config.test_limit:
        test_images, test_labels = test_images[:config.test_limit], test_labels[
            :config.test_limit]
    return ds, train, val, (test_images, test_labels)


def run(config):
    """Train and evaluate; returns the metrics dict (also written to ``OUT/metrics.json``)."""
    if config.fast:
        config = fast_config(config)
    if config.epochs is not None and config.epochs < 0:
        raise UsageError(f"--epochs must be >= 0, got {config.epochs}")
    out = Path(config.out or Path("runs") / LESSON)
    device = resolve_device(config.device)
    nets.get(config.model)  # unknown --model: fail before loading data
    ds, train, val, test = load_splits(config)
    mean, std = preprocess.channel_stats(train[0])
    n_steps = config.steps if config.steps is not None else config.epochs * max(
        1, len(train[0]) // config.batch_size)
    start = time.time()

    # Shift by up to 1/8 of the image (4 pixels on CIFAR's 32, 1 on the 8x8 digits);
    # mirror only natural images: a flipped digit is another symbol.
    pad = max(1, round(ds.image_shape[0] / 8))
    flip = config.dataset in MIRROR_SAFE

    def augment(images, labels, rng):
        return preprocess.augment(images, rng, crop_padding=pad, flip=flip), labels

    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model = build_graph(config, ds.image_shape, ds.num_classes, mean, std, n_steps)
        with Trainer(graph, model, out, resume=config.resume, seed=config.seed,
                     config=session_config()) as trainer:
            history = trainer.fit(
                train, val, epochs=None if config.steps is not None else config.epochs,
                steps=config.steps, batch_size=config.batch_size,
                batch_fn=augment if config.augment else None)
            test_metrics = trainer.evaluate(*test)
            ips = trainer.images_per_second
            steps = trainer.step
    last = history[-1] if history else {}
    metrics = {
        "lesson": LESSON,
        "dataset": config.dataset,
        "model": config.model,
        "test_accuracy": test_metrics.get("accuracy"),
        "test_loss": test_metrics["loss"],
        "val_accuracy": last.get("val_accuracy"),
        "train_accuracy": last.get("train_accuracy"),
        "images_per_second": ips,
        "wall_seconds": round(time.time() - start, 2),
        "device": device,
        "steps": steps,
        "epochs": len(history),
        "history": history,
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    print(f"{config.dataset} {config.model}: test accuracy {100 * metrics['test_accuracy']:.2f}%"
          f" ({len(test[0])} images), {metrics['wall_seconds']:.0f} s, "
          f"{ips or 0:.0f} images/s on {device}; wrote {out / 'metrics.json'}")
    return metrics


def main(argv=None):
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0])
    parser.add_argument("--dataset", default=CNNConfig.dataset,
                        help="cifar10, cifar100, mnist, svhn or digits (offline)")
    parser.add_argument("--model", default=CNNConfig.model, help="a network from the registry")
    parser.add_argument("--optimizer", default=CNNConfig.optimizer, choices=["momentum", "adam"])
    parser.add_argument("--lr", type=float, default=CNNConfig.lr)
    parser.add_argument("--weight-decay", type=float, default=CNNConfig.weight_decay)
    parser.add_argument("--no-dropout", action="store_true")
    parser.add_argument("--no-augment", action="store_true")
    args = parser.parse_args(argv)
    if args.dataset not in datasets.DATASETS:
        parser.error(f"unknown --dataset {args.dataset!r}; known: "
                     f"{', '.join(sorted(datasets.DATASETS))}")
    config = CNNConfig(
        dataset=args.dataset, model=args.model, optimizer=args.optimizer, lr=args.lr,
        weight_decay=args.weight_decay, dropout=not args.no_dropout,
        augment=not args.no_augment, data_dir=args.data_dir, out=args.out,
        device=args.device, seed=args.seed, fast=cli.fast_mode(args.fast), resume=args.resume,
        batch_size=args.batch_size,
        epochs=args.epochs if args.epochs is not None else CNNConfig.epochs, steps=args.steps)
    return cli.run_main(run, config)


if __name__ == "__main__":
    main()
