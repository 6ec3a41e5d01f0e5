"""RL chapter: DQN, REINFORCE with a baseline and A2C on CartPole-v1, as TF1 graphs.

    python -m tfgraph_lessons.rl_cartpole [--algo dqn|reinforce|a2c] [--env CartPole-v1]
        [--steps N] [--seeds 0 1 2] [--render] [algorithm options] [shared lesson options]

A pole stands on a cart; pushing the cart left or right (two actions) earns +1
for every step the pole stays up, up to 500. The agent sees four numbers
(cart position and velocity, pole angle and angular velocity). Three ways to
learn it, each one graph from :mod:`tfgraph_lessons.rl.agents` and one loop
from :mod:`tfgraph_lessons.rl.learners`:

* ``dqn`` (Mnih et al. 2015): a Q-network ``Q(s, .)`` regressed with the Huber
  loss onto ``r + gamma * max_a' Q_target(s', a')``, from minibatches of an
  experience-replay buffer, with a target network synced by assign ops and
  (``--double``, the default) Double DQN's target;
* ``reinforce`` (Williams 1992): a softmax policy pushed towards the actions
  of each whole episode in proportion to the return that followed them, minus a
  learned baseline ``V(s)``;
* ``a2c`` (Mnih et al. 2016): the same actor and critic, learning every
  ``--n-steps`` steps from ``--n-envs`` environments at once, with returns
  bootstrapped from ``V``.

The length is counted in environment steps (``--steps``; ``--epochs`` has no
meaning here). Every ``--check-every`` steps the greedy policy (the best
action, no exploration) plays ``--check-episodes`` (50) episodes; the run keeps
the weights of the best such check and, by default, stops once two checks in a
row (``--solved-checks``) reach the environment's threshold
(``--no-stop-when-solved`` trains the whole budget). After training, those weights play ``--eval-episodes`` (100) new
greedy episodes from their own seeds: ``eval_mean_return``, the figure the
chapter reports (at least 475 solves CartPole-v1).

``--env`` takes any gymnasium environment with discrete actions and a vector
observation (Acrobot-v1, MountainCar-v0; LunarLander-v3 with Box2D installed).
``--seeds 0 1 2`` trains one run per seed in ``OUT/seed_N`` and draws their
mean and spread. ``--render`` writes ``figures/agent.gif``: one greedy episode.

Writes ``runs/rl_cartpole/<env>_<algo>`` (``_fast`` in fast mode):
``metrics.json`` (``returns``, ``final_mean_return``, ``eval_mean_return``,
``solved_at_step``, ``check_solved_at_step``, ``env_steps``, ``wall_seconds``,
``history``), ``figures/learning_curve.png``, ``checkpoints/`` (``Saver``
files, ``state.json``, the learner's environments and replay buffer, the best
weights) and ``logs/train`` (TensorBoard: returns and greedy checks).
"""
import argparse
import dataclasses
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core import cli, plots, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.rl import agents, learners, report
from tfgraph_lessons.rl.training import SEED_STREAM, Run, eval_envs, restore, train_loop
from tfgraph_lessons.rl.envs import describe, make_env
from tfgraph_lessons.rl.schedules import LinearSchedule

LESSON = "rl_cartpole"
ALGOS = ("dqn", "reinforce", "a2c")
FAST_STEPS = 3000
# The per-algorithm defaults, measured on CartPole-v1 (README, "rl_cartpole"): the
# budget is an upper bound, a run stops once a greedy check solves the environment.
DEFAULTS = {
    "dqn": {"steps": 100_000, "hidden": (256, 256), "lr": 2.3e-3, "batch_size": 64},
    "reinforce": {"steps": 300_000, "hidden": (64, 64), "lr": 2e-3, "batch_size": None},
    "a2c": {"steps": 300_000, "hidden": (64, 64), "lr": 1e-3, "batch_size": None},
}


