"""Deep RL on CartPole: the DQN and actor-critic graphs against NumPy, the learners'
sampling and evaluation, determinism, --resume, --seeds, --render, other envs, bad input."""
import importlib.util
import json

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import rl_cartpole as cp
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.rl import agents, learners, make_env

gym = pytest.importorskip("gymnasium")

# a run of a few hundred steps: enough for each algorithm to update, seconds on 2 cores
TINY = ["--steps", "600", "--check-every", "300", "--check-episodes", "3",
        "--eval-episodes", "3", "--checkpoint-every", "300", "--learning-starts", "200",
        "--train-every", "50", "--gradient-steps", "10", "--hidden", "16", "16"]


def run_cli(argv, capsys):
    return run_lesson(cp.main, argv, capsys)


def tiny(tmp_path, *extra, name="run"):
    return ["--out", str(tmp_path / name), *TINY, *extra]


def metrics_of(folder):
    return json.loads((folder / "metrics.json").read_text())


# --------------------------------------------------------------------------- the graphs


def _random_weights(sess, variables, seed):
    rng = np.random.default_rng(seed)
    for v in variables:
        v.load(rng.normal(0, 0.5, v.shape.as_list()).astype(np.float32), sess)


@pytest.mark.parametrize("double", [True, False])
def test_dqn_target_is_the_bellman_target_of_its_variant(double):
    rng = np.random.default_rng(0)
    batch = {"obs": rng.normal(size=(16, 4)), "next_obs": rng.normal(size=(16, 4)),
             "action": rng.integers(2, size=16), "reward": rng.normal(size=16),
             "terminated": (rng.random(16) < 0.3).astype(np.float32)}
    with new_graph(seed=0) as g:
        m = agents.build_dqn(4, 2, hidden=(8,), gamma=0.9, double=double)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            _random_weights(sess, m["online_vars"], 1)
            _random_weights(sess, m["target_vars"], 2)   # two different networks
            feed = {m[k]: v for k, v in batch.items()}
            target = sess.run(m["target"], feed)
            online_next = sess.run(m["q"], {m["obs"]: batch["next_obs"]})
            target_next = sess.run(m["target_q"], feed)
    chooser = online_next if double else target_next
    picked = target_next[np.arange(16), chooser.argmax(1)]
    expected = batch["reward"] + 0.9 * (1 - batch["terminated"]) * picked
    np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-6)


def test_huber_is_square_inside_and_linear_outside():
    errors = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.5], np.float32)
    with new_graph() as g:
        loss = agents.huber(tf1.constant(errors))
        with tf1.Session(graph=g) as sess:
            got = sess.run(loss)
    expected = np.where(np.abs(errors) <= 1, 0.5 * errors ** 2, np.abs(errors) - 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", ["hard", "polyak"])
def test_target_sync_copies_or_moves_a_fraction_tau(mode):
    with new_graph(seed=0) as g:
        m = agents.build_dqn(4, 2, hidden=(8,), target_update=mode, tau=0.25)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            _random_weights(sess, m["online_vars"], 1)
            _random_weights(sess, m["target_vars"], 2)
            online, before = sess.run(m["online_vars"]), sess.run(m["target_vars"])
            sess.run(m["sync"])
            after = sess.run(m["target_vars"])
    for o, b, a in zip(online, before, after):
        expected = o if mode == "hard" else 0.25 * o + 0.75 * b
        np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-6)


def test_dqn_training_moves_only_the_online_network():
    rng = np.random.default_rng(0)
    with new_graph(seed=0) as g:
        m = agents.build_dqn(4, 2, hidden=(8,))
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(m["copy"])
            target_before = sess.run(m["target_vars"])
            online_before = sess.run(m["online_vars"])
            sess.run(m["train"], {m["obs"]: rng.normal(size=(8, 4)),
                                  m["next_obs"]: rng.normal(size=(8, 4)),
                                  m["action"]: rng.integers(2, size=8),
                                  m["reward"]: np.ones(8), m["terminated"]: np.zeros(8)})
            for before, after in zip(target_before, sess.run(m["target_vars"])):
                np.testing.assert_array_equal(before, after)
            assert any(not np.allclose(b, a)
                       for b, a in zip(online_before, sess.run(m["online_vars"])))


