"""Detection data: the DetectionSet container, the digit canvases and the PASCAL VOC reader.

The canvases are checked against their own rules (boxes tight around the ink,
overlap and centre distance limits, disjoint source digits per split); the
resize against PIL; the VOC reader on small files written in the official
format, downloaded from a local HTTP server where the download path is tested.
"""
import hashlib
import struct
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import download as dl
from tfgraph_lessons.data.preprocess import held_out_split
from tfgraph_lessons.detection import digits, voc
from tfgraph_lessons.detection.dataset import DetectionSet, load_detection, pad_boxes


# ----------------------------------------------------------------------------- helpers

def pairwise_iou(boxes):
    """[k, k] IoU of corner boxes, plain NumPy (the reference for the placement rule)."""
    b = np.asarray(boxes, np.float64)
    lo = np.maximum(b[:, None, :2], b[None, :, :2])
    hi = np.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area[:, None] + area[None, :] - inter)


def check_canvas_rules(ds, *, canvas_size, per_image, digit_size, max_iou, min_distance,
                       threshold):
    """Every rule of make_canvases on every canvas of ``ds``; returns the largest IoU seen."""
    lo, hi = per_image
    worst = 0.0
    assert ds.images.shape == (len(ds), canvas_size, canvas_size, 1)
    for img, boxes in zip(ds.images[..., 0], ds.boxes):
        assert lo >= 1 and 1 <= len(boxes) <= hi
        assert np.array_equal(boxes, np.round(boxes))                 # ink edges are pixel edges
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= canvas_size).all()
        assert (boxes[:, 2:] - boxes[:, :2] >= 1).all()
        assert (boxes[:, 2:] - boxes[:, :2] <= digit_size[1]).all()
        ink = img >= threshold
        covered = np.zeros_like(ink)
        for x1, y1, x2, y2 in boxes.astype(int):
            covered[y1:y2, x1:x2] = True
            # tight: ink on each of the box's four border lines
            assert ink[y1, x1:x2].any() and ink[y2 - 1, x1:x2].any()
            assert ink[y1:y2, x1].any() and ink[y1:y2, x2 - 1].any()
        assert not (ink & ~covered).any()                             # no ink outside the boxes
        if len(boxes) > 1:
            iou = pairwise_iou(boxes)[np.triu_indices(len(boxes), 1)]
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            dist = np.linalg.norm(centres[:, None] - centres[None], axis=2)
            assert (iou <= max_iou + 1e-9).all()
            assert (dist[np.triu_indices(len(boxes), 1)] >= min_distance).all()
            worst = max(worst, float(iou.max()))
    return worst


def write_idx(path, array):
    """An un-gzipped IDX file: magic 0x00 0x00 0x08 ndim, big-endian dims, the uint8 payload."""
    array = np.asarray(array, np.uint8)
    head = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(head + array.tobytes())


@pytest.fixture(scope="module")
def sk_sources():
    return digits.sklearn_sources()[0]


@pytest.fixture(scope="module")
def sk_canvases(sk_sources):
    images, labels, ids = sk_sources["train"]
    return digits.make_canvases(images, labels, 300, seed=0, source_ids=ids)


# ----------------------------------------------------------------------------- DetectionSet

def small_set(**changes):
    fields = dict(images=np.zeros((3, 10, 12, 1), np.uint8),
                  boxes=[[[0, 0, 4, 5]], np.zeros((0, 4)), [[1, 2, 12, 10], [3, 3, 3, 3]]],
                  classes=[[1], [], [0, 2]], class_names=("a", "b", "c"),
                  difficult=[[False], [], [True, False]], name="small")
    fields.update(changes)
    return DetectionSet(**fields)


def test_detection_set_holds_per_image_boxes():
    ds = small_set()
    assert len(ds) == 3 and ds.num_classes == 3 and ds.num_boxes == 3
    assert ds.image_shape == (10, 12, 1)
    assert ds.boxes[1].shape == (0, 4) and ds.boxes[0].dtype == np.float32
    assert ds.classes[2].dtype == np.int64 and ds.difficult[2].tolist() == [True, False]
    part = ds.subset([2, 0])
    assert len(part) == 2 and part.classes[0].tolist() == [0, 2] and part.num_boxes == 3
    assert part.difficult[1].tolist() == [False]
    assert len(ds.subset(np.array([False, True, True]))) == 2 and len(ds.subset(1)) == 1
    assert "3 images 10x12x1, 3 boxes" in repr(ds)


