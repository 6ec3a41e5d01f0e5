"""Chapter 2 (``python -m tfgraph_lessons.preprocessing``): a fast run end to end, the
ReLU claim, the preprocessing numbers against NumPy, COCO's format, bad input, and the
registered figures."""
import json

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import figures, preprocessing
from tfgraph_lessons.core.errors import DataError
from tfgraph_lessons.preprocessing import lesson, networks, sets, transforms

PREP_FIGURES = {"prep_channels", "prep_normalisation", "prep_augmentation",
                "prep_batches_epochs", "prep_split", "prep_relu_separation",
                "prep_overfitting_dropout"}
DATA_FIGURES = {f"data_{name}_samples" for name in ("digits", "mnist", "cifar10", "cifar100",
                                                     "svhn")}


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """One fast run with an empty data folder (offline: digits and sample photos only)."""
    root = tmp_path_factory.mktemp("prep")
    (root / "empty").mkdir()
    out = root / "run"
    metrics = preprocessing.run(preprocessing.PrepConfig(fast=True, out=str(out),
                                                         data_dir=str(root / "empty")))
    return metrics, out


# --------------------------------------------------------------------------- end to end


def test_fast_run_writes_metrics_and_figures(fast_run):
    metrics, out = fast_run
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("datasets", "coco", "channels", "normalisation", "augmentation", "batches",
                "split", "relu", "overfitting", "steps", "epochs", "wall_seconds", "device",
                "config"):
        assert key in saved, key
    assert saved["fast"] is True and saved["config"]["fast"] is True
    digits = saved["datasets"]["digits"]
    assert digits["available"] and digits["splits"]["test"]["images"] == [359, 8, 8, 1]
    assert "train" not in digits["splits"]                      # fast: test splits only
    for name in ("mnist", "cifar10", "cifar100", "svhn"):       # an empty folder, no download
        info = saved["datasets"][name]
        assert not info["available"] and "download=False" in info["missing"]["test"]
    assert saved["channels"]["source"] == "scikit-learn sample photos"
    batches = saved["batches"]
    assert (batches["batches_per_epoch"], batches["steps"]) == (5, 5 * lesson.FAST_EPOCHS)
    assert batches["cifar10"]["batches_per_epoch"] == 391
    assert saved["steps"] == saved["overfitting"]["steps"] == 5 * lesson.FAST_EPOCHS
    assert sum(saved["split"]["sizes"].values()) == 1797
    written = {p.stem for p in (out / "figures").glob("*.png")}
    assert written == PREP_FIGURES | {"data_digits_samples"}
    assert (out / "coco_example.json").is_file()


def test_relu_claim_one_line_fails_one_relu_layer_separates(fast_run):
    """Held-out points: a line splits two halves, stays near chance on alternating
    sectors, and one hidden ReLU layer separates those sectors."""
    relu = fast_run[0]["relu"]
    assert relu["halves_test_accuracy"] >= 0.95
    assert relu["linear_test_accuracy"] <= 0.65
    assert relu["relu_test_accuracy"] >= 0.93
    assert relu["sectors"] == 6


def test_overfitting_numbers_agree_with_their_curves(fast_run):
    demo = fast_run[0]["overfitting"]
    assert demo["train_examples"] == 100 and demo["test_examples"] == 359
    for arm, m in demo["arms"].items():
        last = demo["history"][arm][-1]
        assert m["train_accuracy"] == last["train_eval_accuracy"]
        assert m["test_accuracy"] == last["test_accuracy"]
        assert m["gap"] == pytest.approx(m["train_accuracy"] - m["test_accuracy"])
        assert last["step"] == demo["steps"] and demo["history"][arm][0]["step"] == 0
    assert demo["arms"]["no_dropout"]["train_accuracy"] == 1.0       # learnt by heart
    assert demo["arms"]["dropout"]["keep_prob"] == 0.5
    assert demo["shows_overfitting"] == (demo["arms"]["no_dropout"]["gap"] >= 0.10)


def test_digits_subset_is_stratified_and_scaled():
    (X, y), (X_test, y_test) = networks.digits_subset(100, seed=0)
    assert X.shape == (100, 64) and X_test.shape == (359, 64)
    assert np.bincount(y).tolist() == [10] * 10
    assert X.min() >= 0 and X.max() == 1.0


# --------------------------------------------------------------------------- the numbers


def test_min_max_and_standardisation_match_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(10, 240, size=(6, 5, 7, 3)).astype(np.uint8)
    norm = transforms.normalisation(images)
    x = images.astype(np.float64)
    np.testing.assert_allclose(norm["min_max"], (x - x.min()) / (x.max() - x.min()), atol=1e-6)
    np.testing.assert_allclose(transforms.min_max_graph(images), norm["min_max"], atol=1e-6)
    mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    np.testing.assert_allclose(norm["standardized"], (x - mean) / std, atol=1e-5)
    np.testing.assert_allclose(norm["mean"], mean)
    np.testing.assert_allclose(norm["after_standardize"]["mean"], 0, atol=1e-6)
    np.testing.assert_allclose(norm["after_standardize"]["std"], 1, atol=1e-5)
    assert norm["after_min_max"] == [0.0, 1.0]
    assert np.all(transforms.min_max_graph(np.full((2, 3), 7.0)) == 0)   # no range: 0, not NaN


