"""Layer tables (``nets.summary``), ``python -m tfgraph_lessons.architectures`` and the
architecture figures.

The counts are checked against numbers worked out by hand from the layers'
sizes (ResNet-20 of arXiv:1512.03385 section 4.2; a toy network with one op of
each counted kind), not against the code that computes them.
"""
import json
import math
import os
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from conftest import error_line, run_lesson  # noqa: E402
from tfgraph_lessons import nets  # noqa: E402
from tfgraph_lessons.architectures import main  # noqa: E402
from tfgraph_lessons.core.errors import UsageError  # noqa: E402
from tfgraph_lessons.nets import summary  # noqa: E402

# --------------------------------------------------------------------------- ResNet-20 by hand


def resnet20_counts():
    """ResNet-20 (n = 3) from its layer sizes: 3x3 convolutions without biases, batch
    norm (gamma, beta; moving mean, variance) after each, option-A shortcuts (no
    parameters), a 64 -> 10 fully connected layer. Returns (trainable, all, MACs)."""
    convs = [(32, 3, 16)]                                     # (map size, c_in, c_out)
    for size, c_in, c_out in ((32, 16, 16), (16, 16, 32), (8, 32, 64)):
        convs += [(size, c_in, c_out)] + [(size, c_out, c_out)] * 5
    weights = sum(9 * c_in * c_out for _, c_in, c_out in convs)
    bn = sum(c_out for _, _, c_out in convs)
    macs = sum(size * size * 9 * c_in * c_out for size, c_in, c_out in convs) + 64 * 10
    return weights + 2 * bn + 650, weights + 4 * bn + 650, macs


def test_resnet20_totals_match_the_hand_count_and_the_paper():
    table = summary.layer_table("resnet20")
    trainable, all_params, macs = resnet20_counts()
    assert (table.trainable_params, table.all_params, table.madds) == (
        trainable, all_params, macs) == (269_722, 271_098, 40_551_040)
    assert round(table.trainable_params / 1e6, 2) == 0.27        # arXiv:1512.03385 Table 6
    # ~40.8M is the figure usually quoted for ResNet-20; it also counts the shortcut
    # additions and batch norm, which the conv/matmul-only count leaves out
    assert table.madds == pytest.approx(40.8e6, rel=0.01)
    assert sum(r.params for r in table.rows) == table.trainable_params
    assert sum(r.madds for r in table.rows) == table.madds


def test_resnet20_rows_follow_the_forward_pass():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    with new_graph():
        _, end_points = nets.get("resnet20")(tf1.placeholder(tf.float32, [1, 32, 32, 3]), 10,
                                             False)
    table = summary.layer_table("resnet20")
    assert [r.name for r in table.rows] == [k for k in end_points if k != "predictions"]
    assert [r.name for r in table.rows] == ["conv1", "stage1", "stage2", "stage3",
                                            "global_pool", "logits"]
    assert [r.shape for r in table.rows] == [(32, 32, 16), (32, 32, 16), (16, 16, 32),
                                             (8, 8, 64), (64,), (10,)]
    conv1 = table.rows[0]
    assert (conv1.params, conv1.madds) == (3 * 3 * 3 * 16 + 2 * 16, 32 * 32 * 27 * 16)
    assert table.rows[-1][2:] == (650, 640)   # a plain tuple: (name, shape, params, madds)


def test_tables_are_cached_and_counted_per_image():
    assert summary.layer_table("resnet20") is summary.layer_table("resnet20")
    four = summary.layer_table("resnet20", batch=4)
    assert four.madds == summary.layer_table("resnet20").madds
    assert four.trainable_params == summary.layer_table("resnet20").trainable_params