@dataclass
class CartPoleConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them. None: the algorithm's
    default from :data:`DEFAULTS`."""

    algo: str = "dqn"
    env: str = "CartPole-v1"
    steps: int = None             # environment steps (the budget)
    hidden: tuple = None          # hidden layer sizes
    lr: float = None              # Adam's learning rate (the policy's for reinforce/a2c)
    gamma: float = 0.99
    batch_size: int = None        # DQN's minibatch
    # DQN
    double: bool = True
    target_update: str = "hard"   # hard (copy every --target-every updates) or polyak
    target_every: int = 128
    tau: float = 0.005
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    train_every: int = 256        # env steps between training phases...
    gradient_steps: int = 128     # ...of this many updates
    epsilon_start: float = 1.0
    epsilon_end: float = 0.04
    epsilon_steps: int = 8_000    # linear from start to end over this many env steps
    # REINFORCE and A2C
    value_lr: float = None        # the critic's learning rate (None: = lr)
    entropy_coef: float = 0.0
    episodes_per_update: int = 8  # REINFORCE
    n_envs: int = 8               # A2C
    n_steps: int = 8              # A2C
    # checks, evaluation, outputs
    check_every: int = 5_000      # env steps between greedy checks
    check_episodes: int = 50
    solved_checks: int = 2        # this many checks in a row at the threshold: solved
    stop_when_solved: bool = True
    eval_episodes: int = 100
    checkpoint_every: int = 10_000
    seeds: list = None            # --seeds: one run per seed
    render: bool = False
    progress: bool = True


# --------------------------------------------------------------------------- building


def make_learner(config, info, rng):
    """The algorithm's graph (in the current graph) and its learner."""
    size, actions = info["observations"][0], info["actions"]
    if config.algo == "dqn":
        model = agents.build_dqn(size, actions, hidden=config.hidden, lr=config.lr,
                                 gamma=config.gamma, double=config.double,
                                 target_update=config.target_update, tau=config.tau)
        env = make_env(config.env, seed=config.seed)
        learner = learners.DQNLearner(
            model, env, rng, buffer_size=config.buffer_size, batch_size=config.batch_size,
            learning_starts=config.learning_starts, train_every=config.train_every,
            gradient_steps=config.gradient_steps, target_every=config.target_every,
            hard_target=config.target_update == "hard",
            epsilon=LinearSchedule(config.epsilon_start, config.epsilon_end,
                                   config.epsilon_steps))
        return model, learner, model["online_vars"]
    model = agents.build_policy_gradient(size, actions, hidden=config.hidden, lr=config.lr,
                                         value_lr=config.value_lr or config.lr,
                                         entropy_coef=config.entropy_coef)
    if config.algo == "reinforce":
        learner = learners.ReinforceLearner(model, make_env(config.env, seed=config.seed),
                                            rng, gamma=config.gamma,
                                            episodes_per_update=config.episodes_per_update)
    else:
        envs = [make_env(config.env, seed=config.seed * 1000 + i) for i in range(config.n_envs)]
        learner = learners.A2CLearner(model, envs, rng, gamma=config.gamma,
                                      n_steps=config.n_steps)
    return model, learner, model["variables"]


def run_identity(config):
    """What makes a checkpoint belong to this run (``--resume`` refuses another)."""
    keep = ("algo", "env", "seed", "hidden", "lr", "gamma", "batch_size", "double",
            "target_update", "target_every", "tau", "buffer_size", "learning_starts",
            "train_every", "gradient_steps", "epsilon_start", "epsilon_end", "epsilon_steps",
            "value_lr", "entropy_coef", "episodes_per_update", "n_envs", "n_steps")
    return {"lesson": LESSON, **{k: getattr(config, k) for k in keep}}


