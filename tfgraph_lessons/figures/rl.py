"""Reinforcement-learning chapter figures, drawn from real gymnasium environments.

* ``rl_agent_environment_loop``: the slides' loop (the agent acts, the environment
  answers with the next state and a reward), with the first steps of a real
  CartPole-v1 episode written on it: :func:`agent_environment_steps` plays them with
  a one-line policy (push the cart the way the pole leans) and records what
  ``env.step`` returned.
"""
import numpy as np

from tfgraph_lessons.figures import register

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