@pytest.mark.parametrize("changes, words", [
    (dict(boxes=[[[4, 0, 2, 5]], [], [[1, 2, 3, 4], [1, 1, 2, 2]]]), ["boxes[0] box 0", "x2 < x1"]),
    (dict(boxes=[[[0, 0, 4, 5]], [], [[1, 2, 3, 4], [np.nan, 0, 1, 1]]]), ["boxes[2] box 1", "NaN"]),
    (dict(boxes=[[[0, 0, 13, 5]], [], [[1, 2, 3, 4], [1, 1, 2, 2]]]), ["boxes[0]", "outside the 12x10"]),
    (dict(classes=[[3], [], [0, 2]]), ["classes[0]", "0..2"]),
    (dict(classes=[[1], [], [0]]), ["image 2 has 2 boxes but 1 classes"]),
    (dict(difficult=[[True], [], []]), ["image 2", "difficult"]),
    (dict(boxes=[[[0, 0, 4, 5]], []]), ["3 images but 2 entries in boxes"]),
    (dict(images=np.zeros((3, 10, 12, 1), np.float32)), ["uint8 [N, H, W, C]"]),
    (dict(images=np.zeros((3, 10, 12), np.uint8)), ["uint8 [N, H, W, C]"]),
])
def test_detection_set_rejects_bad_input(changes, words):
    with pytest.raises(UsageError) as err:
        small_set(**changes)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_pad_boxes():
    boxes, classes, counts = pad_boxes([[[1, 2, 3, 4]], np.zeros((0, 4)), [[0, 0, 1, 1], [5, 5, 6, 7]]],
                                       [[7], [], [2, 0]])
    assert boxes.shape == (3, 2, 4) and boxes.dtype == np.float32
    assert classes.dtype == np.int32 and counts.dtype == np.int32
    assert counts.tolist() == [1, 0, 2]
    assert classes.tolist() == [[7, -1], [-1, -1], [2, 0]]
    assert boxes[2, 1].tolist() == [5, 5, 6, 7] and not boxes[1].any() and not boxes[0, 1].any()
    wide, wide_classes, _ = pad_boxes([[[1, 2, 3, 4]]], [[1]], max_boxes=4)
    assert wide.shape == (1, 4, 4) and wide_classes.tolist() == [[1, -1, -1, -1]]
    empty = pad_boxes([np.zeros((0, 4))] * 2, [[], []])
    assert empty[0].shape == (2, 0, 4) and empty[2].tolist() == [0, 0]
    with pytest.raises(UsageError, match="max_boxes=1 but image 0 has 2 boxes"):
        pad_boxes([[[0, 0, 1, 1], [0, 0, 2, 2]]], [[0, 1]], max_boxes=1)
    with pytest.raises(UsageError, match="image 0 has 1 boxes but 2 classes"):
        pad_boxes([[[0, 0, 1, 1]]], [[0, 1]])


# ----------------------------------------------------------------------------- resizing

@pytest.mark.parametrize("size_in, size_out", [(28, 14), (28, 30), (8, 20), (28, 17), (10, 3)])
def test_resize_matches_pil_bilinear(size_in, size_out):
    x = np.random.default_rng(size_out).integers(0, 256, (6, size_in, size_in)).astype(np.uint8)
    ours = np.rint(digits.resize_images(x, size_out))
    pil = np.stack([np.asarray(Image.fromarray(a).resize((size_out, size_out),
                                                         Image.Resampling.BILINEAR)) for a in x])
    # PIL rounds to uint8 between its two passes: at most one grey level apart
    assert np.abs(ours - pil).max() <= 1
    assert np.allclose(digits.resize_matrix(size_in, size_out).sum(axis=1), 1)


def test_resize_keeps_a_constant_image():
    x = np.full((2, 9, 9), 200, np.uint8)
    assert np.allclose(digits.resize_images(x, 25, 4), 200)


# ----------------------------------------------------------------------------- canvases

