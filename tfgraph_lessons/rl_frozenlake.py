"""RL chapter: tabular Q-learning on FrozenLake, the Q-table a TF variable updated by a graph op.

    python -m tfgraph_lessons.rl_frozenlake [--slippery | --no-slippery] [--map 4x4|8x8]
        [--episodes N] [--alpha A] [--gamma G] [--epsilon-start E] [--epsilon-end E]
        [--epsilon-decay D] [--eval-episodes N] [shared lesson options]

The agent walks a frozen lake from S to the goal G without falling into a hole
H; on the slippery lake each move goes where it was meant only a third of the
time. It keeps ``Q[s, a]``, the return it expects after action ``a`` in state
``s``, and after every step moves it towards the Bellman target (Watkins 1989)::

    Q[s, a] += alpha * (r + gamma * max_a' Q[s', a'] * (1 - done) - Q[s, a])

``done`` is 1 only when the episode ended *in* the lake's terminal states (a hole
or the goal): there is no value beyond them. An episode cut at the time limit
(100 steps) is not terminal, so its last target still looks ahead.

The Q-table is the variable ``q_table [states, actions]`` and the update is one
graph op (``tf1.scatter_nd_update``) fed one transition ``(s, a, r, s', done)``
per ``Session.run``. Actions are epsilon-greedy: random with probability
``epsilon`` (decayed per episode, ``epsilon_start * epsilon_decay ** episode``,
never below ``epsilon_end``), else the best action (ties broken at random).

The length is counted in episodes (``--episodes``); the shared ``--epochs`` and
``--steps`` have no meaning here and are refused. Checkpoints (``Saver``) are
written every ``--checkpoint-every`` episodes with a ``state.json`` that also
holds the returns so far and both random generators' states, so ``--resume``
continues exactly where the run stopped.

Writes ``runs/rl_frozenlake/<map>_<slippery|not_slippery>`` (``_fast`` in fast
mode): ``metrics.json`` (``returns``, ``final_mean_return``, ``eval_mean_return``,
``success_rate``, ``solved_at_step``, ``env_steps``, ``wall_seconds``),
``figures/learning_curve.png``, ``figures/policy_values.png`` and ``checkpoints/``.
``--seeds 0 1 2`` trains one run per seed in ``OUT/seed_N`` and writes their mean
and spread (``figures/seeds.png``, ``metrics.json``'s ``over_seeds``);
``--render`` writes ``figures/agent.gif``, one greedy episode.
"""
import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from tfgraph_lessons.core import cli, plots, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.rl import report as rl_report
from tfgraph_lessons.rl.envs import describe, make_env

LESSON = "rl_frozenlake"
ENV_ID = "FrozenLake-v1"
DEFAULT_EPISODES = 5000
FAST_EPISODES = 200
WINDOW = rl_report.WINDOW     # episodes in the running mean (gymnasium's "solved" window)
ARROWS = {0: (-1, 0), 1: (0, -1), 2: (1, 0), 3: (0, 1)}   # left, down, right, up (dx, dy up)


@dataclass
class FrozenLakeConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    slippery: bool = True
    map: str = "4x4"
    episodes: int = None          # None: DEFAULT_EPISODES (fast mode: FAST_EPISODES)
    alpha: float = 0.1            # learning rate of the Q update
    gamma: float = 0.99           # discount: near 1, or a safe long way round looks worthless
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_decay: float = 0.999  # per episode: epsilon is 0.05 after ~3,000 episodes
    eval_episodes: int = 1000     # greedy episodes after training (success_rate)
    checkpoint_every: int = 1000  # episodes between checkpoints (and history entries)
    seeds: list = None            # --seeds: one run per seed, and their spread
    render: bool = False          # --render: figures/agent.gif of one greedy episode
    progress: bool = True


# --------------------------------------------------------------------------- the graph


