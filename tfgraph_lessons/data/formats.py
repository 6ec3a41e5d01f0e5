"""Parsers for the on-disk formats of the course's image data sets (NumPy only, no pickle).

[1] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-Based Learning Applied to
    Document Recognition." Proc. IEEE 86(11), 1998. MNIST and its IDX file format:
    http://yann.lecun.com/exdb/mnist/
[2] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny Images."
    Tech. report, University of Toronto, 2009. CIFAR-10/100 "binary version":
    https://www.cs.toronto.edu/~kriz/cifar.html
[3] Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu, A. Y. Ng. "Reading Digits in
    Natural Images with Unsupervised Feature Learning." NIPS Workshop on Deep
    Learning and Unsupervised Feature Learning, 2011. SVHN "Format 2" (cropped
    32x32 digits as MATLAB .mat files): http://ufldl.stanford.edu/housenumbers/

The slides' "data sets" chapter reads these files by hand; so does this module:
every parser reads the whole file at once (``np.fromfile`` or one ``read``) and
turns it into arrays with ``reshape``/``transpose``, never a per-record loop.
Images come back as ``uint8 [N, H, W, C]`` (NHWC, what ``tf.nn.conv2d`` takes by
default) and labels as ``int64 [N]``.

Every problem with a file (wrong magic number, truncated payload, record size
that does not divide the file) raises :class:`~tfgraph_lessons.core.errors.DataError`
whose one-line message names the file, what was wrong and what to do.

Usage::

    from tfgraph_lessons.data import formats
    images = formats.read_idx("data/mnist/t10k-images-idx3-ubyte.gz")   # [10000, 28, 28] uint8
    images, labels = formats.read_cifar10_bin("data/cifar-10-batches-bin/test_batch.bin")
"""
import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.errors import DataError

__all__ = [
    "read_idx",
    "read_cifar10_bin",
    "read_cifar100_bin",
    "read_svhn_mat",
    "CIFAR_IMAGE_SHAPE",
    "CIFAR10_RECORD_BYTES",
    "CIFAR100_RECORD_BYTES",
]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),   # unsigned byte (MNIST images and labels)
    0x09: np.dtype(">i1"),   # signed byte
    0x0B: np.dtype(">i2"),   # short
    0x0C: np.dtype(">i4"),   # int
    0x0D: np.dtype(">f4"),   # float
    0x0E: np.dtype(">f8"),   # double
}

CIFAR_IMAGE_SHAPE = (32, 32, 3)          # H, W, C
_CIFAR_PIXELS = 32 * 32 * 3              # 3,072: 1,024 red, then green, then blue, row-major
CIFAR10_RECORD_BYTES = 1 + _CIFAR_PIXELS     # label byte + pixels = 3,073
CIFAR100_RECORD_BYTES = 2 + _CIFAR_PIXELS    # coarse byte, fine byte, pixels = 3,074


# ----------------------------------------------------------------------------- helpers