def test_canvases_follow_the_rules(sk_canvases, sk_sources):
    worst = check_canvas_rules(sk_canvases, canvas_size=64, per_image=(1, 4), digit_size=(14, 30),
                               max_iou=0.3, min_distance=12.0, threshold=64)
    assert worst > 0.0                       # overlapping boxes do occur
    counts = np.array([len(b) for b in sk_canvases.boxes])
    assert set(counts.tolist()) == {1, 2, 3, 4}
    # each object's class is its source digit's label
    images, labels, ids = sk_sources["train"]
    label_of = dict(zip(ids.tolist(), labels.tolist()))
    for cls, src in zip(sk_canvases.classes, sk_canvases.sources):
        assert [label_of[s] for s in src.tolist()] == cls.tolist()


def test_canvases_on_real_mnist_follow_the_rules(mnist_test_dir):
    from tfgraph_lessons.data import datasets

    images, labels = datasets.load_split("mnist", "test", mnist_test_dir.parent, download=False)
    ds = digits.make_canvases(images[:500], labels[:500], 200, canvas_size=48,
                              digits_per_image=(2, 5), digit_size=(12, 24), max_iou=0.2,
                              min_center_distance=10.0, ink_threshold=100, seed=4)
    check_canvas_rules(ds, canvas_size=48, per_image=(1, 5), digit_size=(12, 24), max_iou=0.2,
                       min_distance=10.0, threshold=100)
    assert max(len(b) for b in ds.boxes) == 5


def test_canvases_are_deterministic(sk_sources):
    images, labels, _ = sk_sources["val"]
    a, b = (digits.make_canvases(images, labels, 40, seed=7) for _ in range(2))
    c = digits.make_canvases(images, labels, 40, seed=8)
    assert np.array_equal(a.images, b.images)
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert all(np.array_equal(x, y) for x, y in zip(a.sources, b.sources))
    assert not np.array_equal(a.images, c.images)


@pytest.mark.parametrize("max_iou, min_distance", [(0.1, 0.0), (1.0, 20.0)])
def test_each_placement_rule_holds_on_its_own(sk_sources, max_iou, min_distance):
    images, labels, _ = sk_sources["val"]
    crowded = dict(canvas_size=40, digits_per_image=(3, 4), digit_size=(16, 24), seed=2)
    ds = digits.make_canvases(images, labels, 150, max_iou=max_iou,
                              min_center_distance=min_distance, **crowded)
    check_canvas_rules(ds, canvas_size=40, per_image=(1, 4), digit_size=(16, 24), max_iou=max_iou,
                       min_distance=min_distance, threshold=64)
    # without the rule the same canvases break it: the rule is what keeps it
    free = digits.make_canvases(images, labels, 150, max_iou=1.0, min_center_distance=0.0,
                                **crowded)
    with pytest.raises(AssertionError):
        check_canvas_rules(free, canvas_size=40, per_image=(1, 4), digit_size=(16, 24),
                           max_iou=max_iou, min_distance=min_distance, threshold=64)


def test_a_digit_that_does_not_fit_is_left_out(sk_sources):
    images, labels, _ = sk_sources["val"]
    # 4 digits of side 30 on a 32 canvas with centres 12 apart cannot all fit
    ds = digits.make_canvases(images, labels, 30, canvas_size=32, digits_per_image=(4, 4),
                              digit_size=(30, 30), seed=1)
    counts = [len(b) for b in ds.boxes]
    assert min(counts) >= 1 and max(counts) < 4


@pytest.mark.parametrize("changes, word", [
    (dict(count=-1), "count"),
    (dict(digits_per_image=(0, 2)), "digits_per_image"),
    (dict(digits_per_image=(3, 2)), "digits_per_image"),
    (dict(digit_size=(10, 80)), "digit_size"),
    (dict(max_iou=1.5), "max_iou"),
    (dict(min_center_distance=-1.0), "min_center_distance"),
    (dict(ink_threshold=0), "ink_threshold"),
    (dict(digit_images=np.zeros((4, 8, 8), np.float32)), "digit_images"),
    (dict(digit_labels=np.zeros(3, np.int64)), "digit_labels"),
    (dict(digit_images=np.zeros((4, 8, 8), np.uint8)), "no pixel >= ink_threshold"),
])
def test_make_canvases_rejects_bad_arguments(changes, word):
    args = dict(digit_images=np.full((4, 8, 8), 255, np.uint8), digit_labels=np.arange(4),
                count=3)
    args.update(changes)
    with pytest.raises(UsageError, match=word):
        digits.make_canvases(**args)


