"""RNN chapter: a character-level language model (char-rnn) on Tiny Shakespeare or any text.

    python -m tfgraph_lessons.char_rnn [--text FILE] [--cell lstm|gru|rnn] [--units N]
        [--layers N] [--seq-length T] [--lr LR] [--temperature T] [--prime TEXT]
        [--sample N] [shared lesson options]

The model reads a text one character at a time and predicts the next one:
``embedding -> LSTM (unrolled over --seq-length characters) -> softmax over the
vocabulary``, trained with cross-entropy in nats per character (bits = nats /
ln 2), Adam, gradient clipping by global norm and a cosine learning-rate decay.
The last 10% of the text is the validation text, read in windows of
``--eval-length`` characters (500) with the state carried through each, as
char-rnn reads it: only the first few characters of a window are guessed
without context. Every evaluation prints its loss and writes a sample of the
model's writing, so a class watches it go from noise to words to Shakespeare's
layout.

Training windows are ``--seq-length`` characters (50, char-rnn's default); each
epoch shows every window once, shifted by a random offset, so the model does
not meet the same cuts again and again.

Sampling (``--sample N``) rebuilds the same model with another shape, one
character at a time with its state fed back (char-rnn-tensorflow's "one model,
two shapes"), restores the run's latest checkpoint and writes ``N`` characters
at ``--temperature`` (below 1: safer, more repetitive; above 1: wilder),
starting from ``--prime``. The vocabulary is saved as JSON beside the
checkpoints (``OUT/checkpoints/vocab.json``).

Writes ``runs/char_rnn/<text>_<cell>`` (``_fast`` in fast mode): ``metrics.json``
(``val_loss_nats``, ``val_bits_per_char``, ``seconds_to_best``, ``samples``),
``samples.txt``, ``figures/`` (learning curves), ``logs/`` and ``checkpoints/``.
Taught in ``notebooks/07_rnn.ipynb``.
"""
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core import cli, plots, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import atomic_write_bytes, write_json
from tfgraph_lessons.core.runner import Trainer
from tfgraph_lessons.data import text as textdata
from tfgraph_lessons.rnn import CELLS, make_cell, minimize_clipped, unroll

LESSON = "char_rnn"
DEFAULT_EPOCHS = 7
FAST_STEPS = 30
VOCAB_FILE = "vocab.json"
LN2 = math.log(2.0)


@dataclass
class CharRNNConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    text: str = None             # --text FILE (None: Tiny Shakespeare)
    cell: str = "lstm"
    units: int = 512             # one LSTM(512): char-rnn's size for this text
    layers: int = 1
    embedding: int = 64          # each character becomes a learned 64-d vector
    seq_length: int = 50         # characters per training window (steps unrolled)
    eval_length: int = 500       # characters per validation window (state carried within it)
    batch_size: int = 128
    epochs: int = None           # None: DEFAULT_EPOCHS (fast mode: FAST_STEPS steps)
    steps: int = None
    lr: float = 5e-3             # Adam; cosine decay to lr_floor * lr at the end of the run
    lr_floor: float = 0.1
    clip_norm: float = 5.0       # gradient clipping by global norm
    keep_prob: float = 0.8       # dropout before the softmax and between layers (1.0: none)
    val_fraction: float = 0.1    # the last 10% of the text
    eval_steps: int = 100        # evaluate (and sample) every this many steps
    text_limit: int = 0          # use only the first N characters (0: all; fast mode)
    sample: int = 0              # --sample N: write N characters from the checkpoint, no training
    sample_length: int = 300     # characters of each sample written during training
    temperature: float = 0.8
    prime: str = None            # the text a sample starts from (None: the text's first line)


FAST_SIZES = {"units": 64, "seq_length": 50, "eval_length": 200, "batch_size": 32,
              "eval_steps": 10, "sample_length": 80}


