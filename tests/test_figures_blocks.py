"""The chapter-06 block figures (``figures/architecture_blocks.py``, ``figures/nin.py``): every number they draw is
recomputed here, apart from the figure code, from the papers' tables by the k*k*c_in*c_out
formulas, from plain NumPy, or from what the synthetic images are known to hold."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # noqa: E402

from tfgraph_lessons import figures  # noqa: E402
from tfgraph_lessons.figures import architecture_blocks as blocks  # noqa: E402
from tfgraph_lessons.figures import nin as nin_figures  # noqa: E402
from tfgraph_lessons.figures import catalogue  # noqa: E402
from tfgraph_lessons.nets.inception import Conv, Pool, Split  # noqa: E402

NAMES = ("inception_module", "multi_softmax", "inception_v4_blocks", "nin_1x1_gap", "nin_cam")


def figure_texts(fig):
    """Every text drawn on ``fig`` (titles, labels, free text), subfigures included."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def expected_layers(layers, cin, batch_norm):
    """A branch's layers as the paper's table gives them: ``[(kind, (kh, kw), c_out, params)]``
    with ``params = kh*kw*c_in*c_out`` plus a bias (GoogLeNet) or batch norm's beta and gamma
    (the later Inceptions) per output channel; returns ``(rows, the branch's output depth)``."""
    rows = []
    for layer in layers:
        if isinstance(layer, Split):
            outs = [expected_layers(sub, cin, batch_norm) for sub in layer.branches]
            rows += [row for sub_rows, _ in outs for row in sub_rows]
            cin = sum(width for _, width in outs)
        elif isinstance(layer, Pool):
            rows.append((f"{layer.kind} pool", (layer.ksize, layer.ksize), None, 0))
        else:
            kh, kw = (layer.ksize, layer.ksize) if isinstance(layer.ksize, int) else layer.ksize
            per_channel = 2 if batch_norm else 1
            rows.append(("conv", (kh, kw), layer.filters, kh * kw * cin * layer.filters
                         + per_channel * layer.filters))
            cin = layer.filters
    return rows, cin


def drawn_layers(branch):
    return [(l["kind"], l["ksize"], l["filters"], l["params"]) for l in blocks.flat_layers(branch)]


# ------------------------------------------------------------------------ registry


def test_the_five_figures_are_registered_in_chapter_06_and_need_nothing():
    figures.load_all()
    for name in NAMES:
        assert name in figures.FIGURES
        slot = catalogue.SLOTS[name]
        assert (slot.chapter, slot.needs) == ("06", "")
        entry = figures.FIGURES[name]
        module = nin_figures if name.startswith("nin_") else blocks
        assert "\n" not in entry.description and entry.source.startswith(module.__name__)
        w, h = entry.figsize
        assert 12 <= w <= 16 and 1.5 <= w / h <= 2.4          # a wide slide, 16:9-ish


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_renders(name, closing):
    fig = figures.make(name)
    closing(fig)
    assert fig.axes and fig.get_suptitle()


# ------------------------------------------------------------------- inception (3a)


def test_inception_3a_boxes_are_table_1_read_back_from_the_graph():
    from tfgraph_lessons.nets.googlenet import TABLE_1

    ex = blocks.inception_3a_example()
    name, n1, n3r, n3, n5r, n5, pool_proj = ex["row"]
    assert (name, ex["row"]) == ("inception_3a", TABLE_1[0])
    built = ex["built"]
    assert built["input"] == (28, 28, 192) and built["output"] == built["concat"] == (28, 28, 256)
    assert n1 + n3 + n5 + pool_proj == 256
    spec = [[Conv(n1, 1)], [Conv(n3r, 1), Conv(n3, 3)], [Conv(n5r, 1), Conv(n5, 5)],
            [Pool("max", 3), Conv(pool_proj, 1)]]
    params = 0
    for branch, layers in zip(built["branches"], spec):
        want, width = expected_layers(layers, 192, batch_norm=False)
        assert drawn_layers(branch) == want
        assert [l["shape"] for l in branch] == [(28, 28, c or 192) for _, _, c, _ in want]
        params += sum(p for *_, p in want)
    assert built["params"] == params == 163_696
    assert [l["params"] for l in built["branches"][1]] == [192 * 96 + 96, 9 * 96 * 128 + 128]


