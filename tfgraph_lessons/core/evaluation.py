"""Evaluation in the Session runner: a whole split in batches, and the history entry
that :class:`~tfgraph_lessons.core.runner.Trainer` records at each evaluation.

Every number an entry holds says what it measures: ``train_running_*`` are the
means over the training batches since the last evaluation, as the optimiser
saw them (dropout and augmentation on); ``train_eval_*``, ``val_*`` and
``test_*`` are measured in inference mode over whole sets; ``*_loss`` is the
cross-entropy when the model has one, and ``weight_decay`` the penalty the
objective adds to it.
"""
import time

import numpy as np

from tfgraph_lessons.core.errors import UsageError


def check_split(name, split):
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
    images, labels = check_split("evaluation data", (images, labels))
    totals = dict.fromkeys(fetches, 0.0)
    for start in range(0, len(images), batch_size):
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        feed = {images_ph: x, labels_ph: y, **(feed_extra or {})}
        for k, v in sess.run(fetches, feed).items():
            totals[k] += float(v) * len(x)
    return {k: v / len(images) for k, v in totals.items()}


class EvalPoint:
    """The running sums of one :meth:`Trainer.fit` between evaluations, and the evaluation
    that turns them into one history entry."""

    def __init__(self, trainer, images, labels, splits, train_eval_size, batch_size,
                 on_epoch_end):
        self.trainer, self.images, self.labels = trainer, images, labels
        self.splits, self.train_eval_size = splits, train_eval_size
        self.batch_size, self.on_epoch_end = batch_size, on_epoch_end
        self.order = None
        self.start = time.time()
        self._reset()

    def _reset(self):
        self.sums = {"loss": 0.0, "accuracy": 0.0, "weight_decay": 0.0}
        self.batches, self.seen = 0, 0
        self.since = time.time()

    def add_batch(self, out, size):
        for key in self.sums:
            self.sums[key] += float(out.get(key, 0.0))
        self.batches += 1
        self.seen += size

    def record(self, step, spe, feed):
        """Evaluate every split, append the entry to the history, print it, log it."""
        t = self.trainer
        dt = time.time() - self.since
        epoch = step / spe
        entry = {"epoch": int(epoch) if epoch == int(epoch) else round(epoch, 3), "step": step,
                 "train_running_loss": self.sums["loss"] / max(1, self.batches)}
        if "accuracy" in t.model:
            entry["train_running_accuracy"] = self.sums["accuracy"] / max(1, self.batches)
        if "weight_decay" in t.model:
            entry["weight_decay"] = self.sums["weight_decay"] / max(1, self.batches)
        for name, split in self.splits.items():
            if name == "train_eval":
                if not self.train_eval_size:
                    continue
                sub = self.order[:self.train_eval_size]
                split = (self.images[sub], self.labels[sub])
            if split is None:
                continue
            ev = t.evaluate(*split, batch_size=self.batch_size)
            entry.update({f"{name}_{k}": v for k, v in ev.items()})
            t._write_scalars(name, step, ev)
        entry["images_per_second"] = self.seen / dt if dt > 0 else None
        if self.on_epoch_end is not None:
            self.on_epoch_end(t, entry)
        entry["wall_seconds"] = round(time.time() - self.start, 3)
        t.history.append(entry)
        if t._epoch_summary is not None:
            t._writer(t._train_log).add_summary(t.sess.run(t._epoch_summary, feed), step)
        for w in t._writers.values():
            w.flush()
        t._report(format_entry(entry))
        self._reset()


def format_entry(entry):
    """One line per evaluation, each number labelled with what it measures::

        epoch 3  step 1170  batches (training mode): loss 1.234 acc 55.1%  |  inference: train 60.2%  val 52.0%  test 51.3%  val loss 1.301  |  812 img/s
    """
    batches = f"batches (training mode): loss {entry['train_running_loss']:.3f}"
    if "train_running_accuracy" in entry:
        batches += f" acc {100 * entry['train_running_accuracy']:.1f}%"
    parts = [f"epoch {entry['epoch']}", f"step {entry['step']}", batches]
    inference = [f"{label} {100 * entry[f'{split}_accuracy']:.1f}%"
                 for split, label in (("train_eval", "train"), ("val", "val"), ("test", "test"))
                 if f"{split}_accuracy" in entry]
    if "val_loss" in entry:
        inference.append(f"val loss {entry['val_loss']:.3f}")
    if inference:
        parts.append("| inference: " + "  ".join(inference))
    if entry.get("images_per_second"):
        parts.append(f"| {entry['images_per_second']:.0f} img/s")
    return "  ".join(parts)
