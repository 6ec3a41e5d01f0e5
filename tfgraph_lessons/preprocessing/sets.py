"""The slides' data sets: what each one is, which are on disk, and COCO's annotation format.

MNIST [1], CIFAR-10/100 [2], SVHN [3] and scikit-learn's 8x8 digits [4] are
loaded by :mod:`tfgraph_lessons.data.datasets`; :func:`survey_datasets` tries
every split of each and reports shapes, dtype, pixel range and class names, or
why a split is not there. Nothing is downloaded unless asked.

COCO [5] (Common Objects in Context) is a detection and segmentation data set
of 19 GB; it is described here, not downloaded. Its annotations are one JSON
file per split::

    {"images":      [{"id", "file_name", "width", "height", ...}],
     "annotations": [{"id", "image_id", "category_id",
                      "bbox": [x, y, width, height],        # top-left corner + size, pixels
                      "segmentation": [[x1, y1, x2, y2, ...]],  # polygon (or RLE if iscrowd)
                      "area", "iscrowd"}],
     "categories":  [{"id", "name", "supercategory"}]}

:func:`coco_example` builds a small file in that format, :func:`read_coco` reads
one back and checks what the format promises (ids that link up, boxes inside
their image, box and area agreeing with the polygon). ``pycocotools`` reads the
same file (the tests check it).

[1] Y. LeCun et al. "Gradient-Based Learning Applied to Document Recognition." 1998.
[2] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny Images." 2009.
[3] Y. Netzer et al. "Reading Digits in Natural Images with Unsupervised Feature Learning." 2011.
[4] E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits." UCI, 1998.
[5] T.-Y. Lin et al. "Microsoft COCO: Common Objects in Context." ECCV 2014;
    the format: https://cocodataset.org/#format-data
"""
import json
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.errors import DataError
from tfgraph_lessons.data import datasets, paths

COLOUR_SETS = ("cifar10", "svhn", "cifar100")  # the first one on disk shows the channels


def one_line(err):
    """An error's message on one line."""
    return " ".join(str(err).split())


ABOUT = {
    "mnist": "handwritten digits: 60,000 train + 10,000 test, 28x28 grey, 10 classes [1]",
    "cifar10": "tiny photos: 50,000 train + 10,000 test, 32x32 colour, 10 classes [2]",
    "cifar100": "tiny photos: 50,000 train + 10,000 test, 32x32 colour, 100 classes in 20 "
                "superclasses [2]",
    "svhn": "house numbers from Street View: 73,257 train + 26,032 test (+531,131 extra), "
            "32x32 colour, 10 digits [3]",
    "digits": "handwritten digits: 1,797 images 8x8 grey, bundled with scikit-learn (split "
              "80/20 here) [4]",
    "coco": "Common Objects in Context: 118,287 train2017 + 5,000 val2017 photos of everyday "
            "scenes, 80 object categories (ids 1..90 with gaps), each object with a box, a "
            "polygon or RLE mask, plus 5 captions per image [5]; not downloaded (about 19 GB)",
}


def class_names(name, data_dir=None):
    """The class names of a data set; CIFAR-100's come from its label file when it is
    on disk (``class 0`` ... otherwise)."""
    if name == "cifar10":
        return datasets.CIFAR10_CLASSES
    if name == "cifar100":
        path = (paths.data_dir(data_dir) / datasets.CIFAR100_DIR
                / datasets.CIFAR100_LABEL_FILES["fine"])
        if path.is_file():
            return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
        return tuple(f"class {k}" for k in range(100))
    return datasets.DIGIT_CLASSES


def survey_datasets(data_dir=None, download=False, splits=("train", "test")):
    """Load every split of every data set that is on disk (or downloadable with ``download``).

    Args:
      data_dir: the data folder (None: ``$TFGRAPH_DATA`` or ``data/``).
      download: fetch missing files (checksummed); False reads only what is there.
      splits: the parts to try (fast mode: ``('test',)``).
    Returns:
      ``(summary, loaded)``: ``summary[name]`` is JSON (``available``, ``about``, the
      shape, dtype and pixel range of each split, ``num_classes``, ``class_names``,
      ``missing``: why a split was not loaded); ``loaded[name]`` is
      ``(images, labels, class_names)`` of the first split that loaded.
    """
    summary, loaded = {}, {}
    for name in datasets.DATASETS:
        parts, missing = {}, {}
        for split in splits:
            try:
                parts[split] = datasets.load_split(name, split, data_dir, download=download)
            except DataError as e:
                missing[split] = one_line(e)
        names = class_names(name, data_dir)
        summary[name] = {"available": bool(parts), "about": ABOUT[name],
                         "splits": {s: {"images": list(x.shape), "labels": list(y.shape),
                                        "dtype": str(x.dtype), "pixel_min": int(x.min()),
                                        "pixel_max": int(x.max())}
                                    for s, (x, y) in parts.items()},
                         "num_classes": len(names), "class_names": list(names),
                         "missing": missing}
        if parts:
            images, labels = next(iter(parts.values()))
            loaded[name] = (images, labels, names)
    summary["coco"] = {"available": False, "about": ABOUT["coco"],
                       "format_example": "coco_example.json"}
    return summary, loaded


