"""--device resolution, soft placement and the placement report."""
import numpy as np
import pytest

from tfgraph_lessons.core import layers as L
from tfgraph_lessons.core.device import (available_gpus, format_placement, placement_report,
                                         resolve_device, session_config)
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf, tf1


def test_cpu_and_auto():
    assert resolve_device("cpu") == "/CPU:0"
    assert resolve_device("/cpu:0") == "/CPU:0"
    assert resolve_device("auto") == ("/GPU:0" if available_gpus() else "/CPU:0")


def test_missing_gpu_falls_back_with_one_line_notice():
    notes = []
    n = available_gpus()
    assert resolve_device(f"/GPU:{n + 2}", notice=notes.append) == "/CPU:0"
    assert len(notes) == 1 and "\n" not in notes[0]
    assert f"GPU {n + 2}" in notes[0] and "/CPU:0" in notes[0]


@pytest.mark.parametrize("bad", ["tpu", "/GPU:x", "gpu0", "", "cuda"])
def test_unknown_device_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="unknown --device"):
        resolve_device(bad)


def test_placement_report_lists_where_ops_ran():
    with new_graph() as g:
        with tf.device(resolve_device("cpu")):
            x = L.inputs([8, 8, 1])
            y = L.conv2d(x, 4, 3, scope="conv1")
        with tf1.Session(graph=g, config=session_config()) as sess:
            sess.run(tf1.global_variables_initializer())
            placed = placement_report(sess, y, {x: np.zeros((1, 8, 8, 1), np.float32)})
    convs = {n: p for n, p in placed.items() if "Conv2D" in p["op"]}
    assert convs and all(p["device"] == "/CPU:0" for p in convs.values())
    text = format_placement(placed)
    assert "/CPU:0:" in text and "Conv2D) -> /CPU:0" in text


def test_soft_placement_runs_a_gpu_request_without_a_gpu():
    if available_gpus():
        pytest.skip("this machine has a GPU")
    with new_graph() as g:
        with tf.device("/GPU:0"):  # asked for directly, bypassing resolve_device
            y = tf.constant(2.0) * 3.0
        with tf1.Session(graph=g, config=session_config(soft_placement=True)) as sess:
            assert sess.run(y) == 6.0
        with tf1.Session(graph=g, config=session_config(soft_placement=False)) as sess:
            with pytest.raises(tf.errors.InvalidArgumentError):
                sess.run(y)


def test_logical_cpu_devices():
    with new_graph() as g:
        with tf1.Session(graph=g, config=session_config(cpu_devices=2)) as sess:
            names = [d.name for d in sess.list_devices() if d.device_type == "CPU"]
    assert len(names) == 2


def test_a_cpu_that_is_not_there_falls_back_and_reports_the_device_that_runs():
    notes = []
    assert resolve_device("/CPU:3", notice=notes.append) == "/CPU:0"
    assert "CPU 3" in notes[0] and "running on /CPU:0" in notes[0]
    assert resolve_device("/CPU:1", cpu_devices=2) == "/CPU:1"  # logical CPU devices


def test_a_missing_device_without_soft_placement_is_a_usage_error():
    import pytest as _pytest
    from tfgraph_lessons.core.errors import UsageError

    with _pytest.raises(UsageError, match="--no-soft-placement"):
        resolve_device("/CPU:3", soft_placement=False)
    with _pytest.raises(UsageError, match="no machine has CPU 99999999999"):
        resolve_device("/CPU:99999999999")