def test_policy_loss_is_minus_log_prob_times_normalised_advantage():
    rng = np.random.default_rng(0)
    obs, actions, returns = rng.normal(size=(10, 4)), rng.integers(3, size=10), \
        rng.normal(5, 2, size=10)
    with new_graph(seed=0) as g:
        m = agents.build_policy_gradient(4, 3, hidden=(8,))
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            _random_weights(sess, m["variables"], 3)
            feed = {m["obs"]: obs, m["action"]: actions, m["returns"]: returns}
            probs, value, loss, value_loss = sess.run(
                [m["probs"], m["value"], m["policy_loss"], m["value_loss"]], feed)
    advantage = returns - value
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    expected = -np.mean(np.log(probs[np.arange(10), actions]) * advantage)
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    np.testing.assert_allclose(value_loss, 0.5 * np.mean((returns - value) ** 2), rtol=1e-5)


# --------------------------------------------------------------------------- the learners


def test_sample_actions_follows_the_probabilities():
    probs = np.tile([[0.1, 0.6, 0.3]], (20_000, 1))
    drawn = learners.sample_actions(probs, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / 20_000, [0.1, 0.6, 0.3],
                               atol=0.015)
    assert set(learners.sample_actions(np.array([[0, 1.0], [1.0, 0]]),
                                       np.random.default_rng(1))) == {0, 1}


def test_evaluate_greedy_plays_each_env_to_its_end():
    envs = [make_env("CartPole-v1", seed=s) for s in range(4)]
    returns = learners.evaluate_greedy(lambda obs: np.zeros(len(obs), int), envs)
    # always pushing left topples the pole within a few dozen steps, never 500
    assert returns.shape == (4,) and (returns > 5).all() and (returns < 100).all()
    envs = [make_env("CartPole-v1", seed=s, max_episode_steps=30) for s in range(3)]
    balance = learners.evaluate_greedy(lambda obs: (obs[:, 2] > 0).astype(int), envs)
    np.testing.assert_array_equal(balance, [30, 30, 30])   # the time limit ends them


# --------------------------------------------------------------------------- the lesson


