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


class RunningMeans:
    """The training batches since the last evaluation, as the optimiser saw them
    (training mode: dropout and augmentation on): their mean loss, accuracy and
    weight-decay penalty, and how fast they ran."""

    KEYS = ("loss", "accuracy", "weight_decay")

    def __init__(self):
        self.reset()

    def reset(self):
        self.sums, self.seen_keys = dict.fromkeys(self.KEYS, 0.0), set()
        self.batches, self.examples = 0, 0
        self.since = time.time()

    def add(self, out, size):
        """One step's fetched values (``out``: a dict with any of :attr:`KEYS`)."""
        for key in self.KEYS:
            if key in out:
                self.sums[key] += float(out[key])
                self.seen_keys.add(key)
        self.batches += 1
        self.examples += size

    def entry(self, step, steps_per_epoch):
        """The start of a history entry: ``epoch`` (fractional inside an epoch), ``step``,
        ``train_running_*``, ``weight_decay`` and ``images_per_second``."""
        epoch = step / steps_per_epoch
        entry = {"epoch": int(epoch) if epoch == int(epoch) else round(epoch, 3), "step": step}
        n = max(1, self.batches)
        for key in self.KEYS:
            if key in self.seen_keys:
                name = key if key == "weight_decay" else f"train_running_{key}"
                entry[name] = self.sums[key] / n
        seconds = time.time() - self.since
        entry["images_per_second"] = self.examples / seconds if seconds > 0 else None
        return entry


def format_entry(entry, rate=("img/s", 1), show=()):
    """One line per evaluation, each number labelled with what it measures::

        epoch 3  step 1170  batches (training mode): loss 1.234 acc 55.1%  |  inference: train 60.2%  val 52.0%  test 51.3%  val loss 1.301  |  812 img/s

    ``rate``: ``(unit, scale)`` of the throughput: examples per second times ``scale``
    (a text model's examples are windows of ``scale`` characters: ``('chars/s', 50)``).
    ``show``: ``(key, label)`` pairs of the lesson's own numbers, printed when the
    entry has them (``val mAP@0.5 0.912``).
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
    inference += [f"{label} {entry[key]:.3f}" for key, label in show if key in entry]
    if inference:
        parts.append("| inference: " + "  ".join(inference))
    if entry.get("images_per_second"):
        unit, scale = rate
        parts.append(f"| {entry['images_per_second'] * scale:,.0f} {unit}")
    return "  ".join(parts)