def fast_config(config):
    """The smoke-sized run: the first 30,000 characters, a small LSTM, 30 steps.

    Only the settings left at their defaults shrink: ``--fast --units 32`` keeps 32,
    and an explicit ``--epochs``/``--steps`` wins over the 30 steps.
    """
    explicit = config.epochs is not None or config.steps is not None
    defaults = CharRNNConfig()
    sizes = {k: v for k, v in FAST_SIZES.items() if getattr(config, k) == getattr(defaults, k)}
    return dataclasses.replace(config, steps=config.steps if explicit else FAST_STEPS,
                               text_limit=30_000, fast=True, **sizes)


# --------------------------------------------------------------------------- the graph


def language_model(ids, config, vocab_size, initial_state=None, keep_prob=1.0,
                   mode="while"):
    """The model, for any batch and length: ``ids [b, T]`` -> ``logits [b, T, vocab]``.

    Built inside ``variable_scope('char_rnn')`` with the same variable names
    whatever the shape, so the training graph (``[batch, seq_length]``) and the
    sampling graph (``[1, 1]``) share one checkpoint.

    Returns:
      ``(logits, final_state, cell)``.
    """
    with tf1.variable_scope("char_rnn"):
        embedding = tf1.get_variable("embedding", [vocab_size, config.embedding], tf.float32,
                                     initializer=tf1.random_uniform_initializer(-0.1, 0.1))
        inputs = tf.nn.embedding_lookup(embedding, ids)          # [b, T, embedding]
        cell = make_cell(config.cell, config.units, config.layers, keep_prob=keep_prob)
        outputs, state = unroll(cell, inputs, initial_state=initial_state, mode=mode)
        if not (isinstance(keep_prob, float) and keep_prob >= 1.0):
            # dropout on the way to the softmax, never on the state carried through time
            # (Zaremba et al. 2014): the model cannot lean on any one unit to memorise
            outputs = tf.nn.dropout(outputs, rate=1.0 - keep_prob)
        with tf1.variable_scope("softmax"):
            w = tf1.get_variable("weights", [config.units, vocab_size], tf.float32,
                                 initializer=tf1.glorot_uniform_initializer())
            b = tf1.get_variable("biases", [vocab_size], tf.float32,
                                 initializer=tf1.zeros_initializer())
        flat = tf.reshape(outputs, [-1, config.units])
        logits = tf.reshape(tf.matmul(flat, w) + b, tf.concat([tf.shape(ids), [vocab_size]], 0))
    return logits, state, cell


def build_graph(config, vocab_size, train_steps):
    """The training graph.

    Returns:
      dict: images (the ``ids`` placeholder ``[b, T]``), labels (the next characters),
      logits, loss (mean cross-entropy in nats per character), accuracy (the
      next character guessed right), train_op, global_step, learning_rate,
      grad_norm (the global norm before clipping), keep_prob.
    """
    ids = tf1.placeholder(tf.int32, [None, None], name="ids")
    targets = tf1.placeholder(tf.int32, [None, None], name="targets")
    keep_prob = tf1.placeholder_with_default(1.0, [], name="keep_prob")
    logits, _, _ = language_model(ids, config, vocab_size, keep_prob=keep_prob)
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=logits))                      # nats per character
    with tf.name_scope("accuracy"):
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                   targets), tf.float32))
    global_step = tf1.train.get_or_create_global_step()
    learning_rate = tf1.train.cosine_decay(config.lr, global_step, max(1, train_steps),
                                           alpha=config.lr_floor)
    opt = tf1.train.AdamOptimizer(learning_rate)
    train_op, norm = minimize_clipped(opt, loss, config.clip_norm, global_step)
    tf1.summary.scalar("learning_rate", learning_rate)
    tf1.summary.scalar("gradient_global_norm", norm)
    return {"images": ids, "labels": targets, "logits": logits, "loss": loss,
            "accuracy": accuracy, "train_op": train_op, "global_step": global_step,
            "learning_rate": learning_rate, "grad_norm": norm, "keep_prob": keep_prob}