def _read_bytes(path):
    """The file's bytes, gunzipped when it starts with the gzip magic (not judged by its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:   # BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt or truncated gzip data ({e}); "
                        "delete the file so it is downloaded again") from None


def _as_paths(path_or_paths):
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [Path(path_or_paths)]
    paths = [Path(p) for p in path_or_paths]
    if not paths:
        raise DataError("no files given to read")
    return paths


def _read_records(path_or_paths, record_bytes, what, expected_records=None):
    """All files' fixed-size records as one ``uint8 [N, record_bytes]`` array (one buffer, no loop per record).

    ``expected_records``: when given, the number of records every file must hold.
    """
    paths = _as_paths(path_or_paths)
    sizes = []
    for p in paths:
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            raise DataError(f"{p}: file not found") from None
        except OSError as e:
            raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
        if size == 0 or size % record_bytes:
            raise DataError(
                f"{p}: {size:,} bytes is not a whole number of {what} records of "
                f"{record_bytes:,} bytes; the file is truncated or not a {what} binary batch "
                "(delete it so it is downloaded again)")
        if expected_records is not None and size // record_bytes != expected_records:
            raise DataError(
                f"{p}: {size // record_bytes:,} {what} records, expected {expected_records:,} "
                "(the official file's count); the file is truncated or from another copy "
                "(delete it so it is downloaded again)")
        sizes.append(size)
    buf = np.empty(sum(sizes), np.uint8)
    start = 0
    for p, size in zip(paths, sizes):
        with open(p, "rb") as f:
            got = f.readinto(memoryview(buf)[start:start + size])
        if got != size:
            raise DataError(f"{p}: read {got:,} of {size:,} bytes (file changed while reading?)")
        start += size
    return buf.reshape(-1, record_bytes), paths


def _planes_to_nhwc(pixels):
    """``uint8 [N, 3072]`` CIFAR planes (R, G, B, each 32x32 row-major) -> ``uint8 [N, 32, 32, 3]``."""
    planes = pixels.reshape(-1, 3, 32, 32)                     # [N, C, H, W] views
    images = np.empty((planes.shape[0], 32, 32, 3), np.uint8)
    for c in range(3):   # one strided copy per channel: about 2x faster than a 4-D transpose copy
        images[..., c] = planes[:, c]
    return images


def _check_label_range(labels, num_classes, paths, what):
    if labels.size and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        names = ", ".join(str(p) for p in paths)
        raise DataError(
            f"{names}: record {bad:,} has {what} label {int(labels[bad])}, outside 0..{num_classes - 1}; "
            "the file is not in the expected format (wrong data set or corrupt)")


# ----------------------------------------------------------------------------- IDX (MNIST)

def read_idx(path):
    """Read an IDX file (MNIST's format), gzip-compressed or raw.

    The layout (LeCun et al. [1]): a 4-byte magic number ``0x00 0x00 TYPE NDIM``,
    then NDIM big-endian uint32 dimension sizes, then the values, big-endian,
    row-major. Gzip is detected from the file's first two bytes, not its name.

    Args:
      path: an ``*-idx?-ubyte`` or ``*-idx?-ubyte.gz`` file.

    Returns:
      ndarray with the header's shape, e.g. ``uint8 [10000, 28, 28]`` for
      ``t10k-images-idx3-ubyte`` and ``uint8 [10000]`` for the labels; values in
      native byte order; a fresh, writable array.

    Raises:
      DataError: unreadable file, bad magic number, unknown type code, or a payload
        whose size differs from what the header promises (truncated or padded file).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX header; "
                        "the file is truncated or not an IDX file")
    zero1, zero2, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0:
        raise DataError(f"{path}: bad IDX magic number 0x{data[:4].hex()} (must start with 0x0000); "
                        "not an MNIST IDX file")
    if type_code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{type_code:02x} "
                        f"(expected one of {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, {header_bytes} needed "
                        f"for {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", data[4:header_bytes])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_bytes
    if payload != expected:
        kind = "truncated" if payload < expected else "longer than its header says"
        raise DataError(f"{path}: IDX payload is {payload:,} bytes but the header {list(dims)} "
                        f"x {dtype.itemsize} bytes needs {expected:,}; the file is {kind} "
                        "(delete it so it is downloaded again)")
    values = np.frombuffer(data, dtype=dtype, offset=header_bytes).reshape(dims)
    return values.astype(dtype.newbyteorder("="), copy=True)


# ----------------------------------------------------------------------------- CIFAR