@pytest.mark.parametrize("algo", ["dqn", "reinforce", "a2c"])
def test_same_seed_same_curve_and_a_run_writes_its_outputs(algo, tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        status, out, err = run_cli(tiny(tmp_path, "--algo", algo, name=name), capsys)
        assert status == 0, err
        runs.append(metrics_of(tmp_path / name))
    a, b = runs
    assert a["returns"] == b["returns"] and len(a["returns"]) > 3
    assert a["history"][-1]["greedy_mean_return"] == b["history"][-1]["greedy_mean_return"]
    for key in ("returns", "final_mean_return", "eval_mean_return", "solved_at_step",
                "env_steps", "wall_seconds", "check_solved_at_step", "episode_end_steps"):
        assert key in a
    assert a["env_steps"] >= 600 and a["eval_episodes"] == 3 and a["updates"] > 0
    assert a["final_mean_return"] == pytest.approx(np.mean(a["returns"][-100:]))
    folder = tmp_path / "a"
    assert (folder / "figures" / "learning_curve.png").stat().st_size > 0
    assert list((folder / "logs" / "train").glob("events.out.tfevents.*"))
    assert list((folder / "checkpoints").glob("model.ckpt-*.index"))
    other, _, err = run_cli(tiny(tmp_path, "--algo", algo, "--seed", "1", name="c"), capsys)
    assert other == 0, err
    assert metrics_of(tmp_path / "c")["returns"] != a["returns"]


@pytest.mark.parametrize("algo", ["dqn", "a2c"])
def test_resume_continues_exactly(algo, tmp_path, capsys):
    straight = tiny(tmp_path, "--algo", algo, name="straight")
    straight[straight.index("--steps") + 1] = "900"
    assert run_cli(straight, capsys)[0] == 0
    first = tiny(tmp_path, "--algo", algo, name="resumed")
    assert run_cli(first, capsys)[0] == 0
    again = list(first)
    again[again.index("--steps") + 1] = "900"
    status, out, err = run_cli(again + ["--resume"], capsys)
    assert status == 0, err
    assert "resumed from" in out
    a, b = metrics_of(tmp_path / "straight"), metrics_of(tmp_path / "resumed")
    assert a["returns"] == b["returns"] and a["env_steps"] == b["env_steps"]


def test_resume_refuses_another_algorithms_checkpoint(tmp_path, capsys):
    assert run_cli(tiny(tmp_path, "--algo", "a2c"), capsys)[0] == 0
    status, _, err = run_cli(tiny(tmp_path, "--algo", "reinforce", "--resume"), capsys)
    assert status == 2
    assert "algo" in error_line(err)


def test_seeds_write_one_run_each_and_the_spread(tmp_path, capsys):
    status, out, err = run_cli(tiny(tmp_path, "--algo", "a2c", "--seeds", "0", "1"), capsys)
    assert status == 0, err
    folder = tmp_path / "run"
    summary = metrics_of(folder)
    assert set(summary["runs"]) == {"seed_0", "seed_1"}
    per_seed = [metrics_of(folder / f"seed_{s}")["eval_mean_return"] for s in (0, 1)]
    assert summary["over_seeds"]["eval_mean_return"]["mean"] == pytest.approx(
        np.mean(per_seed))
    assert (folder / "figures" / "seeds.png").stat().st_size > 0


def test_render_writes_an_animated_gif(tmp_path, capfd):
    from PIL import Image

    # capfd: SDL writes its complaints straight to file descriptor 2
    status, out, err = run_cli(tiny(tmp_path, "--algo", "reinforce", "--render"), capfd)
    assert status == 0, err
    gif = tmp_path / "run" / "figures" / "agent.gif"
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 5
    # GIF encoders merge identical consecutive frames, so the file may hold fewer
    assert 5 < image.n_frames <= metrics_of(tmp_path / "run")["render"]["frames"]
    assert "XDG_RUNTIME_DIR" not in err


@pytest.mark.parametrize("env", ["Acrobot-v1", "MountainCar-v0"])
def test_other_discrete_envs_need_no_code_change(env, tmp_path, capsys):
    argv = tiny(tmp_path, "--algo", "a2c", "--env", env)
    argv[argv.index("--steps") + 1] = "300"
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    metrics = metrics_of(tmp_path / "run")
    assert metrics["env"] == env and metrics["reward_threshold"] < 0   # both count costs
    assert all(r < 0 for r in metrics["returns"])


@pytest.mark.parametrize("argv, needle", [
    (["--env", "CartPol-v1"], "did you mean CartPole-v1"),
    (["--env", "Pendulum-v1"], "needs a discrete action space"),
    (["--steps", "-5"], "--steps"),
    (["--epochs", "3"], "--steps N environment steps"),
    (["--algo", "reinforce", "--batch-size", "32"], "--batch-size is DQN's minibatch"),
    (["--gamma", "1.5"], "--gamma must be in [0, 1]"),
    (["--algo", "ppo"], "--algo"),
    (["--seeds", "0", "0"], "--seeds has a seed twice"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, out, err = run_cli(["--out", str(tmp_path / "bad"), "--fast", *argv], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "bad").exists()   # nothing written


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="Box2D installed")
def test_missing_box2d_is_one_line_with_the_pip_command(tmp_path, capsys):
    status, _, err = run_cli(["--out", str(tmp_path / "bad"), "--env", "LunarLander-v3"],
                             capsys)
    assert status == 2
    assert 'pip install swig "gymnasium[box2d]"' in error_line(err)
    assert not (tmp_path / "bad").exists()
