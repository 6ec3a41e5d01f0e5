"""Shared fixtures: the real data kept in ``../shared/data`` (skipped where absent)
and a fast-mode environment for commands and notebooks."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