def model_variables():
    """The model's own variables (not the optimiser's slots): what a sampler needs."""
    return [v for v in tf1.global_variables() if v.op.name.startswith("char_rnn/")
            and "Adam" not in v.op.name]


class Sampler:
    """The same model drawn for one character at a time, its state fed back in.

    It has its own graph and session; its weights come from a checkpoint
    (:meth:`restore`) or from a training session (:meth:`copy_from`).
    """

    def __init__(self, config, vocab):
        self.vocab = vocab
        with new_graph() as self.graph:
            self.ids = tf1.placeholder(tf.int32, [1, 1], name="ids")
            cell = make_cell(config.cell, config.units, config.layers)
            self.state_in = tf.nest.map_structure(
                lambda size: tf1.placeholder(tf.float32, [1, size]), cell.state_size)
            logits, self.state_out, _ = language_model(self.ids, config, len(vocab),
                                                       initial_state=self.state_in,
                                                       mode="static")
            self.logits = logits[0, 0]
            self.variables = {v.op.name: v for v in model_variables()}
            self._loads = {name: (ph := tf1.placeholder(v.dtype.base_dtype, v.shape),
                                  v.assign(ph)) for name, v in self.variables.items()}
            self.saver = tf1.train.Saver(self.variables)
            self.sess = tf1.Session(graph=self.graph, config=session_config())
            self.zero = tf.nest.map_structure(lambda size: np.zeros([1, size], np.float32),
                                              cell.state_size)
            self.graph.finalize()

    def restore(self, prefix):
        self.saver.restore(self.sess, prefix)

    def copy_from(self, sess, graph):
        """Copy the current weights of a training session (same variable names)."""
        with graph.as_default():
            values = sess.run({v.op.name: v for v in model_variables()})
        self.sess.run([op for ph, op in self._loads.values()],
                      {ph: values[name] for name, (ph, op) in self._loads.items()})

    def _step(self, char_id, state):
        feed = {self.ids: [[char_id]]}
        feed.update(zip(tf.nest.flatten(self.state_in), tf.nest.flatten(state)))
        return self.sess.run([self.logits, self.state_out], feed)

    def sample(self, length, temperature, prime, rng):
        """``prime`` followed by ``length`` sampled characters.

        Each character is drawn from ``softmax(logits / temperature)``;
        ``temperature`` must be > 0 (towards 0 it approaches always taking the
        most likely character).
        """
        check_temperature(temperature)
        if not prime:
            raise UsageError("--prime must hold at least one character")
        ids = list(self.vocab.encode(prime, what="--prime"))
        state = self.zero
        for char_id in ids[:-1]:
            _, state = self._step(char_id, state)
        current, out = ids[-1], []
        for _ in range(length):
            logits, state = self._step(current, state)
            z = logits.astype(np.float64) / temperature
            p = np.exp(z - z.max())
            current = int(rng.choice(len(p), p=p / p.sum()))
            out.append(current)
        return prime + self.vocab.decode(out)

    def close(self):
        self.sess.close()


def check_temperature(temperature):
    if not (temperature > 0 and math.isfinite(temperature)):
        raise UsageError(f"--temperature must be > 0, got {temperature} (1.0 samples the "
                         "model's own distribution; 0.5 is more conservative)")


# --------------------------------------------------------------------------- data


def load_text(config):
    """The text as a string: ``--text FILE`` or Tiny Shakespeare (``text_limit`` applied)."""
    if config.text:
        text = textdata.read_text(config.text)
    else:
        text = textdata.load_tiny_shakespeare(config.data_dir)
    return text[:config.text_limit] if config.text_limit else text


def text_name(config):
    return Path(config.text).stem if config.text else "tinyshakespeare"