def read_cifar10_bin(path, expected_records=None):
    """Read CIFAR-10 binary batches (``data_batch_1.bin`` ... ``test_batch.bin``).

    A record (Krizhevsky [2]) is 1 label byte (0..9) followed by 3,072 pixel bytes:
    the 1,024 red values of the 32x32 image, then the green, then the blue, each
    row-major. A batch file of the official archive holds 10,000 records.

    Args:
      path: one ``.bin`` file, or a list of them (read into one buffer and
        concatenated in the given order; cheaper than concatenating afterwards).
      expected_records: records each file must hold (10,000 for the official
        batches); None accepts any whole number of records.

    Returns:
      (images, labels): ``uint8 [N, 32, 32, 3]`` NHWC and ``int64 [N]``.

    Raises:
      DataError: missing file, a size that is not a multiple of 3,073 bytes, a
        record count other than ``expected_records``, or a label byte outside 0..9.
    """
    records, paths = _read_records(path, CIFAR10_RECORD_BYTES, "CIFAR-10", expected_records)
    labels = records[:, 0].astype(np.int64)
    _check_label_range(labels, 10, paths, "CIFAR-10")
    return _planes_to_nhwc(records[:, 1:]), labels


def read_cifar100_bin(path, expected_records=None):
    """Read CIFAR-100 binary files (``train.bin``, ``test.bin``).

    A record (Krizhevsky [2]) is 1 coarse-label byte (0..19, the superclass), 1
    fine-label byte (0..99), then 3,072 pixel bytes laid out as in CIFAR-10.

    Args:
      path: one ``.bin`` file or a list of them (concatenated in order).
      expected_records: records each file must hold (official: 50,000 in
        ``train.bin``, 10,000 in ``test.bin``); None accepts any whole number.

    Returns:
      (images, coarse_labels, fine_labels): ``uint8 [N, 32, 32, 3]``,
      ``int64 [N]``, ``int64 [N]``.

    Raises:
      DataError: missing file, a size that is not a multiple of 3,074 bytes, a
        record count other than ``expected_records``, or a label outside its range.
    """
    records, paths = _read_records(path, CIFAR100_RECORD_BYTES, "CIFAR-100", expected_records)
    coarse = records[:, 0].astype(np.int64)
    fine = records[:, 1].astype(np.int64)
    _check_label_range(coarse, 20, paths, "CIFAR-100 coarse")
    _check_label_range(fine, 100, paths, "CIFAR-100 fine")
    return _planes_to_nhwc(records[:, 2:]), coarse, fine


# ----------------------------------------------------------------------------- SVHN

def read_svhn_mat(path):
    """Read an SVHN cropped-digits file (``train_32x32.mat``, ``test_32x32.mat``).

    The MATLAB file (Netzer et al. [3], "Format 2") holds ``X``, ``uint8
    [32, 32, 3, N]``, and ``y``, ``[N, 1]`` with labels 1..10 where **10 stands
    for the digit 0**; here it becomes 0, so labels are the digits themselves.

    Args:
      path: the ``.mat`` file (MATLAB v5, as published; read with ``scipy.io.loadmat``).

    Returns:
      (images, labels): ``uint8 [N, 32, 32, 3]`` NHWC and ``int64 [N]`` in 0..9.

    Raises:
      DataError: missing or unreadable file, no ``X``/``y`` variables, wrong shapes
        or labels outside 1..10 (0 is accepted as already mapped).
    """
    import scipy.io  # imported here: only SVHN needs it

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        mat = scipy.io.loadmat(str(path), variable_names=("X", "y"))
    except NotImplementedError:
        raise DataError(f"{path}: MATLAB v7.3 (HDF5) file; SVHN's published files are v5, "
                        "delete it so it is downloaded again") from None
    except Exception as e:   # scipy raises ValueError, TypeError, OSError, ... on garbage
        raise DataError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e}); "
                        "delete it so it is downloaded again") from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: .mat file lacks the SVHN variables 'X' and 'y' "
                        f"(has {sorted(k for k in mat if not k.startswith('__'))})")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: X has shape {x.shape}, expected (32, 32, 3, N) as in SVHN Format 2")
    if x.shape[3] != y.shape[0]:
        raise DataError(f"{path}: X holds {x.shape[3]:,} images but y {y.shape[0]:,} labels")
    labels = y.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 10):
        raise DataError(f"{path}: labels range {labels.min()}..{labels.max()}, expected 1..10 "
                        "(10 meaning the digit 0)")
    labels[labels == 10] = 0
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)), dtype=np.uint8)   # [N, 32, 32, 3]
    return images, labels