# ----------------------------------------------------------------------------- splits

def test_sklearn_splits_use_disjoint_source_digits():
    data = load_detection("digits-sklearn", seed=3, sizes={"train": 60, "val": 20, "test": 30})
    assert data["source"] == "sklearn-digits"
    assert [len(data[p]) for p in ("train", "val", "test")] == [60, 20, 30]
    used = {p: set(np.concatenate(data[p].sources).tolist()) for p in ("train", "val", "test")}
    assert not used["train"] & used["test"] and not used["train"] & used["val"]
    assert not used["val"] & used["test"]
    assert data["test"].name == "digits-sklearn/test"
    # the source split is fixed; only the canvases follow the seed
    again = load_detection("digits_sklearn", seed=4, sizes={"train": 60, "val": 20, "test": 30})
    assert not np.array_equal(again["test"].images, data["test"].images)


def test_mnist_offline_split_matches_the_gan_chapter(mnist_test_dir, monkeypatch, capsys):
    from tfgraph_lessons import gan_mnist

    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    sources, origin = digits.mnist_sources(mnist_test_dir.parent)
    assert origin == "mnist-test-split"
    assert "no MNIST training set" in capsys.readouterr().out
    assert digits.TEST_SPLIT == gan_mnist.SPLIT
    labels = sources["train"][1].tolist() + sources["val"][1].tolist() + sources["test"][1].tolist()
    assert len(labels) == 10_000
    ids = {p: sources[p][2] for p in ("train", "val", "test")}
    assert [len(ids[p]) for p in ("train", "val", "test")] == [7_000, 1_000, 2_000]
    assert len(set(np.concatenate(list(ids.values())).tolist())) == 10_000   # disjoint
    assert ids["test"].min() >= 60_000                                         # test digits
    all_labels = np.zeros(10_000, np.int64)
    for p in ids:
        all_labels[ids[p] - 60_000] = sources[p][1]
    expected = held_out_split(all_labels, **{k: v for k, v in gan_mnist.SPLIT.items()})
    assert np.array_equal(ids["test"] - 60_000, expected["test"])
    sets = load_detection("digits-mnist", mnist_test_dir.parent, sizes={"train": 20, "val": 5,
                                                                        "test": 5})
    assert sets["source"] == "mnist-test-split" and len(sets["train"]) == 20
    assert set(np.concatenate(sets["test"].sources).tolist()) <= set(ids["test"].tolist())


def test_mnist_training_set_gives_train_and_val_canvases(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 120), ("t10k", 30)):
        write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    monkeypatch.setattr(digits, "MNIST_VAL_SIZE", 20)
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    sources, origin = digits.mnist_sources(tmp_path)
    assert origin == "mnist"
    assert sources["train"][2].tolist() == list(range(100))
    assert sources["val"][2].tolist() == list(range(100, 120))
    assert sources["test"][2].tolist() == list(range(60_000, 60_030))
    monkeypatch.setattr(digits, "MNIST_VAL_SIZE", 200)
    with pytest.raises(DataError, match="only 120 digits"):
        digits.mnist_sources(tmp_path)


def test_digit_detection_refuses_overlapping_sources(sk_sources):
    bad = dict(sk_sources, test=sk_sources["train"])
    with pytest.raises(UsageError, match="train and test sources share"):
        digits.digit_detection(bad, {"train": 2, "val": 2, "test": 2})
    with pytest.raises(UsageError, match="train, val, test"):
        digits.digit_detection(sk_sources, {"tests": 2})


def test_load_detection_names_and_options():
    with pytest.raises(UsageError) as err:
        load_detection("coco")
    assert all(n in str(err.value) for n in ("digits-mnist", "digits-sklearn", "voc2007"))
    with pytest.raises(UsageError, match="unknown canvas options"):
        load_detection("digits-sklearn", sizes={"train": 1, "val": 1, "test": 1}, colour=True)
    with pytest.raises(UsageError, match="voc2007 takes"):
        load_detection("voc2007", colour=True)