def test_names_nobody_keyed_go_to_the_layer_that_uses_them():
    """slide_cnn's variables are the slide's w1..w4, under no end_points key."""
    table = summary.layer_table("slide_cnn")
    rows = {r.name: r for r in table.rows}
    assert "other" not in rows
    assert (rows["conv1"].params, rows["conv1"].madds) == (7 * 7 * 3 * 28 + 28,
                                                           32 * 32 * 7 * 7 * 3 * 28)
    assert (rows["conv2"].params, rows["conv2"].madds) == (5 * 5 * 28 * 64 + 64,
                                                           16 * 16 * 5 * 5 * 28 * 64)
    assert rows["fc1"].params == 8 * 8 * 64 * 1024 + 1024
    assert rows["pool1"].params == rows["dropout"].params == 0


# --------------------------------------------------------------------------- every op kind


def toy_net(images, num_classes, is_training, keep_prob=1.0, wd=None, scope="toy"):
    """One op of each counted kind, an unused auxiliary head and an aliased logits."""
    from tfgraph_lessons.core import layers
    from tfgraph_lessons.core.graph import tf, tf1

    end_points = {}
    with tf1.variable_scope(scope):
        net = layers.conv2d(images, 4, 3, stride=2, scope="conv1")          # [1, 4, 4, 4]
        end_points["conv1"] = net
        aux = layers.fully_connected(net, 7, scope="aux")                   # used by no row
        del aux
        net = layers.depthwise_conv2d(net, 3, multiplier=2, scope="dw")     # [1, 4, 4, 8]
        end_points["dw"] = net
        net = layers.separable_conv2d(net, 6, 3, scope="sep")               # [1, 4, 4, 6]
        end_points["sep"] = net
        net = layers.conv2d_transpose(net, 2, 3, stride=2, scope="up")      # [1, 8, 8, 2]
        end_points["up"] = net
        net = layers.conv2d(net, 2, 1, scope="block/unit1")                 # [1, 8, 8, 2]
        end_points["block/unit1"] = net
        net = layers.conv2d(net, 3, 1, scope="block/unit2")                 # [1, 8, 8, 3]
        end_points["block"] = net
        logits = layers.fully_connected(net, num_classes, activation=None, scope="fc")
        end_points["fc"] = logits
        end_points["logits"] = logits                                       # the same tensor
        end_points["predictions"] = tf.nn.softmax(logits)
    return logits, end_points


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(nets.NETS, "toy", toy_net)
    monkeypatch.setitem(nets.INFO, "toy", nets.NetInfo("toy", family="toy",
                                                       input_shape=(8, 8, 3), num_classes=5,
                                                       paper_params=2000))
    monkeypatch.setattr(summary, "_CACHE", {})
    return summary.layer_table("toy")


def test_every_op_kind_is_counted_in_its_row(toy):
    rows = {r.name: r for r in toy.rows}
    assert [r.name for r in toy.rows] == ["conv1", "dw", "sep", "up", "block/unit1", "block",
                                          "fc", "other"]
    expected = {  # (params, MACs), from the layer sizes
        "conv1": (3 * 3 * 3 * 4 + 4, 4 * 4 * 3 * 3 * 3 * 4),           # Conv2D, stride 2
        "dw": (3 * 3 * 4 * 2, 4 * 4 * 3 * 3 * 4 * 2),                  # DepthwiseConv2dNative
        "sep": (3 * 3 * 8 + 8 * 6 + 6, 4 * 4 * 3 * 3 * 8 + 4 * 4 * 8 * 6),  # both of its ops
        "up": (3 * 3 * 2 * 6 + 2, 4 * 4 * 3 * 3 * 6 * 2),              # Conv2DBackpropInput
        "block/unit1": (2 * 2 + 2, 8 * 8 * 2 * 2),                      # the longest key wins
        "block": (2 * 3 + 3, 8 * 8 * 2 * 3),
        "fc": (8 * 8 * 3 * 5 + 5, 8 * 8 * 3 * 5),                       # MatMul
        "other": (4 * 4 * 4 * 7 + 7, 4 * 4 * 4 * 7),                    # the unused aux head
    }
    assert {k: (r.params, r.madds) for k, r in rows.items()} == expected
    assert rows["up"].shape == (8, 8, 2) and rows["other"].shape == ()
    assert toy.trainable_params == toy.all_params == sum(p for p, _ in expected.values())
    assert toy.madds == sum(m for _, m in expected.values())