def train(config, out):
    """Train, evaluate greedily, write metrics and figures; returns the metrics dict."""
    wall_start = time.time()
    # small networks fed one observation at a time: "auto" keeps them on the CPU,
    # where a step costs less than a transfer to a GPU; --device gpu still can
    device = ("/CPU:0" if config.device == "auto" else
              resolve_device(config.device, soft_placement=config.soft_placement))
    probe = make_env(config.env)
    info = describe(probe)
    probe.close()
    identity = run_identity(config)
    ckpt_dir = out / "checkpoints"
    rng = np.random.default_rng(config.seed)
    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model, learner, variables = make_learner(config, info, rng)
        saver = tf1.train.Saver(max_to_keep=3, save_relative_paths=True)
        init = tf1.global_variables_initializer()
        graph.finalize()
    run = Run()
    with tf1.Session(graph=graph, config=session_config(**cli.session_options(config))) as sess:
        resumed = config.resume and restore(sess, saver, ckpt_dir, run, learner, identity)
        if not resumed:
            sess.run(init)
            if config.algo == "dqn":
                sess.run(model["copy"])   # the target network starts as the online one
        # made after the checks above, so a refused --resume writes nothing; a pid and a
        # random suffix, so a resume in the same second does not truncate the first file
        writer = tf1.summary.FileWriter(str(out / "logs" / "train"),
                                        filename_suffix=f".{os.getpid()}.{uuid.uuid4().hex[:8]}")
        if resumed:   # TensorBoard then drops what a killed run logged after its checkpoint
            writer.add_session_log(tf1.SessionLog(status=tf1.SessionLog.START),
                                   learner.env_steps)
        train_loop(sess, learner, saver, run, config, ckpt_dir, identity, variables,
                   info["reward_threshold"], writer)
        writer.close()
        if run.best_weights is not None:   # evaluate the best greedy check's weights
            for var, value in zip(variables, run.best_weights):
                var.load(value, sess)
        envs = eval_envs(config, config.eval_episodes, stream=1)
        eval_returns = learners.evaluate_greedy(lambda obs: learner.greedy(sess, obs), envs)
        gif = None
        if config.render:
            gif = render(config, lambda obs: learner.greedy(sess, np.asarray(obs,
                                                                             np.float32)[None])[0],
                         out / "figures" / "agent.gif")
    return write_report(config, out, run, learner, eval_returns, info, device, wall_start, gif)


def render(config, policy, path):
    """One greedy episode as a GIF (every 2nd frame, at most 250)."""
    try:
        env = make_env(config.env, seed=SEED_STREAM * 9 + config.seed, render_mode="rgb_array")
        frames, total = report.record_episode(policy, env, max_frames=250, every=2)
        env.close()
    except ImportError as e:   # gymnasium's DependencyNotInstalled is an ImportError
        raise DataError(f"--render needs pygame for {config.env}'s pictures: "
                        f"pip install pygame ({' '.join(str(e).split())[:80]})") from None
    plots.save_gif(frames, path)
    print(f"wrote {path} (one greedy episode, return {total:.0f})")
    return {"path": str(path), "return": total, "frames": len(frames)}


def write_report(config, out, run, learner, eval_returns, info, device, wall_start, gif):
    returns = np.asarray(run.returns, np.float64)
    threshold = info["reward_threshold"]
    metrics = {
        "lesson": LESSON, "env": config.env, "algo": config.algo, "fast": config.fast,
        "returns": returns, "episode_end_steps": run.end_steps,
        "final_mean_return": float(returns[-report.WINDOW:].mean()) if len(returns) else None,
        "eval_mean_return": float(eval_returns.mean()),
        "eval_min_return": float(eval_returns.min()),
        "eval_episodes": len(eval_returns), "reward_threshold": threshold,
        "solved_at_step": report.solved_at(returns, run.end_steps, threshold),
        "check_solved_at_step": run.check_solved_at,
        "best_check_return": None if run.best_weights is None else run.best_score,
        "env_steps": learner.env_steps, "episodes": len(returns), "updates": learner.updates,
        "train_seconds": round(run.train_seconds, 2),
        "wall_seconds": round(time.time() - wall_start, 2), "device": device,
        "history": run.history, "render": gif, "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    plots.save_figure(learning_curve_figure(run, config, threshold),
                      out / "figures" / "learning_curve.png")
    print(f"{config.algo} on {config.env}, seed {config.seed}: greedy mean return "
          f"{metrics['eval_mean_return']:.1f} over {len(eval_returns)} episodes after "
          f"{learner.env_steps:,} env steps ({metrics['wall_seconds']:.0f} s); "
          f"wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- figures


@plots.styled
def learning_curve_figure(run, config, threshold=None):
    """Training returns (faint), their 100-episode running mean, the greedy checks."""
    fig = plots._figure((7, 4))
    ax = fig.subplots()
    if run.returns:
        ax.plot(run.end_steps, run.returns, color="tab:blue", lw=0.5, alpha=0.3,
                label="episode return (training policy)")
        mean = report.running_mean(run.returns)
        ax.plot(run.end_steps[len(run.end_steps) - len(mean):], mean, color="tab:blue",
                label=f"mean of the last {min(report.WINDOW, len(run.returns))} episodes")
    if run.history:
        ax.plot([h["step"] for h in run.history], [h["greedy_mean_return"]
                                                   for h in run.history],
                "o-", color="tab:green", ms=4, label="greedy check")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold})")
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set(xlabel="environment steps", ylabel="return",
           title=f"{config.algo.upper() if config.algo != 'reinforce' else 'REINFORCE'} "
                 f"on {config.env}, seed {config.seed}")
    ax.grid(alpha=0.3)
    return fig