# ----------------------------------------------------------------------------- VOC: parsing

def voc_xml(filename="000005.jpg", size=(500, 375, 3), objects=None, drop=(), root="annotation"):
    """An annotation written the way VOC 2007's files are (000005.xml's structure)."""
    if objects is None:
        objects = [("chair", "Rear", 0, 0, (263, 211, 324, 339)),
                   ("chair", "Unspecified", 1, 1, (5, 244, 67, 374))]
    parts = [f"<{root}>", "\t<folder>VOC2007</folder>", f"\t<filename>{filename}</filename>",
             "\t<source>\n\t\t<database>The VOC2007 Database</database>\n"
             "\t\t<annotation>PASCAL VOC2007</annotation>\n\t\t<image>flickr</image>\n\t</source>",
             "\t<size>"]
    parts += [f"\t\t<{k}>{v}</{k}>" for k, v in zip(("width", "height", "depth"), size)
              if k not in drop]
    parts += ["\t</size>", "\t<segmented>0</segmented>"]
    for name, pose, truncated, difficult, box in objects:
        coords = "".join(f"\n\t\t\t<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box)
                         if k not in drop)
        parts.append(f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>{pose}</pose>\n"
                     f"\t\t<truncated>{truncated}</truncated>\n\t\t<difficult>{difficult}</difficult>\n"
                     f"\t\t<bndbox>{coords}\n\t\t</bndbox>\n\t</object>")
    parts.append(f"</{root}>")
    return "\n".join(parts).encode()


def test_voc_classes_and_files():
    assert len(voc.VOC_CLASSES) == 20 and voc.VOC_CLASSES == tuple(sorted(voc.VOC_CLASSES))
    assert voc.VOC_CLASSES[0] == "aeroplane" and voc.VOC_CLASSES[-1] == "tvmonitor"
    assert {"diningtable", "pottedplant", "motorbike", "person"} <= set(voc.VOC_CLASSES)
    assert set(voc.VOC2007_FILES) == {"trainval", "test"}
    for spec in voc.VOC2007_FILES.values():
        assert isinstance(spec, dl.RemoteFile) and spec.filename.endswith("06-Nov-2007.tar")
        assert len(spec.md5) == 32 and int(spec.md5, 16) >= 0
        assert spec.urls[0].startswith("http://host.robots.ox.ac.uk/pascal/VOC/voc2007/")
        assert len(spec.urls) >= 2 and all(u.endswith("/" + spec.filename) for u in spec.urls)


def test_parse_annotation_converts_to_zero_based_corners(tmp_path):
    path = tmp_path / "000005.xml"
    path.write_bytes(voc_xml())
    for source in (path, str(path), path.read_bytes()):
        ann = voc.parse_annotation(source)
        assert (ann.filename, ann.width, ann.height, ann.depth) == ("000005.jpg", 500, 375, 3)
        first, second = ann.objects
        # VOC's 1-based inclusive xmin..xmax = 263..324 is columns [262, 324): 62 pixels wide
        assert first.box.tolist() == [262, 210, 324, 339] and first.box.dtype == np.float32
        assert (first.name, first.pose) == ("chair", "Rear")
        assert not first.difficult and not first.truncated
        assert second.box.tolist() == [4, 243, 67, 374]
        assert second.difficult and second.truncated and second.pose == "Unspecified"
    # a box touching the image's last pixel ends exactly at the border
    edge = voc.parse_annotation(voc_xml(objects=[("dog", "Left", 0, 0, (1, 1, 500, 375))]))
    assert edge.objects[0].box.tolist() == [0, 0, 500, 375]


