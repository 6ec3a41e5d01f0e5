"""PASCAL VOC 2007: the detection benchmark of the R-CNN era, read from its own files.

The slides' region-search methods (R-CNN, SPPNet, Fast and Faster R-CNN, YOLO)
all report mAP on PASCAL VOC 2007 [1]: 9,963 Flickr photographs, 24,640
objects of 20 classes, each object a box with a class and a "difficult" flag.
This module reads the data set as its organisers ship it, so the chapter's
evaluator (PASCAL VOC average precision) runs on real photographs too.

On disk (the two official archives unpack to one tree)::

    DATA/voc/VOCdevkit/VOC2007/
        Annotations/000005.xml          one XML file per image (format below)
        JPEGImages/000005.jpg
        ImageSets/Main/{train,val,trainval,test}.txt    image ids, one per line

``VOCtrainval_06-Nov-2007.tar`` holds train / val (5,011 images),
``VOCtest_06-Nov-2007.tar`` the test set (4,952). :func:`load_voc` downloads the
one a split needs (:data:`VOC2007_FILES`: mirrors and the md5 torchvision pins),
unpacks it safely (:func:`tfgraph_lessons.data.download.extract`) and merges it
into the tree. ``TFGRAPH_OFFLINE=1`` (or no network) gives an
:class:`~tfgraph_lessons.core.errors.OfflineError` naming the missing path and
the archive to put there.

An annotation (VOC devkit documentation [2])::

    <annotation>
      <folder>VOC2007</folder> <filename>000005.jpg</filename>
      <size><width>500</width><height>375</height><depth>3</depth></size>
      <object>
        <name>chair</name> <pose>Rear</pose>
        <truncated>0</truncated> <difficult>0</difficult>
        <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>
      </object> ...
    </annotation>

VOC's ``xmin..xmax`` are **1-based, inclusive** pixel indices: the box above
covers pixel columns 263..324 (324 - 263 + 1 = 62 pixels, which is why VOC's
own code adds 1 to every width). In this chapter's continuous 0-based corners
those columns are ``[262, 324)``: ``x1 = xmin - 1, x2 = xmax`` (width 62, no +1).

[1] M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman. "The
    PASCAL Visual Object Classes (VOC) Challenge." IJCV 88(2):303-338, 2010.
[2] M. Everingham, J. Winn. "The PASCAL Visual Object Classes Challenge 2007
    (VOC2007) Development Kit." 2007.
"""
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import download as dl
from tfgraph_lessons.data import paths
from tfgraph_lessons.detection.dataset import DetectionSet

__all__ = ["VOC_CLASSES", "VOC2007_FILES", "VOC_SPLITS", "VocObject", "VocAnnotation",
           "parse_annotation", "voc_folder", "ensure_voc", "load_voc", "DEFAULT_IMAGE_SIZE"]

# The official order (the devkit's VOCopts.classes): class id = position here.
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
VOC_SPLITS = ("train", "val", "trainval", "test")
DEFAULT_IMAGE_SIZE = 160
VOC_DIR = "voc"                   # under the data folder

# host.robots.ox.ac.uk is the organisers' server (slow, sometimes down); pjreddie.com
# is the copy darknet's YOLO instructions download. md5s as torchvision's voc.py pins
# them; sizes as the organisers' page lists them (439 MB and 430 MB).
_MIRRORS = ("http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
            "https://pjreddie.com/media/files/")
VOC2007_FILES = {
    "trainval": dl.RemoteFile("VOCtrainval_06-Nov-2007.tar",
                              urls=tuple(m + "VOCtrainval_06-Nov-2007.tar" for m in _MIRRORS),
                              md5="c52e279531787c972589f7e41ab4ae64", size=460_032_000),
    "test": dl.RemoteFile("VOCtest_06-Nov-2007.tar",
                          urls=tuple(m + "VOCtest_06-Nov-2007.tar" for m in _MIRRORS),
                          md5="b6e924de25625d8de591ea690078ad9f", size=451_020_800),
}
_ARCHIVE_OF_SPLIT = {"train": "trainval", "val": "trainval", "trainval": "trainval",
                     "test": "test"}


