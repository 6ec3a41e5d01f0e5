"""The course's image data sets as NumPy arrays: MNIST, CIFAR-10, CIFAR-100, SVHN and the 8x8 digits.

[1] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-Based Learning Applied to
    Document Recognition." Proc. IEEE 86(11), 1998. http://yann.lecun.com/exdb/mnist/
[2] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny Images."
    Tech. report, University of Toronto, 2009. https://www.cs.toronto.edu/~kriz/cifar.html
[3] Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu, A. Y. Ng. "Reading Digits in
    Natural Images with Unsupervised Feature Learning." NIPS Workshop 2011.
    http://ufldl.stanford.edu/housenumbers/
[4] E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits." UCI Machine
    Learning Repository, 1998 (the 8x8 digits bundled with scikit-learn).

Usage::

    from tfgraph_lessons.data import load
    ds = load("cifar10")                       # data dir: --data-dir, $TFGRAPH_DATA or data/
    ds.train_images.shape                      # (50000, 32, 32, 3) uint8
    ds.class_names[ds.train_labels[0]]         # 'frog'
    load("digits")                             # bundled with scikit-learn: works offline

Layout under the data dir (what the official archives unpack to)::

    mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz   (the un-gzipped names work too)
    cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin, batches.meta.txt
    cifar-100-binary/{train,test}.bin, {fine,coarse}_label_names.txt
    svhn/{train,test}_32x32.mat

Files already on disk vs. files this code downloads
---------------------------------------------------
A file this module downloads is verified against its published checksum
(:func:`tfgraph_lessons.data.download.fetch`). A file that is *already there* is
used as it is and checked by its own structure instead: the IDX header against
the payload size, the CIFAR record size against the file size and each
CIFAR file's record count against the official one (10,000 per CIFAR-10 batch,
50,000 / 10,000 in CIFAR-100's train / test), the label ranges, the image sizes, and that images and labels agree in number. The reason
is that equal data can have different archive bytes: a re-gzipped MNIST
``.gz`` (as in this project's ``../shared/data``) unpacks to the official bytes
but has another md5, an un-gzipped copy has no published md5 at all, and a
CIFAR folder extracted long ago has no tarball left. Demanding the archive's
md5 would refuse all of these. What this gives up: a file with the right
structure but wrong contents (another data set in the same format) is not
detected, so the check is "well-formed", not "official". Delete the file to
have it downloaded and verified.

Errors are one line (:class:`~tfgraph_lessons.core.errors.DataError`); a file that
is missing and cannot be downloaded raises
:class:`~tfgraph_lessons.core.errors.OfflineError` naming the path and
pointing at ``--dataset digits``, which needs no download.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import formats, paths

__all__ = [
    "Dataset",
    "DATASETS",
    "load",
    "load_split",
    "load_mnist",
    "load_cifar10",
    "load_cifar100",
    "load_svhn",
    "load_digits",
    "CIFAR10_CLASSES",
    "OFFLINE_HINT",
]

OFFLINE_HINT = "or use --dataset digits (bundled with scikit-learn, needs no download)"

DIGIT_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

# ----------------------------------------------------------------------------- remote files
# Plain dicts of download.RemoteFile's fields (built into RemoteFile when fetched).

# yann.lecun.com is often down or refuses bots: the two mirrors come first. Both
# serve byte-identical copies of the official archives (same md5s); these md5s
# are the ones torchvision's mnist.py pins.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist_remote(filename, md5, size):
    return dict(filename=filename, urls=tuple(m + filename for m in MNIST_MIRRORS), md5=md5, size=size)


MNIST_FILES = {
    ("train", "images"): _mnist_remote("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
    ("train", "labels"): _mnist_remote("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
    ("test", "images"): _mnist_remote("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
    ("test", "labels"): _mnist_remote("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
}

CIFAR10_ARCHIVE = dict(
    filename="cifar-10-binary.tar.gz",
    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
    md5="c32a1d4ab5d03f1284b67883e8d87530",
    size=170_052_171,
)
CIFAR10_DIR = "cifar-10-batches-bin"
CIFAR10_SPLIT_FILES = {
    "train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)),
    "test": ("test_batch.bin",),
}
# Records in each official file (Krizhevsky [2]): a file cut at a record boundary
# is well-formed, so only its count shows that it is incomplete.
CIFAR10_FILE_RECORDS = 10_000                                  # every data_batch_k.bin and test_batch.bin

CIFAR100_ARCHIVE = dict(
    filename="cifar-100-binary.tar.gz",
    urls=("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",),
    md5="03b5dce01913d631647c71ecec9e9cb8",
)
CIFAR100_DIR = "cifar-100-binary"
CIFAR100_LABEL_FILES = {"fine": "fine_label_names.txt", "coarse": "coarse_label_names.txt"}
CIFAR100_SPLIT_RECORDS = {"train": 50_000, "test": 10_000}     # records in train.bin, test.bin

# md5s as pinned by torchvision's svhn.py (its split_list).
SVHN_FILES = {
    "train": dict(filename="train_32x32.mat",
                  urls=("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
                  md5="e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test": dict(filename="test_32x32.mat",
                 urls=("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",),
                 md5="eb5a983be6a315427106f1b164d9cef3"),
}

SPLITS = ("train", "test")


# ----------------------------------------------------------------------------- the container

@dataclass(repr=False)
class Dataset:
    """A labelled image data set split into training and test parts.

    Attributes:
      name: registry name (``'mnist'``, ``'cifar10'``, ...).
      train_images: ``uint8 [N_train, H, W, C]`` (NHWC, C = 1 for grey images).
      train_labels: ``int64 [N_train]`` in ``0..num_classes-1``.
      test_images: ``uint8 [N_test, H, W, C]``.
      test_labels: ``int64 [N_test]``.
      class_names: ``class_names[k]`` names label ``k``.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple

    def __post_init__(self):
        self.class_names = tuple(str(c) for c in self.class_names)
        for part in SPLITS:
            images, labels = getattr(self, f"{part}_images"), getattr(self, f"{part}_labels")
            if images.ndim != 4:
                raise DataError(f"{self.name}: {part} images must be [N, H, W, C], got shape {images.shape}")
            if labels.shape != (images.shape[0],):
                raise DataError(f"{self.name}: {images.shape[0]:,} {part} images but labels of shape "
                                f"{labels.shape}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DataError(f"{self.name}: train images are {self.train_images.shape[1:]} but test images "
                            f"{self.test_images.shape[1:]}")

    @property
    def image_shape(self):
        """``(H, W, C)`` of one image."""
        return tuple(self.train_images.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)

    def summary(self):
        """One line, e.g. ``cifar10: 50,000 train + 10,000 test images, 32x32x3 uint8, 10 classes (airplane ... truck)``."""
        h, w, c = self.image_shape
        names = self.class_names
        shown = ", ".join(names) if len(names) <= 10 else f"{names[0]} ... {names[-1]}"
        return (f"{self.name}: {len(self.train_labels):,} train + {len(self.test_labels):,} test images, "
                f"{h}x{w}x{c} {self.train_images.dtype}, {self.num_classes} classes ({shown})")

    def __repr__(self):
        return f"Dataset({self.summary()})"


