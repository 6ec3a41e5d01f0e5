"""The Session runner every lesson trains with.

The slides' mechanism, end to end: the lesson draws the graph
(``build_graph(config) -> dict``), then :class:`Trainer` makes the session,
feeds shuffled mini-batches through the placeholders epoch after epoch,
evaluates after each epoch (and every ``eval_steps`` steps), and writes what a
run leaves behind (see :mod:`tfgraph_lessons.core.rundir`)::

    OUT/logs/train                 per-step training scalars, histograms, the graph
    OUT/logs/val, test, train_eval the same tags (loss, accuracy) per evaluation
    OUT/checkpoints/               Saver checkpoints + state.json (identity, history)

A model is a dict of named tensors (Sonnet's ``build_graph`` convention) with at
least ``images``, ``labels`` (placeholders), ``loss`` (the objective that
``train_op`` minimises), ``train_op`` and ``global_step``; optionally
``accuracy``, ``cross_entropy`` (the data term of ``loss``: what evaluations
report as loss), ``weight_decay`` (the penalty term, reported beside it),
``is_training`` (a boolean placeholder fed True in training steps), ``logits``
and ``summary`` (the lesson's own merged summaries, written every
``summary_steps`` steps instead of the loss/accuracy scalars).

Usage::

    with new_graph(seed=0) as g:
        model = build_graph(config)
        with Trainer(g, model, out_dir, resume=True, identity={"seed": 0}) as trainer:
            history = trainer.fit(train, val, test, epochs=10, batch_size=128)
            test = trainer.evaluate(test_images, test_labels)

A run killed at any moment resumes with ``resume=True`` from its last
checkpoint: the shuffling order and augmentation of every step are derived
from ``(seed, epoch)`` and ``(seed, step)``, so the resumed run sees the same
batches the uninterrupted one would have.
"""
import math
import os
import sys
import threading
import uuid
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfgraph_lessons.core.device import session_config as make_session_config
from tfgraph_lessons.core.device import traced_run
from tfgraph_lessons.core.errors import TrainingError, UsageError
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.evaluation import (RunningMeans, check_split,  # noqa: F401
                                             evaluate_in_batches, format_entry)
from tfgraph_lessons.core.io import write_json

REQUIRED_KEYS = ("images", "labels", "loss", "train_op", "global_step")