def test_channels_are_the_last_axis():
    image = np.random.default_rng(1).integers(0, 256, size=(4, 5, 3)).astype(np.uint8)
    split = transforms.channels(image)
    for k, name in enumerate("RGB"):
        np.testing.assert_array_equal(split[name], image[..., k])
    np.testing.assert_allclose(split["means"], image.reshape(-1, 3).mean(axis=0))


def test_batch_plan_counts_steps_and_reshuffles_each_epoch():
    plan = transforms.batch_plan(103, 20, epochs=7, seed=3)
    assert plan["batches_per_epoch"] == 6 and plan["last_batch_size"] == 3
    assert plan["batches_per_epoch_drop_remainder"] == 5 and plan["steps"] == 42
    assert plan["each_example_once_per_epoch"] and plan["orders_differ"]
    first, second = (np.concatenate(e) for e in plan["epoch_batches"])
    assert sorted(first) == sorted(second) == list(range(103))
    assert [len(b) for b in plan["epoch_batches"][0]] == [20] * 5 + [3]


def test_stratified_split_keeps_class_shares():
    labels = np.repeat(np.arange(4), [50, 150, 300, 500])
    report = transforms.split_report(labels, 0.2, 0.1, seed=0)
    assert report["sizes"] == {"train": 700, "val": 100, "test": 200}
    assert report["max_class_deviation"]["stratified"] <= 0.006
    assert report["max_class_deviation"]["random"] > report["max_class_deviation"]["stratified"]
    parts = report["indices"]
    assert len(np.intersect1d(parts["train"], parts["test"])) == 0


# --------------------------------------------------------------------------- COCO


def test_coco_example_round_trip(tmp_path):
    path = sets.write_coco_example(tmp_path / "coco.json")
    summary = sets.read_coco(path)
    assert (summary["images"], summary["annotations"]) == (2, 4)
    assert summary["objects_per_category"] == {"person": 1, "dog": 2, "frisbee": 1}
    assert summary["boxes"][1] == [1, "dog", 300, 280, 450, 400]   # [x, y, w, h] -> corners


def test_pycocotools_reads_the_example(tmp_path):
    coco_api = pytest.importorskip("pycocotools.coco")
    coco = coco_api.COCO(str(sets.write_coco_example(tmp_path / "coco.json")))
    assert sorted(coco.getCatIds()) == [1, 18, 34]
    assert coco.getAnnIds(imgIds=[2]) == [3, 4]
    assert coco.annToMask(coco.loadAnns([2])[0]).sum() == pytest.approx(
        coco.loadAnns([2])[0]["area"], rel=0.05)


def test_coco_box_outside_its_image_is_one_line(tmp_path):
    example = sets.coco_example()
    example["annotations"][2]["bbox"] = [450, 100, 60, 35]          # image 2 is 500 wide
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(example))
    with pytest.raises(DataError, match="annotation 3: box .* is not inside its 500x375 image"):
        sets.read_coco(path)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("argv,needle", [
    (["--sectors", "5"], "--sectors must be an even number >= 4"),
    (["--train-size", "5000"], "--train-size must be in 10..1437"),
    (["--keep-prob", "0"], "--keep-prob must be in (0, 1]"),
    (["--batch-size", "0"], "--batch-size: must be > 0"),
    (["--device", "tpu"], "unknown --device 'tpu'"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_lesson(preprocessing.main, argv + ["--out", str(tmp_path / "out")],
                                capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "out").exists()


def test_a_folder_with_a_run_is_refused(fast_run, capsys):
    _, out = fast_run
    status, _, err = run_lesson(preprocessing.main, ["--fast", "--out", str(out)], capsys)
    assert status == 2 and "already holds a run" in error_line(err)


# --------------------------------------------------------------------------- figures


def test_figures_are_registered_and_render(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_DATA", str(tmp_path / "empty"))
    figures.load_all()
    assert PREP_FIGURES | DATA_FIGURES <= set(figures.FIGURES)
    cheap = sorted(PREP_FIGURES - {"prep_relu_separation", "prep_overfitting_dropout"})
    paths = figures.render(cheap + ["data_digits_samples"], tmp_path / "figs", progress=False)
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_data_set_not_on_disk_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_DATA", str(tmp_path))
    figures.load_all()
    with pytest.raises(figures.FigureUnavailable, match="--download"):
        figures.make("data_cifar10_samples")


def test_relu_figure_titles_carry_the_claim(made):
    """The registered figure trains its own classifiers (fast sizes): its titles are
    the held-out accuracies, and they tell the same story."""
    fig = made("prep_relu_separation")
    accuracies = [float(ax.get_title().split("test accuracy ")[1].rstrip("%"))
                  for ax in fig.axes if "test accuracy" in ax.get_title()]
    halves, line, relu = accuracies
    assert halves >= 95 and line <= 65 and relu >= 93


def test_real_data_sets_are_surveyed(cifar10_root, mnist_test_dir, tmp_path, made,
                                     monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-batches-bin").symlink_to(cifar10_root / "cifar-10-batches-bin")
    (root / "mnist").symlink_to(mnist_test_dir)
    summary, loaded = sets.survey_datasets(root, splits=("test",))
    assert summary["cifar10"]["splits"]["test"]["images"] == [10000, 32, 32, 3]
    assert summary["cifar10"]["class_names"][0] == "airplane"
    assert summary["mnist"]["splits"]["test"]["images"] == [10000, 28, 28, 1]
    assert sets.colour_images(loaded)[1] == "cifar10"
    monkeypatch.setenv("TFGRAPH_DATA", str(root))
    assert made("data_cifar10_samples")._suptitle.get_text().startswith("cifar10")
