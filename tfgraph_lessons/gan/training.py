"""The GAN's training loop: alternating D and G steps, progress grids, exact checkpoints.

:func:`train_steps` runs one discriminator step (a batch of real images and a
batch of G's) then one generator step (fresh noise) per training step, each
with its own optimizer, keeps moving averages of both losses and of D's
accuracy on real and on fake images for the progress bar and the history, and
every ``sample_every`` steps draws G's images for one fixed set of noise
vectors (the progress grids). :class:`Run` holds what the variables do not:
the history, the grids, the random generator and the epoch order, so
``--resume`` continues with the same batches and noise an uninterrupted run
would have drawn.
"""
import io
import time

import numpy as np
from tqdm import tqdm

from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.io import atomic_write_bytes, write_json

GRID = 64                     # samples per progress grid (8 x 8)

__all__ = ["GRID", "Run", "fixed_noise", "generate", "tile", "to_unit", "to_pixels", "save",
           "restore", "train_steps"]


def to_unit(images):
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]``: the range of G's tanh."""
    return images.astype(np.float32) / 127.5 - 1.0


def to_pixels(images):
    """``[-1, 1]`` -> uint8 ``[0, 255]``."""
    return np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def generate(sess, model, z, batch_size=500, key="sample"):
    """G's images for the rows of ``z``, in inference mode (batch norm's moving averages).

    ``key``: ``'sample'`` (the averaged generator when the run keeps one) or
    ``'fake'`` (the generator as trained at this step).
    """
    out = [sess.run(model[key], {model["z"]: z[i:i + batch_size]})
           for i in range(0, len(z), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,) + tuple(model[key].shape[1:]))


class Run:
    """What a run keeps besides the variables: history, grids, the generator's state."""

    def __init__(self, config):
        self.rng = np.random.default_rng(config.seed)
        self.history, self.snapshots, self.snapshot_steps = [], [], []
        self.untrained = None
        self.train_seconds = 0.0
        self.order, self.cursor = None, 0
        self.running = None          # moving averages of the losses and D's accuracies

    def to_state(self, step, identity):
        return {"step": step, "run": identity, "history": self.history,
                "untrained": self.untrained, "train_seconds": self.train_seconds,
                "rng": self.rng.bit_generator.state, "order": self.order,
                "cursor": self.cursor, "snapshot_steps": self.snapshot_steps,
                "running": None if self.running is None else list(self.running)}

    def load(self, state, snapshots):
        self.history, self.untrained = list(state["history"]), state.get("untrained")
        self.train_seconds = state.get("train_seconds", 0.0)
        self.rng.bit_generator.state = state["rng"]
        self.order, self.cursor = state["order"], state["cursor"]
        self.snapshot_steps = list(state["snapshot_steps"])
        self.snapshots = list(snapshots[:len(self.snapshot_steps)])
        self.running = None if state.get("running") is None else np.array(state["running"])

    def next_batch(self, images, batch_size):
        """The next ``batch_size`` training images, reshuffled each epoch with the run's rng."""
        if self.order is None or self.cursor + batch_size > len(self.order):
            self.order = self.rng.permutation(len(images)).tolist()
            self.cursor = 0
        index = self.order[self.cursor:self.cursor + batch_size]
        self.cursor += batch_size
        return images[index]


def fixed_noise(config, count=GRID, stream=0):
    """The same noise vectors every time (for the progress grids and interpolations)."""
    return np.random.default_rng([config.seed, 7919, stream]).standard_normal(
        (count, config.latent_size)).astype(np.float32)