# ----------------------------------------------------------------------------- helpers

def _root(data_dir):
    return paths.data_dir(data_dir)


def _one_line(err):
    return " ".join(str(err).split())


def _fetch(spec, directory, title, download, missing):
    """Download ``spec`` (a RemoteFile's fields) into ``directory``; ``missing`` is the file the user lacks."""
    if not download:
        raise DataError(f"{title}: {missing} not found and download=False; put the file there or "
                        f"allow the download ({spec['urls'][0]}), {OFFLINE_HINT}")
    from tfgraph_lessons.data import download as dl

    try:
        return dl.fetch(dl.RemoteFile(**spec), directory)
    except OfflineError as e:
        # fetch's message names the file it wanted and where to put it by hand; say
        # which file of the data set was missing (CIFAR: a batch, not the tarball)
        # and where an offline data set is.
        lead = "" if Path(missing) == Path(directory) / spec["filename"] else f"{missing} is missing, and "
        raise OfflineError(f"{title}: {lead}{_one_line(e)}; {OFFLINE_HINT}") from e


def _check_split(split):
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; use 'train' or 'test'")


def _read_names(path, expected):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start:,}), "
                        f"expected one class name per line; delete {Path(path).parent} so it is "
                        "downloaded again") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != expected:
        raise DataError(f"{path}: {len(names)} class names, expected {expected}; "
                        "delete the folder so it is downloaded again")
    return names


def _labels_and_images_agree(images, labels, where):
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{where}: {images.shape[0]:,} images but {labels.shape[0]:,} labels; "
                        "one of the files is from another copy or truncated (delete both to re-download)")


# ----------------------------------------------------------------------------- MNIST

def _mnist_candidates(folder, filename):
    raw = filename[:-3]                                              # without .gz
    return [folder / filename, folder / raw, folder / raw.replace("-idx", ".idx")]