def build_graph(config, num_states, num_actions):
    """The Q-table and its update op.

    Returns:
      dict: q_table (variable ``[states, actions]``, zeros), state / action /
      reward / next_state / done (scalar placeholders of one transition),
      update (the op that applies the Q-learning update and returns the row
      ``Q[s']`` after it, to choose the next action), row (``Q[state]``),
      td_error (the target minus ``Q[s, a]`` before the update).
    """
    q = tf1.get_variable("q_table", [num_states, num_actions], tf.float32,
                         initializer=tf1.zeros_initializer())
    s = tf1.placeholder(tf.int32, [], name="state")
    a = tf1.placeholder(tf.int32, [], name="action")
    r = tf1.placeholder(tf.float32, [], name="reward")
    s2 = tf1.placeholder(tf.int32, [], name="next_state")
    done = tf1.placeholder(tf.float32, [], name="done")
    with tf.name_scope("q_update"):
        q_sa = q[s, a]
        # no value after a terminal state: the target is the reward alone
        target = r + config.gamma * tf.reduce_max(q[s2]) * (1.0 - done)
        td_error = target - q_sa
        update = tf1.scatter_nd_update(q, [[s, a]], [q_sa + config.alpha * td_error])
        with tf.control_dependencies([update]):
            next_row = tf.gather(q.read_value(), s2)
    return {"q_table": q, "state": s, "action": a, "reward": r, "next_state": s2,
            "done": done, "update": next_row, "row": tf.gather(q, s), "td_error": td_error}


# --------------------------------------------------------------------------- the agent


def epsilon_at(config, episode):
    """The exploration rate of episode ``episode`` (0-based)."""
    return max(config.epsilon_end, config.epsilon_start * config.epsilon_decay ** episode)


def choose(row, epsilon, rng):
    """Epsilon-greedy: a random action with probability ``epsilon``, else a best one
    (ties at random, so an all-zero row does not always walk left)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(row)))
    return int(rng.choice(np.flatnonzero(row == row.max())))


def run_episode(sess, model, env, epsilon, rng):
    """One training episode; returns ``(return, env steps)``."""
    state, _ = env.reset()
    row = sess.run(model["row"], {model["state"]: state})
    total, steps, finished = 0.0, 0, False
    while not finished:
        action = choose(row, epsilon, rng)
        next_state, reward, terminated, truncated, _ = env.step(action)
        row = sess.run(model["update"], {
            model["state"]: state, model["action"]: action, model["reward"]: reward,
            model["next_state"]: next_state, model["done"]: float(terminated)})
        total, steps, state = total + reward, steps + 1, next_state
        finished = terminated or truncated
    return total, steps


def evaluate(q_table, env, episodes):
    """Mean return of the greedy policy ``argmax_a Q[s, a]`` over ``episodes`` episodes."""
    policy = np.argmax(q_table, axis=1)
    total = 0.0
    for _ in range(episodes):
        state, _ = env.reset()
        finished = False
        while not finished:
            state, reward, terminated, truncated, _ = env.step(int(policy[state]))
            total += reward
            finished = terminated or truncated
    return total / episodes


# --------------------------------------------------------------------------- training


def env_kwargs(config):
    return {"is_slippery": config.slippery, "map_name": config.map}


def run_identity(config):
    """What makes a checkpoint belong to this run (``--resume`` refuses another)."""
    return {"lesson": LESSON, "map": config.map, "slippery": config.slippery,
            "seed": config.seed, "alpha": config.alpha, "gamma": config.gamma,
            "epsilon_start": config.epsilon_start, "epsilon_end": config.epsilon_end,
            "epsilon_decay": config.epsilon_decay}


class Run:
    """The state of one training run: returns, steps per episode, both generators."""

    def __init__(self, config, env):
        self.returns, self.steps, self.history = [], [], []
        self.train_seconds = 0.0
        self.rng = np.random.default_rng(config.seed)
        self.env = env

    def to_state(self, identity):
        """``state.json``'s content: the episode count as the step, and all to resume."""
        return {"step": len(self.returns), "run": identity, "returns": self.returns,
                "episode_steps": self.steps, "history": self.history,
                "train_seconds": self.train_seconds,
                "rng": self.rng.bit_generator.state,
                "env_rng": self.env.unwrapped.np_random.bit_generator.state}

    def load(self, state):
        """Continue from a ``state.json``: returns so far and both generators' states."""
        self.returns = list(state["returns"])
        self.steps = list(state["episode_steps"])
        self.history = list(state.get("history", []))
        self.train_seconds = state.get("train_seconds", 0.0)
        self.rng.bit_generator.state = state["rng"]
        self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]