def test_the_1x1_reductions_cut_the_weights_2_4_times():
    from tfgraph_lessons.nets.googlenet import module_branches

    ex = blocks.inception_3a_example()
    _, n1, n3r, n3, n5r, n5, pool_proj = ex["row"]
    assert blocks.without_reductions(module_branches(*ex["row"][1:])) == [
        [Conv(n1, 1)], [Conv(n3, 3)], [Conv(n5, 5)], [Pool("max", 3, 1), Conv(pool_proj, 1)]]
    with_reductions = (192 * n1 + 192 * n3r + 9 * n3r * n3 + 192 * n5r + 25 * n5r * n5
                       + 192 * pool_proj)
    without = 192 * n1 + 9 * 192 * n3 + 25 * 192 * n5 + 192 * pool_proj
    built, plain = ex["built"], ex["plain"]
    assert (built["weights"], plain["weights"]) == (with_reductions, without) == (163_328, 393_216)
    # every convolution is stride 1 on the 28x28 grid: each weight is used 28*28 times
    assert (built["madds"], plain["madds"]) == (28 * 28 * with_reductions, 28 * 28 * without)
    assert plain["output"] == built["output"] == (28, 28, 256)


# ------------------------------------------------------------------------ multi-softmax


def log_softmax(z):
    z = np.asarray(z, np.float64)
    return z - (z.max() + np.log(np.exp(z - z.max()).sum()))


def test_multi_softmax_total_is_main_plus_0_3_times_each_aux_in_numpy(closing):
    from tfgraph_lessons.nets.googlenet import AUX_WEIGHT

    ex = blocks.multi_softmax_example()
    label = blocks.MS_LABEL
    ce = {k: -log_softmax(z)[label] for k, z in blocks.MS_LOGITS.items()}
    for k, z in blocks.MS_LOGITS.items():
        np.testing.assert_allclose(ex["probs"][k], np.exp(log_softmax(z)), atol=1e-6)
        assert ex["ce"][k] == pytest.approx(ce[k], abs=1e-5)
    # ex["total"] is googlenet_loss's own output on the same logits
    right = ce["main"] + 0.3 * ce["aux 1"] + 0.3 * ce["aux 2"]
    assert AUX_WEIGHT == ex["aux_weight"] == 0.3
    assert ex["total"] == pytest.approx(right, abs=1e-5)
    assert ex["slide_total"] == pytest.approx(ce["main"] + ce["aux 1"] + ce["aux 2"], abs=1e-5)
    assert ex["slide_total"] > 2 * ex["total"]
    fig = figures.make("multi_softmax")
    closing(fig)
    text = "\n".join(figure_texts(fig))
    assert f"= {right:.3f}" in text and f"= {ex['slide_total']:.3f}" in text
    assert "weighted by 0.3" in text


def test_the_auxiliary_heads_exist_only_in_the_training_graph():
    ex = blocks.multi_softmax_example()
    train, infer = ex["train"], ex["inference"]
    assert train["heads"] == ["aux_1", "aux_2"] and train["aux_logits"] == 2 and train["ops"] > 0
    assert (infer["heads"], infer["ops"], infer["params"], infer["aux_logits"]) == ([], 0, 0, 0)

    # section 5 of the paper: 5x5/3 average pool (14x14 -> 4x4), 1x1 conv 128, fc 1024, fc 1000
    def head(cin):
        return (cin * 128 + 128) + (4 * 4 * 128 * 1024 + 1024) + (1024 * 1000 + 1000)

    assert train["params"] == head(512) + head(528)           # on inception (4a) and (4d)
    assert train["all_params"] - train["params"] == infer["all_params"]


# ------------------------------------------------------------------ Inception-v4 blocks


def test_v4_blocks_are_their_tables_read_back_from_the_graph():
    from tfgraph_lessons.nets import inception_v4 as v4

    drawn = blocks.v4_blocks_example()
    assert [b["title"] for b in drawn] == ["Inception-A", "Inception-B", "Inception-C",
                                           "Inception-ResNet-A"]
    specs = [v4.INCEPTION_A, v4.INCEPTION_B, v4.INCEPTION_C,
             v4.Residual(v4.RES_V2_A, v4.SCALES[0])]
    depths = [(35, 384, 4 * 96), (17, 1024, 384 + 256 + 256 + 128),
              (8, 1536, 256 + 512 + 512 + 256), (35, 320, 32 + 32 + 64)]
    for b, spec, (grid, cin, concat) in zip(drawn, specs, depths):
        assert b["input"] == b["output"] == (grid, grid, cin)
        assert b["concat"] == (grid, grid, concat)
        params = 0
        for branch, layers in zip(b["branches"], spec.branches):
            want, _ = expected_layers(layers, cin, batch_norm=True)
            assert drawn_layers(branch) == want
            assert all(l["shape"][:2] == (grid, grid) for l in blocks.flat_layers(branch))
            params += sum(p for *_, p in want)
        if "residual" in b:   # the linear 1x1 back to the input's width carries a bias
            params += concat * cin + cin
        assert b["params"] == params
    res = drawn[3]["residual"]
    assert v4.SCALES[0] == 0.17 and res["scale"] == pytest.approx(0.17, abs=1e-7)   # float32
    assert res["shortcut"] and res["relu"]
    up = res["up"]
    assert (up["ksize"], up["filters"], up["shape"]) == ((1, 1), 320, (35, 35, 320))
    assert "residual" not in drawn[0]
    c = drawn[2]["branches"][1]           # Inception-C: 1x1 384, then 1x3 and 3x1 side by side
    assert isinstance(c[1], list)
    assert [l["ksize"] for l in blocks.flat_layers(c[1])] == [(1, 3), (3, 1)]


