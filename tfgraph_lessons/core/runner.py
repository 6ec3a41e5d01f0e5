"""The Session runner every lesson trains with.

The slides' mechanism, end to end: the lesson draws the graph
(``build_graph(config) -> dict``), then :class:`Trainer` makes the session,
feeds shuffled mini-batches through the placeholders epoch after epoch,
validates after each epoch, and writes what a run leaves behind::

    OUT/logs/train, OUT/logs/val    TensorBoard events (scalars, histograms, the graph)
    OUT/checkpoints/                Saver checkpoints + state.json (history so far)

A model is a dict of named tensors (Sonnet's ``build_graph`` convention) with at
least ``images``, ``labels`` (placeholders), ``loss``, ``train_op`` and
``global_step``; optionally ``accuracy``, ``is_training`` (a boolean
placeholder fed True in training steps), ``logits`` and ``summary`` (the
lesson's own merged summaries, written every ``summary_steps`` steps instead of
the loss/accuracy scalars).

Usage::

    with new_graph(seed=0) as g:
        model = build_graph(config)
        with Trainer(g, model, out_dir, resume=True) as trainer:
            history = trainer.fit(train, val, epochs=10, batch_size=128)
            test = trainer.evaluate(test_images, test_labels)

A run killed at any moment resumes with ``resume=True`` from its last
checkpoint: the shuffling order and augmentation of every step are derived
from ``(seed, epoch)`` and ``(seed, step)``, so the resumed run sees the same
batches the uninterrupted one would have.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfgraph_lessons.core.device import session_config as make_session_config
from tfgraph_lessons.core.device import traced_run
from tfgraph_lessons.core.errors import TrainingError, UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core.io import read_json, write_json

REQUIRED_KEYS = ("images", "labels", "loss", "train_op", "global_step")


def steps_per_epoch(num_examples, batch_size):
    """Training steps in one epoch: full batches only (at least one)."""
    return max(1, num_examples // batch_size)


def epoch_order(num_examples, seed, epoch):
    """The shuffled example order of one epoch, a pure function of ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def _check_split(name, split):
    images, labels = split
    if len(images) != len(labels):
        raise UsageError(f"{name}: {len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise UsageError(f"{name} is empty; give the run some examples")
    return np.asarray(images), np.asarray(labels)


def evaluate_in_batches(sess, fetches, images_ph, labels_ph, images, labels, batch_size=500,
                        feed_extra=None):
    """The example-weighted mean of scalar ``fetches`` (``{'loss': t, ...}``) over a split.

    Batches of ``batch_size`` are fed to the ``images_ph`` / ``labels_ph``
    placeholders (plus ``feed_extra``); a short last batch counts by its size.
    """
    images, labels = _check_split("evaluation data", (images, labels))
    totals = dict.fromkeys(fetches, 0.0)
    for start in range(0, len(images), batch_size):
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        feed = {images_ph: x, labels_ph: y, **(feed_extra or {})}
        for k, v in sess.run(fetches, feed).items():
            totals[k] += float(v) * len(x)
    return {k: v / len(images) for k, v in totals.items()}


class Trainer:
    """Owns the Session, the Saver and the summary writers of one training run.

    Args:
      graph: the ``tf.Graph`` the model was built in.
      model: dict of named tensors (see the module docstring).
      out_dir: the run's folder (``logs/`` and ``checkpoints/`` go inside).
      resume: restore the latest checkpoint in ``out_dir/checkpoints`` if there is one.
      seed: the seed of the data order and augmentation.
      config: a ``tf1.ConfigProto`` (default: :func:`~tfgraph_lessons.core.device.session_config`).
      max_to_keep: checkpoints kept on disk.
      histograms: write a histogram of every trainable variable after each epoch.
      finalize: finalize the graph once set up, so an op created by mistake
        inside the training loop raises at once instead of leaking memory.
      progress: show a progress bar (hidden when stderr is not a terminal).
      train_log_subdir: the folder of ``OUT/logs`` the training events go to
        (``''``: ``OUT/logs`` itself); validation events go to ``OUT/logs/val``.

    A model with a ``summary`` op has it written every ``summary_steps`` steps
    in place of the loss/accuracy scalars, and its summaries are not written
    again after each epoch (only the ``histograms``, if asked for).
    """

    def __init__(self, graph, model, out_dir, *, resume=False, seed=0, config=None,
                 max_to_keep=3, histograms=True, finalize=True, progress=True,
                 train_log_subdir="train"):
        missing = [k for k in REQUIRED_KEYS if k not in model]
        if missing:
            raise ValueError(f"[Trainer] model dict lacks {missing}; build_graph must return "
                             f"at least {list(REQUIRED_KEYS)}")
        self.graph, self.model, self.seed = graph, model, seed
        self.out_dir = Path(out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.log_dir = self.out_dir / "logs"
        self.progress = progress
        self.history = []
        self.train_seconds = 0.0
        self.train_images_seen = 0
        self.placement = None   # where a traced step ran (fit(trace_first_step=True))
        self.last_loss = None   # the loss of the last training step (for on_step)

        with graph.as_default():
            if "summary" in model:  # the lesson's own summaries, every summary_steps steps
                self._step_summary, epoch_summaries = model["summary"], []
            else:
                epoch_summaries = list(tf1.get_collection(tf1.GraphKeys.SUMMARIES))
                scalars = [tf1.summary.scalar("loss", model["loss"])]
                if "accuracy" in model:
                    scalars.append(tf1.summary.scalar("accuracy", model["accuracy"]))
                self._step_summary = tf1.summary.merge(scalars)
            if histograms:
                epoch_summaries += [tf1.summary.histogram("params/" + v.op.name, v)
                                    for v in tf1.trainable_variables()]
            self._epoch_summary = tf1.summary.merge(epoch_summaries) if epoch_summaries else None
            self.saver = tf1.train.Saver(max_to_keep=max_to_keep)
            init = tf1.global_variables_initializer()
            self.sess = tf1.Session(graph=graph, config=config or make_session_config())
            if finalize:
                graph.finalize()

        self.train_writer = tf1.summary.FileWriter(str(self.log_dir / train_log_subdir), graph)
        self.val_writer = tf1.summary.FileWriter(str(self.log_dir / "val"))
        self.start_step = 0
        latest = tf1.train.latest_checkpoint(str(self.ckpt_dir)) if resume else None
        if latest:
            try:
                self.saver.restore(self.sess, latest)
            except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
                self.close()
                first = str(e).strip().splitlines()[0][:160]
                raise UsageError(
                    f"the checkpoint {latest} does not fit this model ({first}); "
                    "use another --out or run without --resume") from None
            self.start_step = int(self.sess.run(model["global_step"]))
            state = read_json(self.ckpt_dir / "state.json", default={}) or {}
            self.history = [h for h in state.get("history", []) if h["step"] <= self.start_step]
            self.train_seconds = state.get("train_seconds", 0.0)
            self.train_images_seen = state.get("train_images_seen", 0)
            self._say(f"resumed from {latest} at step {self.start_step}")
        else:
            if resume:
                self._say(f"no checkpoint in {self.ckpt_dir}; starting from scratch")
            self.sess.run(init)

    # ------------------------------------------------------------------ helpers

    def _say(self, msg):
        tqdm.write(msg, file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for w in (getattr(self, "train_writer", None), getattr(self, "val_writer", None)):
            if w is not None:
                w.close()
        if getattr(self, "sess", None) is not None:
            self.sess.close()
            self.sess = None

    @property
    def step(self):
        return int(self.sess.run(self.model["global_step"]))

    def save(self, step):
        """Write a checkpoint, then the run state that goes with it."""
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        path = self.saver.save(self.sess, str(self.ckpt_dir / "model.ckpt"), global_step=step)
        write_json(self.ckpt_dir / "state.json", {
            "step": step, "history": self.history, "train_seconds": self.train_seconds,
            "train_images_seen": self.train_images_seen})
        return path

    def checkpoint(self):
        """The path of a checkpoint of the current step: the latest one if it is of
        this step, else one written now."""
        step = self.step
        latest = tf1.train.latest_checkpoint(str(self.ckpt_dir))
        if latest and latest.endswith(f"-{step}"):
            return latest
        return self.save(step)

    def _feed(self, images, labels, training, extra=None):
        feed = {self.model["images"]: images, self.model["labels"]: labels}
        if training and "is_training" in self.model:
            feed[self.model["is_training"]] = True
        if extra:
            feed.update(extra)
        return feed

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, images, labels, batch_size=500, feed_extra=None):
        """Loss and accuracy over a whole split, in inference mode (no dropout).

        Returns ``{'loss': float, 'accuracy': float}`` averaged over examples.
        """
        fetches = {"loss": self.model["loss"]}
        if "accuracy" in self.model:
            fetches["accuracy"] = self.model["accuracy"]
        return evaluate_in_batches(self.sess, fetches, self.model["images"], self.model["labels"],
                                   images, labels, batch_size, feed_extra)

    def predict(self, images, fetch="logits", batch_size=500, feed_extra=None):
        """Run ``model[fetch]`` over ``images`` in batches and concatenate the results."""
        outs = []
        for start in range(0, len(images), batch_size):
            feed = {self.model["images"]: images[start:start + batch_size]}
            feed.update(feed_extra or {})
            outs.append(self.sess.run(self.model[fetch], feed))
        return np.concatenate(outs)

    # ------------------------------------------------------------------ training

    def fit(self, train, val=None, *, epochs=None, steps=None, batch_size=128, batch_fn=None,
            feed_extra=None, checkpoint_steps=None, summary_steps=50, eval_batch_size=500,
            train_eval_size=0, on_epoch_end=None, on_step=None, warmup_steps=0,
            trace_first_step=False):
        """Train until ``steps`` global steps, or ``epochs`` epochs, have run in total.

        Args:
          train: ``(images, labels)`` NumPy arrays of the training split.
          val: ``(images, labels)`` evaluated after every epoch, or None.
          epochs / steps: the run's length (give one); counted from step 0, so a
            resumed run stops where the uninterrupted one would have.
          batch_size: examples per training step.
          batch_fn: ``fn(images, labels, rng) -> (images, labels)`` applied to each
            training batch (augmentation); ``rng`` is seeded by ``(seed, step)``.
          feed_extra: more feeds for training steps (e.g. a ``keep_prob`` placeholder).
          checkpoint_steps: also checkpoint every this many steps (always after
            each epoch and at the end).
          summary_steps: write the loss/accuracy scalars every this many steps.
          train_eval_size: if > 0, also evaluate this many training examples in
            inference mode after each epoch (``train_eval_accuracy``): the honest
            training accuracy, without dropout, that the overfitting lesson compares.
          on_epoch_end: ``fn(trainer, entry)`` called at the end of each epoch, before
            the entry is printed and recorded: it may add numbers to ``entry``.
          on_step: ``fn(trainer, step)`` called after every training step (``step``
            counts the steps done, from 1; ``trainer.last_loss`` is its loss); keep it cheap.
          warmup_steps: the first this many steps of this call are left out of
            :attr:`images_per_second` (graph optimisation, allocator and caches warming up).
          trace_first_step: run the first step of this call with a full trace
            (:func:`~tfgraph_lessons.core.device.traced_run`) and keep where each op
            ran in ``trainer.placement``; that step is left out of
            :attr:`images_per_second` too (on top of ``warmup_steps``).
        Returns:
          the history: one dict per epoch (``epoch``, ``step``, ``train_loss``,
          ``train_accuracy`` (running mean over the epoch's batches, dropout on),
          ``val_loss``, ``val_accuracy``, ``images_per_second``, ``wall_seconds``).
        """
        images, labels = _check_split("training data", train)
        if val is not None:
            val = _check_split("validation data", val)
        if (epochs is None) == (steps is None):
            raise UsageError("give the run a length: epochs or steps (one of them)")
        if (epochs is not None and epochs < 0) or (steps is not None and steps < 0):
            raise UsageError("epochs and steps must be >= 0")
        if batch_size <= 0:
            raise UsageError(f"batch size must be positive, got {batch_size}")
        n = len(images)
        spe = steps_per_epoch(n, batch_size)
        total = steps if steps is not None else epochs * spe
        self.steps_per_epoch, self.total_steps = spe, total
        step = self.start_step
        fetches = {"train_op": self.model["train_op"], "loss": self.model["loss"]}
        if "accuracy" in self.model:
            fetches["accuracy"] = self.model["accuracy"]
        last_saved = step
        first_step = step
        untimed = step + warmup_steps + (1 if trace_first_step else 0)  # first timed step

        bar = tqdm(total=total, initial=min(step, total), unit="step", dynamic_ncols=True,
                   disable=None if self.progress else True, file=sys.stderr)
        run_start = time.time()
        try:
            while step < total:
                epoch = step // spe
                order = epoch_order(n, self.seed, epoch)
                sums = {"loss": 0.0, "accuracy": 0.0, "count": 0}
                epoch_start = time.time()
                epoch_images = 0
                bar.set_description(f"epoch {epoch + 1}/{math.ceil(total / spe)}")
                while step < total and step // spe == epoch:
                    i = step % spe
                    idx = order[i * batch_size:(i + 1) * batch_size]
                    x, y = images[idx], labels[idx]
                    if batch_fn is not None:
                        x, y = batch_fn(x, y, np.random.default_rng([self.seed, step]))
                    feed = self._feed(x, y, True, feed_extra)
                    run = dict(fetches)
                    if summary_steps and step % summary_steps == 0:
                        run["summary"] = self._step_summary
                    if trace_first_step and step == first_step:
                        out, self.placement = traced_run(self.sess, run, feed)
                    else:
                        t0 = time.perf_counter()
                        out = self.sess.run(run, feed)
                        if step >= untimed:
                            self.train_seconds += time.perf_counter() - t0
                            self.train_images_seen += len(x)
                    epoch_images += len(x)
                    loss = float(out["loss"])
                    if not math.isfinite(loss):
                        ckpt = tf1.train.latest_checkpoint(str(self.ckpt_dir))
                        kept = f"the last good checkpoint {ckpt} is kept" if ckpt else \
                            "no checkpoint was written yet"
                        raise TrainingError(
                            f"the loss became {loss} at step {step} (epoch {epoch + 1}); "
                            f"stopped, {kept}; lower the learning rate or check the input scaling")
                    step += 1
                    self.last_loss = loss
                    if "summary" in out:
                        self.train_writer.add_summary(out["summary"], step)
                    sums["loss"] += loss
                    sums["accuracy"] += float(out.get("accuracy", 0.0))
                    sums["count"] += 1
                    bar.update(1)
                    if i % 10 == 0:
                        bar.set_postfix(loss=f"{loss:.3f}")
                    if on_step is not None:
                        on_step(self, step)
                    if checkpoint_steps and step % checkpoint_steps == 0 and step < total:
                        self.save(step)
                        last_saved = step
                # ---- end of an epoch (or of the run)
                entry = {"epoch": epoch + 1, "step": step,
                         "train_loss": sums["loss"] / max(1, sums["count"])}
                if "accuracy" in fetches:
                    entry["train_accuracy"] = sums["accuracy"] / max(1, sums["count"])
                dt = time.time() - epoch_start
                if train_eval_size:
                    sub = order[:train_eval_size]
                    ev = self.evaluate(images[sub], labels[sub], eval_batch_size)
                    entry.update({f"train_eval_{k}": v for k, v in ev.items()})
                if val is not None:
                    ev = self.evaluate(*val, batch_size=eval_batch_size)
                    entry.update({f"val_{k}": v for k, v in ev.items()})
                    self._write_scalars(self.val_writer, step, ev)
                entry["images_per_second"] = epoch_images / dt if dt > 0 else None
                if on_epoch_end is not None:
                    on_epoch_end(self, entry)
                entry["wall_seconds"] = round(time.time() - run_start, 3)
                self.history.append(entry)
                if self._epoch_summary is not None:
                    self.train_writer.add_summary(self.sess.run(self._epoch_summary, feed), step)
                self.train_writer.flush()
                self.val_writer.flush()
                self._say(format_entry(entry))
                self.save(step)
                last_saved = step
        finally:
            bar.close()
        if last_saved != step:
            self.save(step)
        return self.history

    @property
    def images_per_second(self):
        """Training throughput over the whole run (time inside ``Session.run`` of train
        steps, leaving out each ``fit``'s warm-up and traced steps)."""
        return self.train_images_seen / self.train_seconds if self.train_seconds else None

    def _write_scalars(self, writer, step, values):
        summary = tf1.Summary(value=[tf1.Summary.Value(tag=k, simple_value=float(v))
                                     for k, v in values.items()])
        writer.add_summary(summary, step)


def format_entry(entry):
    """One line per epoch: ``epoch 3  step 1170  loss 1.234  acc 55.1%  val_acc 52.0%  812 img/s``."""
    parts = [f"epoch {entry['epoch']}", f"step {entry['step']}",
             f"loss {entry['train_loss']:.4f}"]
    if "train_accuracy" in entry:
        parts.append(f"acc {100 * entry['train_accuracy']:.1f}%")
    if "val_loss" in entry:
        parts.append(f"val_loss {entry['val_loss']:.4f}")
    if "val_accuracy" in entry:
        parts.append(f"val_acc {100 * entry['val_accuracy']:.1f}%")
    if "test_accuracy" in entry:
        parts.append(f"test_acc {100 * entry['test_accuracy']:.1f}%")
    if entry.get("images_per_second"):
        parts.append(f"{entry['images_per_second']:.0f} img/s")
    return "  ".join(parts)
