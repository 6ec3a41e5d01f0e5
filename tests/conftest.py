"""Shared fixtures: the real data kept in ``../shared/data`` (skipped where absent)
and a fast-mode environment for commands and notebooks."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` if this checkout has it; the test is skipped otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout (real-data test)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_test_dir(shared_data):
    """A folder holding the real MNIST test set files (``t10k-*-ubyte.gz``)."""
    d = shared_data / "mnist"
    if not (d / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("real MNIST test set not in ../shared/data/mnist")
    return d


@pytest.fixture(scope="session")
def cifar10_root(shared_data, request):
    """A data dir holding ``cifar-10-batches-bin/`` rebuilt from the real CIFAR-10 JPEGs.

    Built once (about 30 s) with ``../shared/data/prepare_cifar10.py`` and kept in
    pytest's cache folder; built into a temporary folder and renamed, so an
    interrupted build never leaves a half-written cache.
    """
    script = shared_data / "prepare_cifar10.py"
    if not script.is_file() or not (shared_data / "cifar10-jpeg.tar.gz").is_file():
        pytest.skip("CIFAR-10 JPEGs not in ../shared/data")
    cache = Path(request.config.cache.mkdir("cifar10_rebuild"))
    root = cache / "root"
    if not (root / "cifar-10-batches-bin" / "test_batch.bin").is_file():
        tmp = cache / "building"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, str(script), str(tmp)], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    return root


@pytest.fixture
def closing():
    """Collects figures a test draws and closes them afterwards."""
    import matplotlib.pyplot as plt

    drawn = []
    yield drawn.append
    for fig in drawn:
        plt.close(fig)


@pytest.fixture
def fast_env(monkeypatch):
    """``TFGRAPH_FAST=1`` for this test and the processes it starts."""
    monkeypatch.setenv("TFGRAPH_FAST", "1")
    return dict(os.environ)


def run_lesson(main, argv, capsys):
    """A lesson's ``main(argv)`` in-process: ``(exit status, stdout, stderr)``."""
    try:
        main(argv)
        status = 0
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


def error_line(err):
    """The one ``error:`` line a failed command printed (exactly one, or the test fails)."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- network counts


def count_params(variables):
    """The number of values in ``variables``."""
    return int(sum(np.prod(v.shape.as_list()) for v in variables))


def _space_to_batch_blocks(conv):
    """A dilated convolution built as ``tf.nn.convolution`` builds it (SpaceToBatchND,
    Conv2D, BatchToSpaceND) runs on rate^2 sub-images stacked in the batch axis: its
    Conv2D's per-image output is 1 / rate^2 of the map. 1 for a plain Conv2D."""
    src = conv.inputs[0].op
    if src.type != "SpaceToBatchND":
        return 1
    import tensorflow as tf
    return int(np.prod(tf.get_static_value(src.inputs[1])))


def count_madds(graph, prefix=""):
    """Multiply-adds of one image in a graph built at batch 1, counted here apart from
    the library's own counter (``nets.summary``): Conv2D ``out_h*out_w*k_h*k_w*c_in*c_out``,
    depthwise ``out_h*out_w*k_h*k_w*c_in*mult``, MatMul ``in*out``, a transposed
    convolution on its input; biases, batch norm, pools and activations not counted.
    Only ops whose names start with ``prefix``."""
    total = 0
    for op in graph.get_operations():
        if not op.name.startswith(prefix):
            continue
        if op.type == "Conv2D":
            _, oh, ow, co = op.outputs[0].shape.as_list()
            kh, kw, ci, _ = op.inputs[1].shape.as_list()
            total += oh * ow * kh * kw * ci * co * _space_to_batch_blocks(op)
        elif op.type == "DepthwiseConv2dNative":
            _, oh, ow, _ = op.outputs[0].shape.as_list()
            kh, kw, ci, mult = op.inputs[1].shape.as_list()
            total += oh * ow * kh * kw * ci * mult
        elif op.type == "MatMul":
            n_in, n_out = op.inputs[1].shape.as_list()
            total += n_in * n_out
        elif op.type == "Conv2DBackpropInput":   # transposed convolution: counted on its input
            kh, kw, co, ci = op.inputs[1].shape.as_list()
            _, ih, iw, _ = op.inputs[2].shape.as_list()
            total += ih * iw * kh * kw * ci * co
    return total


# --------------------------------------------------------------------------- figures


@pytest.fixture
def made():
    """``made(name)`` -> the registered figure ``name`` drawn; every one is closed after the test."""
    import matplotlib.pyplot as plt

    from tfgraph_lessons import figures

    figures.load_all()
    opened = []

    def make(name):
        opened.append(figures.make(name))
        return opened[-1]

    yield make
    for fig in opened:
        plt.close(fig)
