"""The training loops of the deep RL agents: how each one collects experience and learns.

Each learner owns its environments, its counters and (DQN) its replay buffer,
and runs the graph of :mod:`tfgraph_lessons.rl.agents` in the caller's
Session. One call of :meth:`iterate` is one unit of the algorithm:

* :class:`DQNLearner`: ``train_every`` environment steps with an epsilon-greedy
  policy, each stored in the replay buffer, then ``gradient_steps`` updates on
  minibatches drawn from it (and the target network's sync);
* :class:`ReinforceLearner`: ``episodes_per_update`` whole episodes sampled
  from the policy, then one update with their Monte-Carlo returns;
* :class:`A2CLearner`: ``n_steps`` steps in each of ``n_envs`` environments
  side by side, then one update with n-step returns bootstrapped from the
  value network.

It returns the episodes that ended during it as ``(return, env steps at the
end)`` pairs. The lesson (:mod:`tfgraph_lessons.rl_cartpole`) drives the
iterations, evaluates, checkpoints and draws.

All randomness comes from the generator passed in (``numpy.random.Generator``)
and the environments' own seeded generators, and :meth:`state` captures both
(the environments are pickled mid-episode), so ``--resume`` continues exactly.
"""
import pickle

import numpy as np

from tfgraph_lessons.rl.replay import ReplayBuffer
from tfgraph_lessons.rl.schedules import LinearSchedule, discounted_returns

__all__ = ["DQNLearner", "ReinforceLearner", "A2CLearner", "sample_actions",
           "evaluate_greedy", "LEARNERS"]