class JitteredWindows:
    """Training batches as windows of the training text, each epoch's cut shifted.

    The Trainer shuffles "examples" that are window numbers ``k``; this
    ``batch_fn`` turns them into ``(ids, targets)`` starting at
    ``k * length + jitter``, the jitter drawn from the step's seeded generator
    (so a resumed run sees the same windows).
    """

    def __init__(self, ids, length):
        self.ids, self.length = ids, length
        self.count = (len(ids) - length - 1) // length  # room for any jitter < length
        if self.count < 1:
            raise UsageError(f"the training text ({len(ids):,} characters) is shorter than two "
                             f"windows of --seq-length {length}; lower it or give a longer text")

    def __call__(self, window_numbers, _unused, rng):
        starts = window_numbers * self.length + rng.integers(0, self.length, len(window_numbers))
        steps = np.arange(self.length)
        return self.ids[starts[:, None] + steps], self.ids[starts[:, None] + steps + 1]


# --------------------------------------------------------------------------- training


def run_identity(config, vocab, train_chars):
    return {"lesson": LESSON, "text": text_name(config), "train_characters": train_chars,
            "vocabulary": "".join(vocab.chars), "cell": config.cell, "units": config.units,
            "layers": config.layers, "embedding": config.embedding,
            "seq_length": config.seq_length, "batch_size": config.batch_size,
            "seed": config.seed}


def default_prime(text):
    """The first line of the text (``'First Citizen:'`` for Tiny Shakespeare)."""
    first = text.lstrip().split("\n", 1)[0][:40]
    return (first + "\n") if first else text[0]