def _mnist_split(root, split, download):
    folder = root / "mnist"
    arrays = {}
    for kind in ("images", "labels"):
        spec = MNIST_FILES[(split, kind)]
        found = next((p for p in _mnist_candidates(folder, spec["filename"]) if p.is_file()), None)
        if found is None:
            found = _fetch(spec, folder, "MNIST", download, folder / spec["filename"])
        arrays[kind] = (found, formats.read_idx(found))
    (img_path, images), (lbl_path, labels) = arrays["images"], arrays["labels"]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{img_path}: expected uint8 images [N, 28, 28], got {images.dtype} {list(images.shape)}; "
                        "not an MNIST image file")
    if labels.ndim != 1 or labels.dtype != np.uint8 or (labels.size and labels.max() > 9):
        raise DataError(f"{lbl_path}: expected uint8 labels [N] in 0..9; not an MNIST label file")
    _labels_and_images_agree(images, labels, f"{img_path} and {lbl_path}")
    return images[..., None], labels.astype(np.int64)              # [N, 28, 28, 1], [N]


def load_mnist(data_dir=None, download=True):
    """MNIST [1]: 60,000 train + 10,000 test handwritten digits, ``uint8 [N, 28, 28, 1]``, labels 0..9.

    Files on disk (``.gz`` or not) are used as they are, checked by structure;
    downloaded ones are md5-verified (see the module docstring for why).
    """
    root = _root(data_dir)
    return Dataset("mnist", *_mnist_split(root, "train", download), *_mnist_split(root, "test", download),
                   DIGIT_CLASSES)


# ----------------------------------------------------------------------------- CIFAR-10 / CIFAR-100

def _cifar_folder(root, folder_name, needed, archive, title, download):
    """``root/folder_name`` once every file in ``needed`` is there (downloading and extracting if not)."""
    folder = root / folder_name
    missing = [folder / f for f in needed if not (folder / f).is_file()]
    if missing:
        tarball = _fetch(archive, root, title, download, missing[0])
        from tfgraph_lessons.data import download as dl

        dl.extract(tarball, root)
        still = [p for p in missing if not p.is_file()]
        if still:
            raise DataError(f"{tarball}: extracted, but {still[0]} is still missing; the archive is not "
                            f"the official {archive['filename']} (delete it to download it again)")
    return folder


def _cifar10_split(root, split, download):
    folder = _cifar_folder(root, CIFAR10_DIR, CIFAR10_SPLIT_FILES[split], CIFAR10_ARCHIVE, "CIFAR-10", download)
    return formats.read_cifar10_bin([folder / f for f in CIFAR10_SPLIT_FILES[split]],
                                    expected_records=CIFAR10_FILE_RECORDS)


def _cifar10_names(root):
    meta = root / CIFAR10_DIR / "batches.meta.txt"
    # The class names are published with the data set; the archive's meta file is
    # only a convenience, so a folder without it still loads.
    return _read_names(meta, 10) if meta.is_file() else CIFAR10_CLASSES


def load_cifar10(data_dir=None, download=True):
    """CIFAR-10 [2]: 50,000 train + 10,000 test colour images, ``uint8 [N, 32, 32, 3]``, 10 classes.

    Reads ``cifar-10-batches-bin/`` (the binary archive's layout) when it is there,
    without needing the tarball; otherwise downloads ``cifar-10-binary.tar.gz``
    (md5-verified) and extracts it. Class names come from ``batches.meta.txt``.
    """
    root = _root(data_dir)
    train = _cifar10_split(root, "train", download)
    test = _cifar10_split(root, "test", download)
    return Dataset("cifar10", *train, *test, _cifar10_names(root))


def _cifar100_split(root, split, download, label_mode):
    needed = (f"{split}.bin", CIFAR100_LABEL_FILES[label_mode])
    folder = _cifar_folder(root, CIFAR100_DIR, needed, CIFAR100_ARCHIVE, "CIFAR-100", download)
    images, coarse, fine = formats.read_cifar100_bin(folder / f"{split}.bin",
                                                     expected_records=CIFAR100_SPLIT_RECORDS[split])
    return images, (fine if label_mode == "fine" else coarse)


def _check_label_mode(label_mode):
    if label_mode not in CIFAR100_LABEL_FILES:
        raise UsageError(f"unknown CIFAR-100 label_mode {label_mode!r}; use 'fine' (100 classes) "
                         "or 'coarse' (20 superclasses)")


