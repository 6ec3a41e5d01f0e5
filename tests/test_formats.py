"""The format parsers and the loaders against small files written by hand in the real formats.

IDX files are built with ``struct`` + ``gzip`` as LeCun's page describes them,
CIFAR records byte by byte as Krizhevsky's page does, SVHN with
``scipy.io.savemat`` in the published (32, 32, 3, N) layout.
"""
import gzip
import struct

import numpy as np
import pytest
import scipy.io

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import datasets, formats


# ----------------------------------------------------------------------------- writers

def idx_bytes(array, type_code=0x08):
    """An IDX file's bytes: magic 0x0000TTNN, big-endian uint32 dims, big-endian values."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array, dtype).tobytes()


def write_idx(path, array, gz=True, type_code=0x08):
    data = idx_bytes(array, type_code)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def cifar_records(images, *label_columns):
    """Records ``label bytes + R plane + G plane + B plane`` (each plane 32x32 row-major)."""
    planes = np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(len(images), 3072)
    labels = np.stack([np.asarray(c, np.uint8) for c in label_columns], axis=1)
    return np.concatenate([labels, planes], axis=1).tobytes()


def rgb_image(r, g, b):
    img = np.empty((32, 32, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = r, g, b
    return img


def random_images(n, seed, shape=(32, 32, 3)):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


# ----------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    images = random_images(5, 0, shape=(28, 28))
    path = write_idx(tmp_path / "imgs-idx3-ubyte", images, gz=gz)   # gzip judged by bytes, not name
    out = formats.read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 7                                                  # writable, not a view of bytes


@pytest.mark.parametrize("type_code,values", [
    (0x0C, np.array([[1, -2, 3], [2 ** 30, 0, -(2 ** 31)]], np.int32)),
    (0x0B, np.array([300, -5], np.int16)),
    (0x0D, np.array([1.5, -2.25, 1e10], np.float32)),
    (0x0E, np.array([np.pi, -1e-300])),
])
def test_read_idx_other_types_big_endian(tmp_path, type_code, values):
    out = formats.read_idx(write_idx(tmp_path / "x.gz", values, type_code=type_code))
    assert out.dtype.isnative and out.shape == values.shape
    np.testing.assert_array_equal(out, values)


def test_read_idx_bad_magic(tmp_path):
    bad = bytearray(idx_bytes(np.zeros((2, 3), np.uint8)))
    bad[0] = 0x12
    (tmp_path / "bad").write_bytes(bytes(bad))
    with pytest.raises(DataError, match=r"bad.*magic"):
        formats.read_idx(tmp_path / "bad")


def test_read_idx_unknown_type_code(tmp_path):
    bad = bytearray(idx_bytes(np.zeros((2, 3), np.uint8)))
    bad[2] = 0x07
    (tmp_path / "bad").write_bytes(bytes(bad))
    with pytest.raises(DataError, match="type code 0x07"):
        formats.read_idx(tmp_path / "bad")


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_truncated_payload(tmp_path, gz):
    data = idx_bytes(random_images(3, 1, shape=(28, 28)))[:-10]
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError) as e:
        formats.read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "truncated" in msg and "\n" not in msg


def test_read_idx_trailing_bytes_and_short_header(tmp_path):
    (tmp_path / "long").write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\0")
    with pytest.raises(DataError, match="longer than its header"):
        formats.read_idx(tmp_path / "long")
    (tmp_path / "short").write_bytes(b"\0\0\x08\x03\0\0")
    with pytest.raises(DataError, match="truncated IDX header"):
        formats.read_idx(tmp_path / "short")


def test_read_idx_truncated_gzip_stream(tmp_path):
    blob = gzip.compress(idx_bytes(random_images(20, 2, shape=(28, 28))))
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="gzip"):
        formats.read_idx(tmp_path / "cut.gz")


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        formats.read_idx(tmp_path / "nope.gz")


# ----------------------------------------------------------------------------- CIFAR

def test_read_cifar10_channel_order(tmp_path):
    """A record whose R plane is all 1, G all 2, B all 3 comes back as [..., 0] == 1 etc."""
    img = rgb_image(1, 2, 3)
    raw = bytes([7]) + bytes([1] * 1024 + [2] * 1024 + [3] * 1024)    # written by hand, not via the helper
    assert raw[1:] == cifar_records(img[None], [7])[1:]
    (tmp_path / "b.bin").write_bytes(raw)
    images, labels = formats.read_cifar10_bin(tmp_path / "b.bin")
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [7]
    assert (images[..., 0] == 1).all() and (images[..., 1] == 2).all() and (images[..., 2] == 3).all()


def test_read_cifar10_row_major_pixels(tmp_path):
    images = random_images(4, 3)
    labels = np.array([0, 9, 3, 3])
    (tmp_path / "b.bin").write_bytes(cifar_records(images, labels))
    got_images, got_labels = formats.read_cifar10_bin(tmp_path / "b.bin")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    # pixel (row 0, col 1) red is byte 1 + 1; pixel (row 1, col 0) green is 1 + 1024 + 32
    raw = (tmp_path / "b.bin").read_bytes()
    assert got_images[0, 0, 1, 0] == raw[2] and got_images[0, 1, 0, 1] == raw[1 + 1024 + 32]


def test_read_cifar10_several_files_concatenate(tmp_path):
    a, b = random_images(2, 4), random_images(3, 5)
    (tmp_path / "1.bin").write_bytes(cifar_records(a, [1, 2]))
    (tmp_path / "2.bin").write_bytes(cifar_records(b, [3, 4, 5]))
    images, labels = formats.read_cifar10_bin([tmp_path / "1.bin", tmp_path / "2.bin"])
    np.testing.assert_array_equal(images, np.concatenate([a, b]))
    assert labels.tolist() == [1, 2, 3, 4, 5]


def test_read_cifar10_wrong_record_size(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_records(random_images(2, 6), [1, 2])[:-1])
    with pytest.raises(DataError) as e:
        formats.read_cifar10_bin(path)
    assert str(path) in str(e.value) and "3,073" in str(e.value)


def test_read_cifar10_label_out_of_range(tmp_path):
    (tmp_path / "b.bin").write_bytes(cifar_records(random_images(2, 7), [1, 42]))
    with pytest.raises(DataError, match="label 42"):
        formats.read_cifar10_bin(tmp_path / "b.bin")


def test_read_cifar100(tmp_path):
    images = random_images(3, 8)
    images[0] = rgb_image(1, 2, 3)
    coarse, fine = [19, 0, 5], [99, 4, 50]
    (tmp_path / "train.bin").write_bytes(cifar_records(images, coarse, fine))
    got, got_coarse, got_fine = formats.read_cifar100_bin(tmp_path / "train.bin")
    np.testing.assert_array_equal(got, images)
    assert got_coarse.tolist() == coarse and got_fine.tolist() == fine
    assert got_coarse.dtype == got_fine.dtype == np.int64
    assert (got[0, ..., 0] == 1).all() and (got[0, ..., 2] == 3).all()


def test_read_cifar100_wrong_record_size(tmp_path):
    # CIFAR-10 records are one byte shorter: 2 x 3,073 is not a multiple of 3,074
    (tmp_path / "test.bin").write_bytes(cifar_records(random_images(2, 9), [1, 2]))
    with pytest.raises(DataError, match="3,074"):
        formats.read_cifar100_bin(tmp_path / "test.bin")


def test_read_cifar_expected_records(tmp_path):
    """A file cut at a record boundary is well-formed: only ``expected_records`` catches it."""
    (tmp_path / "b.bin").write_bytes(cifar_records(random_images(3, 12), [1, 2, 3]))
    assert formats.read_cifar10_bin(tmp_path / "b.bin")[1].tolist() == [1, 2, 3]   # any count by default
    assert formats.read_cifar10_bin(tmp_path / "b.bin", expected_records=3)[0].shape == (3, 32, 32, 3)
    with pytest.raises(DataError) as e:
        formats.read_cifar10_bin(tmp_path / "b.bin", expected_records=10_000)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'b.bin'}: 3 CIFAR-10 records, expected 10,000")
    assert "delete it so it is downloaded again" in msg and "\n" not in msg
    (tmp_path / "c.bin").write_bytes(cifar_records(random_images(2, 13), [1, 2], [3, 4]))
    with pytest.raises(DataError, match=r"c\.bin: 2 CIFAR-100 records, expected 50,000"):
        formats.read_cifar100_bin(tmp_path / "c.bin", expected_records=50_000)


# ----------------------------------------------------------------------------- SVHN

def write_svhn(path, images, labels):
    """SVHN Format 2: X (32, 32, 3, N) uint8, y (N, 1) with 10 meaning the digit 0."""
    scipy.io.savemat(str(path), {"X": np.transpose(images, (1, 2, 3, 0)),
                                 "y": np.asarray(labels, np.uint8).reshape(-1, 1)})


def test_read_svhn_mat(tmp_path):
    images = random_images(4, 10)
    images[1] = rgb_image(1, 2, 3)
    write_svhn(tmp_path / "test_32x32.mat", images, [10, 1, 9, 10])
    got, labels = formats.read_svhn_mat(tmp_path / "test_32x32.mat")
    assert got.shape == (4, 32, 32, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, images)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 9, 0]
    assert (got[1, ..., 0] == 1).all() and (got[1, ..., 1] == 2).all()


def test_read_svhn_garbage(tmp_path):
    (tmp_path / "train_32x32.mat").write_bytes(b"this is not a MATLAB file" * 10)
    with pytest.raises(DataError, match="train_32x32.mat"):
        formats.read_svhn_mat(tmp_path / "train_32x32.mat")


def test_read_svhn_wrong_variables(tmp_path):
    scipy.io.savemat(str(tmp_path / "a.mat"), {"images": np.zeros((2, 2))})
    with pytest.raises(DataError, match="'X' and 'y'"):
        formats.read_svhn_mat(tmp_path / "a.mat")
    scipy.io.savemat(str(tmp_path / "b.mat"), {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": [[1], [2]]})
    with pytest.raises(DataError, match=r"\(32, 32, 3, N\)"):
        formats.read_svhn_mat(tmp_path / "b.mat")


# ----------------------------------------------------------------------------- loaders on a tmp data dir

@pytest.fixture
def offline(monkeypatch):
    """No network: ``fetch`` raises OfflineError for anything missing."""
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")


def make_mnist(root, n_train=6, n_test=4, gz=True):
    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_disk_without_md5(tmp_path, offline, gz):
    """Files on disk are used as they are (these match no published md5) and never re-fetched."""
    arrays = make_mnist(tmp_path, gz=gz)
    ds = datasets.load("mnist", data_dir=tmp_path)
    assert ds.image_shape == (28, 28, 1) and ds.num_classes == 10
    np.testing.assert_array_equal(ds.train_images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(ds.test_labels, arrays["t10k"][1])
    assert ds.train_labels.dtype == np.int64 and ds.train_images.dtype == np.uint8
    assert "mnist: 6 train + 4 test images, 28x28x1 uint8" in ds.summary()
    assert len(repr(ds)) < 200


def test_load_mnist_count_mismatch(tmp_path, offline):
    make_mnist(tmp_path)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_wrong_image_size(tmp_path, offline):
    make_mnist(tmp_path)
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(DataError, match="not an MNIST image file"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_missing_file_offline(tmp_path, offline):
    make_mnist(tmp_path)
    missing = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    missing.unlink()
    with pytest.raises(OfflineError) as e:
        datasets.load("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert str(missing) in msg and "--dataset digits" in msg and "\n" not in msg
    # the test split alone does not need the training images
    images, labels = datasets.load_split("mnist", "test", data_dir=tmp_path)
    assert images.shape == (4, 28, 28, 1) and labels.shape == (4,)


def test_load_missing_without_download(tmp_path):
    with pytest.raises(DataError) as e:
        datasets.load_mnist(tmp_path, download=False)
    assert "--dataset digits" in str(e.value) and str(tmp_path / "mnist") in str(e.value)


@pytest.fixture
def small_cifar(monkeypatch):
    """The loaders accept the hand-written folders below (3 and 4 records, not 10,000 and 50,000)."""
    monkeypatch.setattr(datasets, "CIFAR10_FILE_RECORDS", 3)
    monkeypatch.setattr(datasets, "CIFAR100_SPLIT_RECORDS", {"train": 4, "test": 4})


def make_cifar10(root, per_file=3, meta=True):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    written = []
    for k, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
        images = random_images(per_file, 20 + k)
        labels = (np.arange(per_file) + k) % 10
        (folder / name).write_bytes(cifar_records(images, labels))
        written.append((images, labels))
    if meta:
        (folder / "batches.meta.txt").write_text("\n".join(datasets.CIFAR10_CLASSES) + "\n\n")
    return written


def test_load_cifar10_from_folder(tmp_path, offline, small_cifar):
    written = make_cifar10(tmp_path)
    ds = datasets.load("CIFAR-10", data_dir=tmp_path)          # no tarball needed
    assert ds.name == "cifar10" and ds.image_shape == (32, 32, 3)
    assert ds.class_names == datasets.CIFAR10_CLASSES
    np.testing.assert_array_equal(ds.train_images, np.concatenate([w[0] for w in written[:5]]))
    np.testing.assert_array_equal(ds.train_labels, np.concatenate([w[1] for w in written[:5]]))
    np.testing.assert_array_equal(ds.test_images, written[5][0])
    assert len(ds.train_labels) == 15 and len(ds.test_labels) == 3


def test_load_cifar10_names_from_meta_and_fallback(tmp_path, offline, small_cifar):
    make_cifar10(tmp_path, meta=False)
    assert datasets.load_cifar10(tmp_path).class_names[-1] == "truck"
    names = [f"c{i}" for i in range(10)]
    (tmp_path / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(names))
    assert datasets.load_cifar10(tmp_path).class_names == tuple(names)


def test_load_cifar10_meta_not_utf8_is_one_line_data_error(tmp_path, offline, small_cifar):
    make_cifar10(tmp_path)
    meta = tmp_path / "cifar-10-batches-bin" / "batches.meta.txt"
    meta.write_bytes("\n".join(datasets.CIFAR10_CLASSES).replace("deer", "d\u00e9er").encode("latin-1"))
    with pytest.raises(DataError) as e:
        datasets.load_cifar10(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{meta}: not UTF-8 text") and "\n" not in msg
    assert f"delete {meta.parent} so it is downloaded again" in msg


def test_load_cifar10_checks_official_record_counts(tmp_path, offline):
    """Hand-written batches of 3 records are well-formed but not the official 10,000."""
    make_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-bin"
    assert datasets.CIFAR10_FILE_RECORDS == 10_000
    with pytest.raises(DataError) as e:
        datasets.load_cifar10(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{folder / 'data_batch_1.bin'}: 3 CIFAR-10 records, expected 10,000")
    assert "delete it so it is downloaded again" in msg and "\n" not in msg
    with pytest.raises(DataError, match=r"test_batch\.bin: 3 CIFAR-10 records, expected 10,000"):
        datasets.load_split("cifar10", "test", data_dir=tmp_path)


def test_load_cifar10_test_batch_cut_at_a_record_boundary(cifar10_root, tmp_path, offline):
    """The real test batch cut to its first 1,000 records (of 10,000) no longer loads."""
    real = cifar10_root / "cifar-10-batches-bin" / "test_batch.bin"
    assert real.stat().st_size == 10_000 * formats.CIFAR10_RECORD_BYTES
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    with open(real, "rb") as f:
        (folder / "test_batch.bin").write_bytes(f.read(1_000 * formats.CIFAR10_RECORD_BYTES))
    with pytest.raises(DataError) as e:
        datasets.load_split("cifar10", "test", data_dir=tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{folder / 'test_batch.bin'}: 1,000 CIFAR-10 records, expected 10,000")
    assert "delete it so it is downloaded again" in msg and "\n" not in msg


def test_load_cifar10_missing_batch_offline(tmp_path, offline, small_cifar):
    make_cifar10(tmp_path)
    missing = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    missing.unlink()
    with pytest.raises(OfflineError) as e:
        datasets.load_cifar10(tmp_path)
    msg = str(e.value)
    assert str(missing) in msg and "cifar-10-binary.tar.gz" in msg and "--dataset digits" in msg
    assert "\n" not in msg
    # the test batch is still there: the test split loads alone
    assert datasets.load_split("cifar10", "test", data_dir=tmp_path)[0].shape == (3, 32, 32, 3)


def test_load_cifar10_from_cached_tarball(tmp_path, offline, small_cifar, monkeypatch):
    """A tarball already in the data dir that verifies is extracted without the network."""
    import tarfile

    from tfgraph_lessons.data import download

    src = tmp_path / "src"
    make_cifar10(src)
    archive = tmp_path / "data" / "cifar-10-binary.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    spec = dict(datasets.CIFAR10_ARCHIVE, md5=download.file_digest(archive), size=archive.stat().st_size)
    monkeypatch.setattr(datasets, "CIFAR10_ARCHIVE", spec)
    ds = datasets.load_cifar10(tmp_path / "data")
    assert len(ds.train_labels) == 15
    assert (tmp_path / "data" / "cifar-10-batches-bin" / "test_batch.bin").is_file()


def make_cifar100(root, n=4):
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    out = {}
    for k, split in enumerate(("train", "test")):
        images = random_images(n, 30 + k)
        coarse, fine = np.arange(n) % 20, (np.arange(n) * 7 + k) % 100
        (folder / f"{split}.bin").write_bytes(cifar_records(images, coarse, fine))
        out[split] = (images, coarse, fine)
    (folder / "fine_label_names.txt").write_text("\n".join(f"fine{i}" for i in range(100)) + "\n")
    (folder / "coarse_label_names.txt").write_text("\n".join(f"coarse{i}" for i in range(20)) + "\n")
    return out


def test_load_cifar100_label_modes(tmp_path, offline, small_cifar):
    out = make_cifar100(tmp_path)
    fine = datasets.load("cifar100", data_dir=tmp_path)
    coarse = datasets.load("cifar100", data_dir=tmp_path, label_mode="coarse")
    assert fine.num_classes == 100 and coarse.num_classes == 20
    assert fine.class_names[99] == "fine99" and coarse.class_names[0] == "coarse0"
    np.testing.assert_array_equal(fine.train_labels, out["train"][2])
    np.testing.assert_array_equal(coarse.test_labels, out["test"][1])
    np.testing.assert_array_equal(fine.test_images, out["test"][0])
    with pytest.raises(UsageError, match="label_mode"):
        datasets.load_cifar100(tmp_path, label_mode="medium")


def test_load_cifar100_checks_official_record_counts(tmp_path, offline):
    make_cifar100(tmp_path)
    folder = tmp_path / "cifar-100-binary"
    assert datasets.CIFAR100_SPLIT_RECORDS == {"train": 50_000, "test": 10_000}
    with pytest.raises(DataError) as e:
        datasets.load_cifar100(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{folder / 'train.bin'}: 4 CIFAR-100 records, expected 50,000")
    assert "delete it so it is downloaded again" in msg and "\n" not in msg
    with pytest.raises(DataError, match=r"test\.bin: 4 CIFAR-100 records, expected 10,000"):
        datasets.load_split("cifar100", "test", data_dir=tmp_path)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_load_cifar100_names_not_utf8_is_one_line_data_error(tmp_path, offline, small_cifar, label_mode):
    make_cifar100(tmp_path)
    names = tmp_path / "cifar-100-binary" / datasets.CIFAR100_LABEL_FILES[label_mode]
    names.write_bytes(b"\xff\xfe" + "\n".join(f"c{i}" for i in range(100)).encode("utf-16-le"))
    with pytest.raises(DataError) as e:
        datasets.load_cifar100(tmp_path, label_mode=label_mode)
    msg = str(e.value)
    assert msg.startswith(f"{names}: not UTF-8 text") and "\n" not in msg
    assert f"delete {names.parent} so it is downloaded again" in msg


def test_load_svhn_from_folder(tmp_path, offline):
    folder = tmp_path / "svhn"
    folder.mkdir()
    train, test = random_images(3, 40), random_images(2, 41)
    write_svhn(folder / "train_32x32.mat", train, [10, 5, 1])
    write_svhn(folder / "test_32x32.mat", test, [2, 10])
    ds = datasets.load("svhn", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.train_images, train)
    assert ds.train_labels.tolist() == [0, 5, 1] and ds.test_labels.tolist() == [2, 0]
    (folder / "test_32x32.mat").unlink()
    with pytest.raises(OfflineError, match="test_32x32.mat.*--dataset digits"):
        datasets.load_svhn(tmp_path)


def test_load_uses_data_dir_env(tmp_path, offline, monkeypatch):
    make_mnist(tmp_path)
    monkeypatch.setenv("TFGRAPH_DATA", str(tmp_path))
    assert datasets.load("mnist").train_images.shape == (6, 28, 28, 1)


def test_load_unknown_name_and_split():
    with pytest.raises(UsageError) as e:
        datasets.load("imagenet")
    for name in ("mnist", "cifar10", "cifar100", "svhn", "digits"):
        assert name in str(e.value)
    with pytest.raises(UsageError, match="split"):
        datasets.load_split("digits", "validation")


def test_registry_names():
    assert set(datasets.DATASETS) == {"mnist", "cifar10", "cifar100", "svhn", "digits"}


def test_load_rejects_options_for_other_data_sets():
    with pytest.raises(UsageError, match="no options"):
        datasets.load("digits", label_mode="coarse")
