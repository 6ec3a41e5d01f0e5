"""Tabular Q-learning on FrozenLake: environment checks, the Q update op, determinism,
a run that learns, its outputs, --resume, and bad input."""
import importlib.util
import json

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import rl_frozenlake as fl
from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.rl import make_env
from tfgraph_lessons.rl.report import solved_at

gym = pytest.importorskip("gymnasium")


def run_cli(argv, capsys):
    return run_lesson(fl.main, argv, capsys)


# --------------------------------------------------------------------------- environments


def test_unknown_env_suggests_close_ids():
    with pytest.raises(UsageError, match="unknown environment.*FrozenLake-v1"):
        make_env("FrozenLak-v1")


def test_continuous_actions_are_refused():
    with pytest.raises(UsageError, match="needs a discrete action space"):
        make_env("Pendulum-v1")


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="Box2D installed")
def test_missing_box2d_names_the_pip_package():
    with pytest.raises(DataError, match=r"pip install .*gymnasium\[box2d\]"):
        make_env("LunarLander-v3")


class _ImageEnv(gym.Env):
    observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros((8, 8, 3), np.uint8), {}

    def step(self, action):
        return np.zeros((8, 8, 3), np.uint8), 0.0, True, False, {}


def test_image_observations_are_refused():
    if "TestImageEnv-v0" not in gym.registry:
        gym.register("TestImageEnv-v0", entry_point=_ImageEnv)
    with pytest.raises(UsageError, match="observes images"):
        make_env("TestImageEnv-v0")


# --------------------------------------------------------------------------- the Q update


@pytest.mark.parametrize("done", [0.0, 1.0])
def test_update_op_is_the_q_learning_update(done):
    config = fl.FrozenLakeConfig(alpha=0.3, gamma=0.9)
    q0 = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    s, a, r, s2 = 2, 1, 0.5, 4
    expected = q0.copy()
    target = r + 0.9 * q0[s2].max() * (1.0 - done)
    expected[s, a] += 0.3 * (target - q0[s, a])
    with new_graph() as g:
        m = fl.build_graph(config, 6, 3)
        with tf1.Session(graph=g) as sess:
            sess.run(m["q_table"].assign(q0))
            row = sess.run(m["update"], {m["state"]: s, m["action"]: a, m["reward"]: r,
                                         m["next_state"]: s2, m["done"]: done})
            q1 = sess.run(m["q_table"])
    np.testing.assert_allclose(q1, expected, rtol=1e-6)
    np.testing.assert_allclose(row, expected[s2], rtol=1e-6)   # the row after the update
    assert not np.allclose(q1, q0)


def test_greedy_choice_breaks_ties_among_the_best_only():
    rng = np.random.default_rng(0)
    picks = {fl.choose(np.array([0.0, 1.0, 1.0, 0.5]), 0.0, rng) for _ in range(50)}
    assert picks == {1, 2}


# --------------------------------------------------------------------------- runs


def quick(tmp_path, name, *extra):
    return ["--episodes", "60", "--eval-episodes", "20", "--checkpoint-every", "30",
            "--out", str(tmp_path / name), *extra]


def test_same_seed_same_returns(tmp_path, capsys):
    runs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        status, _, err = run_cli(quick(tmp_path, name, "--seed", seed), capsys)
        assert status in (0, None), err
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert sum(runs["a"]["returns"]) > 0
    assert runs["a"]["returns"] == runs["b"]["returns"]
    assert runs["a"]["q_table"] == runs["b"]["q_table"]
    assert runs["a"]["env_steps"] == runs["b"]["env_steps"]
    assert runs["a"]["q_table"] != runs["c"]["q_table"]   # the seed does reach the run


def test_non_slippery_fast_run_learns_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, err = run_cli(["--fast", "--no-slippery", "--episodes", "300",
                                   "--epsilon-decay", "0.98", "--out", str(out)], capsys)
    assert status in (0, None), err
    assert "fast mode" in stdout
    m = json.loads((out / "metrics.json").read_text())
    for key in ("returns", "final_mean_return", "eval_mean_return", "success_rate",
                "solved_at_step", "env_steps", "wall_seconds", "device", "config", "history"):
        assert key in m, key
    assert m["success_rate"] == 1.0
    assert len(m["returns"]) == 300
    assert m["env_steps"] >= 300 * 6               # the shortest way to the goal is 6 steps
    assert m["final_mean_return"] == pytest.approx(np.mean(m["returns"][-100:]))
    assert m["solved_at_step"] is not None and m["solved_at_step"] <= m["env_steps"]
    for name in ("learning_curve.png", "policy_values.png"):
        assert (out / "figures" / name).stat().st_size > 1000


def test_resume_continues_exactly(tmp_path, capsys):
    # seed 3 reaches the goal within 80 episodes, so the Q-table is not all zeros
    status, _, err = run_cli(quick(tmp_path, "full", "--episodes", "80", "--seed", "3"), capsys)
    assert status in (0, None), err
    status, _, err = run_cli(quick(tmp_path, "part", "--episodes", "30", "--seed", "3"), capsys)
    assert status in (0, None), err
    status, _, err = run_cli(quick(tmp_path, "part", "--episodes", "80", "--seed", "3",
                                   "--resume"), capsys)
    assert status in (0, None), err
    assert "resumed" in _ + err
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())
    part = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert len(part["returns"]) == 80 and sum(full["returns"]) > 0
    assert part["returns"] == full["returns"]
    assert part["env_steps"] == full["env_steps"]        # the same walks, step for step
    assert part["q_table"] == full["q_table"]


def test_solved_at_counts_env_steps_to_the_first_window():
    returns = [0.0] * 50 + [1.0] * 150
    end_steps = np.cumsum([2] * 200)
    # the mean of the last 100 first reaches 0.7 after episode 50 + 70 = 120
    assert solved_at(returns, end_steps, 0.7) == 120 * 2
    assert solved_at(returns, end_steps, None) is None
    assert solved_at([1.0] * 99, np.arange(1, 100), 0.7) is None


def test_seeds_and_render_write_one_run_each_the_spread_and_a_gif(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "seeds"
    status, _, err = run_cli(["--no-slippery", "--episodes", "150", "--eval-episodes", "20",
                              "--seeds", "0", "1", "--render", "--out", str(out)], capsys)
    assert status == 0, err
    summary = json.loads((out / "metrics.json").read_text())
    rates = [json.loads((out / f"seed_{s}" / "metrics.json").read_text())["success_rate"]
             for s in (0, 1)]
    assert summary["over_seeds"]["success_rate"]["mean"] == pytest.approx(np.mean(rates))
    assert (out / "figures" / "seeds.png").stat().st_size > 0
    with Image.open(out / "seed_1" / "figures" / "agent.gif") as gif:
        assert gif.n_frames > 1


@pytest.mark.parametrize("argv, needle", [
    (["--episodes", "-5"], "--episodes"),
    (["--episodes", "0"], "--episodes"),
    (["--map", "5x5"], "--map"),
    (["--alpha", "0"], "--alpha"),
    (["--alpha", "1.5"], "--alpha"),
    (["--gamma", "-0.1"], "--gamma"),
    (["--gamma", "1.01"], "--gamma"),
    (["--epochs", "3"], "--episodes"),
    (["--epsilon-decay", "0"], "--epsilon-decay"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    out = tmp_path / "out"
    status, _, err = run_cli(argv + ["--out", str(out)], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not out.exists()
