"""The TensorFlow chapter's lesson: a graph drawn but not run, feeds and fetches, shared
variables, Saver, the device of each layer, TensorBoard events read back, bad --device."""
import glob
import json

import numpy as np
import pytest

from tfgraph_lessons import tf_mechanism as M
from tfgraph_lessons.core import cli
from tfgraph_lessons.core.device import (available_gpus, format_placement_by_scope,
                                         placement_by_scope, session_config)
from tfgraph_lessons.core.graph import tf, tf1


def run_cli(argv, capsys):
    try:
        M.main(argv)
        status = 0
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_drawn_graph_computes_nothing_until_session_run():
    graph, model = M.draw_scheme()
    ops = M.list_operations(graph)
    types = {o["type"] for o in ops}
    assert {"Placeholder", "Conv2D", "MaxPool", "MatMul", "VarHandleOp"} <= types
    conv1 = next(o for o in ops if o["name"] == "conv1/Conv2D")
    assert conv1["outputs"] == [("conv1/Conv2D:0", "(None, 8, 8, 28)", "float32")]
    assert "Conv2D" in M.format_operations(ops, types=("Conv2D",))
    assert M.graph_summary(graph)["operations"] == len(ops)
    feed = {model["images"]: np.zeros((2, 8, 8, 1), np.uint8),
            model["labels"]: np.zeros(2, np.int64)}
    with tf1.Session(graph=graph) as sess:
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(model["loss"], feed)  # variables have no value before init runs
        sess.run(model["init"])
        loss, logits = sess.run([model["loss"], model["logits"]], feed)  # two fetches, one run
    assert np.isfinite(loss) and logits.shape == (2, 10)
    lazy = M.lazy_evaluation_demo()
    assert (lazy["calls_after_draw"], lazy["calls_after_run"], lazy["value"]) == (0, 1, 12.0)


def test_variable_scope_reuse_shares_variables():
    demo = M.variable_sharing_demo()
    assert demo["variables"] == ["shared/weights", "shared/biases"]
    assert demo["same_output"] is True
    assert "already exists" in demo["reuse_error"]


def test_fast_run_shows_layers_on_their_devices_and_writes_everything(tmp_path):
    # /CPU:1 (a second logical CPU device) stands in for a GPU: the input pipeline
    # stays on /CPU:0 and every layer runs on the requested device
    config = M.MechanismConfig(device="/CPU:1", fast=True, out=str(tmp_path))
    m = M.run(config)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["restored_equals_saved"] is True
    for key in ("test_accuracy", "test_loss", "images_per_second", "wall_seconds", "device",
                "steps", "history", "config", "graph", "placement"):
        assert key in saved, key
    assert m["device"] == "/CPU:1" and m["steps"] == M.FAST_STEPS
    assert m["train_loss"] < m["first_train_loss"]
    assert m["restored_test_accuracy"] == pytest.approx(m["test_accuracy"])
    assert m["lazy_evaluation"]["calls_after_draw"] == 0
    assert m["first_fetch"]["conv1_shape"] == [64, 8, 8, 28]
    placement = m["placement"]
    for layer in ("conv1", "conv2", "fc1", "logits", "gradients/conv1", "gradients/conv2"):
        assert set(placement[layer]) == {"/CPU:1"}, (layer, placement[layer])
    assert max(placement["input"], key=placement["input"].get) == "/CPU:0"
    assert "conv1" in (tmp_path / "placement.txt").read_text()
    assert list((tmp_path / "checkpoints").glob("model.ckpt-40.index"))
    assert (tmp_path / "graph.pbtxt").is_file()


def test_tensorboard_events_hold_scalars_histograms_images_and_graph(tmp_path):
    M.run(M.MechanismConfig(device="cpu", fast=True, steps=6, summary_steps=2,
                            out=str(tmp_path)))
    # read the event files directly ...
    kinds, graph_seen = {}, False
    for path in glob.glob(str(tmp_path / "logs" / "train" / "events.*")):
        for event in tf1.train.summary_iterator(path):
            graph_seen |= event.HasField("graph_def")
            for v in event.summary.value:
                kinds.setdefault(v.WhichOneof("value"), set()).add(v.tag)
    assert graph_seen
    assert {"loss", "accuracy"} <= kinds["simple_value"]
    assert {"params/conv1/weights", "activations/conv1"} <= kinds["histo"]
    assert any(t.startswith("inputs") for t in kinds["image"])
    assert any(t.startswith("conv1_filters") for t in kinds["image"])
    # ... and through the lesson's reader
    tags = M.summary_tags(tmp_path / "logs")
    assert tags["graph"] and tags["steps"] == [1, 3, 5]
    assert {"inputs", "conv1_filters"} <= set(tags["images"])


