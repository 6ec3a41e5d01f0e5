"""The loaders on real data: the MNIST test set and a CIFAR-10 rebuild from ``../shared/data``
(skipped where absent), and scikit-learn's bundled digits (always there)."""
import hashlib
import struct

import numpy as np
import pytest

from tfgraph_lessons.core.errors import OfflineError
from tfgraph_lessons.data import datasets, formats, preprocess

# Per-class counts of the official MNIST test set (LeCun et al. 1998), digits 0..9.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
# md5 of the unpacked official files (../shared/data/README.md)
MNIST_MD5 = {
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
}
# Per-channel pixel means of the official CIFAR-10 training set; the rebuild comes from
# JPEG copies, so it is compared within 3 grey levels.
CIFAR10_MEAN = (125.3, 123.0, 113.9)


def idx_md5(array):
    """md5 of the IDX file that holds ``array`` (uint8): what the official file unpacks to."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return hashlib.md5(header + array.astype(np.uint8).tobytes()).hexdigest()


@pytest.fixture
def mnist_data_dir(mnist_test_dir, tmp_path, monkeypatch):
    """A data dir whose ``mnist/`` links to the real test files (the training images are not there)."""
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in sorted(mnist_test_dir.glob("*-ubyte.gz")):
        (folder / f.name).symlink_to(f)
    return tmp_path


def test_mnist_test_set(mnist_data_dir):
    images, labels = datasets.load_split("mnist", "test", data_dir=mnist_data_dir)
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    # the re-gzipped .gz files match no archive md5, yet parse to the official bytes
    assert idx_md5(images[..., 0]) == MNIST_MD5["t10k-images-idx3-ubyte"]
    assert idx_md5(labels) == MNIST_MD5["t10k-labels-idx1-ubyte"]


def test_mnist_train_labels(mnist_test_dir):
    labels = formats.read_idx(mnist_test_dir / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)
    assert np.bincount(labels).tolist() == MNIST_TRAIN_COUNTS
    assert idx_md5(labels) == MNIST_MD5["train-labels-idx1-ubyte"]


def test_mnist_full_load_needs_the_training_images(mnist_data_dir):
    with pytest.raises(OfflineError) as e:
        datasets.load_mnist(mnist_data_dir)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and "--dataset digits" in str(e.value)


@pytest.fixture(scope="module")
def cifar10(cifar10_root):
    return datasets.load("cifar10", data_dir=cifar10_root)


def test_cifar10_rebuild_shapes_and_classes(cifar10):
    ds = cifar10
    assert ds.train_images.shape == (50000, 32, 32, 3) and ds.test_images.shape == (10000, 32, 32, 3)
    assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int64
    assert ds.class_names == ("airplane", "automobile", "bird", "cat", "deer",
                              "dog", "frog", "horse", "ship", "truck")
    assert np.bincount(ds.train_labels, minlength=10).tolist() == [5000] * 10
    assert np.bincount(ds.test_labels, minlength=10).tolist() == [1000] * 10


def test_cifar10_rebuild_channel_means(cifar10):
    mean, std = preprocess.channel_stats(cifar10.train_images)
    np.testing.assert_allclose(mean, CIFAR10_MEAN, atol=3.0)
    np.testing.assert_allclose(std, (63.0, 62.1, 66.7), atol=3.0)   # official: ~(63.0, 62.1, 66.7)


def test_cifar10_rebuild_is_rgb_not_bgr_or_planar(cifar10):
    """Real photographs: ships/airplanes are bluer than they are red; frogs/deer greener or redder than blue."""
    ds = cifar10
    means = np.stack([ds.train_images[ds.train_labels == k].mean(axis=(0, 1, 2)) for k in range(10)])
    ship, airplane, frog, deer = (ds.class_names.index(n) for n in ("ship", "airplane", "frog", "deer"))
    assert means[ship, 2] > means[ship, 0] and means[airplane, 2] > means[airplane, 0]
    assert means[frog, 2] < means[frog, 1] and means[deer, 2] < means[deer, 0]
    # neighbouring pixels of natural images are strongly correlated: a wrong reshape would break it
    x = ds.test_images[:500].astype(np.float64)
    assert np.corrcoef(x[:, :, :-1].ravel(), x[:, :, 1:].ravel())[0, 1] > 0.8


def test_digits():
    ds = datasets.load("digits")
    assert len(ds.train_labels) + len(ds.test_labels) == 1797
    assert ds.image_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.train_images.dtype == np.uint8 and ds.train_images.max() == 255
    assert len(ds.test_labels) == 359
    from sklearn.datasets import load_digits
    counts = np.bincount(load_digits().target)
    # stratified: each class gives 20 % (+-1) of its images to the test set
    assert np.all(np.abs(np.bincount(ds.test_labels, minlength=10) - 0.2 * counts) <= 1)
    again = datasets.load_digits()
    np.testing.assert_array_equal(again.test_images, ds.test_images)
