"""The RL chapter's NumPy parts: the replay buffer, schedules, returns and GAE."""
import numpy as np
import pytest

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.rl.replay import ReplayBuffer
from tfgraph_lessons.rl.schedules import (ExponentialSchedule, LinearSchedule, discounted_returns,
                                          generalized_advantages)


def _fill(buffer, count, start=0):
    """Add transitions whose every field encodes their index i."""
    for i in range(start, start + count):
        obs = np.full(buffer.observation_shape, i, dtype=np.float32)
        buffer.add(obs, i, 0.5 * i, obs + 1, i % 3 == 0)


# ----------------------------------------------------------------- replay buffer
def test_ring_overwrites_oldest_first():
    buffer = ReplayBuffer(4, (2,))
    _fill(buffer, 3)
    assert len(buffer) == 3
    _fill(buffer, 3, start=3)            # 6 added into 4 rows: 0 and 1 are gone
    assert len(buffer) == 4
    state = buffer.state_dict()
    # Rows 0, 1 were overwritten by transitions 4, 5; rows 2, 3 keep 2, 3.
    np.testing.assert_array_equal(state["action"], [4, 5, 2, 3])
    np.testing.assert_array_equal(state["obs"][:, 0], [4, 5, 2, 3])
    assert int(state["next_index"]) == 2
    stored = buffer.sample(4, np.random.default_rng(0))
    assert sorted(stored["action"].tolist()) == [2, 3, 4, 5]


def test_sample_shapes_dtypes_and_consistency():
    buffer = ReplayBuffer(50, (3, 2), observation_dtype=np.float64)
    _fill(buffer, 30)
    batch = buffer.sample(8, np.random.default_rng(1))
    assert batch["obs"].shape == batch["next_obs"].shape == (8, 3, 2)
    assert batch["obs"].dtype == batch["next_obs"].dtype == np.float64
    assert batch["action"].shape == batch["reward"].shape == batch["terminated"].shape == (8,)
    assert batch["action"].dtype == np.int64
    assert batch["reward"].dtype == np.float32
    assert batch["terminated"].dtype == np.bool_
    # Fields of one row belong to the same transition.
    i = batch["action"]
    np.testing.assert_array_equal(batch["obs"][:, 0, 0], i)
    np.testing.assert_array_equal(batch["next_obs"][:, 1, 1], i + 1)
    np.testing.assert_array_equal(batch["reward"], 0.5 * i)
    np.testing.assert_array_equal(batch["terminated"], i % 3 == 0)


