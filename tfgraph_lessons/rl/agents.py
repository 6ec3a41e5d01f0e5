"""The deep RL agents of the chapter as TF1 graphs: DQN, REINFORCE with a baseline, and A2C.

[1] Volodymyr Mnih et al., Human-level control through deep reinforcement
    learning. Nature 518, 529-533 (2015). (DQN: replay, target network, Huber.)
[2] Hado van Hasselt, Arthur Guez, David Silver, Deep reinforcement learning
    with double Q-learning. AAAI 2016, arXiv:1509.06461.
[3] Ronald J. Williams, Simple statistical gradient-following algorithms for
    connectionist reinforcement learning. Machine Learning 8, 229-256 (1992).
[4] Volodymyr Mnih et al., Asynchronous methods for deep reinforcement
    learning. ICML 2016, arXiv:1602.01783. (A2C is its synchronous variant.)

Each ``build_*`` function draws its networks with the core builders
(:func:`~tfgraph_lessons.core.layers.fully_connected`, so raw ``get_variable``
and ``tf.matmul``) in the current graph and returns a dict of the tensors and
ops a training loop feeds and runs. Nothing here samples at random inside the
graph: actions are drawn in NumPy from the probabilities the graph returns,
with the run's own generator, so a resumed run draws exactly what an
uninterrupted one would.

The two graphs, in one line each:

* **DQN** ([1], [2]): ``loss = huber(r + gamma * (1 - terminated) *
  Q_target(s', argmax_a' Q(s', a')) - Q(s, a))``, where the argmax comes from
  the target network itself (DQN) or from the online network (Double DQN);
  the target network is a second copy of the variables, moved towards the
  online one by assign ops (all at once every N updates, or Polyak-averaged).
* **Policy gradient** ([3], [4]): ``loss = -mean(log pi(a|s) * A) +
  value_coef * mean((G - V(s))^2) - entropy_coef * H(pi(.|s))`` with the
  advantage ``A = G - V(s)``, V a second network (the learned baseline). The
  same graph serves REINFORCE (``G`` the Monte-Carlo return of the whole
  episode) and A2C (``G`` an n-step return bootstrapped from ``V``, collected
  from several environments at once): what differs is only how the loop
  computes ``G``.
"""
import math

import tensorflow as tf

from tfgraph_lessons.core import layers
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.rnn.unroll import minimize_clipped

__all__ = ["mlp", "huber", "build_dqn", "build_policy_gradient"]


def mlp(x, hidden, outputs, scope, out_stddev=None):
    """A fully connected network ``x -> hidden... -> outputs`` (ReLU, linear output).

    Weights start from a truncated normal with stddev ``1/sqrt(fan_in)`` (the
    slides' fixed 0.1 is too small for a 4-number input and too large for a
    256-unit layer), biases at 0. Built in ``variable_scope(scope,
    reuse=AUTO_REUSE)``: calling it again with the same scope shares the
    weights (the online network applied to ``s'`` for Double DQN).

    Args:
      x: ``[batch, features]``.
      hidden: the hidden layer sizes, e.g. ``(64, 64)``.
      outputs: the output size (actions, or 1 for a value).
      scope: the variable scope (``'q_network'``, ``'policy'``...).
      out_stddev: the output layer's stddev (None: ``1/sqrt(fan_in)``); a
        policy starts near uniform with a small one.
    """
    with tf1.variable_scope(scope, reuse=tf1.AUTO_REUSE):
        fan_in = int(x.shape[-1])
        for i, units in enumerate(hidden):
            x = layers.fully_connected(x, units, tf.nn.relu, stddev=1 / math.sqrt(fan_in),
                                       bias_value=0.0, scope=f"fc{i + 1}")
            fan_in = units
        stddev = 1 / math.sqrt(fan_in) if out_stddev is None else out_stddev
        return layers.fully_connected(x, outputs, None, stddev=stddev, bias_value=0.0,
                                      scope="out")


def huber(errors, delta=1.0):
    """The Huber loss per element: ``0.5 e^2`` for ``|e| <= delta``, else
    ``delta (|e| - 0.5 delta)``. Its gradient is the error clipped to
    ``[-delta, delta]``: [1]'s "error clipping", so one surprising target
    cannot throw the network far."""
    size = tf.abs(errors)
    return tf.where(size <= delta, 0.5 * tf.square(errors), delta * (size - 0.5 * delta))


def _placeholders(observation_size):
    obs = tf1.placeholder(tf.float32, [None, observation_size], name="obs")
    action = tf1.placeholder(tf.int32, [None], name="action")
    return obs, action


def _picked(values, action):
    """``values[i, action[i]]`` for every row ``i``."""
    return tf.gather(values, action, batch_dims=1)