def test_missing_gpu_falls_back_with_a_notice(tmp_path, capsys):
    if available_gpus() > 3:
        pytest.skip("this machine has a /GPU:3")
    status, out, err = run_cli(["--device", "/GPU:3", "--steps", "2", "--out", str(tmp_path)],
                               capsys)
    assert status == 0
    notice = [ln for ln in err.splitlines() if ln.startswith("notice:")]
    assert len(notice) == 1 and "GPU 3" in notice[0]
    assert json.loads((tmp_path / "metrics.json").read_text())["device"] == "/CPU:0"


def test_missing_gpu_without_soft_placement_is_one_line_and_exit_2(tmp_path, capsys):
    if available_gpus() > 3:
        pytest.skip("this machine has a /GPU:3")
    out_dir = tmp_path / "out"
    status, _, err = run_cli(["--device", "/GPU:3", "--no-soft-placement", "--fast",
                              "--out", str(out_dir)], capsys)
    assert status == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "/GPU:3" in lines[0] and "--no-soft-placement" in lines[0]
    assert not out_dir.exists()  # nothing half-written


def test_thread_and_placement_flags_reach_the_session_config():
    config = M.parse_config(["--intra-threads", "2", "--inter-threads", "1",
                             "--no-soft-placement"])
    assert (config.intra_threads, config.inter_threads, config.soft_placement) == (2, 1, False)
    proto = session_config(**cli.session_options(
        cli.lesson_parser("x", "x").parse_args(["--intra-threads", "4"])))
    assert proto.intra_op_parallelism_threads == 4
    assert proto.inter_op_parallelism_threads == 0 and proto.allow_soft_placement
    with pytest.raises(SystemExit) as e:
        M.parse_config(["--intra-threads", "-1"])
    assert e.value.code == 2


def test_placement_by_scope_groups_nodes_per_layer():
    placed = {"conv1/Conv2D": {"op": "Conv2D", "device": "/GPU:0"},
              "conv1/Relu": {"op": "Relu", "device": "/GPU:0"},
              "input/Cast": {"op": "Cast", "device": "/CPU:0"},
              "gradients/conv1/Conv2D_grad/Conv2DBackpropFilter":
                  {"op": "Conv2DBackpropFilter", "device": "/GPU:0"},
              "_arg_x_0_0": {"op": "_Arg", "device": "/CPU:0"}}
    table = placement_by_scope(placed)
    assert table == {"conv1": {"/GPU:0": 2}, "gradients/conv1": {"/GPU:0": 1},
                     "input": {"/CPU:0": 1}}
    assert "conv1           -> /GPU:0 (2 ops)" in format_placement_by_scope(table)


def test_placement_nodes_lists_the_nodes_behind_one_row():
    placed = {"input/Cast": {"op": "Cast", "device": "/CPU:0"},
              "input/truediv/_11": {"op": "Identity", "device": "/CPU:1"},
              "gradients/conv1/Conv2D_grad/Conv2DBackpropFilter":
                  {"op": "Conv2DBackpropFilter", "device": "/CPU:1"},
              "ConstantFolding/input/truediv_recip": {"op": "Const", "device": "/CPU:0"},
              "_arg_input/x__0_1": {"op": "_Arg", "device": "/CPU:0"}}
    assert M.placement_nodes(placed, "input", "/CPU:1") == [
        ("input/truediv/_11", "Identity", "/CPU:1")]
    assert [n for n, _, _ in M.placement_nodes(placed, "input")] == [
        "input/Cast", "input/truediv/_11"]            # the runtime's _arg_ feed is left out
    assert M.placement_nodes(placed, "gradients/conv1")[0][1] == "Conv2DBackpropFilter"
    assert M.placement_nodes(placed, "ConstantFolding", "/CPU:1") == []
    assert M.format_nodes(M.placement_nodes(placed, "input", "/CPU:1")) == (
        "  /CPU:1  Identity  input/truediv/_11")
    assert M.format_nodes([]) == "  (none)"
    # every node of a row is found: the counts agree with placement_table
    table = M.placement_table(placed)
    assert all(len(M.placement_nodes(placed, scope, dev)) == n
               for scope, devs in table.items() for dev, n in devs.items())


def test_graph_summary_reads_as_two_labelled_lines():
    graph, _ = M.draw_scheme()
    summary = M.graph_summary(graph)
    text = M.format_graph_summary(summary, types=3)
    counts, types = text.splitlines()
    assert counts.startswith(f"{summary['operations']} operations, ")
    assert f"({summary['parameters']:,} parameters)" in counts
    assert types.startswith("most common operation types: ") and types.count(",") == 2
