"""Reinforcement-learning chapter figures, drawn from real gymnasium environments.

* ``rl_agent_environment_loop``: the slides' loop (the agent acts, the environment
  answers with the next state and a reward), with the first steps of a real
  CartPole-v1 episode written on it: :func:`agent_environment_steps` plays them with
  a one-line policy (push the cart the way the pole leans) and records what
  ``env.step`` returned;
* ``rl_q_table`` and ``rl_cartpole_learning``: from finished runs
  (:func:`tfgraph_lessons.figures.runs.chosen`: ``--run DIR`` or ``runs/``): the Q-table
  of an ``rl_frozenlake`` run drawn on its lake, and the learning curves of the best
  ``rl_cartpole`` run of each algorithm (DQN, REINFORCE, A2C).
"""
import numpy as np

from tfgraph_lessons.figures import FigureUnavailable, register, runs

ENV = "CartPole-v1"


def lean_policy(observation):
    """Push right (1) when the pole leans right (angle > 0), else left (0)."""
    return int(observation[2] > 0)


def agent_environment_steps(steps=6, seed=0, env_name=ENV):
    """Play ``steps`` steps of ``env_name`` from ``reset(seed=seed)`` with :func:`lean_policy`.

    Returns:
      ``(rows, episode)``: one dict per step, ``{t, state, action, reward, next_state,
      terminated, truncated}`` as ``env.step`` returned them, and the whole episode's
      ``{length, return}`` under the same policy.
    """
    from tfgraph_lessons.rl.envs import make_env

    env = make_env(env_name, seed=seed)
    try:
        state, _ = env.reset(seed=seed)
        rows, total, length, done = [], 0.0, 0, False
        while not done:
            action = lean_policy(state)
            nxt, reward, terminated, truncated, _ = env.step(action)
            if length < steps:
                rows.append({"t": length, "state": np.asarray(state, np.float64),
                             "action": action, "reward": float(reward),
                             "next_state": np.asarray(nxt, np.float64),
                             "terminated": bool(terminated), "truncated": bool(truncated)})
            total += float(reward)
            length += 1
            done = terminated or truncated
            state = nxt
    finally:
        env.close()
    return rows, {"length": length, "return": total}


@register("rl_agent_environment_loop", "the agent-environment loop, with the first steps of a "
          "real CartPole-v1 episode (gymnasium) played by a one-line policy",
          figsize=(12.0, 5.0))
def agent_environment_loop_figure():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rows, episode = agent_environment_steps()
    fig, (ax, table) = plt.subplots(1, 2, width_ratios=[1, 1.5])
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 10)
    ax.axis("off")
    for (y, text, color) in ((7.5, "agent\n(policy)", "tab:blue"),
                             (1.5, f"environment\n({ENV})", "tab:green")):
        ax.add_patch(FancyBboxPatch((2.2, y - 0.9), 4.2, 1.8, boxstyle="round,pad=0.2",
                                    facecolor="white", edgecolor=color, linewidth=2))
        ax.text(4.3, y, text, ha="center", va="center", fontsize=11)
    # agent -> action -> environment on the right, environment -> state, reward -> agent
    # on the left, each drawn as three straight segments
    segments = (((6.6, 7.5), (8.6, 7.5), (8.6, 1.5), (6.6, 1.5)),
                ((2.0, 1.5), (0.6, 1.5), (0.6, 7.5), (2.0, 7.5)))
    for points in segments:
        for start, end in zip(points[:-1], points[1:]):
            last = end == points[-1]
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>" if last else "-",
                                         mutation_scale=14, linewidth=1.5, color="0.3",
                                         shrinkA=0, shrinkB=0))
    ax.text(8.8, 4.5, "action $a_t$", ha="left", va="center", fontsize=10)
    ax.text(0.8, 4.5, "state $s_{t+1}$,\nreward $r_{t+1}$", ha="left", va="center",
            fontsize=10)
    ax.set_title(f"one episode: {episode['length']} steps, return {episode['return']:g}",
                 fontsize=10)
    table.axis("off")
    head = "t  state s_t (x, x', angle, angle')      a_t   r_t+1"
    lines = [head] + [
        f"{r['t']:<2} ({', '.join(f'{v:+.3f}' for v in r['state'])})   "
        f"{'right' if r['action'] else 'left ':<5} {r['reward']:g}" for r in rows]
    table.text(0, 0.5, "\n".join(lines), family="monospace", fontsize=9, va="center")
    table.set_title("what env.step returned (policy: push the way the pole leans)",
                    fontsize=10)
    fig.suptitle("The agent-environment loop: act, observe the next state and the reward, "
                 "act again", fontsize=12)
    return fig


