"""The data of each network, loaded once by the lesson's own loaders and written as ``.npy``
files that every arm reads, so the three frameworks train on the same arrays.

The CNNs get :func:`tfgraph_lessons.cnn_cifar.load_splits` (CIFAR-10: the 45,000
training images left after the lesson's 5,000 for validation, and the 10,000
test images); the LSTM gets :func:`tfgraph_lessons.rnn_mnist.load_data` (MNIST
rows: the full training set when it is on disk, else the lesson's split of
the 10,000 test images). ``dataset='digits'`` swaps both for scikit-learn's
8x8 digits, which need no file (the harness's own test uses them).
"""
import math
from pathlib import Path

import numpy as np

from sidebyside.ours import lesson_settings

CNN_DATASETS = ("cifar10", "digits")


def cnn_data(network, dataset, data_dir):
    """``(arrays, meta)`` of a CNN network: uint8 ``[N, H, W, C]`` images."""
    from tfgraph_lessons import cnn_cifar
    from tfgraph_lessons.data import preprocess

    config = cnn_cifar.CNNConfig(dataset=dataset, model=network, data_dir=data_dir)
    ds, train, _, test = cnn_cifar.load_splits(config)
    mean, std = preprocess.channel_stats(train[0])
    h = ds.image_shape[0]
    meta = {"kind": "cnn", "dataset": dataset, "input_shape": list(ds.image_shape),
            "num_classes": ds.num_classes, "mean": np.ravel(mean).tolist(),
            "std": np.ravel(std).tolist(),
            # cnn_cifar.augmenter's rule: shifts of up to crop_padding pixels (default 1/8
            # of the image), flips where the labels survive them
            "augment": {"pad": (config.crop_padding if config.crop_padding is not None
                                else max(1, round(h / 8))),
                        "flip": dataset in cnn_cifar.MIRROR_SAFE}}
    return (train, test), meta


def lstm_data(dataset, data_dir):
    """``(arrays, meta)`` of the LSTM: uint8 ``[N, T, F]`` sequences (an image's rows)."""
    from tfgraph_lessons import rnn_mnist

    config = rnn_mnist.RNNMnistConfig(dataset=dataset, data_dir=data_dir)
    splits = rnn_mnist.load_data(config)
    steps, features = splits.train[0].shape[1:]
    meta = {"kind": "rnn", "dataset": dataset, "data_source": splits.source,
            "input_shape": [int(steps), int(features)],
            "num_classes": len(splits.class_names),
            # rnn_mnist.distorter's rule: the shift is in pixels of a 28-pixel row
            "augment": {"shift": config.shift * features / 28.0}}
    return (splits.train, splits.test), meta


def write_network_data(network, dataset, data_dir, mnist_dir, folder, min_test):
    """Load ``network``'s data and write it into ``folder``; returns its meta dict
    (``name``, ``kind``, ``input_shape``, ``num_classes``, ``settings`` of the lesson ...).

    The test images are repeated up to ``min_test`` when there are fewer, so the
    evaluation of every batch size times full batches.
    """
    if network == "lstm":
        (train, test), meta = lstm_data("digits" if dataset == "digits" else "mnist", mnist_dir)
    else:
        (train, test), meta = cnn_data(network, dataset, data_dir)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reps = max(1, math.ceil(min_test / len(test[0])))
    arrays = {"train_images": train[0], "train_labels": train[1],
              "test_images": np.concatenate([test[0]] * reps),
              "test_labels": np.concatenate([test[1]] * reps)}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array))
    meta.update(name=network, settings=lesson_settings(network), data=str(folder),
                train_examples=len(train[0]), test_examples=len(test[0]))
    return meta