@pytest.mark.parametrize("xml, words", [
    (voc_xml()[:-20], ["not well-formed XML"]),
    (voc_xml(root="annotations"), ["root element is <annotations>"]),
    (voc_xml(drop=("width",)), ["<size><width>", "missing"]),
    (voc_xml(drop=("xmax",)), ["object 0 (chair)", "<bndbox><xmax>", "missing"]),
    (voc_xml(objects=[("chairs", "Rear", 0, 0, (1, 1, 5, 5))]),
     ["object 0", "'chairs'", "not a VOC class"]),
    (voc_xml(objects=[("cat", "Rear", 0, 0, (30, 1, 20, 5))]), ["object 0 (cat)", "xmax 20 < xmin 30"]),
    (voc_xml(objects=[("cat", "Rear", 0, 0, (1, 9, 5, 8))]), ["ymax 8 < ymin 9"]),
    (voc_xml(objects=[("cat", "Rear", 0, 0, (1, 1, 501, 5))]), ["xmin..xmax 1..501", "outside"]),
    (voc_xml(objects=[("cat", "Rear", 0, 0, (0, 1, 5, 5))]), ["xmin..xmax 0..5", "outside"]),
    (voc_xml(objects=[("cat", "Rear", 0, 0, (1, 1, "5x", 5))]), ["<bndbox><xmax> is '5x'"]),
    (voc_xml(objects=[("cat", "Rear", 0, 2, (1, 1, 5, 5))]), ["<difficult> is 2"]),
    (voc_xml(size=(0, 375, 3)), ["<size> is 0x375x3"]),
])
def test_parse_annotation_rejects_malformed_files(tmp_path, xml, words):
    path = tmp_path / "000042.xml"
    path.write_bytes(xml)
    with pytest.raises(DataError) as err:
        voc.parse_annotation(path)
    msg = str(err.value)
    assert "000042.xml" in msg and all(w in msg for w in words), msg
    assert "\n" not in msg
    with pytest.raises(DataError, match="my.xml"):
        voc.parse_annotation(xml, name="my.xml")


# ----------------------------------------------------------------------------- VOC: loading

# Three images of the tiny tree: id, size (w, h), objects (name, difficult, VOC box), split.
TINY = [
    ("000005", (120, 80), [("chair", 0, (11, 21, 50, 60)), ("person", 1, (61, 1, 120, 80))], "test"),
    ("000007", (60, 90), [("car", 0, (1, 31, 30, 90))], "test"),
    ("000009", (100, 100), [("dog", 0, (41, 41, 80, 80))], "train"),
]
COLOURS = {"chair": (250, 20, 20), "person": (20, 250, 20), "car": (20, 20, 250), "dog": (250, 250, 20)}


def write_voc_tree(root, records, lists):
    """A VOCdevkit/VOC2007 tree: annotations in the official format, JPEGs, split lists."""
    base = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for image_id, (w, h), objects, _ in records:
        pixels = np.full((h, w, 3), 128, np.uint8)
        for name, _, (x1, y1, x2, y2) in objects:
            pixels[y1 - 1:y2, x1 - 1:x2] = COLOURS[name]          # 1-based inclusive -> slice
        Image.fromarray(pixels).save(base / "JPEGImages" / f"{image_id}.jpg", quality=95)
        rows = [(n, "Frontal", 0, d, box) for n, d, box in objects]
        (base / "Annotations" / f"{image_id}.xml").write_bytes(
            voc_xml(f"{image_id}.jpg", (w, h, 3), rows))
    for split, ids in lists.items():
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    return base


def test_load_voc_resizes_images_and_scales_boxes(tmp_path):
    write_voc_tree(tmp_path / "voc", TINY, {"test": ["000005", "000007"], "train": ["000009"],
                                            "val": ["000007"]})
    ds = voc.load_voc(tmp_path, split="test", image_size=40, progress=False)
    assert ds.images.shape == (2, 40, 40, 3) and ds.images.dtype == np.uint8
    assert ds.class_names == voc.VOC_CLASSES and ds.name == "voc2007/test"
    # 000005 is 120x80: x scales by 1/3, y by 1/2; VOC (11, 21, 50, 60) -> [10, 20, 50, 60]
    assert np.allclose(ds.boxes[0], [[10 / 3, 10, 50 / 3, 30], [20, 0, 40, 40]])
    assert [voc.VOC_CLASSES[c] for c in ds.classes[0]] == ["chair", "person"]
    assert ds.difficult[0].tolist() == [False, True] and ds.difficult[1].tolist() == [False]
    assert np.allclose(ds.boxes[1], [[0, 30 * 40 / 90, 20, 40]])
    # the scaled boxes land on the painted rectangles of the resized image
    for img, boxes, classes in zip(ds.images, ds.boxes, ds.classes):
        for (x1, y1, x2, y2), c in zip(boxes, classes):
            centre = img[int((y1 + y2) / 2), int((x1 + x2) / 2)].astype(int)
            assert np.abs(centre - COLOURS[voc.VOC_CLASSES[c]]).max() < 40
    assert len(voc.load_voc(tmp_path, split="test", image_size=40, limit=1, progress=False)) == 1
    data = load_detection("voc2007", tmp_path, canvas_size=32, progress=False)
    assert data["source"] == "voc2007" and [len(data[p]) for p in ("train", "val", "test")] == [1, 1, 2]
    assert data["train"].images.shape == (1, 32, 32, 3)