def seed_curves(metrics):
    """A run's curves for ``--seeds``: the running mean of its training returns and its
    greedy checks, against environment steps."""
    returns, ends = metrics["returns"], metrics["episode_end_steps"]
    mean = report.running_mean(returns)
    return {"mean return of the last 100\ntraining episodes": (ends[len(ends) - len(mean):],
                                                               mean),
            f"greedy check ({metrics['config']['check_episodes']} episodes)":
                ([h["step"] for h in metrics["history"]],
                 [h["greedy_mean_return"] for h in metrics["history"]])}


# --------------------------------------------------------------------------- entry points


def check_settings(config):
    """Check the values argparse cannot judge (also for a config built in Python)."""
    if config.algo not in ALGOS:
        raise UsageError(f"unknown --algo {config.algo!r}; use one of {', '.join(ALGOS)}")
    if config.target_update not in ("hard", "polyak"):
        raise UsageError(f"--target-update must be hard or polyak, got {config.target_update!r}")
    if config.batch_size is not None and config.algo != "dqn":
        raise UsageError("--batch-size is DQN's minibatch; REINFORCE learns from "
                         "--episodes-per-update whole episodes, A2C from --n-envs x --n-steps")
    for name in ("gamma", "tau", "epsilon_start", "epsilon_end"):
        value = getattr(config, name)
        if not 0 <= value <= 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
    for name in ("steps", "lr", "value_lr", "batch_size"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    for name in ("target_every", "buffer_size", "train_every", "gradient_steps",
                 "epsilon_steps", "episodes_per_update", "n_envs", "n_steps", "check_every",
                 "check_episodes", "solved_checks", "eval_episodes", "checkpoint_every"):
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number > 0, "
                             f"got {value}")
    if config.learning_starts < 0:
        raise UsageError(f"--learning-starts must be >= 0, got {config.learning_starts}")
    if config.entropy_coef < 0:
        raise UsageError(f"--entropy-coef must be >= 0, got {config.entropy_coef}")
    if config.hidden is not None and (not config.hidden or min(config.hidden) <= 0):
        raise UsageError(f"--hidden needs one or more sizes > 0, got {config.hidden}")
    if config.seeds is not None and len(set(config.seeds)) != len(config.seeds):
        raise UsageError(f"--seeds has a seed twice: {config.seeds}")