def sample_photos():
    """scikit-learn's two bundled colour photographs (a temple in China, a flower):
    ``uint8 [2, 427, 640, 3]``, the offline stand-in for a colour data set."""
    from sklearn.datasets import load_sample_images

    return np.stack(load_sample_images().images)


def colour_images(loaded, limit=1000):
    """Colour images to split and normalise: the first colour data set on disk, else the
    sample photos (every third pixel: 143x214, small enough for quick augmentation).

    Returns:
      ``(images uint8 [n, H, W, 3], source name)``.
    """
    for name in COLOUR_SETS:
        if name in loaded:
            return loaded[name][0][:limit], name
    return sample_photos()[:, ::3, ::3], "scikit-learn sample photos"


# --------------------------------------------------------------------------- COCO


def _shoelace(flat):
    """Area of a polygon given as COCO writes it: ``[x1, y1, x2, y2, ...]``."""
    x, y = np.asarray(flat[0::2], float), np.asarray(flat[1::2], float)
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _annotation(ann_id, image_id, category_id, polygon):
    """One COCO object: the polygon outline, its box ``[x, y, width, height]`` (top-left
    corner and size, in pixels) and its area (of the polygon, as COCO's field holds)."""
    x, y = polygon[0::2], polygon[1::2]
    return {"id": ann_id, "image_id": image_id, "category_id": category_id,
            "segmentation": [list(polygon)], "area": round(_shoelace(polygon), 2),
            "bbox": [min(x), min(y), max(x) - min(x), max(y) - min(y)], "iscrowd": 0}


def coco_example():
    """A two-image annotation file in COCO's "instances" format (real category ids:
    person 1, dog 18, frisbee 34). Values are made up; the structure is COCO's."""
    return {
        "info": {"description": "tfgraph_lessons: a COCO-format example", "version": "1.0",
                 "year": 2024},
        "licenses": [{"id": 1, "name": "CC BY 4.0",
                      "url": "https://creativecommons.org/licenses/by/4.0/"}],
        "images": [{"id": 1, "file_name": "000000000001.jpg", "width": 640, "height": 480,
                    "license": 1},
                   {"id": 2, "file_name": "000000000002.jpg", "width": 500, "height": 375,
                    "license": 1}],
        "annotations": [
            _annotation(1, 1, 1, [100, 80, 160, 70, 190, 300, 170, 420, 110, 420, 90, 250]),
            _annotation(2, 1, 18, [300, 300, 420, 280, 450, 380, 320, 400]),
            _annotation(3, 2, 34, [200, 100, 260, 95, 270, 130, 205, 135]),
            _annotation(4, 2, 18, [50, 150, 180, 140, 190, 300, 60, 320])],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                       {"id": 18, "name": "dog", "supercategory": "animal"},
                       {"id": 34, "name": "frisbee", "supercategory": "sports"}],
    }


def read_coco(path):
    """Read a COCO annotation file and check what the format promises.

    Every annotation names an image and a category that exist, its box lies inside
    its image, and its box and area agree with its polygon.

    Returns:
      ``{'images', 'annotations', 'categories', 'objects_per_category', 'boxes'}``;
      ``boxes`` holds ``[image_id, category name, x1, y1, x2, y2]`` (corners).
    Raises:
      DataError: one line naming the first annotation that breaks the format.
    """
    try:
        coco = json.loads(Path(path).read_text(encoding="utf-8"))
        images = {im["id"]: im for im in coco["images"]}
        categories = {c["id"]: c["name"] for c in coco["categories"]}
        annotations = coco["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a COCO annotation file ({one_line(e)})") from None
    boxes, counts = [], {name: 0 for name in categories.values()}
    for ann in annotations:
        where = f"{path}: annotation {ann.get('id')}"
        image = images.get(ann.get("image_id"))
        if image is None or ann.get("category_id") not in categories:
            raise DataError(f"{where} names an image or category that is not in the file")
        x, y, w, h = ann["bbox"]
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > image["width"] or y + h > image["height"]:
            raise DataError(f"{where}: box {ann['bbox']} is not inside its "
                            f"{image['width']}x{image['height']} image")
        polygon = ann["segmentation"][0]
        px, py = polygon[0::2], polygon[1::2]
        if [min(px), min(py), max(px) - min(px), max(py) - min(py)] != [x, y, w, h] or \
                abs(_shoelace(polygon) - ann["area"]) > 0.01:
            raise DataError(f"{where}: box or area does not match its polygon")
        name = categories[ann["category_id"]]
        counts[name] += 1
        boxes.append([ann["image_id"], name, x, y, x + w, y + h])
    return {"images": len(images), "annotations": len(annotations),
            "categories": sorted(categories.values()), "objects_per_category": counts,
            "boxes": boxes}


def write_coco_example(path):
    """Write :func:`coco_example` to ``path`` (atomically); returns the path."""
    from tfgraph_lessons.core.io import write_json

    write_json(path, coco_example())
    return Path(path)
