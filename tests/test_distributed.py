"""TensorFlow's own distributed runtime on 127.0.0.1: a ps and two workers train, both
workers' updates reach the ps, every process is stopped; an unreachable ps and a taken
port are one-line errors."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tfgraph_lessons import distributed as D
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.tf_mechanism import summary_tags

REPO = Path(__file__).resolve().parents[1]


def children_running():
    """Processes whose parent is this test process and that run a cluster task."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"tfgraph_lessons.distributed" in cmdline:
            found.append(int(stat.parent.name))
    return found


def held_port():
    """A socket listening on a free port (the port is taken while it lives)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("", 0))
    s.listen()
    return s, s.getsockname()[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_cluster_trains_and_both_workers_reach_the_ps(tmp_path):
    config = D.DistributedConfig(workers=2, fast=True, out=str(tmp_path), timeout=240,
                                 intra_threads=1, inter_threads=2)
    m = D.launch(config)
    assert m["steps"] == D.FAST_STEPS >= 200                      # a few hundred global steps
    assert m["worker_steps_on_ps"] == m["worker_steps_done"] == [150, 150]
    assert m["updates_reached_ps"] is True
    assert m["loss_decreased"] is True
    for w in m["per_worker"]:
        assert w["shard_loss_end"] < w["shard_loss_start"]
        assert w["steps"] > 0 and w["examples_per_second"] > 0
    assert m["examples_per_second"] > 0 and m["test_accuracy"] > 0.5
    ps = json.loads((tmp_path / "ps_0.json").read_text())
    assert ps["global_step"] == 300 and ps["worker_reports"] == {"0": 150, "1": 150}
    # every process the launcher started has been stopped and reaped
    assert len(m["pids"]) == 3
    assert not [pid for pid in m["pids"] if Path(f"/proc/{pid}").exists()]
    assert children_running() == []
    # each worker wrote TensorBoard events with its graph
    for i in (0, 1):
        tags = summary_tags(tmp_path / "logs" / f"worker_{i}")
        assert tags["graph"] and "loss" in tags["scalars"]
        assert "params/hidden/weights" in tags["histograms"] and "inputs" in tags["images"]


def test_worker_without_its_ps_times_out_with_one_line(tmp_path):
    s, ps_port = held_port()
    s.close()  # nobody listens there now
    (worker_port,) = D.free_ports(1)
    cluster = json.dumps({"ps": [f"127.0.0.1:{ps_port}"], "worker": [f"127.0.0.1:{worker_port}"]})
    proc = subprocess.run(
        [sys.executable, "-m", "tfgraph_lessons.distributed", "--job-name", "worker",
         "--task-index", "0", "--cluster", cluster, "--connect-timeout", "2",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "could not reach the parameter server ps 0" in errors[0]
    assert f"127.0.0.1:{ps_port}" in errors[0] and "within 2 s" in errors[0]
    assert "Traceback" not in proc.stderr


def test_taken_port_is_reported(tmp_path):
    s, port = held_port()
    with s:
        with pytest.raises(UsageError, match=f"port {port} .*is taken"):
            D.launch(D.DistributedConfig(workers=2, port_base=port, out=str(tmp_path / "a")))
        cluster = {"ps": [f"127.0.0.1:{port}"], "worker": ["127.0.0.1:1"]}
        with pytest.raises(UsageError, match=f"port {port} of ps 0 .*is taken"):
            D.run_task(D.DistributedConfig(job_name="ps", task_index=0, cluster=cluster,
                                           out=str(tmp_path / "b")))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("text,needle", [
    ("{nope", "not valid JSON"),
    ('{"ps": ["a:1"]}', "exactly the jobs"),
    ('{"ps": [], "worker": ["a:1"]}', "non-empty list"),
    ('{"ps": ["a"], "worker": ["a:1"]}', "not host:port"),
])
def test_bad_cluster_json(text, needle):
    with pytest.raises(UsageError, match=needle):
        D.parse_cluster(text)


def test_command_line_checks():
    with pytest.raises(SystemExit) as e:
        D.parse_config(["--job-name", "worker"])             # no --cluster
    assert e.value.code == 2
    config = D.parse_config(["--job-name", "worker", "--task-index", "1", "--cluster",
                             '{"ps": ["hostA:2222"], "worker": ["hostB:2222", "hostC:2222"]}'])
    assert config.cluster["worker"][1] == "hostC:2222" and config.task_index == 1
    with pytest.raises(UsageError, match="--task-index 2 is not in --cluster"):
        D.run_task(D.dataclasses.replace(config, task_index=2))
    assert [D.steps_for_worker(301, 2, i) for i in (0, 1)] == [151, 150]
