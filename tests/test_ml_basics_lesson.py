"""``python -m tfgraph_lessons.ml_basics``: the comparison table, its metrics, the map, bad input."""
import json

import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons.ml_basics import lesson

KEYS = ("dataset", "metric", "ours", "sklearn", "ours_seconds", "sklearn_seconds", "check",
        "passed")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """Every comparison in fast mode (the per-module tests check each one in depth)."""
    out = tmp_path_factory.mktemp("ml_basics") / "run"
    metrics = lesson.run(lesson.parse_config(["--fast", "--out", str(out)]))
    return out, metrics


def test_every_algorithm_of_the_map_with_a_module_is_compared(fast_run):
    out, metrics = fast_run
    saved = json.loads((out / "metrics.json").read_text())
    taught_here = {a.where for a in lesson.ALGORITHMS if a.where.startswith("ml_basics.")}
    assert {v["module"] for v in saved["algorithms"].values()} == taught_here
    assert len(saved["algorithms"]) >= 8
    for name, row in saved["algorithms"].items():
        for key in KEYS:
            assert row[key] is not None, (name, key)
        assert row["ours_seconds"] > 0 and row["sklearn_seconds"] >= 0
    table = (out / "comparison.md").read_text()
    assert all(name in table for name in saved["algorithms"])


def test_every_requirement_of_the_issue_holds(fast_run):
    _, metrics = fast_run
    failed = {k: v["check"] for k, v in metrics["algorithms"].items() if not v["passed"]}
    assert not failed, failed
    assert metrics["all_passed"]


def test_list_prints_the_map(capsys):
    status, out, _ = run_lesson(lesson.main, ["--list"], capsys)
    assert status == 0
    for a in lesson.ALGORITHMS:
        assert a.name in out and a.where in out
    # the slide's one misplacement is said, not copied
    assert "KNN" in out and "supervised" in out.split("KNN")[1].splitlines()[0]


@pytest.mark.parametrize("argv, fragment", [(["--only", "svm"], "--only: unknown svm"),
                                            (["--seed", "-1"], "--seed")])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys):
    status, _, err = run_lesson(lesson.main, argv + ["--out", str(tmp_path / "o")], capsys)
    assert status == 2 and fragment in error_line(err)
    assert not (tmp_path / "o").exists()