def resolve_config(config):
    """Fill the algorithm's defaults, apply fast mode; check every setting."""
    check_settings(config)
    defaults = DEFAULTS[config.algo]
    fill = {k: v for k, v in defaults.items() if getattr(config, k) is None}
    if config.fast:   # an explicit --steps still wins over fast mode's length
        if config.steps is None:
            fill["steps"] = FAST_STEPS
        if config.check_every == CartPoleConfig.check_every:
            fill["check_every"] = 1000
        if config.check_episodes == CartPoleConfig.check_episodes:
            fill["check_episodes"] = 10
        if config.eval_episodes == CartPoleConfig.eval_episodes:
            fill["eval_episodes"] = 10
        if config.learning_starts == CartPoleConfig.learning_starts:
            fill["learning_starts"] = 500
    config = dataclasses.replace(config, **fill)
    if config.hidden is not None:
        config = dataclasses.replace(config, hidden=tuple(int(h) for h in config.hidden))
    if config.algo == "dqn" and config.batch_size > config.buffer_size:
        raise UsageError(f"--batch-size {config.batch_size} is larger than --buffer-size "
                         f"{config.buffer_size}")
    return config


def default_out(config):
    return cli.default_out(LESSON, config.env.replace("/", "_"), config.algo, fast=config.fast)


def run_one(config):
    """One seed: prepare its folder, train, evaluate; returns the metrics dict."""
    out = Path(config.out or default_out(config))
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite)
    return train(config, out)