def save(sess, saver, ckpt_dir, run, identity):
    """A checkpoint, then the state that names it (a kill between the two resumes earlier)."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    saver.save(sess, rundir.checkpoint_path(ckpt_dir, len(run.returns)))
    write_json(ckpt_dir / rundir.STATE_FILE, run.to_state(identity))


def restore(sess, saver, ckpt_dir, run, identity):
    """Load the checkpoint ``state.json`` names into ``sess`` and ``run``; False if none."""
    prefix, state = rundir.resume_point(ckpt_dir)
    if prefix is None:
        print(f"no checkpoint in {ckpt_dir}; starting from scratch")
        return False
    rundir.check_identity(state.get("run"), identity, ckpt_dir)
    if len(state.get("returns", [])) != state["step"] or "rng" not in state:
        raise UsageError(f"{ckpt_dir / rundir.STATE_FILE} does not hold this lesson's run "
                         f"state; delete {ckpt_dir} to start over, or use another --out")
    saver.restore(sess, prefix)
    run.load(state)
    rundir.remove_later_checkpoints(ckpt_dir, state["step"])
    print(f"resumed from {prefix} at episode {state['step']}")
    return True


def history_entry(run, config):
    """One ``history`` row (written at each checkpoint): episodes, env steps, epsilon,
    the mean return of the last 100 episodes."""
    last = run.returns[-WINDOW:]
    return {"step": len(run.returns), "episode": len(run.returns),
            "env_steps": int(sum(run.steps)),
            "epsilon": epsilon_at(config, len(run.returns) - 1),
            "mean_return_100": float(np.mean(last)), "wall_seconds": round(run.train_seconds, 2)}


def train_loop(sess, model, saver, run, config, ckpt_dir, identity):
    """Episodes from where ``run`` stands to ``config.episodes``, checkpointing on the way."""
    bar = tqdm(total=config.episodes, initial=len(run.returns), unit="episode",
               disable=not config.progress, leave=False)
    start = time.time() - run.train_seconds
    while len(run.returns) < config.episodes:
        episode = len(run.returns)
        total, steps = run_episode(sess, model, run.env, epsilon_at(config, episode), run.rng)
        run.returns.append(total)
        run.steps.append(steps)
        bar.update(1)
        if episode % 50 == 0:
            bar.set_postfix(success_100=f"{np.mean(run.returns[-WINDOW:]):.2f}",
                            epsilon=f"{epsilon_at(config, episode):.3f}")
        done = len(run.returns)
        if done % config.checkpoint_every == 0 or done == config.episodes:
            run.train_seconds = time.time() - start
            run.history.append(history_entry(run, config))
            save(sess, saver, ckpt_dir, run, identity)
    bar.close()


def train(config, out):
    """Train, evaluate greedily, write metrics and figures; returns the metrics dict."""
    wall_start = time.time()
    # one tiny op per env step: a GPU would spend each step on the transfer, so "auto"
    # keeps the Q-table on the CPU; --device gpu still puts it there to compare
    device = ("/CPU:0" if config.device == "auto" else
              resolve_device(config.device, soft_placement=config.soft_placement))
    env = make_env(ENV_ID, seed=config.seed, **env_kwargs(config))
    info = describe(env)
    identity = run_identity(config)
    ckpt_dir = out / "checkpoints"
    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model = build_graph(config, info["observations"], info["actions"])
        saver = tf1.train.Saver([model["q_table"]], max_to_keep=3, save_relative_paths=True)
        init = tf1.global_variables_initializer()
        graph.finalize()
    run = Run(config, env)
    with tf1.Session(graph=graph, config=session_config(**cli.session_options(config))) as sess:
        if not (config.resume and restore(sess, saver, ckpt_dir, run, identity)):
            sess.run(init)
        train_loop(sess, model, saver, run, config, ckpt_dir, identity)
        q_table = sess.run(model["q_table"])
    # evaluation episodes come from their own seed: never the training episodes again
    eval_env = make_env(ENV_ID, seed=config.seed + 1_000_003, **env_kwargs(config))
    success = evaluate(q_table, eval_env, config.eval_episodes)
    gif = render(config, q_table, out / "figures" / "agent.gif") if config.render else None
    return report(config, out, run, q_table, success, info, device, env, wall_start, gif)


def render(config, q_table, path):
    """One greedy episode (every step) as a GIF, from gymnasium's ``rgb_array`` pictures."""
    try:
        env = make_env(ENV_ID, seed=config.seed + 9_000_027, render_mode="rgb_array",
                       **env_kwargs(config))
        frames, total = rl_report.record_episode(lambda s: int(np.argmax(q_table[s])), env,
                                                 max_frames=120)
        env.close()
    except ImportError as e:   # gymnasium's DependencyNotInstalled is an ImportError
        raise DataError(f"--render needs pygame to draw the lake: pip install pygame "
                        f"({' '.join(str(e).split())[:80]})") from None
    plots.save_gif(frames, path, fps=4)
    print(f"wrote {path} (one greedy episode, {'reached the goal' if total else 'fell in'})")
    return {"path": str(path), "return": total, "frames": len(frames)}


