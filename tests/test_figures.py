"""The figure registry, the seed CNN-basics figures and ``python -m tfgraph_lessons.figures``.

Numbers are checked against plain NumPy; the command runs in a subprocess four
times (each start imports TensorFlow, a few seconds).
"""
import math
import os
import re
import shutil
import struct
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # this process draws too; no display needed

from tfgraph_lessons import figures  # noqa: E402
from tfgraph_lessons.core.errors import UsageError  # noqa: E402
from tfgraph_lessons.figures import catalogue, conv_basics, gallery  # noqa: E402
from tfgraph_lessons.figures.__main__ import main as figures_main  # noqa: E402

SEED_FIGURES = {
    "conv_slide_example",
    "conv_three_channels",
    "padding_stride",
    "relu",
    "min_max_normalisation",
}
SLIDE_OUTPUT = [[9, 7, 9, 5, 0], [1, 13, 14, 9, 5]]  # as printed on the slide


def numpy_conv2d(image, kernel, stride=1):
    """VALID cross-correlation (what tf.nn.conv2d computes) by a sliding window.

    image ``[H, W]`` or ``[H, W, C]``, kernel ``[kh, kw]`` or ``[kh, kw, C]``.
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    kh, kw = kernel.shape[:2]
    out_h = (image.shape[0] - kh) // stride + 1
    out_w = (image.shape[1] - kw) // stride + 1
    out = np.zeros([out_h, out_w], np.int64)
    for i in range(out_h):
        for j in range(out_w):
            window = image[i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[i, j] = np.sum(window * kernel)
    return out


# Figures drawn from a training run are skipped (with a notice) when there is no run.
NO_RUN = "/nonexistent/tfgraph_run"
RUN_FIGURES = {s.name for s in catalogue.CATALOGUE if s.needs == "run"}
# The data sets' sample grids are skipped (with a notice) when their data is not on disk;
# the runs below point TFGRAPH_DATA at a folder that does not exist.
DATA_FIGURES = {"data_mnist_samples", "data_cifar10_samples", "data_cifar100_samples",
                "data_svhn_samples"}
SKIPPED = RUN_FIGURES | DATA_FIGURES
GALLERY = {"index.html", "gallery.md"}  # written beside the figures of a chapter or of all


def run_cli(*args):
    """``python -m tfgraph_lessons.figures ARGS`` -> CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "tfgraph_lessons.figures", *map(str, args)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFGRAPH_RUNS": NO_RUN,
             "TFGRAPH_DATA": NO_RUN},
    )


# TensorFlow 2.21 writes absl/C++ start-up lines to stderr whatever TF_CPP_MIN_LOG_LEVEL says.
_TF_NOISE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl|To enable the following)")


def user_lines(stderr):
    """stderr without TensorFlow's start-up log lines and progress bars."""
    return [l for l in stderr.splitlines() if l.strip() and not _TF_NOISE.match(l) and "fig/s" not in l]


# ----------------------------------------------------------------------------- the numbers


def test_slide_conv_example_matches_slide_and_numpy():
    ex = conv_basics.slide_conv_example()
    assert ex["image"].shape == (3, 6) and ex["kernel"].shape == (2, 2)
    np.testing.assert_array_equal(ex["output"], SLIDE_OUTPUT)
    np.testing.assert_array_equal(ex["output"], numpy_conv2d(ex["image"], ex["kernel"]))
    assert ex["image"].min() >= 0 and ex["image"].max() <= 5  # small integers, as on a slide


def test_three_channel_example_sums_to_22():
    ex = conv_basics.three_channel_example()
    image, kernel = ex["image"], ex["kernel"]
    assert image.shape == (3, 3, 3) and kernel.shape == (2, 2, 3)
    r, c = ex["position"]
    assert ex["total"] == 22 == ex["output"][r, c]
    # every output value: TF over all channels == NumPy over all channels == sum of per-channel parts
    np.testing.assert_array_equal(ex["output"], numpy_conv2d(image, kernel))
    for i in range(3):
        np.testing.assert_array_equal(ex["per_channel"][i], numpy_conv2d(image[:, :, i], kernel[:, :, i]))
    np.testing.assert_array_equal(ex["per_channel"].sum(axis=0), ex["output"])
    products = [np.sum(image[r:r + 2, c:c + 2, i] * kernel[:, :, i]) for i in range(3)]
    assert list(ex["partial_sums"]) == products and sum(products) == 22