# ----------------------------------------------------------------------------- annotations

@dataclass(frozen=True)
class VocObject:
    """One annotated object.

    Attributes:
      name: class name, one of :data:`VOC_CLASSES`.
      box: ``float32 [4]`` corners ``[x1, y1, x2, y2]``, continuous 0-based pixels
        (``x1 = xmin - 1``, ``x2 = xmax``; see the module docstring).
      difficult: hard to recognise without context; VOC's evaluation ignores it.
      truncated: the object extends beyond the box (cut by the image border).
      pose: ``'Frontal'``, ``'Rear'``, ``'Left'``, ``'Right'`` or ``'Unspecified'``.
    """

    name: str
    box: np.ndarray
    difficult: bool
    truncated: bool
    pose: str


@dataclass(frozen=True)
class VocAnnotation:
    """One image's annotation: its file name and size, and its objects."""

    filename: str
    width: int
    height: int
    depth: int
    objects: list


def _field(node, path, where, *, required=True):
    """The stripped text of ``node``'s ``path`` (``'size/width'``), or ``None`` if optional."""
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        if not required:
            return None
        tags = "".join(f"<{p}>" for p in path.split("/"))
        raise DataError(f"{where}: missing or empty {tags}; not a complete VOC annotation")
    return found.text.strip()


def _number(node, path, where, *, kind=int, required=True, default=None):
    text = _field(node, path, where, required=required)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not np.isfinite(value) or (kind is int and value != int(value)):
        tags = "".join(f"<{p}>" for p in path.split("/"))
        wanted = "an integer" if kind is int else "a number"
        raise DataError(f"{where}: {tags} is {text!r}, expected {wanted}")
    return kind(value)


def _flag(node, path, where, what):
    value = _number(node, path, where, required=False, default=0)
    if value not in (0, 1):
        raise DataError(f"{where}: {what} <{path}> is {value}, expected 0 or 1")
    return bool(value)


def _parse_object(node, index, width, height, where):
    """One ``<object>``: its class checked, its box checked and converted to 0-based corners."""
    what = f"object {index}"
    name = _field(node, "name", f"{where}: {what}")
    if name not in VOC_CLASSES:
        raise DataError(f"{where}: {what} <name> is {name!r}, not a VOC class "
                        f"({', '.join(VOC_CLASSES)})")
    what = f"object {index} ({name})"
    xmin, ymin, xmax, ymax = (_number(node, f"bndbox/{k}", f"{where}: {what}", kind=float)
                              for k in ("xmin", "ymin", "xmax", "ymax"))
    for lo, hi, axis, limit in ((xmin, xmax, "x", width), (ymin, ymax, "y", height)):
        if hi < lo:
            raise DataError(f"{where}: {what} <bndbox> has {axis}max {hi:g} < {axis}min {lo:g}")
        if lo < 1 or hi > limit:
            raise DataError(f"{where}: {what} <bndbox> {axis}min..{axis}max {lo:g}..{hi:g} is "
                            f"outside the image's 1..{limit} pixels")
    return VocObject(name=name, box=np.array([xmin - 1, ymin - 1, xmax, ymax], np.float32),
                     difficult=_flag(node, "difficult", where, what),
                     truncated=_flag(node, "truncated", where, what),
                     pose=_field(node, "pose", where, required=False) or "Unspecified")