def steps_per_epoch(num_examples, batch_size):
    """Training steps in one epoch: full batches only (at least one)."""
    return max(1, num_examples // batch_size)


def epoch_order(num_examples, seed, epoch):
    """The shuffled example order of one epoch, a pure function of ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


class Batches:
    """The training batch of every step, a pure function of ``(seed, step)``: the
    epoch's order (:func:`epoch_order`), the step's slice of it, then ``batch_fn``
    with a generator seeded by ``(seed, step)``.

    With ``prefetch`` (what :meth:`Trainer.fit` uses), :meth:`get` also starts
    making the next step's batch in a background thread, which works while the
    current step runs in the Session: TensorFlow releases Python's lock while a
    step runs and NumPy while it copies and computes, so the gathering and the
    augmentation on the Python side overlap the graph's work instead of adding
    to it. The batches are the same either way.
    """

    def __init__(self, images, labels, batch_size, seed, batch_fn=None, prefetch=True):
        self.images, self.labels = images, labels
        self.batch_size, self.seed, self.batch_fn = batch_size, seed, batch_fn
        self.steps_per_epoch = steps_per_epoch(len(images), batch_size)
        self._orders = {}                 # epoch -> order, the last two epochs
        self._lock = threading.Lock()
        self._pool = (ThreadPoolExecutor(1, thread_name_prefix="tfgraph-batches")
                      if prefetch else None)
        self._next = None                 # (step, future) being made

    def order(self, epoch):
        """The example order of ``epoch`` (kept, so each epoch shuffles once)."""
        with self._lock:
            if epoch not in self._orders:
                self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
                self._orders[epoch] = epoch_order(len(self.images), self.seed, epoch)
            return self._orders[epoch]

    def make(self, step):
        """``(images, labels)`` of training step ``step`` (counted from 0)."""
        epoch, i = divmod(step, self.steps_per_epoch)
        idx = self.order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]
        x, y = self.images[idx], self.labels[idx]
        if self.batch_fn is not None:
            x, y = self.batch_fn(x, y, np.random.default_rng([self.seed, step]))
        return x, y

    def get(self, step, total):
        """The batch of ``step``; starts on ``step + 1``'s when it is below ``total``."""
        ahead, self._next = self._next, None
        batch = ahead[1].result() if ahead and ahead[0] == step else self.make(step)
        if self._pool is not None and step + 1 < total:
            self._next = (step + 1, self._pool.submit(self.make, step + 1))
        return batch

    def close(self):
        """Stop the background thread (waiting for a batch it is making)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._next = None


class Trainer:
    """Owns the Session, the Saver and the summary writers of one training run.

    Args:
      graph: the ``tf.Graph`` the model was built in.
      model: dict of named tensors (see the module docstring).
      out_dir: the run's folder (``logs/`` and ``checkpoints/`` go inside); check it
        first with :func:`~tfgraph_lessons.core.rundir.prepare_run_dir`.
      resume: restore the checkpoint that ``out_dir/checkpoints/state.json`` names,
        if there is one (see :mod:`tfgraph_lessons.core.rundir`).
      seed: the seed of the data order and augmentation.
      config: a ``tf1.ConfigProto`` (default: :func:`~tfgraph_lessons.core.device.session_config`).
      max_to_keep: checkpoints kept on disk.
      histograms: write a histogram of every trainable variable after each epoch.
      finalize: finalize the graph once set up, so an op created by mistake
        inside the training loop raises at once instead of leaking memory.
      progress: show a progress bar (hidden when stderr is not a terminal).
      train_log_subdir: the folder of ``OUT/logs`` the training events go to;
        evaluations go to its siblings ``val``, ``test`` and ``train_eval``.
      rate: ``(unit, scale)`` of the throughput in the evaluation lines (default
        ``('img/s', 1)``; a text model: ``('chars/s', characters per example)``).
      identity: what makes a checkpoint belong to this run (lesson, dataset,
        model, seed, split sizes, image shape ...): saved in ``state.json`` and
        compared on ``resume``; a difference is a
        :class:`~tfgraph_lessons.core.errors.UsageError` naming the setting.
      show: ``(key, label)`` pairs: numbers an ``on_epoch_end`` adds to the entry,
        printed in each evaluation line (``(('val_map_50', 'val mAP@0.5'),)``).

    A model with a ``summary`` op has it written every ``summary_steps`` steps
    in place of the loss/accuracy scalars, and its summaries are not written
    again after each epoch (only the ``histograms``, if asked for).
    """

    def __init__(self, graph, model, out_dir, *, resume=False, seed=0, config=None,
                 max_to_keep=3, histograms=True, finalize=True, progress=True,
                 train_log_subdir="train", identity=None, rate=("img/s", 1), show=()):
        missing = [k for k in REQUIRED_KEYS if k not in model]
        if missing:
            raise ValueError(f"[Trainer] model dict lacks {missing}; build_graph must return "
                             f"at least {list(REQUIRED_KEYS)}")
        self.graph, self.model, self.seed = graph, model, seed
        self.identity = dict(identity or {})
        self.out_dir = Path(out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.log_dir = self.out_dir / "logs"
        self.progress, self.rate, self.show = progress, rate, tuple(show)
        self.history = []
        self.train_seconds = 0.0
        self.train_images_seen = 0
        self.placement = None   # where a traced step ran (fit(trace_first_step=True))
        self.last_loss = None   # the loss of the last training step (for on_step)
        self._writers = {}

        with graph.as_default():
            self._own_step_summary = model.get("summary")
            epoch_summaries = [] if self._own_step_summary is not None else list(
                tf1.get_collection(tf1.GraphKeys.SUMMARIES))
            if histograms:
                epoch_summaries += [tf1.summary.histogram("params/" + v.op.name, v)
                                    for v in tf1.trainable_variables()]
            self._epoch_summary = tf1.summary.merge(epoch_summaries) if epoch_summaries else None
            # relative paths in checkpoints/checkpoint: a moved folder still finds its files
            self.saver = tf1.train.Saver(max_to_keep=max_to_keep, save_relative_paths=True)
            init = tf1.global_variables_initializer()
            self.sess = tf1.Session(graph=graph, config=config or make_session_config())
            if finalize:
                graph.finalize()

        # the training writer (it also draws the graph) is made once the checkpoint is
        # known to belong to this run: a refused --resume leaves the folder untouched
        self._train_log = train_log_subdir
        self.start_step = 0
        try:
            self._restore_or_init(resume, init)
        except BaseException:
            self.close()
            raise

    def _restore_or_init(self, resume, init):
        prefix, state = rundir.resume_point(self.ckpt_dir) if resume else (None, None)
        if prefix is None:
            if resume:
                self._say(f"no checkpoint in {self.ckpt_dir}; starting from scratch")
            self.sess.run(init)
            self._mark_start(0)
            return
        rundir.check_identity(state.get("run"), self.identity, self.ckpt_dir)
        try:
            self.saver.restore(self.sess, prefix)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
            first = str(e).strip().splitlines()[0][:160]
            raise UsageError(
                f"the checkpoint {prefix} does not fit this model ({first}); "
                "use another --out or run without --resume") from None
        except (tf.errors.OpError, ValueError) as e:  # truncated .data, garbage .index
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
            raise UsageError(
                f"the checkpoint {prefix} cannot be read ({first}); delete {self.ckpt_dir} "
                "to start over, or use another --out") from None
        self.start_step = int(self.sess.run(self.model["global_step"]))
        if self.start_step != state["step"]:
            raise UsageError(f"the checkpoint {prefix} holds step {self.start_step}, its "
                             f"state.json says {state['step']}; delete {self.ckpt_dir} to start "
                             "over, or use another --out")
        rundir.remove_later_checkpoints(self.ckpt_dir, self.start_step)
        self.saver.recover_last_checkpoints(
            [p for s, p in rundir.checkpoints_on_disk(self.ckpt_dir).items()
             if s <= self.start_step])
        self.history = [h for h in state.get("history", []) if h["step"] <= self.start_step]
        self.train_seconds = state.get("train_seconds", 0.0)
        self.train_images_seen = state.get("train_images_seen", 0)
        self._mark_start(self.start_step)
        self._say(f"resumed from {prefix} at step {self.start_step}")

    def _mark_start(self, step):
        """Tell TensorBoard that the run (re)starts at ``step``: events an earlier,
        killed process wrote after ``step`` are discarded, not drawn as a second curve."""
        self._writer(self._train_log).add_session_log(
            tf1.SessionLog(status=tf1.SessionLog.START), step)

    # ------------------------------------------------------------------ helpers

    def _say(self, msg):
        """A notice (resume, fallbacks) on stderr."""
        tqdm.write(msg, file=sys.stderr)

    def _report(self, msg):
        """A result line (one per evaluation) on stdout, below the progress bar."""
        tqdm.write(msg, file=sys.stdout)
        sys.stdout.flush()  # a log file (``> run.log``) gets each line as it happens

    def _writer(self, name):
        """The event writer of ``OUT/logs/<name>`` (train, val, test, train_eval); the
        training one also holds the graph."""
        if name not in self._writers:
            self._writers[name] = self._new_writer(
                name, self.graph if name == self._train_log else None)
        return self._writers[name]

    def _new_writer(self, name, graph=None):
        # TensorFlow names event files by the second and the host: a resumed run started
        # in the same second would truncate the first one's file without a suffix of its own
        suffix = f".{os.getpid()}.{uuid.uuid4().hex[:8]}"
        return tf1.summary.FileWriter(str(self.log_dir / name), graph, filename_suffix=suffix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for w in getattr(self, "_writers", {}).values():
            w.close()
        if getattr(self, "sess", None) is not None:
            self.sess.close()
            self.sess = None

    @property
    def step(self):
        return int(self.sess.run(self.model["global_step"]))

    def save(self, step):
        """Write a checkpoint, then the run state that goes with it (the state names
        the checkpoint, so a process killed between the two resumes from the one before)."""
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        path = self.saver.save(self.sess, str(self.ckpt_dir / rundir.CHECKPOINT_PREFIX),
                               global_step=step)
        write_json(self.ckpt_dir / rundir.STATE_FILE, {
            "step": step, "run": self.identity, "history": self.history,
            "train_seconds": self.train_seconds, "train_images_seen": self.train_images_seen})
        return path

    def checkpoint(self):
        """The path of a checkpoint of the current step: the latest one if it is of
        this step, else one written now."""
        step = self.step
        state = rundir.read_state(self.ckpt_dir)
        if state and state["step"] == step and step in rundir.checkpoints_on_disk(self.ckpt_dir):
            return rundir.checkpoint_path(self.ckpt_dir, step)
        return self.save(step)

    def _feed(self, images, labels, training, extra=None):
        feed = {self.model["images"]: images, self.model["labels"]: labels}
        if training and "is_training" in self.model:
            feed[self.model["is_training"]] = True
        if extra:
            feed.update(extra)
        return feed

    @property
    def _loss_tensor(self):
        """The loss evaluations report: the cross-entropy when the model has one
        (the training objective adds the weight-decay penalty to it)."""
        return self.model.get("cross_entropy", self.model["loss"])

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, images, labels, batch_size=500, feed_extra=None):
        """Loss and accuracy over a whole split, in inference mode (no dropout).

        Returns ``{'loss': float, 'accuracy': float}`` averaged over examples;
        ``loss`` is the cross-entropy when the model has ``cross_entropy``
        (no weight-decay penalty, so splits compare like with like).
        """
        fetches = {"loss": self._loss_tensor}
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

    def fit(self, train, val=None, test=None, *, epochs=None, steps=None, batch_size=128,
            batch_fn=None, feed_extra=None, checkpoint_steps=None, summary_steps=50,
            eval_batch_size=500, train_eval_size=0, eval_steps=None, on_epoch_end=None,
            on_step=None, warmup_steps=0, trace_first_step=False, prefetch=True):
        """Train until ``steps`` global steps, or ``epochs`` epochs, have run in total.

        Args:
          train: ``(images, labels)`` NumPy arrays of the training split.
          val, test: ``(images, labels)`` evaluated (inference mode) after every
            epoch (or every ``eval_steps`` steps), or None. Their scalars go to
            ``OUT/logs/val`` and ``OUT/logs/test`` under the training tags.
          epochs / steps: the run's length (give one); counted from step 0, so a
            resumed run stops where the uninterrupted one would have.
          batch_size: examples per training step.
          batch_fn: ``fn(images, labels, rng) -> (images, labels)`` applied to each
            training batch (augmentation); ``rng`` is seeded by ``(seed, step)``.
            It runs in a background thread (``prefetch``): it may use only its
            arguments.
          prefetch: make each step's batch (gather + ``batch_fn``) in a background
            thread while the previous step runs (:class:`Batches`); the same
            batches, in less wall time when ``batch_fn`` does real work.
          feed_extra: more feeds for training steps (e.g. a ``keep_prob`` placeholder).
          checkpoint_steps: checkpoint every this many steps instead of after each
            epoch (always at the end too).
          summary_steps: write the training scalars every this many steps.
          train_eval_size: if > 0, also evaluate this many training examples in
            inference mode at each evaluation (``train_eval_accuracy``): the honest
            training accuracy, without dropout or augmentation.
          eval_steps: evaluate every this many steps instead of after each epoch
            (and at the end): more often, so a short run still draws a curve, or
            less often, so evaluation does not dominate a run of tiny epochs.
          on_epoch_end: ``fn(trainer, entry)`` called at each evaluation, before
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
          the history: one dict per evaluation with ``epoch`` (fractional inside
          an epoch), ``step``, ``train_running_loss`` and ``train_running_accuracy``
          (mean over the training batches since the last evaluation, with dropout
          and augmentation on), ``weight_decay`` (the penalty added to the loss),
          ``train_eval_*``, ``val_*``, ``test_*`` (inference mode),
          ``images_per_second`` and ``wall_seconds``.
        """
        images, labels = check_split("training data", train)
        val = check_split("validation data", val) if val is not None else None
        test = check_split("test data", test) if test is not None else None
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
        fetches = {"train_op": self.model["train_op"], "loss": self._loss_tensor,
                   "objective": self.model["loss"]}
        for key in ("accuracy", "weight_decay"):
            if key in self.model:
                fetches[key] = self.model[key]
        last_saved = step
        first_step = step
        untimed = step + warmup_steps + (1 if trace_first_step else 0)  # first timed step
        splits = {"train_eval": None, "val": val, "test": test}
        running, run_start = RunningMeans(), time.time()

        batches = Batches(images, labels, batch_size, self.seed, batch_fn, prefetch)
        bar = tqdm(total=total, initial=min(step, total), unit="step", dynamic_ncols=True,
                   disable=None if self.progress else True, file=sys.stderr)
        try:
            while step < total:
                epoch = step // spe
                if train_eval_size:  # the first examples of this epoch's order
                    sub = batches.order(epoch)[:train_eval_size]
                    splits["train_eval"] = (images[sub], labels[sub])
                bar.set_description(f"epoch {epoch + 1}/{math.ceil(total / spe)}")
                while step < total and step // spe == epoch:
                    i = step % spe
                    x, y = batches.get(step, total)
                    feed = self._feed(x, y, True, feed_extra)
                    fetch = dict(fetches)
                    write_summary = bool(summary_steps) and step % summary_steps == 0
                    if write_summary and self._own_step_summary is not None:
                        fetch["summary"] = self._own_step_summary
                    if trace_first_step and step == first_step:
                        out, self.placement = traced_run(self.sess, fetch, feed)
                    else:
                        t0 = time.perf_counter()
                        out = self.sess.run(fetch, feed)
                        if step >= untimed:
                            self.train_seconds += time.perf_counter() - t0
                            self.train_images_seen += len(x)
                    objective = float(out["objective"])
                    if not math.isfinite(objective):
                        self._stop_on_nan(objective, step, epoch)
                    step += 1
                    self.last_loss = objective
                    running.add(out, len(x))
                    if write_summary:
                        self._write_step_summary(out, step)
                    bar.update(1)
                    if i % 10 == 0:
                        bar.set_postfix(loss=f"{float(out['loss']):.3f}")
                    if on_step is not None:
                        on_step(self, step)
                    epoch_done = step % spe == 0 or step == total
                    if step == total or (step % eval_steps == 0 if eval_steps else epoch_done):
                        self._record(running.entry(step, spe), splits, feed, eval_batch_size,
                                     on_epoch_end, run_start)
                        running.reset()
                    if step % checkpoint_steps == 0 if checkpoint_steps else epoch_done:
                        self.save(step)
                        last_saved = step
        finally:
            batches.close()
            bar.close()
        if last_saved != step:
            self.save(step)
        return self.history

    def _record(self, entry, splits, feed, batch_size, on_epoch_end, run_start):
        """Evaluate every split into ``entry`` (inference mode), log, print and keep it."""
        step = entry["step"]
        for name, split in splits.items():
            if split is not None:
                ev = self.evaluate(*split, batch_size=batch_size)
                entry.update({f"{name}_{k}": v for k, v in ev.items()})
                self._write_scalars(name, step, ev)
        if on_epoch_end is not None:
            on_epoch_end(self, entry)
        entry["wall_seconds"] = round(time.time() - run_start, 3)
        self.history.append(entry)
        if self._epoch_summary is not None:
            self._writer(self._train_log).add_summary(self.sess.run(self._epoch_summary, feed),
                                                      step)
        for writer in self._writers.values():
            writer.flush()
        self._report(format_entry(entry, self.rate, self.show))

    def _stop_on_nan(self, loss, step, epoch):
        state = rundir.read_state(self.ckpt_dir) if self.ckpt_dir.is_dir() else None
        kept = (f"the last good checkpoint {rundir.checkpoint_path(self.ckpt_dir, state['step'])}"
                " is kept" if state else "no checkpoint was written yet")
        raise TrainingError(
            f"the loss became {loss} at step {step} (epoch {epoch + 1}); "
            f"stopped, {kept}; lower the learning rate or check the input scaling")

    def _write_step_summary(self, out, step):
        if "summary" in out:
            self._writer(self._train_log).add_summary(out["summary"], step)
            return
        values = {"loss": out["loss"]}
        for key in ("accuracy", "weight_decay"):
            if key in out:
                values[key] = out[key]
        self._write_scalars(self._train_log, step, values)

    def _write_scalars(self, name, step, values):
        """Scalars under fixed tags (``loss``, ``accuracy``) in ``OUT/logs/<name>``, so the
        train, val and test curves overlay in TensorBoard."""
        summary = tf1.Summary(value=[tf1.Summary.Value(tag=k, simple_value=float(v))
                                     for k, v in values.items()])
        self._writer(name).add_summary(summary, step)

    @property
    def images_per_second(self):
        """Training throughput over the whole run (time inside ``Session.run`` of train
        steps, leaving out each ``fit``'s warm-up and traced steps)."""
        return self.train_images_seen / self.train_seconds if self.train_seconds else None
