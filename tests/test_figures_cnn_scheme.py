"""The CNN chapter's scheme figures (``figures/cnn_scheme.py``, ``figures/dropout.py``): every
number a figure draws is checked here apart from the code that computes it, against
the slide network's spec (``nets/slide_cnn.py``), the layer-table counter
(``nets/summary.py``) and NumPy; each figure renders, twice to the same bytes."""
import inspect

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # this process draws; no display needed

from tfgraph_lessons import figures  # noqa: E402
from tfgraph_lessons.cnn_cifar import CNNConfig  # noqa: E402
from tfgraph_lessons.figures import catalogue, cnn_scheme  # noqa: E402
from tfgraph_lessons.figures import dropout as dropout_figures  # noqa: E402
from tfgraph_lessons.nets import slide_cnn, summary  # noqa: E402

NAMES = ["cnn_layer_by_layer", "cnn_fully_connected", "dropout_network"]

# the slides' network as nets/slide_cnn.py writes it: w1 [7, 7, color_ch, 28] and
# w2 [5, 5, 28, 64], each convolution stride 1 SAME + ReLU and a 2x2 max pool of stride 2,
# then the fully connected layer (fc_units) and the logits
CONVS = ((7, 28), (5, 64))
POOL = 2


def texts(fig):
    """Every string drawn on ``fig``."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def test_the_spec_is_the_slide_networks():
    """The constants above are what nets/slide_cnn.py says (its docstring's variable lines)."""
    doc = slide_cnn.__doc__
    for (k, c_out), c_in in zip(CONVS, ("color_ch", CONVS[0][1])):
        assert f"[{k}, {k}, {c_in}, {c_out}]" in doc
    assert "max pool 2x2" in doc


@pytest.fixture(scope="module")
def scheme():
    return cnn_scheme.slide_scheme()


def test_layer_by_layer_shapes_and_parameters_follow_the_spec(scheme):
    defaults = inspect.signature(slide_cnn.slide_cnn).parameters
    fc_units = defaults["fc_units"].default
    size, c_in, classes = 32, 3, 10
    expected = []                                     # (name, kind, shape, weights, params)
    for i, (k, c_out) in enumerate(CONVS, start=1):
        expected.append((f"conv{i}", "conv", [None, size, size, c_out],
                         [(f"w{i}", (k, k, c_in, c_out)), (f"b{i}", (c_out,))],
                         conv_params(k, c_in, c_out)))
        size = -(-size // POOL)                        # SAME pooling: ceil(n / 2)
        expected.append((f"pool{i}", "pool", [None, size, size, c_out], [], 0))
        c_in = c_out
    flat = size * size * c_in                          # 8 * 8 * 64 = 4096
    expected += [("fc1", "fc", [None, fc_units], [("w3", (flat, fc_units)), ("b3", (fc_units,))],
                  flat * fc_units + fc_units),
                 ("dropout", "dropout", [None, fc_units], [], 0),
                 ("logits", "fc", [None, classes],
                  [("w4", (fc_units, classes)), ("b4", (classes,))], fc_units * classes + classes),
                 ("predictions", "softmax", [None, classes], [], 0)]
    got = [(lay["name"], lay["kind"], lay["shape"], lay["weights"], lay["params"])
           for lay in scheme["layers"]]
    assert got == expected
    layers = {lay["name"]: lay for lay in scheme["layers"]}
    for i, (k, _) in enumerate(CONVS, start=1):
        assert (layers[f"conv{i}"]["kernel"], layers[f"conv{i}"]["stride"],
                layers[f"conv{i}"]["padding"], layers[f"conv{i}"]["activation"]) == (
            (k, k), (1, 1), "SAME", "ReLU")
        assert (layers[f"pool{i}"]["window"], layers[f"pool{i}"]["stride"]) == ((2, 2), (2, 2))
    assert layers["fc1"]["flatten"] == [None, flat] and layers["fc1"]["activation"] == "ReLU"
    assert layers["fc1"]["input_shape"] == [None, size, size, c_in]
    assert layers["logits"]["flatten"] is None and layers["logits"]["activation"] is None
    assert layers["dropout"]["keep_prob"] == defaults["keep_prob"].default == CNNConfig().keep_prob
    assert scheme["total_params"] == sum(e[-1] for e in expected) == 4_254_586


def test_layer_by_layer_agrees_with_the_summary_command_and_the_lesson(scheme):
    table = summary.layer_table("slide_cnn")        # what --summary slide_cnn prints
    assert scheme["total_params"] == table.trainable_params
    rows = {r.name: r for r in table.rows}
    for lay in scheme["layers"]:
        if lay["name"] in rows:
            assert (lay["params"], tuple(lay["shape"][1:])) == (rows[lay["name"]].params,
                                                                rows[lay["name"]].shape)
    assert scheme["x_"] == {"dtype": "uint8", "shape": [None, 32, 32, 3]}   # the lesson's x_
    assert scheme["y_"] == {"dtype": "int64", "shape": [None]}
    assert scheme["loss_shape"] == [] and scheme["weight_decay"] == CNNConfig().weight_decay


def test_fully_connected_example_is_numpy_in_the_flatten_order():
    ex = cnn_scheme.fully_connected_example()
    channels = np.array(cnn_scheme.FC_CHANNELS)
    c, h, w = channels.shape
    x = np.zeros((h, w, c))
    for k in range(c):                                 # the slides draw one grid per channel
        x[:, :, k] = channels[k]
    np.testing.assert_array_equal(ex["x"], x)
    positions = list(np.ndindex(h, w, c))              # row-major: k fastest, then c, then r
    assert ex["order"] == positions
    for i, (r, col, k) in enumerate(positions):
        assert i == (r * w + col) * c + k and ex["flat"][i] == x[r, col, k]
    np.testing.assert_array_equal(ex["flat"], x.reshape(-1))
    np.testing.assert_array_equal(ex["flat"], [1, 5, 2, 6, 3, 7, 4, 8])   # channels interleaved
    W, b = np.array(cnn_scheme.FC_WEIGHTS), np.array(cnn_scheme.FC_BIASES)
    np.testing.assert_allclose(ex["y"], x.reshape(-1) @ W + b)
    assert (ex["w_shape"], ex["b_shape"]) == ([h * w * c, 3], [3])
    # what each column picks, as the figure writes it, and what that means on the map
    assert cnn_scheme.column_meaning(ex["W"], ex["order"]) == [
        "all positions", "channel 0 only", "row 0 only"]
    assert ex["y"][1] - b[1] == x[:, :, 0].sum() and ex["y"][2] - b[2] == x[0].sum()


def test_fully_connected_example_on_another_map_and_w():
    rng = np.random.default_rng(3)
    channels = rng.integers(-9, 10, size=(4, 3, 2))   # 4 channels of 3x2: no square to hide in
    W, b = rng.normal(size=(24, 5)), rng.normal(size=5)
    ex = cnn_scheme.fully_connected_example(channels, W, b)
    x = np.transpose(channels, (1, 2, 0))
    assert ex["order"] == list(np.ndindex(3, 2, 4))
    np.testing.assert_array_equal(ex["flat"], x.reshape(-1))
    np.testing.assert_allclose(ex["y"], x.reshape(-1) @ W + b, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def dropped():
    return dropout_figures.dropout_example()


def test_dropout_drops_scales_and_keeps_nothing_back_at_test_time(dropped):
    kp = dropped["keep_prob"]
    assert kp == CNNConfig().keep_prob == 0.5          # the slide CNN's, as the lesson runs it
    for before, after, kept in zip(dropped["before"], dropped["after"], dropped["kept"]):
        assert before.shape == after.shape == (3, 6) and (before > 0).all()
        np.testing.assert_array_equal(kept, after != 0)
        np.testing.assert_allclose(after[kept], before[kept] / kp, rtol=1e-6)
        assert (after[~kept] == 0).all() and kept.any() and (~kept).any()
    for before, after in zip(dropped["test_before"], dropped["test_after"]):
        np.testing.assert_array_equal(after, before)   # inference: nothing dropped or scaled
    np.testing.assert_array_equal(dropped["test_before"][0], dropped["before"][0][0])
    for fraction in dropped["many_dropped"]:           # 10,000 units: sd 0.005
        assert abs(fraction - (1 - kp)) < 0.03
    assert dropped["many_values"] == [0.0, 1 / kp]


def test_dropout_samples_differ_and_repeat_with_the_seed(dropped):
    first = np.concatenate(dropped["kept"], axis=1)      # [steps, 12 hidden units]
    assert len({row.tobytes() for row in first}) == len(first)    # each step its own set
    h1, h2 = dropped["kept"]
    assert not np.array_equal(h1, h2)                    # the layers draw apart, too
    again = dropout_figures.dropout_example()
    for a, b in zip(dropped["after"], again["after"]):
        np.testing.assert_array_equal(a, b)


def test_dropout_follows_another_keep_prob():
    ex = dropout_figures.dropout_example(keep_prob=0.8, samples=2, many=20_000, seed=1)
    assert all(abs(f - 0.2) < 0.02 for f in ex["many_dropped"])
    assert ex["many_values"] == [0.0, 1.25]
    np.testing.assert_allclose(ex["after"][0][ex["kept"][0]],
                               ex["before"][0][ex["kept"][0]] / 0.8, rtol=1e-6)


def test_the_figures_are_registered_in_chapter_04_and_show_their_numbers(made, scheme, dropped):
    figures.load_all()
    for name in NAMES:
        module = dropout_figures if name == "dropout_network" else cnn_scheme
        assert figures.FIGURES[name].fn.__module__ == module.__name__
        assert catalogue.SLOTS[name].chapter == "04" and catalogue.SLOTS[name].needs == ""
    drawn = " ".join(texts(made("cnn_layer_by_layer")))
    assert f"{scheme['total_params']:,}" in drawn and "out [?, 8, 8, 64]" in drawn
    assert "w1 [7, 7, 3, 28]" in drawn and "4,144 parameters" in drawn and "y_ (labels)" in drawn
    drawn = " ".join(texts(made("cnn_fully_connected")))
    assert "w3 [4096, 1024]" in drawn and "y1 = 1+2+3+4 - 2 = 8" in drawn
    drawn = " ".join(texts(made("dropout_network")))
    unit = np.flatnonzero(dropped["kept"][0][0])[0]    # the unit the figure's example follows
    assert "keep_prob = 0.5" in drawn and f"= {dropped['after'][0][0, unit]:.3f}" in drawn


def test_the_dropout_figure_rerenders_to_the_same_bytes(tmp_path):
    """Its masks are random draws: the fixed seed makes them, and the PNG, repeat (the
    other two show no random number; tests/test_figures.py reruns the whole catalogue)."""
    (first,) = figures.render(["dropout_network"], tmp_path / "a", progress=False)
    (second,) = figures.render(["dropout_network"], tmp_path / "b", progress=False)
    assert first.read_bytes() == second.read_bytes()