def report(config, out, run, q_table, success, info, device, env, wall_start, gif=None):
    """Write ``metrics.json`` and the figures; print the summary line."""
    returns = np.asarray(run.returns, np.float64)
    metrics = {
        "lesson": LESSON, "env": ENV_ID, "map": config.map, "slippery": config.slippery,
        "fast": config.fast, "returns": returns,
        "final_mean_return": float(returns[-WINDOW:].mean()) if len(returns) else None,
        # FrozenLake pays 1 at the goal and 0 otherwise: the greedy policy's mean return
        # over the evaluation episodes is its success rate
        "eval_mean_return": success, "success_rate": success,
        "eval_episodes": config.eval_episodes,
        "reward_threshold": info["reward_threshold"],
        "solved_at_step": rl_report.solved_at(returns, np.cumsum(run.steps),
                                              info["reward_threshold"]),
        "env_steps": int(sum(run.steps)), "episodes": len(returns),
        "train_seconds": round(run.train_seconds, 2),
        "wall_seconds": round(time.time() - wall_start, 2), "device": device,
        "q_table": q_table, "history": run.history, "render": gif,
        "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    desc = env.unwrapped.desc.astype(str)
    plots.save_figure(learning_curve_figure(returns, config, info["reward_threshold"]), out / "figures" /
                      "learning_curve.png")
    plots.save_figure(policy_figure(q_table, desc, config), out / "figures" / "policy_values.png")
    print(f"FrozenLake {config.map} ({'slippery' if config.slippery else 'not slippery'}), "
          f"seed {config.seed}: greedy success rate {success:.3f} over {config.eval_episodes} "
          f"episodes after {len(returns):,} episodes ({metrics['env_steps']:,} env steps, "
          f"{metrics['wall_seconds']:.0f} s); wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- figures


@plots.styled
def learning_curve_figure(returns, config, threshold=None):
    """The running mean of success over the last 100 training episodes (exploration on),
    and the environment's "solved" threshold when it has one."""
    fig = plots._figure((7, 4))
    ax = fig.subplots()
    if len(returns):
        window = min(WINDOW, len(returns))
        mean = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(returns) + 1), mean, color="tab:blue",
                label=f"mean of the last {window} episodes (epsilon-greedy)")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold})")
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set(xlabel="episode", ylabel="success rate", ylim=(-0.02, 1.02),
           title=f"Q-learning on FrozenLake {config.map} "
                 f"({'slippery' if config.slippery else 'not slippery'})")
    ax.grid(alpha=0.3)
    return fig