def sample_actions(probs, rng):
    """One action per row of ``probs`` (``[batch, actions]``), drawn with ``rng``."""
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random((probs.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((draws > cumulative).sum(axis=1), probs.shape[1] - 1)


def evaluate_greedy(policy, envs):
    """Play one episode in each environment at once with ``policy`` (a function from a
    batch of observations to actions); returns the episode returns, in env order.

    All the environments step together, so a greedy evaluation of 100 episodes is
    at most ``max_episode_steps`` policy calls, each on a batch, not 100 times that.
    """
    obs = np.stack([env.reset()[0] for env in envs]).astype(np.float32)
    totals = np.zeros(len(envs))
    alive = np.ones(len(envs), bool)
    while alive.any():
        index = np.flatnonzero(alive)
        actions = policy(obs[index])
        for i, action in zip(index, actions):
            next_obs, reward, terminated, truncated, _ = envs[i].step(int(action))
            totals[i] += reward
            obs[i] = next_obs
            alive[i] = not (terminated or truncated)
    return totals


class _Episodes:
    """Running return and length of each environment; ``end(i)`` closes env ``i``'s episode."""

    def __init__(self, count):
        self.returns = np.zeros(count)

    def add(self, rewards):
        self.returns += rewards

    def end(self, i):
        total = float(self.returns[i])
        self.returns[i] = 0.0
        return total


class _Learner:
    """What the three share: environments, env-step counter, resume state."""

    def __init__(self, model, envs, rng):
        self.model, self.envs, self.rng = model, list(envs), rng
        self.env_steps = 0
        self.updates = 0
        self.obs = np.stack([env.reset()[0] for env in self.envs]).astype(np.float32)
        self.episodes = _Episodes(len(self.envs))

    def _step(self, i, action):
        """Step env ``i`` and count the step; returns ``(next_obs, reward, terminated,
        truncated)``. The caller resets the env when the episode ended."""
        next_obs, reward, terminated, truncated, _ = self.envs[i].step(int(action))
        self.env_steps += 1
        return np.asarray(next_obs, np.float32), float(reward), terminated, truncated

    def state(self):
        """Everything besides the variables to continue exactly (``pickle``-able)."""
        return {"env_steps": self.env_steps, "updates": self.updates, "obs": self.obs,
                "episode_returns": self.episodes.returns, "envs": pickle.dumps(self.envs),
                "rng": self.rng.bit_generator.state}

    def load_state(self, state):
        self.env_steps, self.updates = state["env_steps"], state["updates"]
        self.obs = state["obs"]
        self.episodes.returns = state["episode_returns"]
        for env in self.envs:
            env.close()
        self.envs = pickle.loads(state["envs"])
        self.rng.bit_generator.state = state["rng"]

    def greedy(self, sess, obs):
        """The trained policy's actions for a batch of observations (no exploration)."""
        return sess.run(self.model["greedy"], {self.model["obs"]: obs})


class DQNLearner(_Learner):
    """Deep Q-learning with experience replay and a target network [Mnih et al. 2015].

    Args:
      model: :func:`~tfgraph_lessons.rl.agents.build_dqn`'s dict.
      env: one environment (seeded).
      rng: the run's generator (exploration and minibatches).
      buffer_size, batch_size: the replay buffer's capacity and minibatch size.
      learning_starts: environment steps of random play before the first update.
      train_every, gradient_steps: ``gradient_steps`` updates after every
        ``train_every`` environment steps.
      target_every: hard target sync every this many updates (Polyak: every update).
      hard_target: whether the target update is a copy.
      epsilon: a schedule over environment steps (``value(step)``).
    """

    def __init__(self, model, env, rng, buffer_size=50_000, batch_size=64,
                 learning_starts=1_000, train_every=4, gradient_steps=1, target_every=250,
                 hard_target=True, epsilon=None):
        super().__init__(model, [env], rng)
        self.buffer = ReplayBuffer(buffer_size, self.obs.shape[1:])
        self.batch_size, self.learning_starts = batch_size, learning_starts
        self.train_every, self.gradient_steps = train_every, gradient_steps
        self.target_every, self.hard_target = target_every, hard_target
        self.epsilon = epsilon or LinearSchedule(1.0, 0.05, 10_000)

    def act(self, sess, obs):
        """Epsilon-greedy: random with probability epsilon(step), else ``argmax_a Q``."""
        if self.rng.random() < self.epsilon(self.env_steps):
            return int(self.rng.integers(self.envs[0].action_space.n))
        return int(self.greedy(sess, obs[None])[0])

    def iterate(self, sess):
        finished = []
        m = self.model
        for _ in range(self.train_every):
            obs = self.obs[0]
            action = self.act(sess, obs)
            next_obs, reward, terminated, truncated = self._step(0, action)
            # only a real terminal state stops the bootstrap, never the time limit
            self.buffer.add(obs, action, reward, next_obs, terminated)
            self.episodes.add(reward)
            if terminated or truncated:
                finished.append((self.episodes.end(0), self.env_steps))
                next_obs = np.asarray(self.envs[0].reset()[0], np.float32)
            self.obs[0] = next_obs
        if self.env_steps < self.learning_starts:
            return finished
        for _ in range(self.gradient_steps):
            batch = self.buffer.sample(self.batch_size, self.rng)
            sess.run(m["train"], {m["obs"]: batch["obs"], m["action"]: batch["action"],
                                  m["reward"]: batch["reward"], m["next_obs"]: batch["next_obs"],
                                  m["terminated"]: batch["terminated"].astype(np.float32)})
            self.updates += 1
            if not self.hard_target or self.updates % self.target_every == 0:
                sess.run(m["sync"])
        return finished

    def state(self):
        return {**super().state(), "buffer": self.buffer.state_dict()}

    def load_state(self, state):
        super().load_state(state)
        self.buffer.load_state_dict(state["buffer"])

    def exploration(self):
        return {"epsilon": self.epsilon(self.env_steps)}


class ReinforceLearner(_Learner):
    """REINFORCE with a learned baseline [Williams 1992]: whole episodes, then one step.

    Args:
      model: :func:`~tfgraph_lessons.rl.agents.build_policy_gradient`'s dict.
      env: one environment (seeded).
      rng: the run's generator (the actions sampled from the policy).
      gamma: the discount of the returns.
      episodes_per_update: episodes per gradient step.
    """

    def __init__(self, model, env, rng, gamma=0.99, episodes_per_update=4):
        super().__init__(model, [env], rng)
        self.gamma, self.episodes_per_update = gamma, episodes_per_update

    def iterate(self, sess):
        m = self.model
        finished, obs_list, actions, returns = [], [], [], []
        for _ in range(self.episodes_per_update):
            rewards = []
            done = False
            while not done:
                obs = self.obs[0]
                probs = sess.run(m["probs"], {m["obs"]: obs[None]})
                action = int(sample_actions(probs, self.rng)[0])
                next_obs, reward, terminated, truncated = self._step(0, action)
                obs_list.append(obs.copy())
                actions.append(action)
                rewards.append(reward)
                self.episodes.add(reward)
                done = terminated or truncated
                self.obs[0] = next_obs
            # a time-limit cut is not an end of the task: the rest of the return is
            # estimated by the baseline (for CartPole: the value of a balanced pole)
            tail = 0.0 if terminated else float(
                sess.run(m["value"], {m["obs"]: self.obs[:1]})[0])
            returns.append(discounted_returns(rewards, self.gamma, bootstrap=tail))
            finished.append((self.episodes.end(0), self.env_steps))
            self.obs[0] = np.asarray(self.envs[0].reset()[0], np.float32)
        sess.run(m["train"], {m["obs"]: np.stack(obs_list), m["action"]: actions,
                              m["returns"]: np.concatenate(returns)})
        self.updates += 1
        return finished

    def exploration(self):
        return {}


class A2CLearner(_Learner):
    """Advantage actor-critic, synchronous [Mnih et al. 2016]: ``n_envs`` environments
    step together for ``n_steps`` steps, then one update on all ``n_envs * n_steps``.

    Args:
      model: :func:`~tfgraph_lessons.rl.agents.build_policy_gradient`'s dict.
      envs: the environments (each seeded differently).
      rng: the run's generator.
      gamma: the discount.
      n_steps: steps per environment before each update.
    """

    def __init__(self, model, envs, rng, gamma=0.99, n_steps=8):
        super().__init__(model, envs, rng)
        self.gamma, self.n_steps = gamma, n_steps

    def iterate(self, sess):
        m = self.model
        n = len(self.envs)
        obs_buf = np.zeros((self.n_steps, n) + self.obs.shape[1:], np.float32)
        actions = np.zeros((self.n_steps, n), np.int64)
        rewards = np.zeros((self.n_steps, n))
        dones = np.zeros((self.n_steps, n), bool)
        cut_obs = []   # (t, env, observation) where a time limit cut an episode
        finished = []
        for t in range(self.n_steps):
            probs = sess.run(m["probs"], {m["obs"]: self.obs})
            obs_buf[t] = self.obs
            actions[t] = sample_actions(probs, self.rng)
            for i in range(n):
                next_obs, reward, terminated, truncated = self._step(i, actions[t, i])
                rewards[t, i] = reward
                self.episodes.returns[i] += reward
                if terminated or truncated:
                    dones[t, i] = True
                    if truncated and not terminated:
                        cut_obs.append((t, i, next_obs))
                    finished.append((self.episodes.end(i), self.env_steps))
                    next_obs = np.asarray(self.envs[i].reset()[0], np.float32)
                self.obs[i] = next_obs
        values = sess.run(m["value"], {m["obs"]: np.concatenate(
            [self.obs] + [o[None] for _, _, o in cut_obs])})
        # a cut episode's last reward gets the value of where it stopped (not an end)
        for (t, i, _), v in zip(cut_obs, values[n:]):
            rewards[t, i] += self.gamma * v
        targets = np.stack([discounted_returns(rewards[:, i], self.gamma, dones[:, i],
                                               bootstrap=values[i]) for i in range(n)], axis=1)
        sess.run(m["train"], {m["obs"]: obs_buf.reshape(-1, obs_buf.shape[-1]),
                              m["action"]: actions.reshape(-1),
                              m["returns"]: targets.reshape(-1)})
        self.updates += 1
        return finished

    def exploration(self):
        return {}


LEARNERS = {"dqn": DQNLearner, "reinforce": ReinforceLearner, "a2c": A2CLearner}
