"""The GAN chapter: both networks' shapes and scopes, the losses, each optimizer moving only
its own network, and the lesson on the real MNIST test images: determinism, --resume,
--sample, bad input."""
import json

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import gan_mnist as G
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.gan import models


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test downloads: a missing MNIST training set is an OfflineError at once."""
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    monkeypatch.delenv("TFGRAPH_FAST", raising=False)


def run_cli(argv, capsys):
    return run_lesson(G.main, argv, capsys)


# --------------------------------------------------------------------------- the networks


@pytest.mark.parametrize("model, shape", [("gan", (28, 28, 1)), ("dcgan", (28, 28, 1)),
                                          ("dcgan", (32, 32, 3))])
def test_networks_map_noise_to_images_and_images_to_one_logit(model, shape):
    config = G.GanConfig(model=model, latent_size=16, width=8)
    with new_graph(seed=0) as g:
        m = G.build_graph(config, shape)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            fake = sess.run(m["fake"], {m["z"]: np.random.default_rng(0).normal(size=(5, 16))})
    assert fake.shape == (5, *shape)
    assert np.abs(fake).max() <= 1.0            # tanh: the range of the scaled real images
    assert m["g_vars"] and m["d_vars"]
    assert all(v.op.name.startswith("generator/") for v in m["g_vars"])
    assert all(v.op.name.startswith("discriminator/") for v in m["d_vars"])
    # D judges real and fake with the same weights: one set of variables, used twice
    assert len({v.op.name for v in m["d_vars"]}) == len(m["d_vars"])


@pytest.mark.parametrize("smooth", [0.0, 0.1])
def test_losses_are_the_papers_cross_entropies(smooth):
    real = np.array([2.0, -1.0, 0.5], np.float32)
    fake = np.array([-3.0, 0.2, 1.0], np.float32)
    with new_graph() as g:
        d_loss, g_loss = models.gan_losses(tf1.constant(real), tf1.constant(fake), smooth)
        with tf1.Session(graph=g) as sess:
            d, gl = sess.run([d_loss, g_loss])
    sig = lambda x: 1 / (1 + np.exp(-x))   # noqa: E731
    target = 1.0 - smooth   # one-sided: only the real images' target is smoothed
    real_ce = -(target * np.log(sig(real)) + (1 - target) * np.log(1 - sig(real)))
    np.testing.assert_allclose(d, np.mean(real_ce) - np.mean(np.log(1 - sig(fake))),
                               rtol=1e-5)
    np.testing.assert_allclose(gl, -np.mean(np.log(sig(fake))), rtol=1e-5)   # non-saturating


@pytest.mark.parametrize("step, moves, stays", [("d_train", "d_vars", "g_vars"),
                                                ("g_train", "g_vars", "d_vars")])
def test_each_optimizer_moves_only_its_own_network(step, moves, stays):
    config = G.GanConfig(model="dcgan", latent_size=8, width=4)
    rng = np.random.default_rng(0)
    with new_graph(seed=0) as g:
        m = G.build_graph(config, (28, 28, 1))
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            before = {k: sess.run(m[k]) for k in (moves, stays)}
            sess.run(m[step], {m["z"]: rng.normal(size=(4, 8)), m["is_training"]: True,
                               m["real"]: rng.uniform(-1, 1, (4, 28, 28, 1))})
            after = {k: sess.run(m[k]) for k in (moves, stays)}
    assert any(not np.allclose(a, b) for a, b in zip(before[moves], after[moves]))
    for a, b in zip(before[stays], after[stays]):
        np.testing.assert_array_equal(a, b)


def test_the_averaged_generator_reads_moving_averages_of_gs_weights():
    config = G.GanConfig(model="dcgan", latent_size=8, width=4, ema_decay=0.9)
    rng = np.random.default_rng(0)
    with new_graph(seed=0) as g:
        m = G.build_graph(config, (28, 28, 1))
        weights = [v for v in m["g_vars"] if v.op.name == "generator/project/weights"][0]
        shadow = [v for v in tf1.global_variables()
                  if v.op.name.startswith("generator/project/weights/g_ema")][0]
        z = rng.normal(size=(4, 8))
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            start = sess.run(weights)
            np.testing.assert_array_equal(*sess.run([m["fake"], m["sample"]], {m["z"]: z}))
            sess.run(m["g_train"], {m["z"]: z, m["is_training"]: True})
            moved, average = sess.run([weights, shadow])
            fake, sample = sess.run([m["fake"], m["sample"]], {m["z"]: z})
    np.testing.assert_allclose(average, 0.9 * start + 0.1 * moved, rtol=1e-5, atol=1e-7)
    assert not np.allclose(fake, sample)    # G itself moved on; its average lags behind


@pytest.mark.parametrize("model, shape, latent, needle", [
    ("dcgan", (30, 30, 1), 100, "multiples of 4"),
    ("dcgan", (28, 28, 1), 0, "--latent-size"),
    ("vae", (28, 28, 1), 100, "unknown --model"),
])
def test_sizes_the_networks_cannot_take_are_refused(model, shape, latent, needle):
    with pytest.raises(UsageError, match=needle):
        models.check_shapes(model, shape, latent)


# --------------------------------------------------------------------------- the lesson


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """One cached digit classifier for every run in this file (trained by the first)."""
    return tmp_path_factory.mktemp("digit_classifier")


def tiny(mnist_test_dir, classifier_dir, out, *extra):
    return ["--fast", "--data-dir", str(mnist_test_dir.parent), "--out", str(out),
            "--classifier-dir", str(classifier_dir), "--steps", "6", "--sample-every", "3",
            "--quality-samples", "200", "--width", "16", "--batch-size", "32", *extra]


@pytest.fixture(scope="module")
def straight(mnist_test_dir, classifier_dir, tmp_path_factory):
    """One tiny run of 8 steps (checkpoints at 4 and 8), shared by the tests below."""
    out = tmp_path_factory.mktemp("gan") / "straight"
    G.run(G.parse_config(tiny(mnist_test_dir, classifier_dir, out, "--steps", "8",
                              "--checkpoint-every", "4")))
    return out


def metrics_of(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_a_run_measures_quality_against_the_real_reference_and_the_floor(straight):
    m = metrics_of(straight)
    assert m["data_source"] == "test-split" and m["steps"] == 8
    for key in ("class_entropy", "mean_confidence", "frechet_distance"):
        assert m[key] is not None and m["reference"][key] is not None
        assert m["untrained"][key] is not None
    # real held-out digits: every class there and confidently recognised
    assert m["reference"]["class_entropy"] > 2.2 and m["reference"]["mean_confidence"] > 0.85
    assert m["untrained"]["frechet_distance"] > 10 * m["reference"]["frechet_distance"]
    assert m["reference"]["images"] == 200
    assert len(np.load(straight / "snapshots.npz")["grids"]) == 2     # steps 3 and 6
    for figure in ("samples.png", "interpolation.png", "losses.png", "progress.gif"):
        assert (straight / "figures" / figure).stat().st_size > 0


def test_the_same_seed_resumed_gives_the_same_samples_another_seed_others(
        straight, mnist_test_dir, classifier_dir, tmp_path, capsys):
    first = tiny(mnist_test_dir, classifier_dir, tmp_path / "resumed", "--steps", "4",
                 "--checkpoint-every", "4")
    status, out, err = run_cli(first, capsys)
    assert status == 0, err
    assert "test-split" in out
    status, out, err = run_cli(first[:-4] + ["--steps", "8", "--checkpoint-every", "4",
                                             "--resume"], capsys)
    assert status == 0, err
    assert "resumed from" in out
    a, b = (np.load(f / "snapshots.npz")["grids"] for f in (straight, tmp_path / "resumed"))
    assert np.array_equal(a, b)
    assert metrics_of(straight)["frechet_distance"] == \
        metrics_of(tmp_path / "resumed")["frechet_distance"]
    status, _, err = run_cli(tiny(mnist_test_dir, classifier_dir, tmp_path / "other",
                                  "--seed", "1"), capsys)
    assert status == 0, err
    other = np.load(tmp_path / "other" / "snapshots.npz")["grids"]
    assert not np.array_equal(other[0], a[0])


def test_sample_writes_n_images_from_the_checkpoint(straight, capsys):
    status, stdout, err = run_cli(["--out", str(straight), "--sample", "12"], capsys)
    assert status == 0, err
    images = np.load(straight / "samples" / "samples.npz")["images"]
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.uint8
    assert (straight / "samples" / "samples.png").stat().st_size > 0


def test_sample_without_a_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    status, _, err = run_cli(["--out", str(tmp_path / "nothing"), "--sample", "5"], capsys)
    assert status == 2
    assert "--sample needs a trained run" in error_line(err)


def test_no_mnist_at_all_is_one_line_and_writes_nothing(tmp_path, capsys):
    status, _, err = run_cli(["--data-dir", str(tmp_path / "empty"), "--out",
                              str(tmp_path / "out"), "--fast"], capsys)
    assert status == 2
    line = error_line(err)
    assert "t10k-images-idx3-ubyte.gz" in line
    assert "--dataset digits" not in line     # the data layer's hint is not for this lesson
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--latent-size", "0"], "--latent-size"),
    (["--model", "gan", "--dataset", "cifar10"], "dcgan only"),
    (["--beta1", "1.0"], "--beta1"),
    (["--lr", "-1"], "--lr"),
    (["--sample", "0"], "--sample"),
    (["--ema-decay", "1"], "--ema-decay"),
    (["--label-smoothing", "-0.1"], "--label-smoothing"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(["--out", str(tmp_path / "bad"), *argv], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "bad").exists()