def load_cifar100(data_dir=None, download=True, label_mode="fine"):
    """CIFAR-100 [2]: 50,000 train + 10,000 test images, ``uint8 [N, 32, 32, 3]``.

    Args:
      label_mode: ``'fine'`` (100 classes) or ``'coarse'`` (20 superclasses);
        names from ``fine_label_names.txt`` / ``coarse_label_names.txt``.
    """
    _check_label_mode(label_mode)
    root = _root(data_dir)
    train = _cifar100_split(root, "train", download, label_mode)
    test = _cifar100_split(root, "test", download, label_mode)
    names = _read_names(root / CIFAR100_DIR / CIFAR100_LABEL_FILES[label_mode],
                        100 if label_mode == "fine" else 20)
    return Dataset("cifar100", *train, *test, names)


# ----------------------------------------------------------------------------- SVHN

def _svhn_split(root, split, download):
    spec = SVHN_FILES[split]
    folder = root / "svhn"
    path = folder / spec["filename"]
    if not path.is_file():
        path = _fetch(spec, folder, "SVHN", download, path)
    return formats.read_svhn_mat(path)


def load_svhn(data_dir=None, download=True):
    """SVHN [3] cropped digits: 73,257 train + 26,032 test, ``uint8 [N, 32, 32, 3]``, labels 0..9.

    The ``extra`` set (531,131 images) is not loaded. Label 10 of the files is the digit 0.
    """
    root = _root(data_dir)
    return Dataset("svhn", *_svhn_split(root, "train", download), *_svhn_split(root, "test", download),
                   DIGIT_CLASSES)


# ----------------------------------------------------------------------------- digits (offline)

def _digits_all():
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    # values 0..16 -> 0..255, rounded: 16 -> 255, 8 -> 128
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]   # [1797, 8, 8, 1]
    return images, d.target.astype(np.int64)


def _digits_split(root, split, download):
    from tfgraph_lessons.data.preprocess import split as stratified_split

    train, test = stratified_split(*_digits_all(), val_fraction=0.2, seed=0)
    return train if split == "train" else test


def load_digits(data_dir=None, download=True):
    """The 8x8 handwritten digits [4] bundled with scikit-learn: 1,797 images, ``uint8 [N, 8, 8, 1]``.

    Needs no file and no network (``data_dir`` and ``download`` are accepted for a
    uniform signature and ignored). Values 0..16 are scaled to 0..255. The
    train/test split is fixed: stratified 80/20 with seed 0 (1,438 / 359 images).
    """
    return Dataset("digits", *_digits_split(None, "train", False), *_digits_split(None, "test", False),
                   DIGIT_CLASSES)


# ----------------------------------------------------------------------------- registry

DATASETS = {
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "svhn": load_svhn,
    "digits": load_digits,
}

_SPLIT_READERS = {
    "mnist": _mnist_split,
    "cifar10": _cifar10_split,
    "svhn": _svhn_split,
    "digits": _digits_split,
}


def _canonical(name):
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    return key


def load(name, data_dir=None, download=True, **options):
    """Load a data set by its registry name.

    Args:
      name: one of ``DATASETS`` (``mnist``, ``cifar10``, ``cifar100``, ``svhn``,
        ``digits``); case and ``-``/``_`` are ignored (``'CIFAR-10'`` works).
      data_dir: folder holding the data sets; ``None`` means :func:`paths.data_dir`
        (``$TFGRAPH_DATA`` or the repository's ``data/``).
      download: fetch missing files (verified against published checksums).
      **options: passed to the loader (``label_mode`` for ``cifar100``).

    Returns:
      :class:`Dataset`.

    Raises:
      UsageError: unknown name. DataError / OfflineError: see the loaders.
    """
    key = _canonical(name)
    if options and key != "cifar100":
        raise UsageError(f"{key} takes no options, got {sorted(options)}")
    return DATASETS[key](data_dir, download, **options)


def load_split(name, split, data_dir=None, download=True, **options):
    """Only one part of a data set: ``(images, labels)`` for ``split`` ``'train'`` or ``'test'``.

    Reads and (if needed) downloads only that part's files, e.g. the MNIST test
    set for an evaluation without the 9.9 MB training images.

    Returns:
      ``(uint8 [N, H, W, C], int64 [N])``.
    """
    key = _canonical(name)
    _check_split(split)
    root = _root(data_dir)
    if key == "cifar100":
        label_mode = options.pop("label_mode", "fine")
        _check_label_mode(label_mode)
        return _cifar100_split(root, split, download, label_mode)
    if options:
        raise UsageError(f"{key} takes no options, got {sorted(options)}")
    return _SPLIT_READERS[key](root, split, download)