def test_stand_in_variables_count_like_real_ones(toy):
    real = summary._count("toy", (8, 8, 3), 1, 5, stand_ins=False)
    assert real == toy
    assert summary._count("resnet20", (32, 32, 3), 1, 10, stand_ins=False) == \
        summary.layer_table("resnet20")


def test_compare_puts_the_paper_next_to_the_count(toy):
    (entry,) = summary.compare(["toy"])
    assert entry["name"] == "toy" and entry["input_shape"] == [8, 8, 3]
    assert entry["paper_params"] == 2000 and entry["paper_madds"] is None
    assert entry["params_ratio"] == round(toy.trainable_params / 2000, 4)
    assert entry["madds_ratio"] is None


def test_bad_input_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match=r"unknown network 'resnet7'; known: .*resnet20"):
        summary.layer_table("resnet7")
    with pytest.raises(UsageError) as e:
        summary.layer_table("resnet20", input_shape=(2, 2, 3))
    assert "resnet20 cannot take a 2x2x3 input" in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(UsageError, match="no network of family 'nope'.*known families"):
        summary.select(None, "nope")


# --------------------------------------------------------------------------- the command


def test_summary_prints_an_aligned_table(capsys):
    status, out, _ = run_lesson(main, ["--summary", "resnet20"], capsys)
    assert status == 0
    lines = out.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("layer"))
    right_edge = len(lines[head])
    table = lines[head + 2:head + 2 + 7]            # input, then the six rows
    assert [l.split()[0] for l in table] == ["input", "conv1", "stage1", "stage2", "stage3",
                                             "global_pool", "logits"]
    assert all(len(l) == right_edge for l in table[1:])   # right-aligned counts
    assert "14,155,776" in lines[head + 4]                 # stage1's MACs, separators
    total = next(l for l in lines if l.startswith("total"))
    assert total.split()[1:] == ["269,722", "40,551,040"] and len(total) == right_edge


def test_compare_and_json(capsys, tmp_path):
    status, out, err = run_lesson(main, ["--compare", "--only", "resnet20,slide_cnn"], capsys)
    assert status == 0, err
    rows = {l.split()[0]: l.split() for l in out.splitlines()[2:]}
    assert set(rows) == {"resnet20", "slide_cnn"}
    assert rows["resnet20"][2:5] == ["269.7k", "270.0k", "0.999"]   # ours, paper, ratio
    status, out, err = run_lesson(main, ["--json", "--only", "resnet20", "--out",
                                         str(tmp_path)], capsys)
    assert status == 0, err
    (entry,) = json.loads(out)
    for key in ("name", "input_shape", "trainable_params", "all_params", "madds",
                "paper_params", "paper_source", "paper_madds"):
        assert key in entry
    assert (entry["name"], entry["input_shape"], entry["trainable_params"],
            entry["all_params"], entry["madds"]) == ("resnet20", [32, 32, 3], 269_722,
                                                     271_098, 40_551_040)
    assert entry["paper_params"] == 270_000 and "1512.03385" in entry["paper_source"]
    assert json.loads((tmp_path / "architectures.json").read_text()) == [entry]
    assert (tmp_path / "architectures_compare.png").read_bytes()[:4] == b"\x89PNG"
    status, out, _ = run_lesson(main, ["--summary", "slide_cnn", "--json"], capsys)
    (entry,) = json.loads(out)
    assert [row["name"] for row in entry["layers"]][:2] == ["conv1", "pool1"]