def build_dqn(observation_size, num_actions, hidden=(256, 256), lr=1e-3, gamma=0.99,
              double=True, target_update="hard", tau=0.005, max_grad_norm=10.0):
    """The DQN graph: online and target Q-networks, the TD loss and the sync op.

    Args:
      observation_size: length of the observation vector.
      num_actions: number of discrete actions.
      hidden: hidden layer sizes of the Q-network.
      lr: Adam's learning rate.
      gamma: the discount.
      double: Double DQN [2]: the online network picks ``argmax_a' Q(s', a')``,
        the target network values it (plain DQN lets the target network do both,
        which overestimates).
      target_update: ``'hard'`` (``sync`` copies every variable) or
        ``'polyak'`` (``sync`` moves each a fraction ``tau`` of the way).
      tau: the Polyak fraction.
      max_grad_norm: gradients are clipped to this global norm.

    Returns:
      dict: ``obs``, ``action``, ``reward``, ``next_obs``, ``terminated``
      (placeholders of a batch of transitions); ``q`` (``[batch, actions]``,
      online), ``greedy`` (its argmax), ``target_q`` (the target network's
      ``Q(s', .)``), ``target`` (the TD target of each transition), ``loss``,
      ``train`` (one Adam step), ``sync`` (the target update), ``copy`` (a
      hard copy, whatever ``target_update``), ``online_vars``, ``target_vars``,
      ``grad_norm``.
    """
    obs, action = _placeholders(observation_size)
    reward = tf1.placeholder(tf.float32, [None], name="reward")
    next_obs = tf1.placeholder(tf.float32, [None, observation_size], name="next_obs")
    terminated = tf1.placeholder(tf.float32, [None], name="terminated")

    q = mlp(obs, hidden, num_actions, "q_network")
    q_next_target = mlp(next_obs, hidden, num_actions, "target_network")
    with tf.name_scope("td_target"):
        if double:
            # the online network chooses, the target network evaluates
            choice = tf.argmax(mlp(next_obs, hidden, num_actions, "q_network"), axis=1,
                               output_type=tf.int32)
        else:
            choice = tf.argmax(q_next_target, axis=1, output_type=tf.int32)
        next_value = _picked(q_next_target, choice)
        # no value after a terminal state; a time-limit cut still bootstraps
        target = tf.stop_gradient(reward + gamma * (1.0 - terminated) * next_value)
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(huber(target - _picked(q, action)))

    online_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "q_network/")
    target_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "target_network/")
    optimizer = tf1.train.AdamOptimizer(lr)
    train, grad_norm = minimize_clipped(optimizer, loss, max_grad_norm, var_list=online_vars)
    with tf.name_scope("sync_target"):
        if target_update == "hard":
            sync = tf.group(*[t.assign(o) for o, t in zip(online_vars, target_vars)])
        else:
            sync = tf.group(*[t.assign(tau * o + (1.0 - tau) * t)
                              for o, t in zip(online_vars, target_vars)])
        copy = tf.group(*[t.assign(o) for o, t in zip(online_vars, target_vars)],
                        name="copy")
    return {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs,
            "terminated": terminated, "q": q, "target_q": q_next_target, "target": target,
            "greedy": tf.argmax(q, axis=1, output_type=tf.int32), "loss": loss,
            "train": train, "sync": sync, "copy": copy, "grad_norm": grad_norm,
            "online_vars": online_vars, "target_vars": target_vars}


def build_policy_gradient(observation_size, num_actions, hidden=(64, 64), lr=1e-3,
                          value_lr=1e-3, entropy_coef=0.0, normalize_advantages=True,
                          max_grad_norm=0.5):
    """The actor-critic graph shared by REINFORCE with a baseline and A2C.

    The policy ``pi(a|s) = softmax(logits(s))`` and the baseline ``V(s)`` are two
    networks (scopes ``policy`` and ``value``), each trained by its own Adam
    over its own ``var_list`` in one ``train`` op.

    Args:
      observation_size, num_actions: the environment's sizes.
      hidden: hidden layer sizes of both networks.
      lr, value_lr: the policy's and the value network's learning rates.
      entropy_coef: weight of the entropy bonus (keeps the policy exploring).
      normalize_advantages: scale each batch's advantages to mean 0, std 1
        (the gradient's size then no longer depends on the return's scale).
      max_grad_norm: each network's gradients are clipped to this global norm.

    Returns:
      dict: ``obs``, ``action``, ``returns`` (placeholders; ``returns`` is the
      target ``G`` of each step); ``probs`` (``[batch, actions]``), ``value``
      (``[batch]``), ``greedy`` (most probable action), ``policy_loss``,
      ``value_loss``, ``entropy``, ``train``, ``variables``.
    """
    obs, action = _placeholders(observation_size)
    returns = tf1.placeholder(tf.float32, [None], name="returns")
    logits = mlp(obs, hidden, num_actions, "policy", out_stddev=0.01)
    value = tf.squeeze(mlp(obs, hidden, 1, "value"), axis=1, name="value")
    with tf.name_scope("advantage"):
        # the baseline V(s) lowers the variance of the gradient, not its mean
        advantage = tf.stop_gradient(returns - value)
        if normalize_advantages:
            mean, variance = tf.nn.moments(advantage, axes=[0])
            advantage = (advantage - mean) / (tf.sqrt(variance) + 1e-8)
    with tf.name_scope("losses"):
        log_probs = tf.nn.log_softmax(logits)
        probs = tf.nn.softmax(logits)
        entropy = -tf.reduce_mean(tf.reduce_sum(probs * log_probs, axis=1))
        policy_loss = -tf.reduce_mean(_picked(log_probs, action) * advantage)
        value_loss = 0.5 * tf.reduce_mean(tf.square(returns - value))
    policy_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "policy/")
    value_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "value/")
    train_policy, _ = minimize_clipped(tf1.train.AdamOptimizer(lr, name="policy_adam"),
                                       policy_loss - entropy_coef * entropy, max_grad_norm,
                                       var_list=policy_vars)
    train_value, _ = minimize_clipped(tf1.train.AdamOptimizer(value_lr, name="value_adam"),
                                      value_loss, max_grad_norm, var_list=value_vars)
    return {"obs": obs, "action": action, "returns": returns, "probs": probs,
            "value": value, "greedy": tf.argmax(logits, axis=1, output_type=tf.int32),
            "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
            "train": tf.group(train_policy, train_value, name="train"),
            "variables": policy_vars + value_vars}