def test_sample_is_deterministic_per_seed():
    buffer = ReplayBuffer(100, (1,))
    _fill(buffer, 100)
    first = buffer.sample(16, np.random.default_rng(7))["action"]
    again = buffer.sample(16, np.random.default_rng(7))["action"]
    other = buffer.sample(16, np.random.default_rng(8))["action"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_no_duplicates_within_a_batch():
    buffer = ReplayBuffer(64, (1,))
    _fill(buffer, 40)
    rng = np.random.default_rng(3)
    for _ in range(50):
        actions = buffer.sample(40, rng)["action"]   # the whole buffer: any repeat shows
        assert len(set(actions.tolist())) == 40
    # Only filled rows are drawn (rows 40..63 are still zeros, action 0 once).
    assert set(buffer.sample(40, rng)["action"].tolist()) == set(range(40))


def test_state_dict_round_trip_continues_identically(tmp_path):
    original = ReplayBuffer(10, (2,))
    _fill(original, 13)                  # wrapped once
    path = tmp_path / "replay.npz"
    np.savez(path, **original.state_dict())
    restored = ReplayBuffer(10, (2,))
    with np.load(path) as saved:
        restored.load_state_dict(dict(saved))
    assert len(restored) == len(original) == 10
    for buffer in (original, restored):
        _fill(buffer, 4, start=13)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(3):
        a, b = original.sample(6, rng_a), restored.sample(6, rng_b)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    for name, array in original.state_dict().items():
        np.testing.assert_array_equal(array, restored.state_dict()[name])


def test_load_state_dict_rejects_a_mismatch_and_writes_nothing():
    source = ReplayBuffer(8, (2,))
    _fill(source, 5)
    target = ReplayBuffer(8, (3,))
    _fill(target, 2)
    before = target.state_dict()
    with pytest.raises(UsageError, match="obs has shape"):
        target.load_state_dict(source.state_dict())
    partial = source.state_dict()
    del partial["size"]
    with pytest.raises(UsageError, match="missing"):
        ReplayBuffer(8, (2,)).load_state_dict(partial)
    assert len(target) == 2
    for name, array in target.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


@pytest.mark.parametrize("capacity", [0, -3, 2.5, True])
def test_bad_capacity(capacity):
    with pytest.raises(UsageError, match="capacity"):
        ReplayBuffer(capacity, (4,))


def test_bad_observation_shape_and_batch_size():
    buffer = ReplayBuffer(5, (4,))
    with pytest.raises(UsageError, match=r"obs has shape \(3,\), expected \(4,\)"):
        buffer.add(np.zeros(3), 0, 0.0, np.zeros(4), False)
    with pytest.raises(UsageError, match="next_obs"):
        buffer.add(np.zeros(4), 0, 0.0, np.zeros((4, 1)), False)
    assert len(buffer) == 0              # a rejected add stores nothing
    _fill(buffer, 2)
    with pytest.raises(UsageError, match="only 2 are stored"):
        buffer.sample(3, np.random.default_rng(0))
    with pytest.raises(UsageError, match="batch_size"):
        buffer.sample(0, np.random.default_rng(0))
    with pytest.raises(UsageError, match="Generator"):
        buffer.sample(1, 0)
    with pytest.raises(UsageError, match="observation_shape"):
        ReplayBuffer(5, 4)


# ----------------------------------------------------------------- schedules
def test_linear_schedule_endpoints_midpoint_and_plateau():
    epsilon = LinearSchedule(1.0, 0.1, 1000)
    assert epsilon.value(0) == pytest.approx(1.0)
    assert epsilon.value(500) == pytest.approx(0.55)
    assert epsilon.value(1000) == pytest.approx(0.1)
    assert epsilon(5000) == pytest.approx(0.1)
    with pytest.raises(UsageError, match="steps"):
        LinearSchedule(1.0, 0.1, 0)
    with pytest.raises(UsageError, match="step must be >= 0"):
        epsilon.value(-1)


def test_exponential_schedule():
    epsilon = ExponentialSchedule(1.0, 0.05, 200)
    assert epsilon.value(0) == pytest.approx(1.0)
    assert epsilon.value(200) == pytest.approx(0.05 + 0.95 * np.exp(-1))
    assert epsilon.value(10_000) == pytest.approx(0.05, abs=1e-12)
    with pytest.raises(UsageError, match="decay_steps"):
        ExponentialSchedule(1.0, 0.05, 0)


# ----------------------------------------------------------------- returns and GAE
def test_discounted_returns_by_hand_with_an_episode_boundary():
    rewards = [1.0, 2.0, 3.0, 4.0, 5.0]
    dones = [False, True, False, False, False]   # episode 1: steps 0-1; episode 2: 2-4
    g = 0.9
    expected = [1 + g * 2, 2, 3 + g * 4 + g * g * 5, 4 + g * 5, 5]
    np.testing.assert_allclose(discounted_returns(rewards, g, dones), expected)
    # Without dones it is one episode; a bootstrap value flows into every step.
    whole = [sum(g ** k * r for k, r in enumerate(rewards[t:])) for t in range(5)]
    np.testing.assert_allclose(discounted_returns(rewards, g), whole)
    np.testing.assert_allclose(discounted_returns(rewards, g, bootstrap=10.0),
                               np.add(whole, [g ** (5 - t) * 10.0 for t in range(5)]))


def test_gae_limits():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=7), rng.normal(size=7)
    dones = np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool)
    next_value, gamma = 0.7, 0.95
    # lam = 1: Monte-Carlo return (bootstrapped after the last step) minus the baseline.
    returns = discounted_returns(rewards, gamma, dones, bootstrap=next_value)
    np.testing.assert_allclose(
        generalized_advantages(rewards, values, next_value, gamma, 1.0, dones), returns - values)
    # lam = 0: the one-step TD errors, written out step by step.
    following = np.append(values[1:], next_value)
    deltas = [rewards[t] + gamma * (0.0 if dones[t] else following[t]) - values[t]
              for t in range(7)]
    np.testing.assert_allclose(
        generalized_advantages(rewards, values, next_value, gamma, 0.0, dones), deltas)


def test_bad_rollout_arguments():
    with pytest.raises(UsageError, match="gamma"):
        discounted_returns([1.0], 1.5)
    with pytest.raises(UsageError, match="lam"):
        generalized_advantages([1.0], [0.0], 0.0, 0.9, -0.1)
    with pytest.raises(UsageError, match="values must be shape"):
        generalized_advantages([1.0, 2.0], [0.0], 0.0, 0.9, 0.9)
    with pytest.raises(UsageError, match="dones must be shape"):
        discounted_returns([1.0, 2.0], 0.9, dones=[True])
