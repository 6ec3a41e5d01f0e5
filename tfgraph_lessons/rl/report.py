"""What the RL lessons share after training: "solved" bookkeeping, curves over seeds, GIFs.

* :func:`solved_at`: the environment step at which the mean of the last 100
  training returns first reached the environment's threshold (gymnasium's
  ``reward_threshold``: 475 for CartPole-v1, 0.7 for FrozenLake 4x4).
* :func:`run_seeds`: one run per ``--seeds`` value, each in ``OUT/seed_N``,
  and the mean and spread of their learning curves on one figure.
* :func:`record_episode`: a greedy episode as frames from gymnasium's
  ``rgb_array`` rendering (written by :func:`~tfgraph_lessons.core.plots.save_gif`).
"""
import dataclasses
from pathlib import Path

import numpy as np

from tfgraph_lessons.core import plots
from tfgraph_lessons.core.io import write_json

WINDOW = 100   # episodes in the running mean (gymnasium's "solved" window)

__all__ = ["WINDOW", "running_mean", "solved_at", "seeds_figure", "run_seeds",
           "record_episode"]


def running_mean(values, window=WINDOW):
    """The mean of each ``window`` consecutive values (fewer values: one shorter window)."""
    values = np.asarray(values, np.float64)
    if not len(values):
        return values
    window = min(window, len(values))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def solved_at(returns, end_steps, threshold):
    """Environment steps when the mean of the last :data:`WINDOW` episodes first reached
    ``threshold``, or None.

    Args:
      returns: the training episodes' returns, in order.
      end_steps: the environment step (counted over the whole run) at which each ended.
      threshold: the environment's ``reward_threshold`` (None: never solved).
    """
    if threshold is None or len(returns) < WINDOW:
        return None
    hit = np.flatnonzero(running_mean(returns) >= threshold)
    return int(end_steps[WINDOW - 1 + hit[0]]) if hit.size else None


def _spread_panel(ax, curves, ylabel, threshold):
    """One panel of :func:`seeds_figure`: each seed faint, the mean and min-max band."""
    usable = {s: (np.asarray(x, float), np.asarray(y, float)) for s, (x, y) in curves.items()
              if len(x) > 1}
    for seed, (x, y) in usable.items():
        ax.plot(x, y, lw=0.8, alpha=0.45, label=f"seed {seed}")
    if len(usable) > 1:
        start = max(x[0] for x, _ in usable.values())
        stop = min(x[-1] for x, _ in usable.values())
        if stop > start:
            grid = np.linspace(start, stop, 200)
            ys = np.stack([np.interp(grid, x, y) for x, y in usable.values()])
            ax.fill_between(grid, ys.min(0), ys.max(0), color="tab:blue", alpha=0.15,
                            label="min to max over seeds")
            ax.plot(grid, ys.mean(0), color="tab:blue", lw=2,
                    label=f"mean of {len(usable)} seeds")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold})")
    if ax.lines:
        ax.legend(fontsize=7)
    ax.set(ylabel=ylabel)
    ax.grid(alpha=0.3)


@plots.styled
def seeds_figure(panels, xlabel, title, threshold=None):
    """Mean and spread (min to max) of several runs' curves, one panel per kind of curve.

    Args:
      panels: ``{ylabel: {seed: (x, y)}}``, e.g. the running mean of the training
        returns and the greedy checks; each run's curve against its own x
        (episodes or environment steps) is interpolated onto a common grid that
        stops where the shortest run stops (a run that solved the task early ends
        early).
      threshold: a dashed "solved" line, or None.
    """
    fig = plots._figure((7, 3.2 * len(panels) + 0.6))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, (ylabel, curves) in zip(axes, panels.items()):
        _spread_panel(ax, curves, ylabel, threshold)
    axes[0].set_title(title)
    axes[-1].set_xlabel(xlabel)
    return fig


def run_seeds(run_one, config, seeds, out, summary_keys, curves, xlabel, title,
              threshold=None):
    """Train one run per seed in ``out/seed_N`` and summarise them in ``out``.

    Args:
      run_one: ``run_one(config) -> metrics`` for one seed (its ``out`` set).
      config: the lesson's config; each run gets ``seed`` and ``out`` replaced.
      seeds: the seeds (``--seeds 0 1 2``).
      out: the folder of the summary (``metrics.json``, ``figures/seeds.png``).
      summary_keys: the metrics copied into the summary per seed.
      curves: ``curves(metrics) -> {ylabel: (x, y)}``, the curves to draw (one panel each).
    Returns:
      the summary dict, also written to ``out/metrics.json``: ``runs`` (per seed),
      and ``mean``/``std``/``min``/``max`` over seeds of each numeric summary key.
    """
    runs, panels = {}, {}
    for seed in seeds:
        metrics = run_one(dataclasses.replace(config, seed=seed, seeds=None,
                                              out=str(Path(out) / f"seed_{seed}")))
        runs[seed] = {k: metrics.get(k) for k in summary_keys}
        for ylabel, xy in curves(metrics).items():
            panels.setdefault(ylabel, {})[seed] = xy
    spread = {}
    for key in summary_keys:
        values = [r[key] for r in runs.values()]
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in values):
            spread[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)),
                           "min": float(np.min(values)), "max": float(np.max(values))}
    summary = {"seeds": list(seeds), "runs": {f"seed_{s}": r for s, r in runs.items()},
               "over_seeds": spread, "config": dataclasses.asdict(config)}
    plots.save_figure(seeds_figure(panels, xlabel, title, threshold),
                      Path(out) / "figures" / "seeds.png")
    write_json(Path(out) / "metrics.json", summary)
    return summary


def record_episode(policy, env, max_frames=300, every=1):
    """Frames of one episode played by ``policy`` in ``env`` (made with
    ``render_mode='rgb_array'``), and its return.

    Args:
      policy: a function from one observation to an action.
      max_frames: the most frames kept (a 500-step CartPole episode is long for a GIF).
      every: keep every ``every``-th frame.
    """
    obs, _ = env.reset()
    frames, total, t, done = [env.render()], 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(int(policy(obs)))
        total += reward
        t += 1
        done = terminated or truncated
        if t % every == 0 and len(frames) < max_frames:
            frames.append(env.render())
    return frames, total