def _read_xml(path_or_bytes, name):
    """``(root element, where)`` from a path or the bytes of an XML file."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        where, data = name or "<annotation bytes>", bytes(path_or_bytes)
    else:
        where = name or str(path_or_bytes)
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as e:
            raise DataError(f"{where}: cannot read the annotation ({e.strerror or e})") from None
    try:
        return ET.fromstring(data), where
    except ET.ParseError as e:
        line, column = e.position
        raise DataError(f"{where}: not well-formed XML (line {line}, column {column + 1}); "
                        "the file is damaged") from None


def parse_annotation(path_or_bytes, name=None):
    """Read one VOC annotation XML file.

    Args:
      path_or_bytes: the file's path, or its contents as bytes.
      name: how error messages name the file (default: the path, or
        ``'<annotation bytes>'``).

    Returns:
      :class:`VocAnnotation`; its objects' boxes in 0-based continuous corners
      (``x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax``).

    Raises:
      DataError: malformed XML, a root other than ``<annotation>``, a missing
        or non-numeric field, an unknown class name, a box with ``xmax < xmin``
        (or ``ymax < ymin``) or outside the image; the message names the file,
        the object and the field.
    """
    root, where = _read_xml(path_or_bytes, name)
    if root.tag != "annotation":
        raise DataError(f"{where}: the root element is <{root.tag}>, expected <annotation>")
    filename = _field(root, "filename", where)
    width, height, depth = (_number(root, f"size/{k}", where) for k in ("width", "height", "depth"))
    if width < 1 or height < 1 or depth < 1:
        raise DataError(f"{where}: <size> is {width}x{height}x{depth}; every side must be >= 1")
    objects = [_parse_object(node, i, width, height, where)
               for i, node in enumerate(root.findall("object"))]
    return VocAnnotation(filename, width, height, depth, objects)


# ----------------------------------------------------------------------------- the files

def voc_folder(data_dir=None, year="2007"):
    """``DATA/voc/VOCdevkit/VOC<year>``, the tree the archives unpack to."""
    return paths.data_dir(data_dir) / VOC_DIR / "VOCdevkit" / f"VOC{year}"


def _merge_tree(source, target):
    """Move every file under ``source`` to the same place under ``target``.

    The trainval and test archives both unpack to ``VOCdevkit/VOC2007``; moving
    the second onto the first as a whole would replace it, so files move one by
    one. The ``ImageSets`` lists move last: a split's list file exists only once
    all its images and annotations are in place, and :func:`ensure_voc` takes
    the list file as the sign that a split is complete.
    """
    files = [Path(d) / f for d, _, names in os.walk(source) for f in names]
    files.sort(key=lambda p: "ImageSets" in p.relative_to(source).parts)
    for path in files:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)


def _unpack(tarball, root):
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpack-"))
    try:
        dl.extract(tarball, staging)
        _merge_tree(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_year_split(year, split):
    if str(year) != "2007":
        raise UsageError(f"load_voc: year {year!r} is not supported; use year='2007'")
    if split not in VOC_SPLITS:
        raise UsageError(f"load_voc: unknown split {split!r}; use one of {', '.join(VOC_SPLITS)}")


def ensure_voc(data_dir=None, year="2007", split="trainval", *, download=True, progress=True):
    """The VOC folder holding ``split``, downloading and unpacking its archive if needed.

    Returns:
      ``DATA/voc/VOCdevkit/VOC2007`` as a :class:`pathlib.Path`.

    Raises:
      OfflineError: the split's list file is missing and the archive cannot be
        downloaded (no network, ``TFGRAPH_OFFLINE=1``, or ``download=False``).
      ChecksumError / DataError: the download or the archive is damaged.
    """
    _check_year_split(year, split)
    folder = voc_folder(data_dir, year)
    listing = folder / "ImageSets" / "Main" / f"{split}.txt"
    if listing.is_file():
        return folder
    remote = VOC2007_FILES[_ARCHIVE_OF_SPLIT[split]]
    root = folder.parents[1]                                      # DATA/voc
    if not download:
        raise OfflineError(f"VOC 2007: {listing} not found and download=False; unpack "
                           f"{remote.filename} (md5 {remote.md5}, from {remote.urls[0]}) into "
                           f"{root}, or allow the download")
    try:
        tarball = dl.fetch(remote, root, progress=progress)
    except OfflineError as e:
        raise OfflineError(f"VOC 2007: {listing} is missing, and {' '.join(str(e).split())}; "
                           f"then it is unpacked into {root}") from None
    _unpack(tarball, root)
    if not listing.is_file():
        raise DataError(f"{tarball}: unpacked, but {listing} is still missing; it is not the "
                        f"official {remote.filename} (delete it to download it again)")
    return folder


def _split_ids(folder, split):
    listing = folder / "ImageSets" / "Main" / f"{split}.txt"
    ids = [line.split()[0] for line in listing.read_text(encoding="utf-8").splitlines()
           if line.strip()]
    if not ids:
        raise DataError(f"{listing}: no image ids; delete {folder.parent} to unpack VOC again")
    return ids


def _read_image(path, ann, image_size):
    """The photograph as ``uint8 [S, S, 3]``, resized (PIL bilinear), and its size checked."""
    from PIL import Image

    if not path.is_file():
        raise DataError(f"{path} is missing but listed in the split; delete "
                        f"{path.parents[2]} to unpack VOC again")
    try:
        with Image.open(path) as im:
            if im.size != (ann.width, ann.height):
                raise DataError(f"{path} is {im.size[0]}x{im.size[1]} but its annotation says "
                                f"{ann.width}x{ann.height}; the boxes would not fit it")
            small = im.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
            return np.asarray(small, np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot read the image ({' '.join(str(e).split())})") from None


def load_voc(data_dir=None, year="2007", split="trainval", *, image_size=DEFAULT_IMAGE_SIZE,
             download=True, limit=None, progress=True):
    """PASCAL VOC 2007 images, resized to squares, with their boxes scaled alike.

    Args:
      data_dir: the data folder (``None``: ``$TFGRAPH_DATA`` or ``data/``).
      year: ``'2007'``.
      split: ``'train'``, ``'val'``, ``'trainval'`` or ``'test'`` (the official lists).
      image_size: side S of the square images (the aspect ratio is not kept:
        each axis is scaled by its own factor, and so are the boxes).
      download: fetch and unpack the split's archive if it is missing.
      limit: read only the first ``limit`` images of the list.
      progress: a progress bar over the images.

    Returns:
      :class:`~tfgraph_lessons.detection.dataset.DetectionSet`: images ``uint8
      [N, S, S, 3]``; per image its boxes (``x * S / width``, ``y * S / height``
      of the 0-based corners), class ids into :data:`VOC_CLASSES`, difficult flags.

    Raises:
      UsageError: a bad year, split, image_size or limit. OfflineError: files
        missing and no network. DataError: a damaged file (named).
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise UsageError(f"load_voc: image_size must be an integer >= 1, got {image_size!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise UsageError(f"load_voc: limit must be None or an integer >= 1, got {limit!r}")
    folder = ensure_voc(data_dir, year, split, download=download, progress=progress)
    ids = _split_ids(folder, split)[:limit]
    images = np.zeros((len(ids), image_size, image_size, 3), np.uint8)
    boxes, classes, difficult = [], [], []
    for i, image_id in enumerate(_progress(ids, progress, split)):
        ann = parse_annotation(folder / "Annotations" / f"{image_id}.xml")
        images[i] = _read_image(folder / "JPEGImages" / f"{image_id}.jpg", ann, image_size)
        scale = np.array([image_size / ann.width, image_size / ann.height] * 2, np.float32)
        corners = np.array([o.box for o in ann.objects], np.float32).reshape(-1, 4) * scale
        boxes.append(np.clip(corners, 0, image_size))           # float rounding at the border
        classes.append(np.array([VOC_CLASSES.index(o.name) for o in ann.objects], np.int64))
        difficult.append(np.array([o.difficult for o in ann.objects], bool))
    return DetectionSet(images, boxes, classes, VOC_CLASSES, difficult, f"voc{year}/{split}")


def _progress(iterable, enabled, split):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=f"VOC {split}", unit="image", leave=False)
