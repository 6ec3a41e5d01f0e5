"""Exploration schedules and return/advantage estimates, in NumPy.

[1] Volodymyr Mnih et al., Human-level control through deep reinforcement
    learning. Nature 518, 529-533 (2015). (Linearly annealed epsilon.)
[2] Ronald J. Williams, Simple statistical gradient-following algorithms for
    connectionist reinforcement learning. Machine Learning 8, 229-256 (1992).
    (REINFORCE: the reward-to-go weights the log-probability gradient.)
[3] John Schulman et al., High-dimensional continuous control using
    generalized advantage estimation. ICLR 2016, arXiv:1506.02438.

Conventions for the rollout functions: arrays are 1-D over time ``t = 0..T-1``;
``dones[t]`` is true when the episode ended at step ``t`` (the step after it
starts a new episode), so nothing flows back across it. A rollout that stops
in the middle of an episode passes the value of the state after its last step
(``bootstrap`` / ``next_value``); after a terminal step it should be 0.
"""
import math

import numpy as np

from tfgraph_lessons.core.errors import UsageError

__all__ = ["LinearSchedule", "ExponentialSchedule", "discounted_returns",
           "generalized_advantages"]


def _check_step(step, who):
    if step < 0:
        raise UsageError(f"{who}.value: step must be >= 0, got {step}")


class LinearSchedule:
    """Linear from ``start`` to ``end`` over ``steps`` steps, then constant at ``end``.

    ``value(t) = start + (end - start) * min(t / steps, 1)``. DQN's epsilon [1]
    went from 1.0 to 0.1 over the first million frames and stayed at 0.1.

    Args:
        start: the value at step 0.
        end: the value from step ``steps`` on.
        steps: the length of the ramp (``> 0``).
    """

    def __init__(self, start, end, steps):
        if not steps > 0:
            raise UsageError(f"LinearSchedule: steps must be > 0, got {steps!r}")
        self.start, self.end, self.steps = float(start), float(end), steps

    def value(self, step):
        """Args: step: the environment step (``>= 0``). Returns: the scheduled float."""
        _check_step(step, "LinearSchedule")
        fraction = min(step / self.steps, 1.0)
        return self.start + (self.end - self.start) * fraction

    __call__ = value


class ExponentialSchedule:
    """Exponential approach from ``start`` to ``end`` with time constant ``decay_steps``.

    ``value(t) = end + (start - end) * exp(-t / decay_steps)``, the epsilon of
    PyTorch's DQN tutorial: it never crosses ``end`` and is within 5% of the
    gap after ``3 * decay_steps`` steps.

    Args:
        start: the value at step 0.
        end: the limit as the step grows.
        decay_steps: the time constant (``> 0``).
    """

    def __init__(self, start, end, decay_steps):
        if not decay_steps > 0:
            raise UsageError(f"ExponentialSchedule: decay_steps must be > 0, got {decay_steps!r}")
        self.start, self.end, self.decay_steps = float(start), float(end), decay_steps

    def value(self, step):
        """Args: step: the environment step (``>= 0``). Returns: the scheduled float."""
        _check_step(step, "ExponentialSchedule")
        return self.end + (self.start - self.end) * math.exp(-step / self.decay_steps)

    __call__ = value


def _check_rate(value, name, who):
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{who}: {name} must be in [0, 1], got {value!r}")


def _as_series(values, name, who, length=None):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        want = "a 1-D array over time" if length is None else f"shape ({length},) like rewards"
        raise UsageError(f"{who}: {name} must be {want}, got shape {array.shape}")
    return array


def _continues(dones, length, who):
    """1.0 where the episode goes on after step t, 0.0 where it ended."""
    if dones is None:
        return np.ones(length)
    return 1.0 - _as_series(np.asarray(dones, dtype=bool), "dones", who, length)


def discounted_returns(rewards, gamma, dones=None, bootstrap=0.0):
    """The reward-to-go of every step: ``G_t = r_t + gamma * G_{t+1}``, reset at episode ends.

    ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}`` with ``G_T = bootstrap``;
    REINFORCE [2] weights ``grad log pi(a_t | s_t)`` by ``G_t`` (minus a
    baseline). Computed backwards in one pass, O(T).

    Args:
        rewards: ``[T]`` rewards ``r_0 .. r_{T-1}``.
        gamma: the discount factor in ``[0, 1]``.
        dones: ``[T]`` bools, true where an episode ended at that step; None
            for one episode.
        bootstrap: the value after the last step (0 if it ended the episode).

    Returns:
        ``[T]`` float64 returns.
    """
    who = "discounted_returns"
    _check_rate(gamma, "gamma", who)
    rewards = _as_series(rewards, "rewards", who)
    continues = _continues(dones, rewards.shape[0], who)
    returns = np.empty_like(rewards)
    running = float(bootstrap)
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * continues[t] * running
        returns[t] = running
    return returns


def generalized_advantages(rewards, values, next_value, gamma, lam, dones=None):
    """Generalized advantage estimation, GAE(gamma, lambda) of [3].

    With the one-step TD errors
    ``delta_t = r_t + gamma * (1 - done_t) * V(s_{t+1}) - V(s_t)``
    (``V(s_T) = next_value``), the advantage is their exponentially weighted sum
    ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}``.
    ``lam = 0`` gives ``A_t = delta_t`` (low variance, biased by V);
    ``lam = 1`` gives ``A_t = G_t - V(s_t)`` (the Monte-Carlo return minus the
    baseline: unbiased, high variance). The critic's target is ``A_t + V(s_t)``.

    Args:
        rewards: ``[T]`` rewards.
        values: ``[T]`` critic values ``V(s_t)``.
        next_value: ``V(s_T)``, the value after the last step (0 if terminal).
        gamma: the discount factor in ``[0, 1]``.
        lam: the GAE lambda in ``[0, 1]``.
        dones: ``[T]`` bools, true where an episode ended at that step; None
            for one episode.

    Returns:
        ``[T]`` float64 advantages.
    """
    who = "generalized_advantages"
    _check_rate(gamma, "gamma", who)
    _check_rate(lam, "lam", who)
    rewards = _as_series(rewards, "rewards", who)
    length = rewards.shape[0]
    values = _as_series(values, "values", who, length)
    continues = _continues(dones, length, who)
    following = np.append(values[1:], float(next_value))   # V(s_{t+1})
    deltas = rewards + gamma * continues * following - values
    advantages = np.empty_like(deltas)
    running = 0.0
    for t in reversed(range(length)):
        running = deltas[t] + gamma * lam * continues[t] * running
        advantages[t] = running
    return advantages