def tile(images, cols=8):
    """A batch of uint8 images ``[n, h, w, c]`` -> one grid image ``[rows*h, cols*w, c]``."""
    n, h, w, c = images.shape
    rows = -(-n // cols)
    grid = np.zeros((rows * (h + 2), cols * (w + 2), c), np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * (h + 2) + 1:r * (h + 2) + 1 + h, k * (w + 2) + 1:k * (w + 2) + 1 + w] = image
    return grid


def save(sess, saver, ckpt_dir, out, run, step, identity):
    """The snapshots, the checkpoint, then the ``state.json`` that names them."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, grids=np.asarray(run.snapshots, np.uint8),
                        steps=np.asarray(run.snapshot_steps, np.int64))
    atomic_write_bytes(out / "snapshots.npz", buffer.getvalue())
    saver.save(sess, rundir.checkpoint_path(ckpt_dir, step))
    write_json(ckpt_dir / rundir.STATE_FILE, run.to_state(step, identity))


def restore(sess, saver, ckpt_dir, out, run, identity):
    """Continue from the checkpoint ``state.json`` names; the step, or None if none."""
    prefix, state = rundir.resume_point(ckpt_dir)
    if prefix is None:
        print(f"no checkpoint in {ckpt_dir}; starting from scratch")
        return None
    rundir.check_identity(state.get("run"), identity, ckpt_dir)
    if "rng" not in state or "order" not in state:
        raise UsageError(f"{ckpt_dir / rundir.STATE_FILE} does not hold this lesson's run "
                         f"state; delete {ckpt_dir} to start over, or use another --out")
    grids = np.load(out / "snapshots.npz")["grids"] if (out / "snapshots.npz").exists() else []
    saver.restore(sess, prefix)
    run.load(state, grids)
    rundir.remove_later_checkpoints(ckpt_dir, state["step"])
    print(f"resumed from {prefix} at step {state['step']:,}")
    return state["step"]


def train_steps(sess, m, run, config, data, saver, ckpt_dir, out, identity, start, writer):
    """Alternate D and G updates from ``start`` to ``config.steps``."""
    images = data.train[0]
    noise = fixed_noise(config)
    bar = tqdm(total=config.steps, initial=start, unit="step", disable=not config.progress,
               leave=False)
    clock = time.time() - run.train_seconds
    log_every = max(1, min(50, config.steps // 30))   # about 30 points or more per curve
    for step in range(start + 1, config.steps + 1):
        real = to_unit(run.next_batch(images, config.batch_size))
        z = run.rng.standard_normal((config.batch_size, config.latent_size)).astype(np.float32)
        d_loss, acc_real, acc_fake, _ = sess.run(
            [m["d_loss"], m["d_real_accuracy"], m["d_fake_accuracy"], m["d_train"]],
            {m["real"]: real, m["z"]: z, m["is_training"]: True})
        z = run.rng.standard_normal((config.batch_size, config.latent_size)).astype(np.float32)
        g_loss, _ = sess.run([m["g_loss"], m["g_train"]], {m["z"]: z, m["is_training"]: True})
        now = np.array([d_loss, g_loss, acc_real, acc_fake])
        run.running = now if run.running is None else 0.95 * run.running + 0.05 * now
        running = run.running
        bar.update(1)
        bar.set_postfix(d_loss=f"{running[0]:.3f}", g_loss=f"{running[1]:.3f}",
                        d_acc_real=f"{running[2]:.2f}", d_acc_fake=f"{running[3]:.2f}")
        if step % config.sample_every == 0:   # the same steps whether resumed or not
            run.snapshots.append(tile(to_pixels(generate(sess, m, noise))))
            run.snapshot_steps.append(step)
        if step % log_every == 0 or step == config.steps:   # smoothed: one batch is noisy
            entry = {"step": step, **{k: float(v) for k, v in zip(
                ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"), running)}}
            run.history.append(entry)
            for key in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"):
                writer.add_summary(tf1.Summary(value=[tf1.Summary.Value(
                    tag=key, simple_value=entry[key])]), step)
        if step % config.checkpoint_every == 0 or step == config.steps:
            run.train_seconds = time.time() - clock
            save(sess, saver, ckpt_dir, out, run, step, identity)
    run.train_seconds = time.time() - clock
    bar.close()
