"""The loop that drives a deep RL learner: greedy checks, the best weights, checkpoints.

:func:`train_loop` iterates a learner of :mod:`tfgraph_lessons.rl.learners`
until its budget of environment steps is spent or the task is solved. Every
``check_every`` steps the greedy policy plays ``check_episodes`` episodes in
fresh environments (seeded away from the training ones); the weights of the
best check are kept, and ``solved_checks`` checks in a row at the
environment's threshold stop the run (with ``stop_when_solved``). Every
``checkpoint_every`` steps it writes, in this order, the learner's state (its
environments mid-episode, its generator, DQN's replay buffer) with the best
weights, the ``Saver`` checkpoint, and the ``state.json`` that names them, so
a run killed anywhere resumes from the last complete checkpoint, exactly.
"""
import pickle
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.io import atomic_write_bytes, write_json
from tfgraph_lessons.rl import learners, report
from tfgraph_lessons.rl.envs import make_env

SEED_STREAM = 1_000_003   # evaluation environments are seeded away from training ones

__all__ = ["Run", "save", "restore", "train_loop", "eval_envs", "SEED_STREAM"]


def eval_envs(config, count, stream):
    """``count`` environments seeded from their own stream (never the training seeds)."""
    base = SEED_STREAM * stream + config.seed * 10_000
    return [make_env(config.env, seed=base + i) for i in range(count)]


class Run:
    """The bookkeeping of one run: episodes, greedy checks, the best weights."""

    def __init__(self):
        self.returns, self.end_steps, self.history = [], [], []
        self.best_score, self.best_weights = -np.inf, None
        self.check_solved_at = None
        self.train_seconds = 0.0

    def to_state(self, step, identity):
        return {"step": step, "run": identity, "returns": self.returns,
                "end_steps": self.end_steps, "history": self.history,
                "best_score": None if self.best_weights is None else self.best_score,
                "check_solved_at": self.check_solved_at,
                "train_seconds": self.train_seconds}

    def load(self, state):
        self.returns, self.end_steps = list(state["returns"]), list(state["end_steps"])
        self.history = list(state["history"])
        if state.get("best_score") is not None:
            self.best_score = state["best_score"]
        self.check_solved_at = state.get("check_solved_at")
        self.train_seconds = state.get("train_seconds", 0.0)


def _learner_file(ckpt_dir, step):
    return Path(ckpt_dir) / f"learner-{int(step)}.pkl"


def save(sess, saver, ckpt_dir, run, learner, identity):
    """The learner's state, the best weights and the Saver checkpoint, then the
    ``state.json`` that names them (a kill before it resumes from the previous one)."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    step = learner.env_steps
    atomic_write_bytes(_learner_file(ckpt_dir, step), pickle.dumps(
        {"learner": learner.state(), "best_weights": run.best_weights}))
    saver.save(sess, rundir.checkpoint_path(ckpt_dir, step))
    write_json(ckpt_dir / rundir.STATE_FILE, run.to_state(step, identity))
    kept = set(rundir.checkpoints_on_disk(ckpt_dir))
    for path in ckpt_dir.glob("learner-*.pkl"):   # the Saver keeps 3; so do we
        if int(path.stem.split("-")[1]) not in kept:
            path.unlink()


def restore(sess, saver, ckpt_dir, run, learner, identity):
    """Continue from the checkpoint ``state.json`` names; False if there is none."""
    prefix, state = rundir.resume_point(ckpt_dir)
    if prefix is None:
        print(f"no checkpoint in {ckpt_dir}; starting from scratch")
        return False
    rundir.check_identity(state.get("run"), identity, ckpt_dir)
    path = _learner_file(ckpt_dir, state["step"])
    try:
        saved = pickle.loads(path.read_bytes())
        learner_state = saved["learner"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as e:
        raise UsageError(f"{path} cannot be read ({type(e).__name__}); delete {ckpt_dir} "
                         "to start over, or use another --out") from None
    saver.restore(sess, prefix)
    learner.load_state(learner_state)
    run.load(state)
    run.best_weights = saved.get("best_weights")
    rundir.remove_later_checkpoints(ckpt_dir, state["step"])
    for later in ckpt_dir.glob("learner-*.pkl"):
        if int(later.stem.split("-")[1]) > state["step"]:
            later.unlink()
    print(f"resumed from {prefix} at environment step {state['step']:,}")
    return True


def greedy_check(sess, learner, config, index):
    """``check_episodes`` greedy episodes, each from a fresh seed of the check stream."""
    envs = eval_envs(config, config.check_episodes, stream=2 + index)
    returns = learners.evaluate_greedy(lambda obs: learner.greedy(sess, obs), envs)
    for env in envs:
        env.close()
    return returns


def train_loop(sess, learner, saver, run, config, ckpt_dir, identity, variables, threshold,
               writer):
    """Iterate the learner until the budget is spent or a greedy check solves the task."""
    bar = tqdm(total=config.steps, initial=learner.env_steps, unit="step",
               disable=not config.progress, leave=False)
    start = time.time() - run.train_seconds
    next_check = (learner.env_steps // config.check_every + 1) * config.check_every
    next_save = (learner.env_steps // config.checkpoint_every + 1) * config.checkpoint_every
    solved = run.check_solved_at is not None and config.stop_when_solved
    while learner.env_steps < config.steps and not solved:
        before = learner.env_steps
        for total, end in learner.iterate(sess):
            run.returns.append(total)
            run.end_steps.append(end)
            writer.add_summary(_scalar("episode_return", total), end)
        bar.update(learner.env_steps - before)
        if run.returns:
            bar.set_postfix(mean_return_100=f"{np.mean(run.returns[-report.WINDOW:]):.1f}",
                            episodes=len(run.returns), **{
                                k: f"{v:.3f}" for k, v in learner.exploration().items()})
        last = learner.env_steps >= config.steps
        if learner.env_steps >= next_check or last:
            next_check += config.check_every
            checks = greedy_check(sess, learner, config, len(run.history))
            score = float(checks.mean())
            run.train_seconds = time.time() - start
            run.history.append({
                "step": learner.env_steps, "episodes": len(run.returns),
                "greedy_mean_return": score, "greedy_min_return": float(checks.min()),
                "mean_return_100": float(np.mean(run.returns[-report.WINDOW:]))
                if run.returns else None,
                "updates": learner.updates, "wall_seconds": round(run.train_seconds, 2),
                **learner.exploration()})
            writer.add_summary(_scalar("greedy_check_return", score), learner.env_steps)
            if score >= run.best_score:   # ties: the later weights have seen more
                run.best_score = score
                run.best_weights = sess.run(variables)
            recent = [h["greedy_mean_return"] for h in run.history[-config.solved_checks:]]
            if (threshold is not None and run.check_solved_at is None
                    and len(recent) == config.solved_checks and min(recent) >= threshold):
                run.check_solved_at = learner.env_steps
                solved = config.stop_when_solved
        if learner.env_steps >= next_save or last or solved:
            next_save = (learner.env_steps // config.checkpoint_every + 1) * \
                config.checkpoint_every
            run.train_seconds = time.time() - start
            save(sess, saver, ckpt_dir, run, learner, identity)
    run.train_seconds = time.time() - start
    writer.flush()
    bar.close()


def _scalar(tag, value):
    return tf1.Summary(value=[tf1.Summary.Value(tag=tag, simple_value=float(value))])
