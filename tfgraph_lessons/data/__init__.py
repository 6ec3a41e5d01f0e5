"""Data: downloads, parsers for the real on-disk formats, data sets, preprocessing.

    from tfgraph_lessons.data import load, split, batches, channel_stats, standardize
    ds = load("mnist")                       # or "cifar10", "cifar100", "svhn", "digits"

Modules: :mod:`~tfgraph_lessons.data.paths` (where data lives),
:mod:`~tfgraph_lessons.data.download` (mirrors, checksums, safe extraction),
:mod:`~tfgraph_lessons.data.formats` (IDX, CIFAR binary, SVHN .mat),
:mod:`~tfgraph_lessons.data.datasets` (loaders and the registry),
:mod:`~tfgraph_lessons.data.preprocess` (normalisation, augmentation, splits, batches).
"""
from tfgraph_lessons.data import formats, paths, preprocess
from tfgraph_lessons.data.datasets import (
    DATASETS,
    Dataset,
    load,
    load_cifar10,
    load_cifar100,
    load_digits,
    load_mnist,
    load_split,
    load_svhn,
)
from tfgraph_lessons.data.formats import read_cifar10_bin, read_cifar100_bin, read_idx, read_svhn_mat
from tfgraph_lessons.data.preprocess import (
    augment,
    batches,
    channel_stats,
    min_max,
    num_batches,
    random_crop,
    random_flip_lr,
    split,
    standardize,
)

__all__ = [
    "DATASETS", "Dataset", "load", "load_split", "load_mnist", "load_cifar10", "load_cifar100",
    "load_svhn", "load_digits",
    "read_idx", "read_cifar10_bin", "read_cifar100_bin", "read_svhn_mat",
    "min_max", "channel_stats", "standardize", "random_crop", "random_flip_lr", "augment",
    "split", "batches", "num_batches",
    "formats", "paths", "preprocess",
]