@plots.styled
def policy_figure(q_table, desc, config):
    """State values ``max_a Q`` as colours and the greedy action as arrows; holes, start
    and goal marked by their letters."""
    rows, cols = desc.shape
    values = q_table.max(axis=1).reshape(rows, cols)
    policy = q_table.argmax(axis=1).reshape(rows, cols)
    fig = plots._figure((5.5, 5))
    ax = fig.subplots()
    image = ax.imshow(values, cmap=CMAPS["activation"], vmin=0, vmax=max(1e-6, values.max()))
    fig.colorbar(image, ax=ax, label="max_a Q(s, a)")
    for (i, j), cell in np.ndenumerate(desc):
        if cell in "HG":
            ax.add_patch(_square(j, i, "black" if cell == "H" else "gold"))
            ax.text(j, i, cell, ha="center", va="center", color="white" if cell == "H"
                    else "black", fontsize=14, weight="bold")
            continue
        dx, dy = ARROWS[int(policy[i, j])]
        ax.annotate("", xy=(j + 0.3 * dx, i - 0.3 * dy), xytext=(j - 0.3 * dx, i + 0.3 * dy),
                    arrowprops={"arrowstyle": "->", "color": "white", "lw": 2})
        if cell == "S":
            ax.text(j - 0.35, i - 0.3, "S", color="white", fontsize=9)
    ax.set(xticks=[], yticks=[], title="greedy policy and state values")
    return fig


def _square(x, y, color):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, color=color)


# --------------------------------------------------------------------------- entry points


def check_settings(config):
    """Check the values argparse cannot judge (also for a config built in Python)."""
    if config.map not in ("4x4", "8x8"):
        raise UsageError(f"unknown --map {config.map!r}; use 4x4 or 8x8")
    if not 0 < config.alpha <= 1:
        raise UsageError(f"--alpha must be in (0, 1], got {config.alpha}")
    if not 0 <= config.gamma <= 1:
        raise UsageError(f"--gamma must be in [0, 1], got {config.gamma}")
    for name in ("epsilon_start", "epsilon_end"):
        if not 0 <= getattr(config, name) <= 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], "
                             f"got {getattr(config, name)}")
    if not 0 < config.epsilon_decay <= 1:
        raise UsageError(f"--epsilon-decay must be in (0, 1], got {config.epsilon_decay}")
    if config.seeds is not None and len(set(config.seeds)) != len(config.seeds):
        raise UsageError(f"--seeds has a seed twice: {config.seeds}")
    for name in ("episodes", "eval_episodes", "checkpoint_every"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number > 0, "
                             f"got {value}")


def resolve_config(config):
    """Apply fast mode and the default length; check every setting."""
    check_settings(config)
    if config.episodes is None:
        config = dataclasses.replace(
            config, episodes=FAST_EPISODES if config.fast else DEFAULT_EPISODES)
    if config.fast and config.eval_episodes == FrozenLakeConfig.eval_episodes:
        config = dataclasses.replace(config, eval_episodes=100)
    return config


def default_out(config):
    return cli.default_out(LESSON, config.map,
                           "slippery" if config.slippery else "not_slippery", fast=config.fast)


def run_one(config):
    """One seed: prepare its folder, train, evaluate; returns the metrics dict."""
    out = Path(config.out or default_out(config))
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite)
    return train(config, out)


def seed_curves(metrics):
    """A run's running mean of success against episodes (for ``--seeds``)."""
    mean = rl_report.running_mean(metrics["returns"])
    episodes = np.arange(len(metrics["returns"]) - len(mean) + 1, len(metrics["returns"]) + 1)
    return {"success rate of the last 100 episodes": (episodes, mean)}