def test_load_voc_names_a_damaged_tree(tmp_path):
    base = write_voc_tree(tmp_path / "voc", TINY[:2], {"test": ["000005", "000007", "000011"]})
    with pytest.raises(DataError, match="000011.xml"):
        voc.load_voc(tmp_path, split="test", progress=False)
    Image.new("RGB", (10, 10)).save(base / "JPEGImages" / "000007.jpg")
    with pytest.raises(DataError, match="000007.jpg is 10x10 but its annotation says 60x90"):
        voc.load_voc(tmp_path, split="test", progress=False, limit=2)
    with pytest.raises(UsageError, match="unknown split"):
        voc.load_voc(tmp_path, split="tset")
    with pytest.raises(UsageError, match="year"):
        voc.load_voc(tmp_path, year="2012")


def test_missing_voc_offline_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        voc.load_voc(tmp_path, split="test", progress=False)
    msg = str(err.value)
    assert str(tmp_path / "voc" / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "test.txt") in msg
    assert "VOCtest_06-Nov-2007.tar" in msg and "b6e924de25625d8de591ea690078ad9f" in msg
    assert "\n" not in msg
    with pytest.raises(OfflineError, match="VOCtrainval_06-Nov-2007.tar"):
        voc.load_voc(tmp_path, split="val", download=False)


def voc_tarball(folder, name, records, lists):
    """A tar shaped like an official VOC archive (top level VOCdevkit/), and its md5."""
    tree = folder / f"tree-{name}"
    write_voc_tree(tree, records, lists)
    path = folder / name
    with tarfile.open(path, "w") as tar:
        tar.add(tree / "VOCdevkit", arcname="VOCdevkit")
    return hashlib.md5(path.read_bytes()).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_voc_download_unpacks_both_archives_into_one_tree(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    md5_test = voc_tarball(served, "VOCtest_06-Nov-2007.tar", TINY[:2], {"test": ["000005", "000007"]})
    md5_tv = voc_tarball(served, "VOCtrainval_06-Nov-2007.tar", TINY[2:],
                         {"train": ["000009"], "val": ["000009"], "trainval": ["000009"]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        monkeypatch.delenv("TFGRAPH_OFFLINE", raising=False)
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        for key, name, md5 in (("test", "VOCtest_06-Nov-2007.tar", md5_test),
                               ("trainval", "VOCtrainval_06-Nov-2007.tar", md5_tv)):
            monkeypatch.setitem(voc.VOC2007_FILES, key,
                                dl.RemoteFile(name, urls=(base + name,), md5=md5))
        data = tmp_path / "data"
        test = voc.load_voc(data, split="test", image_size=24, progress=False)
        train = voc.load_voc(data, split="train", image_size=24, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert len(test) == 2 and len(train) == 1
    tree = data / "voc" / "VOCdevkit" / "VOC2007"
    # the second archive did not replace the first: both splits' files are there
    assert (tree / "ImageSets" / "Main" / "test.txt").is_file()
    assert (tree / "Annotations" / "000005.xml").is_file()
    assert (tree / "JPEGImages" / "000009.jpg").is_file()
    assert not [p for p in (data / "voc").iterdir() if p.name.startswith(".")]   # no staging left
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")                                    # now from disk
    assert len(voc.load_voc(data, split="test", image_size=24, progress=False)) == 2