# ----------------------------------------------------------------------------- from runs

ALGO_NAMES = {"dqn": "DQN (replay buffer, epsilon-greedy, target network)",
              "reinforce": "REINFORCE (policy gradient with a baseline)",
              "a2c": "A2C (policy gradient with a critic)"}


def frozenlake_policy(metrics):
    """``(q_table [states, actions], desc [rows, cols] of str, config)`` of a FrozenLake run
    from its ``metrics.json``; the lake's layout is the environment's own for the run's
    map."""
    from types import SimpleNamespace

    from tfgraph_lessons.rl.envs import make_env
    from tfgraph_lessons.rl_frozenlake import ENV_ID, env_kwargs

    config = SimpleNamespace(**metrics["config"])
    env = make_env(ENV_ID, **env_kwargs(config))
    try:
        desc = env.unwrapped.desc.astype(str)
    finally:
        env.close()
    q_table = np.asarray(metrics["q_table"], np.float64)
    if q_table.shape[0] != desc.size:
        raise FigureUnavailable(f"the run's Q-table has {q_table.shape[0]} states but the "
                                f"{config.map} lake {desc.size}; run python -m "
                                "tfgraph_lessons.rl_frozenlake again")
    return q_table, desc, config


@register("rl_q_table", "the Q-table of a finished rl_frozenlake run: max_a Q as colours and "
          "the greedy action as arrows on the lake (its metrics.json)", figsize=(6.5, 6.0))
def q_table_figure():
    from tfgraph_lessons.rl_frozenlake import policy_figure

    run = runs.chosen("rl_frozenlake", "python -m tfgraph_lessons.rl_frozenlake")
    if "q_table" not in run.metrics:
        raise FigureUnavailable(f"{run.path / 'metrics.json'} has no Q-table; run python -m "
                                "tfgraph_lessons.rl_frozenlake again")
    q_table, desc, config = frozenlake_policy(run.metrics)
    fig = policy_figure(q_table, desc, config)
    slippery = "slippery" if config.slippery else "not slippery"
    where = runs.describe(run, run.metrics.get("env_steps"))
    fig.suptitle(f"Q-learning on FrozenLake {config.map} ({slippery}), greedy success rate "
                 f"{run.metrics.get('success_rate', float('nan')):.2f}\n{where}", fontsize=10)
    return fig


def cartpole_runs():
    """The best finished ``rl_cartpole`` run of each algorithm (a full-length run over a fast
    one, then the highest greedy evaluation), in :data:`ALGO_NAMES` order."""
    found = [run for run in runs.find_runs("rl_cartpole")
             if {"returns", "episode_end_steps", "algo"} <= set(run.metrics)]
    best = {}
    for run in found:
        m = run.metrics
        key = (not m.get("fast"), m.get("eval_mean_return") or 0.0, str(run.path))
        if m["algo"] not in best or key > best[m["algo"]][0]:
            best[m["algo"]] = (key, run)
    return [best[a][1] for a in ALGO_NAMES if a in best]


@register("rl_cartpole_learning", "DQN and the policy-gradient methods learning CartPole: "
          "each algorithm's finished rl_cartpole run, training returns and greedy checks "
          "(their metrics.json)", figsize=(13.0, 4.6))
def cartpole_learning_figure():
    import matplotlib.pyplot as plt

    from tfgraph_lessons.rl_cartpole import seed_curves

    chosen = cartpole_runs()
    if not chosen:
        raise FigureUnavailable(
            f"no finished rl_cartpole run in {runs.searched('rl_cartpole')}; "
            + runs.how_to_get("rl_cartpole", "python -m tfgraph_lessons.rl_cartpole --algo "
                              "dqn (and --algo reinforce or a2c)"))
    fig, axes = plt.subplots(1, len(chosen), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], chosen):
        m = run.metrics
        for (label, (x, y)), line in zip(seed_curves(m).items(), ("-", "o-")):
            ax.plot(x, y, line, markersize=3, label=label.replace("\n", " "))
        if m.get("reward_threshold") is not None:
            ax.axhline(m["reward_threshold"], color="tab:red", ls="--", lw=1,
                       label=f"solved ({m['reward_threshold']:g})")
        ax.set(xlabel="environment steps", title=f"{ALGO_NAMES[m['algo']]}\ngreedy return "
               f"{m['eval_mean_return']:.1f} over {m['eval_episodes']} episodes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("return")
    fig.suptitle(f"{chosen[0].metrics.get('env', 'CartPole')}: "
                 + "; ".join(runs.describe(run, run.metrics.get("env_steps")) for run in chosen),
                 fontsize=10)
    return fig