def run(config):
    """Train and evaluate (one run per seed with ``seeds``); returns the metrics dict."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    resolve_device(config.device, notice=lambda msg: None, soft_placement=config.soft_placement)
    if config.fast:
        cli.announce_fast(config, f"{config.episodes} episodes, {config.eval_episodes} "
                                  f"evaluation episodes; writes to {out}")
    if not config.seeds:
        return run_one(dataclasses.replace(config, out=str(out)))
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=[f"seed_{s}" for s in config.seeds])
    lake = "slippery" if config.slippery else "not slippery"
    summary = rl_report.run_seeds(
        run_one, config, config.seeds, out,
        ["success_rate", "final_mean_return", "solved_at_step", "env_steps", "train_seconds"],
        seed_curves, "episode", f"Q-learning on FrozenLake {config.map} ({lake}): {len(config.seeds)} seeds")
    spread = summary["over_seeds"]["success_rate"]
    print(f"FrozenLake {config.map} ({lake}), seeds {config.seeds}: greedy success rate "
          f"{spread['mean']:.3f} (min {spread['min']:.3f}, max {spread['max']:.3f}); "
          f"wrote {out / 'metrics.json'}")
    return summary


def _check_args(args):
    """Parser check: the shared --epochs/--steps are refused; alpha and gamma in range."""
    if args.epochs is not None or args.steps is not None:
        flag = "--epochs" if args.epochs is not None else "--steps"
        return (f"{flag} has no meaning for Q-learning (there is no training set); "
                "give the length as --episodes N")
    for name, low, high, open_low in (("alpha", 0, 1, True), ("gamma", 0, 1, False)):
        value = getattr(args, name)
        if not ((low < value if open_low else low <= value) and value <= high):
            bracket = "(" if open_low else "["
            return f"--{name} must be in {bracket}{low}, {high}], got {value}"
    return None


def parse_config(argv=None):
    """The command line -> a :class:`FrozenLakeConfig`."""
    c = FrozenLakeConfig
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=1,
                               default_length="refused: use --episodes")
    parser.add_argument("--slippery", action=argparse.BooleanOptionalAction,
                        default=c.slippery, help="the slippery lake (moves go astray 2/3 "
                                                  "of the time)")
    parser.add_argument("--map", default=c.map, choices=["4x4", "8x8"], help="the lake")
    parser.add_argument("--episodes", type=cli.positive_int, default=None,
                        help=f"training episodes (default: {DEFAULT_EPISODES}; "
                             f"{FAST_EPISODES} with --fast)")
    parser.add_argument("--alpha", type=float, default=c.alpha, help="Q-learning rate, in (0, 1]")
    parser.add_argument("--gamma", type=float, default=c.gamma, help="discount, in [0, 1]")
    parser.add_argument("--epsilon-start", type=float, default=c.epsilon_start,
                        help="exploration rate of the first episode")
    parser.add_argument("--epsilon-end", type=float, default=c.epsilon_end,
                        help="the lowest exploration rate")
    parser.add_argument("--epsilon-decay", type=float, default=c.epsilon_decay,
                        help="epsilon is multiplied by this after each episode")
    parser.add_argument("--eval-episodes", type=cli.positive_int, default=c.eval_episodes,
                        help="greedy episodes after training (100 with --fast)")
    parser.add_argument("--checkpoint-every", type=cli.positive_int,
                        default=c.checkpoint_every, help="episodes between checkpoints")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one run per seed in OUT/seed_N, and their mean and spread")
    parser.add_argument("--render", action="store_true",
                        help="write figures/agent.gif: one greedy episode")
    parser.add_check(_check_args)
    args = parser.parse_args(argv)
    return FrozenLakeConfig(
        slippery=args.slippery, map=args.map, episodes=args.episodes, alpha=args.alpha,
        gamma=args.gamma, epsilon_start=args.epsilon_start, epsilon_end=args.epsilon_end,
        epsilon_decay=args.epsilon_decay, eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every, seeds=args.seeds, render=args.render,
        **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