# -------------------------------------------------------------------------- NIN


def test_a_1x1_convolution_is_a_matmul_per_pixel():
    ex = nin_figures.one_by_one_example()
    x = np.transpose(np.array(nin_figures.ONE_BY_ONE_X), (1, 2, 0))
    w = np.array(nin_figures.ONE_BY_ONE_W)
    np.testing.assert_array_equal(ex["x"], x)
    np.testing.assert_array_equal(ex["w"], w)
    np.testing.assert_array_equal(ex["y"], (x.reshape(-1, 3) @ w).reshape(3, 3, 2))
    assert (ex["y"] < 0).any() and len(np.unique(ex["y"])) > 4   # not a trivial example


def test_global_average_pooling_is_each_maps_mean():
    maps, means = nin_figures.gap_example()
    np.testing.assert_allclose(means, np.array(nin_figures.GAP_MAPS).mean(axis=(1, 2)))
    assert list(means) == [0.5, 1.5, 1.0]


def test_a_fully_connected_head_on_nin_class_maps_costs_h_w_c_classes():
    from tfgraph_lessons.nets.summary import layer_table

    heads = {h["name"]: h for h in nin_figures.nin_heads()}
    assert heads["nin_cifar"]["maps"] == (8, 8, 10) and heads["nin"]["maps"] == (6, 6, 1000)
    for name, h in heads.items():
        rows, cols, classes = h["maps"]
        assert classes == h["classes"] and h["gap_params"] == 0
        assert h["fc_params"] == rows * cols * classes * classes + classes
        assert h["net_params"] == layer_table(name).trainable_params
    assert heads["nin"]["fc_params"] > 4 * heads["nin"]["net_params"]


# -------------------------------------------------------------------------- CAM


def test_the_synthetic_shapes_sit_in_their_boxes():
    images, labels, corners = nin_figures.shapes_data(200, np.random.default_rng(1))
    stamps = nin_figures._shape_stamps()
    k = nin_figures.CAM_OBJECT
    for img, label, (r, c) in zip(images[..., 0], labels, corners):
        if label == len(stamps):
            assert (r, c) == (-1, -1)
            continue
        noise = img.copy()
        noise[r:r + k, c:c + k] -= stamps[label]
        assert abs(noise.std() - nin_figures.CAM_NOISE) < 0.05        # what is left is the noise
        assert img[r:r + k, c:c + k][stamps[label] > 0].mean() > 0.7


def test_the_cam_peaks_on_the_shape_for_most_held_out_images(closing):
    ex = nin_figures.cam_example()
    assert ex["accuracy"] >= 0.85
    shapes = ex["labels"] < 3
    n, k = int(shapes.sum()), nin_figures.CAM_OBJECT
    assert n > 150
    on = 0
    for cam, (r, c) in zip(ex["cams"][shapes], ex["corners"][shapes]):
        pr, pc = np.unravel_index(np.argmax(cam), cam.shape)
        on += (r - 1 <= pr <= r + k) and (c - 1 <= pc <= c + k)     # the 7x7 box, 1 px margin
    assert on >= 0.9 * n
    # NIN's logits are the class maps' means (global average pooling), the CAM is in [0, 1]
    np.testing.assert_allclose(ex["logits"], ex["class_maps"].mean(axis=(1, 2)),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(ex["predictions"], ex["logits"].argmax(axis=1))
    assert ex["cams"].min() >= 0 and ex["cams"].max() <= 1 + 1e-6
    fig = figures.make("nin_cam")            # the figure reports the same run (cached)
    closing(fig)
    title = fig.get_suptitle()
    assert f"trained {ex['steps']} steps" in title and f"for {on} of {n} held-out shapes" in title


def test_the_cam_training_repeats_exactly():
    run = nin_figures.cam_example.__wrapped__           # uncached: two real trainings
    a = run(steps=20, train_size=200, test_size=20)
    b = run(steps=20, train_size=200, test_size=20)
    np.testing.assert_array_equal(a["cams"], b["cams"])
    np.testing.assert_array_equal(a["logits"], b["logits"])