@pytest.mark.parametrize("argv, message", [
    (["--summary", "resnet7"], "error: unknown network 'resnet7'; known: "),
    (["--compare", "--only", "resnet20,nope"], "error: unknown network 'nope'"),
    (["--family", "nope"], "error: no network of family 'nope' is registered"),
    (["--json", "--family", "vgg", "--only", "resnet20"],
     "error: none of the selected networks is of family 'vgg'"),
    (["--bogus"], "error: python -m tfgraph_lessons.architectures: unrecognized arguments"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    if "vgg" in argv and "vgg" not in summary.families():
        pytest.skip("no VGG network registered yet")
    status, out, err = run_lesson(main, argv, capsys)
    assert status == 2 and out == ""
    assert error_line(err).startswith(message)
    assert len([l for l in err.splitlines() if l.strip()]) == 1


def test_python_dash_m_runs():
    res = subprocess.run([sys.executable, "-m", "tfgraph_lessons.architectures", "--summary",
                          "slide_cnn", "--json"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["trainable_params"] == 4_254_586


# --------------------------------------------------------------------------- figures


def test_alexnet_table_figure_shows_the_slide_shapes(closing):
    pytest.importorskip("tfgraph_lessons.nets.alexnet")
    from tfgraph_lessons import figures

    fig = figures.make("alexnet_table")
    closing(fig)
    texts = {cell.get_text().get_text() for cell in fig.axes[0].tables[0].get_celld().values()}
    for shape in ("227x227x3", "55x55x96", "27x27x256", "13x13x384", "6x6x256", "4096", "1000"):
        assert shape in texts
    table = summary.layer_table("alexnet")
    assert f"{table.trainable_params:,}" in texts


def test_vgg_figure_is_drawn_from_the_configuration_table(closing):
    vgg = pytest.importorskip("tfgraph_lessons.nets.vgg")
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures.architectures import vgg_columns

    fig = figures.make("vgg_configurations")
    closing(fig)
    cells = fig.axes[0].tables[0].get_celld()
    names, blocks = vgg_columns(vgg.CONFIGS)
    last_row = max(r for r, _ in cells)
    column = {n: [cells[r, c].get_text().get_text() for r in range(1, last_row + 1)]
              for c, n in enumerate(names)}
    assert "conv1-256" in column["C"] and "conv1-256" not in column["D"]
    convs = {n: sum(t.startswith("conv") for t in column[n]) for n in names}
    assert convs["A"] == 8 and convs["E"] == 16
    # the flat "M" form gives the same columns
    flat = {n: [l for stack in stacks for l in (*stack, "M")] for n, stacks in vgg.CONFIGS.items()}
    assert vgg_columns(flat) == (names, blocks)


def test_compare_figure_and_missing_networks(closing, monkeypatch):
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures import FigureUnavailable
    from tfgraph_lessons.figures import architectures as arch_figures

    monkeypatch.setattr(arch_figures, "_imagenet_networks", lambda: ["resnet20", "slide_cnn"])
    fig = figures.make("architectures_compare")
    closing(fig)
    params, macs = fig.axes[:2]
    heights = sorted(p.get_height() for p in params.patches)
    assert heights == sorted([269_722, 4_254_586])
    assert params.get_yscale() == macs.get_yscale() == "log"
    assert [t.get_text() for t in macs.get_xticklabels()] == ["resnet20", "slide_cnn"]
    monkeypatch.setattr(nets, "names", lambda cifar=None: [])
    with pytest.raises(FigureUnavailable, match="alexnet is not in the registry"):
        figures.make("alexnet_table")
    monkeypatch.setattr(arch_figures, "_imagenet_networks", lambda: [])
    with pytest.raises(FigureUnavailable, match="no ImageNet-size network"):
        figures.make("architectures_compare")


def test_madds_of_an_unknown_shape_is_an_error():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    with new_graph():
        x = tf1.placeholder(tf.float32, [None, None])
        y = tf.matmul(x, tf.ones([3, 4]))
        with pytest.raises(ValueError, match="unknown shape"):
            summary.op_madds(y.op)
        z = tf.matmul(tf.ones([2, 3]), tf.ones([3, 4]))
        assert summary.op_madds(z.op) == 2 * 3 * 4 == math.prod([2, 3, 4])