def run(config):
    """Train and evaluate (one run per seed with ``seeds``); returns the metrics dict."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    probe = make_env(config.env)   # an unusable --env fails here, before any folder is made
    threshold = describe(probe)["reward_threshold"]
    probe.close()
    resolve_device(config.device, notice=lambda msg: None, soft_placement=config.soft_placement)
    if config.fast:
        cli.announce_fast(config, f"{config.steps:,} environment steps, "
                                  f"{config.eval_episodes} evaluation episodes; writes to {out}")
    if not config.seeds:
        return run_one(dataclasses.replace(config, out=str(out)))
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=[f"seed_{s}" for s in config.seeds])
    summary = report.run_seeds(
        run_one, config, config.seeds, out,
        ["eval_mean_return", "final_mean_return", "solved_at_step", "check_solved_at_step",
         "env_steps", "train_seconds"],
        seed_curves, "environment steps",
        f"{config.algo} on {config.env}: {len(config.seeds)} seeds",
        threshold)
    spread = summary["over_seeds"].get("eval_mean_return", {})
    print(f"{config.algo} on {config.env}, seeds {config.seeds}: greedy mean return "
          f"{spread.get('mean', float('nan')):.1f} (min {spread.get('min', float('nan')):.1f}) "
          f"over seeds; wrote {out / 'metrics.json'}")
    return summary


def _check_args(args):
    if args.epochs is not None:
        return ("--epochs has no meaning in reinforcement learning (there is no training "
                "set); give the length as --steps N environment steps")
    if args.steps is not None and args.steps <= 0:
        return f"--steps must be > 0, got {args.steps}"
    return None


def parse_config(argv=None):
    """The command line -> a :class:`CartPoleConfig`."""
    c = CartPoleConfig
    budgets = ", ".join(f"{a} {d['steps']:,}" for a, d in DEFAULTS.items())
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=None, length_unit="steps",
                               default_length=f"environment steps, at most: {budgets}; "
                                              f"{FAST_STEPS:,} with --fast")
    parser.add_argument("--algo", default=c.algo, choices=ALGOS, help="the algorithm")
    parser.add_argument("--env", default=c.env,
                        help="a gymnasium id with discrete actions (CartPole-v1, Acrobot-v1, "
                             "MountainCar-v0, LunarLander-v3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one run per seed in OUT/seed_N, and their mean and spread")
    parser.add_argument("--render", action="store_true",
                        help="write figures/agent.gif: one greedy episode")
    parser.add_argument("--hidden", type=cli.positive_int, nargs="+", default=None,
                        help="hidden layer sizes (dqn: 256 256; reinforce, a2c: 64 64)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's learning rate (dqn 2.3e-3, reinforce 2e-3, a2c 1e-3)")
    parser.add_argument("--gamma", type=float, default=c.gamma, help="discount, in [0, 1]")
    g = parser.add_argument_group("DQN")
    g.add_argument("--double", action=argparse.BooleanOptionalAction, default=c.double,
                   help="Double DQN's target (the online network picks the next action)")
    g.add_argument("--target-update", default=c.target_update, choices=["hard", "polyak"],
                   help="copy the online network every --target-every updates, or move "
                        "the target a fraction --tau after every update")
    g.add_argument("--target-every", type=cli.positive_int, default=c.target_every,
                   help="updates between hard copies to the target network")
    g.add_argument("--tau", type=float, default=c.tau,
                   help="the Polyak fraction, in [0, 1]")
    g.add_argument("--buffer-size", type=cli.positive_int, default=c.buffer_size,
                   help="transitions the replay buffer keeps")
    g.add_argument("--learning-starts", type=int, default=c.learning_starts,
                   help="random steps before the first update")
    g.add_argument("--train-every", type=cli.positive_int, default=c.train_every,
                   help="environment steps between training phases")
    g.add_argument("--gradient-steps", type=cli.positive_int, default=c.gradient_steps,
                   help="updates per training phase")
    g.add_argument("--epsilon-start", type=float, default=c.epsilon_start,
                   help="exploration rate at the first step")
    g.add_argument("--epsilon-end", type=float, default=c.epsilon_end,
                   help="exploration rate after --epsilon-steps")
    g.add_argument("--epsilon-steps", type=cli.positive_int, default=c.epsilon_steps,
                   help="environment steps of the linear decay")
    g = parser.add_argument_group("REINFORCE and A2C")
    g.add_argument("--value-lr", type=float, default=None,
                   help="the critic's learning rate (default: --lr)")
    g.add_argument("--entropy-coef", type=float, default=c.entropy_coef,
                   help="weight of the policy's entropy bonus")
    g.add_argument("--episodes-per-update", type=cli.positive_int,
                   default=c.episodes_per_update, help="REINFORCE: episodes per update")
    g.add_argument("--n-envs", type=cli.positive_int, default=c.n_envs,
                   help="A2C: environments stepped together")
    g.add_argument("--n-steps", type=cli.positive_int, default=c.n_steps,
                   help="A2C: steps per environment before each update")
    g = parser.add_argument_group("checks and evaluation")
    g.add_argument("--check-every", type=cli.positive_int, default=c.check_every,
                   help="environment steps between greedy checks (1,000 with --fast)")
    g.add_argument("--check-episodes", type=cli.positive_int, default=c.check_episodes,
                   help="greedy episodes per check (10 with --fast)")
    g.add_argument("--solved-checks", type=cli.positive_int, default=c.solved_checks,
                   help="checks in a row at the environment's threshold that count as solved")
    g.add_argument("--stop-when-solved", action=argparse.BooleanOptionalAction, default=c.stop_when_solved,
                   help="stop once --solved-checks greedy checks in a row reach the "
                        "environment's threshold")
    g.add_argument("--eval-episodes", type=cli.positive_int, default=c.eval_episodes,
                   help="greedy episodes after training (10 with --fast)")
    g.add_argument("--checkpoint-every", type=cli.positive_int, default=c.checkpoint_every,
                   help="environment steps between checkpoints")
    parser.add_check(_check_args)
    args = parser.parse_args(argv)
    shared = cli.shared_settings(args)
    return CartPoleConfig(
        algo=args.algo, env=args.env, steps=args.steps, hidden=args.hidden, lr=args.lr,
        gamma=args.gamma, batch_size=args.batch_size, double=args.double,
        target_update=args.target_update, target_every=args.target_every, tau=args.tau,
        buffer_size=args.buffer_size, learning_starts=args.learning_starts,
        train_every=args.train_every, gradient_steps=args.gradient_steps,
        epsilon_start=args.epsilon_start, epsilon_end=args.epsilon_end,
        epsilon_steps=args.epsilon_steps, value_lr=args.value_lr,
        entropy_coef=args.entropy_coef, episodes_per_update=args.episodes_per_update,
        n_envs=args.n_envs, n_steps=args.n_steps, check_every=args.check_every,
        check_episodes=args.check_episodes, solved_checks=args.solved_checks,
        stop_when_solved=args.stop_when_solved,
        eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
        seeds=args.seeds, render=args.render, **shared)


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
