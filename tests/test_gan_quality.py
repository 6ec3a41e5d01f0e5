"""The GAN chapter's sample-quality measure: the statistics against closed forms and a
NumPy reference, the digit classifier on real MNIST (trained once for the file)."""
import json
import math
import shutil

import numpy as np
import pytest

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.data import datasets
from tfgraph_lessons.data.preprocess import held_out_split
from tfgraph_lessons.gan.quality import (DigitClassifier, class_entropy, class_histogram,
                                         data_fingerprint, feature_stats, frechet_distance,
                                         mode_collapse, quality)


def random_gaussian(rng, dim, samples):
    """The mean and covariance of ``samples`` random correlated vectors."""
    mixing = rng.normal(size=(dim, dim))
    return feature_stats(rng.normal(size=(samples, dim)) @ mixing + rng.normal(size=dim))


def frechet_reference(mu1, sigma1, mu2, sigma2):
    """The same distance without a non-symmetric sqrtm: Tr (S1 S2)^(1/2) equals
    Tr (S1^(1/2) S2 S1^(1/2))^(1/2), a symmetric PSD matrix whose root comes from eigh."""
    def psd_sqrt(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    root1 = psd_sqrt(sigma1)
    cross = np.trace(psd_sqrt(root1 @ sigma2 @ root1))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)


# --------------------------------------------------------------------------- statistics


def test_frechet_distance_of_identical_stats_is_zero():
    rng = np.random.default_rng(0)
    mu, sigma = random_gaussian(rng, 8, 500)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8 * np.trace(sigma)


def test_frechet_distance_with_singular_covariances():
    # 5 samples of 12 features: rank-4 covariances, S1 S2 is singular
    rng = np.random.default_rng(1)
    a, b = random_gaussian(rng, 12, 5), random_gaussian(rng, 12, 5)
    assert abs(frechet_distance(*a, *a)) < 1e-3
    assert frechet_distance(*a, *b) == pytest.approx(frechet_reference(*a, *b), abs=1e-3)


@pytest.mark.parametrize("failure", ["nan", "warning"])
def test_frechet_distance_retries_with_the_offset_when_sqrtm_fails(monkeypatch, failure):
    """Older SciPy returns NaN, newer SciPy a LinAlgWarning and a possibly wrong root, for a
    singular S1 S2; the retry with eps * I added gives the distance to within about 2 eps D."""
    import warnings

    import scipy.linalg
    exact_sqrtm = scipy.linalg.sqrtm
    calls = []

    def failing_sqrtm(matrix):             # fails on the singular product, works on the retry
        calls.append(matrix)
        if len(calls) > 1:
            return exact_sqrtm(matrix)
        if failure == "nan":
            return np.full_like(matrix, np.nan)
        warnings.warn("Matrix is singular.", scipy.linalg.LinAlgWarning)
        return np.zeros_like(matrix)                       # a wrong root: no cross term at all

    monkeypatch.setattr(scipy.linalg, "sqrtm", failing_sqrtm)
    rng = np.random.default_rng(1)
    a, b = random_gaussian(rng, 12, 5), random_gaussian(rng, 12, 5)   # rank 4 of 12
    assert frechet_distance(*a, *b) == pytest.approx(frechet_reference(*a, *b), abs=1e-3)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (a[1] + 1e-6 * np.eye(12)) @ (b[1] + 1e-6 * np.eye(12)))


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mu1, s1 = np.array([1.0, -2.0, 0.5]), np.array([1.0, 2.0, 0.5])
    mu2, s2 = np.array([0.0, 1.0, 0.5]), np.array([3.0, 0.5, 0.5])
    want = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)            # 1 + 9 + 0 + 4 + 2.25
    got = frechet_distance(mu1, np.diag(s1 ** 2), mu2, np.diag(s2 ** 2))
    assert got == pytest.approx(want, rel=1e-9)
    # one dimension, scalar variances: (3 - 1)^2 + (2 - 0.5)^2
    assert frechet_distance([3.0], 4.0, [1.0], 0.25) == pytest.approx(4.0 + 2.25, rel=1e-9)


def test_frechet_distance_is_symmetric_and_matches_a_numpy_reference():
    rng = np.random.default_rng(2)
    a, b = random_gaussian(rng, 10, 300), random_gaussian(rng, 10, 300)
    ab, ba = frechet_distance(*a, *b), frechet_distance(*b, *a)
    assert ab == pytest.approx(ba, rel=1e-8)
    assert ab == pytest.approx(frechet_reference(*a, *b), rel=1e-8)
    assert ab > 0