def train(config, out):
    """Train the model and evaluate it on the validation text; returns the metrics."""
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    text = load_text(config)
    vocab = textdata.Vocabulary.from_text(text)
    train_ids, val_ids = textdata.split_text(vocab.encode(text), config.val_fraction)
    batches = JitteredWindows(train_ids, config.seq_length)
    val = textdata.windows(val_ids, min(config.eval_length, len(val_ids) - 1))
    window_numbers = np.arange(batches.count)
    spe = max(1, batches.count // config.batch_size)
    n_steps = config.steps if config.steps is not None else config.epochs * spe
    prime = config.prime or default_prime(text)
    vocab.encode(prime, what="--prime")  # a prime the model cannot read: fail before training
    start = time.time()

    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            model = build_graph(config, len(vocab), n_steps)
        sampler = Sampler(config, vocab)
        hook = SampleHook(sampler, graph, config, prime, start)
        sess_config = session_config(soft_placement=config.soft_placement,
                                     intra_threads=config.intra_threads,
                                     inter_threads=config.inter_threads)
        try:
            with Trainer(graph, model, out, resume=config.resume, seed=config.seed,
                         config=sess_config,
                         identity=run_identity(config, vocab, len(train_ids)),
                         rate=("chars/s", config.seq_length)) as trainer:
                vocab.save(trainer.ckpt_dir / VOCAB_FILE)
                feed = {model["keep_prob"]: config.keep_prob} if config.keep_prob < 1 else None
                history = trainer.fit(
                    (window_numbers, window_numbers), val, None,
                    epochs=None if config.steps is not None else config.epochs,
                    steps=config.steps, batch_size=config.batch_size, batch_fn=batches,
                    feed_extra=feed, eval_steps=config.eval_steps, on_epoch_end=hook,
                    warmup_steps=2)
                final = trainer.evaluate(*val)
                seqs_per_second, steps = trainer.images_per_second, trainer.step
        finally:
            sampler.close()
    return report(config, out, history, final, vocab, len(train_ids), len(val_ids),
                  seqs_per_second, steps, spe, device, start)


class SampleHook:
    """At each evaluation: the loss in bits, and a sample of the model's writing."""

    def __init__(self, sampler, graph, config, prime, start):
        self.sampler, self.graph, self.config = sampler, graph, config
        self.prime, self.start = prime, start

    def __call__(self, trainer, entry):
        entry["val_bits_per_char"] = entry["val_loss"] / LN2
        self.sampler.copy_from(trainer.sess, self.graph)
        rng = np.random.default_rng([self.config.seed, entry["step"]])
        entry["sample"] = self.sampler.sample(self.config.sample_length,
                                              self.config.temperature, self.prime, rng)
        trainer._report(f"--- sample at step {entry['step']} (temperature "
                        f"{self.config.temperature}) ---\n{entry['sample']}\n---")


def report(config, out, history, final, vocab, train_chars, val_chars, seqs_per_second,
           steps, spe, device, start):
    """Write ``metrics.json``, ``samples.txt`` and the learning curves; print the summary."""
    best = min(history, key=lambda h: h["val_loss"]) if history else {}
    chars_per_second = seqs_per_second * config.seq_length if seqs_per_second else None
    samples = [{"step": h["step"], "epoch": h["epoch"], "temperature": config.temperature,
                "text": h["sample"]} for h in history if "sample" in h]
    metrics = {
        "lesson": LESSON, "text": text_name(config), "cell": config.cell, "fast": config.fast,
        "val_loss_nats": best.get("val_loss"),            # the best validation loss
        "val_bits_per_char": best.get("val_loss", math.nan) / LN2 if best else None,
        "best_step": best.get("step"),
        "seconds_to_best": best.get("wall_seconds"),      # from the start of training
        "final_val_loss_nats": final["loss"],
        "val_loss": final["loss"], "val_accuracy": final.get("accuracy"),
        "train_loss": history[-1]["train_running_loss"] if history else None,
        "characters_per_second": chars_per_second,
        "images_per_second": seqs_per_second,            # windows of seq_length characters
        "wall_seconds": round(time.time() - start, 2), "device": device, "steps": steps,
        "epochs": round(steps / spe, 3), "vocabulary_size": len(vocab),
        "train_characters": train_chars, "val_characters": val_chars,
        "samples": samples, "history": history, "config": dataclasses.asdict(config),
    }
    write_json(out / "metrics.json", metrics)
    atomic_write_bytes(out / "samples.txt", "".join(
        f"=== step {s['step']} (epoch {s['epoch']}, temperature {s['temperature']}) ===\n"
        f"{s['text']}\n\n" for s in samples).encode("utf-8"))
    plots.save_figure(plots.learning_curves(
        {f"{config.cell} {config.units} on {metrics['text']}": history},
        title=f"char-rnn on {metrics['text']}: loss in nats per character"),
        out / "figures" / "learning_curves.png")
    print(f"{metrics['text']} {config.cell}({config.units}) x{config.layers}: validation loss "
          f"{metrics['val_loss_nats']:.3f} nats/char ({metrics['val_bits_per_char']:.3f} bits) "
          f"at step {metrics['best_step']}, {metrics['seconds_to_best']:.0f} s into training; "
          f"{chars_per_second or 0:,.0f} characters/s on {device}; wrote {out / 'metrics.json'}")
    return metrics


# --------------------------------------------------------------------------- sampling


def sample_from_checkpoint(config, out):
    """``--sample N``: restore the latest checkpoint of ``out`` and write N characters."""
    ckpt_dir = Path(out) / "checkpoints"
    prefix, state = rundir.resume_point(ckpt_dir) if ckpt_dir.is_dir() else (None, None)
    if prefix is None:
        raise UsageError(f"--sample: no checkpoint in {ckpt_dir}; train first (python -m "
                         f"tfgraph_lessons.{LESSON} with the same options), or point --out at "
                         "a trained run")
    run = state.get("run", {})
    vocab = textdata.Vocabulary.load(ckpt_dir / VOCAB_FILE)
    # the network's shape is the checkpoint's, whatever the command line says
    shape = {k: run[k] for k in ("cell", "units", "layers", "embedding") if k in run}
    model_config = dataclasses.replace(config, **shape)
    sampler = Sampler(model_config, vocab)
    try:
        sampler.restore(prefix)
        prime = config.prime or ("\n" if "\n" in vocab.chars else vocab.chars[0])
        text = sampler.sample(config.sample, config.temperature, prime,
                              np.random.default_rng(config.seed))
    finally:
        sampler.close()
    print(text)
    return {"checkpoint": prefix, "step": state["step"], "text": text}


# --------------------------------------------------------------------------- entry points


def resolve_config(config):
    """Apply fast mode and the default length; check what argparse could not."""
    if config.cell not in CELLS:
        raise UsageError(f"unknown --cell {config.cell!r}; use {', '.join(CELLS)}")
    check_temperature(config.temperature)
    for name in ("units", "layers", "embedding", "seq_length"):
        cli.check_positive(f"--{name.replace('_', '-')}", getattr(config, name))
    if not 0 < config.keep_prob <= 1:
        raise UsageError(f"--keep-prob must be in (0, 1], got {config.keep_prob}")
    if config.fast and not config.sample:
        config = fast_config(config)
    if config.epochs is None and config.steps is None:
        config = dataclasses.replace(config, epochs=DEFAULT_EPOCHS)
    return config


def default_out(config):
    return cli.default_out(LESSON, text_name(config), config.cell, fast=config.fast)


def run(config):
    """Train (or with ``sample``, only sample); returns the metrics dict."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    resolve_device(config.device, notice=lambda msg: None,
                   soft_placement=config.soft_placement)
    if config.sample:
        return sample_from_checkpoint(config, out)
    if config.text:
        textdata.read_text(config.text)  # a bad --text: fail before touching the folder
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=("samples.txt",))
    if config.fast:
        cli.announce_fast(config, f"the first {config.text_limit:,} characters, an "
                                  f"{config.cell.upper()}({config.units}), "
                                  f"{cli.length_text(config)}; writes to {out}")
    return train(config, out)


def parse_config(argv=None):
    """The command line -> a :class:`CharRNNConfig`."""
    c = CharRNNConfig
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=c.batch_size,
                               default_length=f"{DEFAULT_EPOCHS}; {FAST_STEPS} steps with --fast")
    parser.add_argument("--text", default=None,
                        help="train on this UTF-8 text file (default: Tiny Shakespeare, "
                             "downloaded once)")
    parser.add_argument("--cell", default=c.cell, choices=sorted(CELLS),
                        help="the recurrent cell")
    parser.add_argument("--units", type=cli.positive_int, default=c.units,
                        help="units per layer")
    parser.add_argument("--layers", type=cli.positive_int, default=c.layers,
                        help="stacked layers")
    parser.add_argument("--embedding", type=cli.positive_int, default=c.embedding,
                        help="size of each character's learned vector")
    parser.add_argument("--seq-length", type=cli.positive_int, default=c.seq_length,
                        help="characters per training window (time steps unrolled)")
    parser.add_argument("--eval-length", type=cli.positive_int, default=c.eval_length,
                        help="characters per validation window: the state is carried through "
                             "it, so only its first characters are guessed without context")
    parser.add_argument("--keep-prob", type=float, default=c.keep_prob,
                        help="keep probability of the dropout before the softmax and between layers "
                             "(1: none)")
    cli.add_lr_argument(parser, c.lr, help="Adam's initial learning rate (cosine decay to "
                                           "a tenth of it)")
    parser.add_argument("--eval-steps", type=cli.positive_int, default=c.eval_steps,
                        help="evaluate and write a sample every N steps")
    parser.add_argument("--sample", type=cli.positive_int, default=0, metavar="N",
                        help="write N characters from the checkpoint in --out, without "
                             "training")
    parser.add_argument("--temperature", type=float, default=c.temperature,
                        help="sampling temperature, > 0 (lower: safer, higher: wilder)")
    parser.add_argument("--prime", default=None,
                        help="the text a sample starts from (default: the text's first line)")
    args = parser.parse_args(argv)
    return CharRNNConfig(
        text=args.text, cell=args.cell, units=args.units, layers=args.layers,
        embedding=args.embedding, seq_length=args.seq_length,
        eval_length=args.eval_length, keep_prob=args.keep_prob,
        lr=args.lr, eval_steps=args.eval_steps, sample=args.sample,
        temperature=args.temperature, prime=args.prime, batch_size=args.batch_size,
        epochs=args.epochs, steps=args.steps, **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