def test_padding_and_stride_sizes_follow_the_formula():
    n, k = 7, 3
    cases = conv_basics.padding_stride_example(n, k)
    got = {(c["padding"], c["stride"]): c for c in cases}
    assert {key: v["output_shape"] for key, v in got.items()} == {
        ("VALID", 1): (5, 5), ("SAME", 1): (7, 7), ("VALID", 2): (3, 3), ("SAME", 2): (4, 4)}
    for (padding, s), case in got.items():
        expect = math.ceil(n / s) if padding == "SAME" else math.ceil((n - k + 1) / s)
        assert case["static_shape"] == case["output_shape"] == (expect, expect)
        # VALID output = floor((n - k) / s) + 1, the same number written the other way
        if padding == "VALID":
            assert expect == (n - k) // s + 1
        # the padding TF added makes the window positions fit: (out - 1) * s + k <= n + pads
        top, bottom, left, right = case["pad"]
        assert (expect - 1) * s + k <= n + top + bottom
        assert (padding == "VALID") == (case["pad"] == (0, 0, 0, 0))


def test_relu_curve_and_min_max():
    x, y = conv_basics.relu_curve([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    ex = conv_basics.min_max_example()
    f, z = ex["features"], ex["normalised"]
    np.testing.assert_allclose(z, (f - f.min(0)) / (f.max(0) - f.min(0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z.min(0), 0.0, atol=1e-7)
    np.testing.assert_allclose(z.max(0), 1.0, atol=1e-6)


# ----------------------------------------------------------------------------- labels from the data


def test_min_max_titles_come_from_the_data(closing):
    from sklearn.datasets import load_wine

    wine = load_wine()
    alcohol = wine.data[:, wine.feature_names.index("alcohol")]
    proline = wine.data[:, wine.feature_names.index("proline")]
    np.testing.assert_allclose([np.ptp(alcohol), np.ptp(proline)], [3.80, 1402.0])   # ~369x apart
    fig = conv_basics.min_max_figure()
    closing(fig)
    before, after = fig.axes[0].get_title(), fig.axes[1].get_title()
    assert before == "before: ranges 3.8 and 1,402 differ ~370x"
    assert after == "after: both in [0, 1]"


def test_figure_labels_follow_other_data(monkeypatch, closing):
    """Change the data behind the figures: their labels change with it."""
    real_min_max, real_conv = conv_basics.min_max_example(), conv_basics.slide_conv_example()
    feats = np.array([[0.0, 10.0], [2.0, 60.0], [1.0, 35.0]] * 3)          # ranges 2 and 50
    lo, hi = feats.min(0), feats.max(0)
    monkeypatch.setattr(conv_basics, "min_max_example", lambda: {
        **real_min_max, "features": feats, "normalised": (0.5 * (feats - lo) / (hi - lo)).astype(np.float32),
        "labels": np.arange(9) % 3, "lo": lo, "hi": hi})
    fig = conv_basics.min_max_figure()
    closing(fig)
    assert fig.axes[0].get_title() == "before: ranges 2 and 50 differ ~25x"
    assert fig.axes[1].get_title() == "after: both in [0, 0.5]"
    monkeypatch.setattr(conv_basics, "slide_conv_example",
                        lambda: {**real_conv, "stride": 2, "padding": "SAME"})
    fig = conv_basics.slide_conv_figure()
    closing(fig)
    assert fig.axes[2].get_title() == "output 2x5 (stride 2, SAME)"


def test_registered_descriptions_agree_with_the_data():
    """The --list descriptions are written out (no TF at import); check their numbers here."""
    figures.load_all()
    desc = {name: figures.FIGURES[name].description for name in SEED_FIGURES}
    ex = conv_basics.slide_conv_example()
    h, w = ex["image"].shape
    kh, kw = ex["kernel"].shape
    oh, ow = ex["output"].shape
    assert desc["conv_slide_example"].startswith(
        f"{kh}x{kw} filter slid over a {h}x{w} image, stride {ex['stride']}, {ex['padding']} -> {oh}x{ow} output")
    three = conv_basics.three_channel_example()
    sums = " + ".join(str(v) for v in three["partial_sums"])
    assert f"per-channel sums {sums} = {three['total']}" in desc["conv_three_channels"]
    shapes = ", ".join("{}x{}".format(*c["output_shape"]) for c in conv_basics.padding_stride_example())
    assert desc["padding_stride"].endswith(f"-> {shapes}")
    x, _ = conv_basics.relu_curve()
    assert f"on [{x.min():.0f}, {x.max():.0f}]" in desc["relu"]


# ----------------------------------------------------------------------------- the registry


def test_registry_knows_the_seed_figures_and_rejects_unknown_names():
    figures.load_all()
    assert SEED_FIGURES <= set(figures.FIGURES)
    assert "tfgraph_lessons.figures.conv_basics" in figures.MODULES
    with pytest.raises(UsageError, match=r"unknown figure 'nope'.*known figures: .*relu"):
        figures.render(["nope"], "unused")
    with pytest.raises(ValueError, match="already registered"):
        figures.register("relu", "another function under a taken name")(lambda: None)


def test_render_is_atomic_and_closes_figures(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    paths = figures.render(["relu"], tmp_path / "new" / "dir")
    assert paths == [tmp_path / "new" / "dir" / "relu.png"]
    assert [p.name for p in (tmp_path / "new" / "dir").iterdir()] == ["relu.png"]  # no temp file left
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == before
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        figures.render(["relu"], tmp_path / "a_file")


# ----------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One full CLI run into a fresh folder: (CompletedProcess, folder)."""
    out = tmp_path_factory.mktemp("figures_a")
    return run_cli("--out", out), out


def test_cli_list_is_the_catalogue_in_slide_order():
    res = run_cli("--list")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["figure", "ch", "slide", "topic", "needs"]
    assert [r.split()[0] for r in rows] == [slot.name for slot in catalogue.CATALOGUE]
    assert SEED_FIGURES <= {r.split()[0] for r in rows}
    padding = next(r for r in rows if r.startswith("padding_stride "))
    assert padding.split()[1] == "04" and "VALID vs SAME" in padding and padding.endswith(" -")
    assert next(r for r in rows if r.startswith("cnn_filters_over_time ")).endswith(
        "a lesson's run")
    res = run_cli("--list", "--chapter", "rnn")
    assert [r.split()[1] for r in res.stdout.splitlines()[1:]] == ["07"] * 7


def test_every_figure_has_one_place_in_the_catalogue():
    registered = set(figures.load_all())
    names = [slot.name for slot in catalogue.CATALOGUE]
    assert len(names) == len(set(names))
    assert set(names) == registered
    assert {slot.chapter for slot in catalogue.CATALOGUE} <= set(catalogue.CHAPTERS)
    # what a figure needs, against what the command skips without it (the full run's test)
    assert {s.name for s in catalogue.CATALOGUE if s.needs == "run"} == RUN_FIGURES
    assert {s.name for s in catalogue.CATALOGUE if s.needs == "data"} == DATA_FIGURES
    assert all(s.needs in catalogue.NEEDS for s in catalogue.CATALOGUE)


@pytest.mark.parametrize("text, key", [("4", "04"), ("04", "04"), ("CNN", "04"), ("rl", "08"),
                                       ("10", None), ("cats", None)])
def test_chapter_names(text, key):
    assert catalogue.chapter_key(text) == key


def test_svg_and_pdf_and_dpi_write_the_same_bytes_twice(tmp_path):
    for fmt, magic in (("svg", b"<?xml"), ("pdf", b"%PDF")):
        a = figures.render(["relu"], tmp_path / "a", fmt=fmt, dpi=60)[0]
        b = figures.render(["relu"], tmp_path / "b", fmt=fmt, dpi=60)[0]
        assert a.name == f"relu.{fmt}" and a.read_bytes().startswith(magic)
        assert a.read_bytes() == b.read_bytes(), fmt
        assert b"CreationDate" not in a.read_bytes() and b"<dc:date>" not in a.read_bytes()
    png = figures.render(["relu"], tmp_path / "c", dpi=50)[0]
    width, height = struct.unpack(">II", png.read_bytes()[16:24])   # the PNG's IHDR
    size = figures.FIGURES["relu"].figsize
    assert (width, height) == (round(size[0] * 50), round(size[1] * 50))
    with pytest.raises(UsageError, match="unknown figure format 'gif'"):
        figures.render(["relu"], tmp_path, fmt="gif")


def test_cli_chapter_renders_that_chapter_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFGRAPH_RUNS", NO_RUN)
    assert figures_main(["--chapter", "04", "--format", "svg", "--out", str(tmp_path)]) == 0
    chapter = {s.name for s in catalogue.CATALOGUE if s.chapter == "04"}
    assert {p.name for p in tmp_path.iterdir()} == {f"{n}.svg" for n in chapter - RUN_FIGURES} | GALLERY
    assert "skipped cnn_filters_over_time: " in capsys.readouterr().err


def test_cli_full_run_writes_every_png(full_run):
    res, out = full_run
    assert res.returncode == 0, res.stderr
    expected = set(figures.load_all()) - SKIPPED
    assert {p.name for p in out.iterdir()} == {f"{n}.png" for n in expected} | GALLERY
    for name in SKIPPED:
        assert f"skipped {name}: " in res.stderr


def test_cli_only_writes_that_png_with_the_same_bytes(full_run, tmp_path):
    _, out_a = full_run
    res = run_cli("--only", "conv_slide_example", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["conv_slide_example.png"]
    # a second process writes byte-identical files
    assert (tmp_path / "conv_slide_example.png").read_bytes() == (out_a / "conv_slide_example.png").read_bytes()


def test_rerun_writes_identical_bytes(full_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_RUNS", NO_RUN)
    monkeypatch.setenv("TFGRAPH_DATA", NO_RUN)
    _, out_a = full_run
    paths = figures.render(None, tmp_path, progress=False)  # this process, another folder
    assert len(paths) == len(list(out_a.glob("*.png")))
    for p in paths:
        assert p.read_bytes() == (out_a / p.name).read_bytes(), f"{p.name} differs between runs"


@pytest.mark.parametrize("argv, what", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--only"], "argument --only: expected at least one argument"),
])
def test_cli_bad_flag_is_one_line_and_exit_2(argv, what, capsys):
    with pytest.raises(SystemExit) as e:
        figures_main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"error: python -m tfgraph_lessons.figures: {what} (see --help)"]


def test_cli_unknown_name_is_one_line_and_exit_2(tmp_path):
    res = run_cli("--only", "no_such_figure", "--out", tmp_path)
    assert res.returncode == 2
    lines = user_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: unknown figure 'no_such_figure'")
    assert "relu" in lines[0] and "--list" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_learning_curves_tell_the_splits_apart_in_colour_and_in_black_and_white():
    from tfgraph_lessons.core import plots

    history = [{"epoch": e, **{f"{s}_{m}": 0.5 + 0.01 * e for s in ("train_eval", "val", "test")
                               for m in ("accuracy", "loss")}} for e in range(1, 31)]
    fig = plots.learning_curves({"run": history})
    for ax in fig.axes:
        lines = ax.get_lines()
        assert len(lines) == 3
        # every pair of splits differs in colour, and in line style and marker (grey print)
        for attr in ("get_color", "get_linestyle", "get_marker"):
            assert len({getattr(line, attr)() for line in lines}) == 3, attr
        assert all(line.get_markevery() == 2 for line in lines)  # 30 epochs: every 2nd
    two = plots.learning_curves({"a": history, "b": history})
    lines = two.axes[0].get_lines()
    assert len({line.get_color() for line in lines}) == 2            # a colour per run
    assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == 3


# ----------------------------------------------------------------------------- the gallery


def test_gallery_pages_show_each_figure_with_its_command(tmp_path):
    paths = figures.render(["relu", "conv_slide_example"], tmp_path)
    index, markdown = gallery.write(paths, tmp_path, missing=["cnn_filters_over_time"])
    page = index.read_text()
    assert re.findall(r'<img src="([^"]+)"', page) == ["relu.png", "conv_slide_example.png"]
    assert page.index("02 data and preprocessing") < page.index("04 CNNs on CIFAR-10")
    assert "python -m tfgraph_lessons.figures --only relu</code>" in page
    assert "<strong>cnn_filters_over_time</strong>: needs a lesson&#x27;s run" in page
    assert "http" not in page and "<script" not in page          # nothing fetched, no script
    md = markdown.read_text()
    assert "![relu](relu.png)" in md and "    python -m tfgraph_lessons.figures --only relu" in md
    assert "- `cnn_filters_over_time`: needs a lesson's run" in md
    again = gallery.write(paths, tmp_path / "again", missing=["cnn_filters_over_time"])
    assert [p.read_bytes() for p in again] == [index.read_bytes(), markdown.read_bytes()]
    svg = figures.render(["relu"], tmp_path / "svg", fmt="svg", dpi=80)
    assert 'src="relu.svg"' in gallery.html_page(svg, fmt="svg", dpi=80)
    assert "--only relu --format svg --dpi 80" in gallery.html_page(svg, fmt="svg", dpi=80)
    pdf = figures.render(["relu"], tmp_path / "pdf", fmt="pdf")
    assert '<a href="relu.pdf">' in gallery.html_page(pdf, fmt="pdf")


def chromium():
    """The system's Chromium (Debian: ``apt-get install -y chromium``), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_the_gallery_opens_in_a_real_browser(full_run):
    # every image of the whole catalogue's gallery loads, and the page logs no error
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    browser_path = chromium()
    if browser_path is None:
        pytest.skip("no Chromium (apt-get install -y chromium)")
    res, out = full_run
    assert res.returncode == 0, res.stderr
    errors = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "index.html").resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("Array.from(document.images, i => [i.getAttribute('src'), "
                                   "i.complete, i.naturalWidth])")
        finally:
            browser.close()
    assert errors == []
    assert sorted(src for src, _, _ in images) == sorted(p.name for p in out.glob("*.png"))
    assert all(done and width > 0 for _, done, width in images), images


def test_factorisation_counts_weights_and_measures_receptive_fields():
    from tfgraph_lessons.figures import architectures

    cases = architectures.factorisation_example(channels=3, size=11)
    assert [c["name"] for c in cases] == ["5x5", "two 3x3", "7x7", "1x7 then 7x1"]
    assert [c["per_c2"] for c in cases] == [25, 18, 49, 14]
    assert [c["weights"] for c in cases] == [25 * 9, 18 * 9, 49 * 9, 14 * 9]
    assert [c["field"] for c in cases] == [(5, 5), (5, 5), (7, 7), (7, 7)]
    assert [int(c["support"].sum()) for c in cases] == [25, 25, 49, 49]   # full squares


def test_the_shortcut_adds_x_to_the_branch_and_the_bottleneck_counts():
    from tfgraph_lessons.figures import architectures as A

    ex = A.shortcut_example()
    x = np.array(A.SHORTCUT_X)

    def same(image, kernel):  # SAME padding for a 3x3 kernel: pad 1, then VALID
        return numpy_conv2d(np.pad(image, 1), np.array(kernel))

    branch = same(np.maximum(same(x, A.SHORTCUT_K1), 0), A.SHORTCUT_K2)
    np.testing.assert_array_equal(ex["F"], branch)
    np.testing.assert_array_equal(ex["sum"], branch + x)
    np.testing.assert_array_equal(ex["y"], np.maximum(branch + x, 0))
    assert (ex["F"] < 0).any() and (ex["sum"] < 0).any()      # the relu has work to do
    basic, bottleneck = A.block_weights(False), A.block_weights(True)
    assert {k: s for k, (s, _) in basic.items()} == {"a": (3, 3, 256, 256), "b": (3, 3, 256, 256)}
    assert {k: s for k, (s, _) in bottleneck.items()} == {
        "a": (1, 1, 256, 64), "b": (3, 3, 64, 64), "c": (1, 1, 64, 256)}
    assert sum(w for _, w in basic.values()) == 2 * 9 * 256 * 256          # 1,179,648
    assert sum(w for _, w in bottleneck.values()) == 2 * 256 * 64 + 9 * 64 * 64   # 69,632


def test_the_rl_loop_shows_what_the_real_environment_returned():
    pytest.importorskip("gymnasium")
    from tfgraph_lessons.figures import rl
    from tfgraph_lessons.rl.envs import make_env

    rows, episode = rl.agent_environment_steps(steps=6, seed=0)
    assert [r["t"] for r in rows] == list(range(6)) and episode["length"] >= 6
    assert episode["return"] == episode["length"]            # CartPole: +1 per step
    env = make_env("CartPole-v1", seed=0)
    state, _ = env.reset(seed=0)
    for r in rows:                                             # replayed: the same answers
        np.testing.assert_allclose(r["state"], state)
        assert r["action"] == int(state[2] > 0)               # the policy written on the figure
        state, reward, terminated, _, _ = env.step(r["action"])
        np.testing.assert_allclose(r["next_state"], state)
        assert (r["reward"], r["terminated"]) == (reward, terminated)
    env.close()


def test_the_gan_figure_reads_its_two_networks_from_the_graph():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.figures import gan
    from tfgraph_lessons.gan import models

    ex = gan.two_networks_example()
    assert (ex["z"], ex["fake"], ex["real"], ex["logits"]) == (
        [None, 100], [None, 28, 28, 1], [None, 28, 28, 1], [None])
    with new_graph():   # counted again, apart: each network's own variables only
        models.generator(tf1.placeholder(tf.float32, [None, 100]), "dcgan", (28, 28, 1), False)
        g = sum(int(np.prod(v.shape)) for v in tf1.trainable_variables())
    with new_graph():
        models.discriminator(tf1.placeholder(tf.float32, [None, 28, 28, 1]), "dcgan", False)
        d = sum(int(np.prod(v.shape)) for v in tf1.trainable_variables())
    assert (ex["g_params"], ex["d_params"]) == (g, d)
    assert ex["fakes"].shape == (4, 28, 28) and np.abs(ex["fakes"]).max() <= 1
    assert ((ex["d_fake"] > 0) & (ex["d_fake"] < 1)).all()


def test_the_graph_figure_reads_nodes_edges_and_placement_from_a_real_run():
    from tfgraph_lessons.figures import tf_mechanism

    ex = tf_mechanism.graph_example()
    nodes = ex["nodes"]
    assert {n: v["op"] for n, v in nodes.items()} == {
        "x": "Placeholder", "W": "VarHandleOp", "b": "VarHandleOp", "matmul": "MatMul",
        "add": "AddV2", "y": "Softmax"}
    assert ex["edges"] == [("W", "matmul"), ("add", "y"), ("b", "add"), ("matmul", "add"),
                           ("x", "matmul")]
    assert [nodes[n]["shape"] for n in ("x", "W", "b", "y")] == [[None, 4], [4, 3], [3],
                                                                   [None, 3]]
    assert [nodes[n]["depth"] for n in ("x", "W", "b", "matmul", "add", "y")] == [0, 0, 1, 1, 2, 3]
    assert ex["rows_sum_to_1"]
    assert "CPU:0" in nodes["y"]["ran"] and nodes["x"]["ran"].startswith("fed on ")
    assert all(v["ran"].startswith(("ran on ", "fed on ", "fused into ")) for v in nodes.values())