def test_frechet_distance_refuses_mismatched_shapes():
    with pytest.raises(UsageError, match="3 and 2 dimensions"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_class_entropy_uniform_is_ln10_and_one_class_is_zero():
    uniform = np.repeat(np.arange(10), 7)
    assert class_entropy(uniform) == pytest.approx(math.log(10), rel=1e-12)
    assert class_entropy(np.full(50, 3)) == 0.0
    assert class_entropy(np.array([0, 1])) == pytest.approx(math.log(2))
    np.testing.assert_allclose(class_histogram(np.array([1, 1, 1, 4]), 5),
                               [0, 0.75, 0, 0, 0.25])
    with pytest.raises(UsageError, match="0..9"):
        class_entropy(np.array([0, 10]))


def test_mode_collapse_message_and_threshold():
    hist = np.array([0.0, 0.71, 0.29] + [0.0] * 7)
    message = mode_collapse(hist, 0.92)
    assert message == ("mode collapse: 71% of the samples are classified as 1 "
                       "(class entropy 0.92 nats of 2.30)")
    assert mode_collapse(np.full(10, 0.1), math.log(10)) is None
    # the entropy alone: three digits evenly (ln 3 = 1.10 < 1.5) is collapse too
    assert mode_collapse(np.array([1 / 3] * 3 + [0.0] * 7), math.log(3)).startswith("mode collapse")
    # one class above max_fraction even with a high entropy
    assert mode_collapse(np.array([0.55] + [0.05] * 9), 1.6) is not None


# --------------------------------------------------------------------------- the classifier


@pytest.fixture(scope="module")
def mnist_parts(mnist_test_dir):
    """Stratified parts of the real MNIST test set: 3,000 to train on, 1,000 held out
    (accuracy and the reference statistics) and another disjoint 1,000 real images."""
    images, labels = datasets.load_split("mnist", "test", mnist_test_dir.parent, download=False)
    idx = held_out_split(labels, test_size=1000, val_size=6000, seed=0)
    other = idx["val"][:1000]
    parts = {name: (images[i], labels[i]) for name, i in
             (("train", idx["train"]), ("held_out", idx["test"]), ("other", other))}
    assert len(parts["train"][0]) == 3000
    return parts


def identity_of(parts, **changes):
    images, labels = parts["train"]
    identity = {"data_source": "test-split", "train_size": len(labels), "split_seed": 0,
                "train_sha": data_fingerprint(images, labels)}
    identity.update(changes)
    return identity


@pytest.fixture(scope="module")
def trained(mnist_parts, tmp_path_factory):
    """One classifier trained for the whole file (2 epochs of 3,000 images)."""
    ckpt_dir = tmp_path_factory.mktemp("gan_quality") / "digit_classifier"
    clf = DigitClassifier(ckpt_dir, seed=0)
    fit = clf.fit_or_load(*mnist_parts["train"], *mnist_parts["held_out"],
                          identity=identity_of(mnist_parts), epochs=2, batch_size=64,
                          progress=False)
    reference = clf.score(mnist_parts["held_out"][0])
    yield {"clf": clf, "fit": fit, "ckpt_dir": ckpt_dir, "reference": reference}
    clf.close()


def test_classifier_reads_held_out_digits(trained):
    assert trained["fit"]["cached"] is False
    assert trained["fit"]["val_accuracy"] >= 0.93
    state = json.loads((trained["ckpt_dir"] / "state.json").read_text())
    assert state["val_accuracy"] == pytest.approx(trained["fit"]["val_accuracy"])
    # the cache was renamed into place: no temporary sibling is left behind
    assert sorted(p.name for p in trained["ckpt_dir"].parent.iterdir()) == ["digit_classifier"]


def test_real_digits_score_as_reference(trained, mnist_parts):
    ref = trained["reference"]
    assert ref["class_entropy"] > 2.2
    assert ref["mean_confidence"] > 0.9
    assert ref["features_mu"].shape == (128,) and ref["features_sigma"].shape == (128, 128)
    assert mode_collapse(ref["class_histogram"], ref["class_entropy"]) is None
    out = trained["clf"].predict(mnist_parts["held_out"][0][:7])
    np.testing.assert_allclose(out["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert out["features"].shape == (7, 128)


def test_noise_is_much_farther_than_other_real_digits(trained, mnist_parts):
    ref = trained["reference"]
    stats = (ref["features_mu"], ref["features_sigma"])
    real = quality(trained["clf"], mnist_parts["other"][0], stats)
    noise_images = np.random.default_rng(0).random((1000, 28, 28, 1)).astype(np.float32)
    noise = quality(trained["clf"], noise_images, stats)
    assert set(real) == {"mean_confidence", "class_entropy", "frechet_distance", "class_histogram"}
    assert real["frechet_distance"] > 0                  # finite N: real vs real is not 0
    assert noise["frechet_distance"] > 10 * real["frechet_distance"]
    assert noise["mean_confidence"] < real["mean_confidence"]


def test_constant_images_trigger_the_mode_collapse_warning(trained):
    constant = np.full((500, 28, 28, 1), 0.5, np.float32)
    q = quality(trained["clf"], constant,
                (trained["reference"]["features_mu"], trained["reference"]["features_sigma"]))
    assert q["class_entropy"] == 0.0
    warning = mode_collapse(q["class_histogram"], q["class_entropy"])
    assert warning is not None and warning.startswith("mode collapse: 100% of the samples")


def test_second_call_loads_the_cache(trained, mnist_parts, capsys):
    ops_before = len(tf1.get_default_graph().get_operations())
    with DigitClassifier(trained["ckpt_dir"], seed=0) as again:
        fit = again.fit_or_load(*mnist_parts["train"], *mnist_parts["held_out"],
                                identity=identity_of(mnist_parts), epochs=2, batch_size=64,
                                progress=False)
        assert fit["cached"] is True
        assert fit["val_accuracy"] == pytest.approx(trained["fit"]["val_accuracy"])
        images = mnist_parts["held_out"][0][:200]
        np.testing.assert_allclose(again.predict(images)["probs"],
                                   trained["clf"].predict(images)["probs"], rtol=1e-5, atol=1e-6)
    assert "loaded the cached digit classifier" in capsys.readouterr().out
    # its own graph: the caller's default graph is untouched
    assert len(tf1.get_default_graph().get_operations()) == ops_before


def test_another_identity_retrains_over_the_cache(trained, mnist_parts, tmp_path, capsys):
    ckpt_dir = tmp_path / "digit_classifier"
    shutil.copytree(trained["ckpt_dir"], ckpt_dir)
    small = tuple(a[:256] for a in mnist_parts["train"])       # quick: only the retrain matters
    with DigitClassifier(ckpt_dir, seed=0) as clf:
        fit = clf.fit_or_load(*small, *mnist_parts["held_out"],
                              identity=identity_of(mnist_parts, train_size=256), epochs=2,
                              batch_size=64, progress=False)
    assert fit["cached"] is False
    out = capsys.readouterr().out
    assert "the cache was made with train_size 3000, this run has 256" in out
    state = json.loads((ckpt_dir / "state.json").read_text())
    assert state["identity"]["train_size"] == 256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit_classifier"]


def test_bad_input_is_one_line(trained, tmp_path):
    clf = trained["clf"]
    with pytest.raises(UsageError, match=r"expects \[N, 28, 28, 1\] images, got .*\[5, 28, 28\]"):
        clf.predict(np.zeros((5, 28, 28), np.float32))
    with pytest.raises(UsageError, match=r"\(x \+ 1\) / 2"):
        clf.predict(np.full((5, 28, 28, 1), -1.0, np.float32))
    # uint8 0..255 is scaled to [0, 1]: the same predictions as the float images
    images = (np.random.default_rng(3).random((4, 28, 28, 1)) * 255).astype(np.uint8)
    np.testing.assert_allclose(clf.predict(images)["probs"],
                               clf.predict(images.astype(np.float32) / 255)["probs"], rtol=1e-6)
    with DigitClassifier(tmp_path / "fresh") as fresh:
        with pytest.raises(UsageError, match="call fit_or_load"):
            fresh.predict(images)


@pytest.mark.parametrize("kind", ["notes", "another run"])
def test_a_folder_of_other_files_is_refused_not_replaced(mnist_parts, tmp_path, kind):
    folder = tmp_path / "mine"
    folder.mkdir()
    if kind == "notes":
        keep, message = {"notes.txt": "keep me"}, "holds other files"
    else:   # a lesson's checkpoints folder: state.json and a checkpoint, of another kind
        keep = {"state.json": json.dumps({"step": 5, "run": {"lesson": "cnn_cifar"}}),
                "model.ckpt-5.index": "x", "model.ckpt-5.data-00000-of-00001": "x"}
        message = "not a digit classifier's"
    for name, text in keep.items():
        (folder / name).write_text(text)
    with DigitClassifier(folder) as clf:
        with pytest.raises(UsageError, match=message):
            clf.fit_or_load(*mnist_parts["train"], *mnist_parts["held_out"],
                            identity=identity_of(mnist_parts), progress=False)
    assert {p.name: p.read_text() for p in folder.iterdir()} == keep
