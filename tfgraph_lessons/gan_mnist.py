"""GAN chapter: a vanilla GAN and a DCGAN on MNIST, two networks trained against each other.

    python -m tfgraph_lessons.gan_mnist [--model gan|dcgan] [--dataset mnist|cifar10]
        [--steps N] [--latent-size N] [--lr LR] [--beta1 B] [--width N]
        [--sample-every N] [--sample N] [shared lesson options]

The generator ``G`` (scope ``generator``) turns noise into images; the
discriminator ``D`` (scope ``discriminator``) tells real images from G's. Each
step runs two optimizers in one Session, each over its own ``var_list``: Adam on
D's variables with D's loss on a batch of real and a batch of fake images, then
Adam on G's variables with the non-saturating generator loss on fresh noise
(:mod:`tfgraph_lessons.gan.models`).

Every ``--sample-every`` steps G draws the same 64 noise vectors: the grids show
the samples improving, and ``figures/progress.gif`` animates them. At the end the
lesson measures sample quality with a digit classifier trained on real training
images only (:mod:`tfgraph_lessons.gan.quality`, cached between runs): the
classifier's mean confidence on the samples (as many as the real images they are
compared with: 1,000 offline, 2,000 with the full set), the entropy of its predicted-class
histogram (2.30 nats when all ten digits are equally there) and the Frechet
distance between its penultimate-layer features of samples and of real held-out
images. Real held-out images scored the same way give ``reference``; the
generator before training gives ``untrained``.

Data: the MNIST training set when it is on disk or downloadable (60,000 images;
the 10,000 test images are the held-out reference). With only the test set (as
offline here), a stratified split of it: 7,000 images train the GAN and the
classifier, 1,000 validate the classifier, 2,000 are held out for the reference
(``data_source: test-split``, said on the first line). ``--dataset cifar10``
trains a DCGAN on CIFAR-10's 50,000 training images (samples and losses only:
the quality measure is a digit classifier).

``--sample N`` restores the last checkpoint in ``--out`` and writes N samples
(``samples/samples.png`` and ``samples/samples.npz``) without training.

Writes ``runs/gan_mnist/<dataset>_<model>`` (``_fast`` in fast mode):
``metrics.json`` (``class_entropy``, ``mean_confidence``, ``frechet_distance``,
``reference``, ``untrained``, ``steps``, ``data_source``, ``history``),
``figures/`` (``samples.png``, ``progress.gif``, ``interpolation.png``,
``losses.png``), ``snapshots.npz`` (the grids), ``checkpoints/``, ``logs/train``.
"""
import dataclasses
import io
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core import cli, plots, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import atomic_write_bytes, write_json
from tfgraph_lessons.data import datasets
from tfgraph_lessons.data.preprocess import held_out_split
from tfgraph_lessons.gan import models, quality
from tfgraph_lessons.gan.training import (Run, fixed_noise, generate, restore, tile, to_pixels,
                                          train_steps)

LESSON = "gan_mnist"
DATASETS = ("mnist", "cifar10")
DEFAULT_STEPS = {"gan": 10_000, "dcgan": 6_000}
FAST_STEPS = 60
SPLIT = {"test_size": 2000, "val_size": 1000, "seed": 0}   # test-split, fixed for all runs


@dataclass
class GanConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    model: str = "dcgan"
    dataset: str = "mnist"
    steps: int = None            # None: --epochs, else DEFAULT_STEPS[model] (fast: FAST_STEPS)
    epochs: int = None           # --epochs: passes over the training images, as steps
    batch_size: int = 64
    latent_size: int = 100
    lr: float = 2e-4             # Radford et al.: Adam 2e-4, beta1 0.5
    beta1: float = 0.5
    width: int = 32              # DCGAN's channels at full size (narrow: 15 minutes on 2 cores)
    ema_decay: float = 0.0       # > 0: also keep, show and score G's averaged weights
    label_smoothing: float = 0.0  # D's target for real images: 1 - this
    lr_decay: str = "none"       # none, or linear (to 0 over the second half)
    sample_every: int = 250      # steps between progress grids
    checkpoint_every: int = 500
    quality_samples: int = 2000  # generated images scored (at most the held-out half)
    classifier_dir: str = None   # the cached digit classifier (None: runs/gan_mnist/classifier_*)
    classifier_epochs: int = 10  # until its validation accuracy stops rising (3: 97.2%,
    #                              10: 98.4%, 20: 98.4% on the offline split)
    sample: int = None           # --sample N: write N samples from the checkpoint, no training
    progress: bool = True


# --------------------------------------------------------------------------- data


@dataclass
class GanData:
    source: str                  # "full", "test-split" or "cifar10"
    train: tuple                 # (images uint8 [N, h, w, c], labels)
    val: tuple = None            # the classifier's validation part
    held_out: tuple = None       # the reference of the quality measure


def load_data(config):
    """The training images and, for MNIST, the classifier's validation and held-out parts."""
    if config.dataset == "cifar10":
        train = datasets.load_split("cifar10", "train", config.data_dir)
        return GanData("cifar10", train)
    try:
        test = datasets.load_split("mnist", "test", config.data_dir)
    except datasets.OfflineError as e:   # its hint of --dataset digits is not for this lesson
        raise datasets.OfflineError(str(e).split("; or use --dataset digits")[0]) from None
    try:
        full = datasets.load_split("mnist", "train", config.data_dir)
    except datasets.OfflineError as e:
        full, why = None, str(e).split(";")[0]
    if full is not None:
        images, labels = full
        val = slice(len(labels) - 5000, None)
        return GanData("full", full, (images[val], labels[val]), test)
    parts = held_out_split(test[1], SPLIT["test_size"], SPLIT["val_size"], SPLIT["seed"])
    train, val, held = ((test[0][parts[k]], test[1][parts[k]]) for k in ("train", "val", "test"))
    print(f"data: no MNIST training set ({why}); using a stratified split of the 10,000 test "
          f"images: {len(train[1]):,} train the GAN and the classifier, {len(val[1]):,} "
          f"validate the classifier, {len(held[1]):,} are held out for the quality reference "
          "(data_source test-split)", flush=True)
    return GanData("test-split", train, val, held)


# --------------------------------------------------------------------------- the graph


def build_graph(config, image_shape):
    """Both networks, both losses, both optimizers.

    Returns:
      dict: ``z`` (noise placeholder), ``real`` (image placeholder, ``[-1, 1]``),
      ``is_training``, ``fake`` (G(z)), ``sample`` (the images shown and scored:
      the averaged generator's, or ``fake`` without averaging), ``d_train``,
      ``g_train``, ``d_loss``,
      ``g_loss``, ``d_real_accuracy`` / ``d_fake_accuracy`` (the fraction of
      real images D calls real, and of fakes it calls fake), ``g_vars``,
      ``d_vars``, ``global_step``.
    """
    z = tf1.placeholder(tf.float32, [None, config.latent_size], name="z")
    real = tf1.placeholder(tf.float32, [None, *image_shape], name="real_images")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    fake = models.generator(z, config.model, image_shape, is_training, config.width)
    real_logits = models.discriminator(real, config.model, is_training, config.width)
    fake_logits = models.discriminator(fake, config.model, is_training, config.width)
    d_loss, g_loss = models.gan_losses(real_logits, fake_logits, config.label_smoothing)
    g_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "generator/")
    d_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "discriminator/")
    global_step = tf1.train.get_or_create_global_step()
    lr = learning_rate(config, global_step)
    # each network learns only its own variables: D's step must not move G, nor G's D
    d_train = tf1.train.AdamOptimizer(lr, beta1=config.beta1, name="d_adam").minimize(
        d_loss, var_list=d_vars)
    g_train = tf1.train.AdamOptimizer(lr, beta1=config.beta1, name="g_adam").minimize(
        g_loss, var_list=g_vars, global_step=global_step)
    sample = fake
    if config.ema_decay:
        g_train, sample = averaged_generator(config, z, image_shape, g_vars, g_train)
    with tf.name_scope("d_accuracy"):
        d_real_accuracy = tf.reduce_mean(tf.cast(real_logits > 0, tf.float32))
        d_fake_accuracy = tf.reduce_mean(tf.cast(fake_logits < 0, tf.float32))
    return {"z": z, "real": real, "is_training": is_training, "fake": fake, "sample": sample,
            "d_train": d_train, "g_train": g_train, "d_loss": d_loss, "g_loss": g_loss,
            "d_real_accuracy": d_real_accuracy, "d_fake_accuracy": d_fake_accuracy,
            "g_vars": g_vars, "d_vars": d_vars, "global_step": global_step}


def learning_rate(config, global_step):
    """``--lr``, or with ``--lr-decay linear`` constant for the first half of the steps and
    then straight down to 0 at the last one (the game settles instead of circling)."""
    if config.lr_decay == "none":
        return config.lr
    with tf.name_scope("learning_rate"):
        left = 1.0 - tf.cast(global_step, tf.float32) / float(config.steps)
        return config.lr * tf.clip_by_value(2.0 * left, 0.0, 1.0)


def averaged_generator(config, z, image_shape, g_vars, g_train):
    """A second copy of G that reads the moving averages of G's weights.

    ``ExponentialMovingAverage`` keeps a shadow of each weight, ``w_avg <- decay
    * w_avg + (1 - decay) * w``, updated after every G step; a ``custom_getter``
    on the variable scope hands the shadows to the same :func:`models.generator`
    code instead of the weights. Averaging is meant to smooth out the last few
    hundred steps' back-and-forth of the two-player game (Yazici et al. 2019,
    arXiv:1806.04498); the lesson scores both generators, and here, at the
    default length, they measured about the same (README).

    Returns:
      ``(train, sample)``: G's step followed by the averages' update, and the
      averaged generator's images (inference mode).
    """
    ema = tf1.train.ExponentialMovingAverage(config.ema_decay, name="g_ema")
    with tf.control_dependencies([g_train]):
        train = ema.apply(g_vars)

    def use_average(getter, name, *args, **kwargs):
        var = getter(name, *args, **kwargs)
        average = ema.average(var)   # None for batch norm's moving statistics: kept as is
        return var if average is None else average

    with tf1.variable_scope(tf1.get_variable_scope(), custom_getter=use_average):
        with tf.name_scope("averaged"):
            sample = models.generator(z, config.model, image_shape, False, config.width)
    return train, tf.identity(sample, name="averaged_images")


# --------------------------------------------------------------------------- quality


def classifier_for(config, data):
    """The digit classifier of the quality measure, trained once per data source and cached."""
    folder = Path(config.classifier_dir or
                  cli.default_out(LESSON, f"classifier_{data.source}", fast=config.fast))
    classifier = quality.DigitClassifier(folder, seed=0)
    images, labels = data.train
    identity = {"data_source": data.source, "train_size": int(len(labels)),
                "split": SPLIT if data.source == "test-split" else None,
                "train_sha": quality.data_fingerprint(images, labels),
                "epochs": config.classifier_epochs}
    info = classifier.fit_or_load(images, labels, *data.val, identity=identity,
                                  epochs=config.classifier_epochs, progress=config.progress)
    return classifier, info


def measure(classifier, pixels, reference_stats):
    """The three numbers (and the class histogram) for uint8 images."""
    scores = quality.quality(classifier, pixels.astype(np.float32) / 255.0, reference_stats)
    return {k: (float(v) if np.isscalar(v) else [float(x) for x in v])
            for k, v in scores.items()}


# --------------------------------------------------------------------------- figures


@plots.styled
def losses_figure(history, title):
    """Both losses and D's accuracy on real and on fake images, against the step."""
    fig = plots._figure((7, 5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    steps = [h["step"] for h in history]
    for key, color in (("d_loss", "tab:red"), ("g_loss", "tab:blue")):
        top.plot(steps, [h[key] for h in history], color=color, label=key)
    top.set(ylabel="loss", title=title)
    for key, color in (("d_real_accuracy", "tab:green"), ("d_fake_accuracy", "tab:purple")):
        bottom.plot(steps, [h[key] for h in history], color=color,
                    label=key.replace("d_", "D accuracy on ").replace("_accuracy", ""))
    bottom.axhline(0.5, color="gray", ls="--", lw=1)
    bottom.set(xlabel="step", ylabel="fraction right", ylim=(-0.02, 1.02))
    for ax in (top, bottom):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


@plots.styled
def grid_figure(grid, title, cmap):
    """One tiled grid of images, its title above (the figure follows the grid's shape)."""
    fig = plots._figure((6, 6 * grid.shape[0] / grid.shape[1] + 0.4))
    ax = fig.subplots()
    ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap=cmap)
    ax.set(xticks=[], yticks=[], title=title)
    return fig


def interpolation_pixels(sess, m, config, rows=6, steps=10):
    """Rows of G's images along straight lines between pairs of fixed noise vectors."""
    ends = fixed_noise(config, 2 * rows, stream=1)
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    z = np.concatenate([(1 - t) * ends[2 * r] + t * ends[2 * r + 1] for r in range(rows)])
    return tile(to_pixels(generate(sess, m, z)), cols=steps)


def write_figures(out, run, config, final_grid, interpolation):
    cmap = "gray" if final_grid.shape[-1] == 1 else None
    figs = out / "figures"
    name = config.model.upper()
    plots.save_figure(grid_figure(final_grid, f"{name} samples after {config.steps:,} steps",
                                  cmap), figs / "samples.png")
    plots.save_figure(grid_figure(interpolation, "walking in z: each row goes from one "
                                                 "noise vector to another", cmap),
                      figs / "interpolation.png")
    if run.history:
        plots.save_figure(losses_figure(run.history, f"{name} on {config.dataset}"),
                          figs / "losses.png")
    grids = list(run.snapshots)
    if not run.snapshot_steps or run.snapshot_steps[-1] != config.steps:
        grids.append(final_grid)   # the GIF ends on the final samples
    if grids:
        frames = [np.repeat(g, 3, axis=-1) if g.shape[-1] == 1 else g for g in grids]
        plots.save_gif(frames, figs / "progress.gif", fps=4, width=frames[0].shape[1])


# --------------------------------------------------------------------------- one run


def run_identity(config, data, image_shape):
    """What makes a checkpoint belong to this run (``--resume`` refuses another)."""
    return {"lesson": LESSON, "model": config.model, "dataset": config.dataset,
            "data_source": data.source, "seed": config.seed, "batch_size": config.batch_size,
            "latent_size": config.latent_size, "lr": config.lr, "beta1": config.beta1,
            "width": config.width, "ema_decay": config.ema_decay,
            "label_smoothing": config.label_smoothing, "lr_decay": config.lr_decay,
            "image_shape": list(image_shape)}


def reference_parts(data, count):
    """The held-out images in two random halves (a fixed draw): ``A`` gives the reference
    feature statistics, ``B`` (at most ``count`` images, as many as the samples scored:
    the Frechet distance's bias depends on that number) is scored like the samples."""
    images = data.held_out[0]
    order = np.random.default_rng(SPLIT["seed"] + 5).permutation(len(images))
    half = len(images) // 2
    return images[order[:half]], images[order[half:][:count]]


def train(config, out):
    """Train both networks, measure the samples, write metrics and figures."""
    wall_start = time.time()
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    data = load_data(config)
    image_shape = tuple(int(d) for d in data.train[0].shape[1:])
    models.check_shapes(config.model, image_shape, config.latent_size)
    config = with_steps(config, len(data.train[0]))
    identity = run_identity(config, data, image_shape)
    ckpt_dir = out / "checkpoints"
    with new_graph(seed=config.seed) as graph:
        with tf.device(device):
            m = build_graph(config, image_shape)
        saver = tf1.train.Saver(max_to_keep=3, save_relative_paths=True)
        init = tf1.global_variables_initializer()
        graph.finalize()
    run = Run(config)
    classifier = reference = ref_stats = None
    if data.source != "cifar10":
        classifier, info = classifier_for(config, data)
        ref_a, ref_b = reference_parts(data, config.quality_samples)
        ref_stats = quality.feature_stats(classifier.predict(ref_a / 255.0)["features"])
        reference = {**measure(classifier, ref_b, ref_stats),
                     "classifier_val_accuracy": info["val_accuracy"], "images": len(ref_b)}
    count = len(ref_b) if classifier is not None else 0
    with tf1.Session(graph=graph, config=session_config(**cli.session_options(config))) as sess:
        start = restore(sess, saver, ckpt_dir, out, run, identity) if config.resume else None
        if start is None:
            sess.run(init)
            start = 0
            if classifier is not None:   # the floor: the generator before any training
                run.untrained = measure(classifier, to_pixels(generate(
                    sess, m, fixed_noise(config, count, stream=2))), ref_stats)
        writer = tf1.summary.FileWriter(str(out / "logs" / "train"), graph,
                                        filename_suffix=f".{os.getpid()}.{uuid.uuid4().hex[:8]}")
        if start:
            writer.add_session_log(tf1.SessionLog(status=tf1.SessionLog.START), start)
        train_steps(sess, m, run, config, data, saver, ckpt_dir, out, identity, start, writer)
        writer.close()
        final_grid = tile(to_pixels(generate(sess, m, fixed_noise(config))))
        interpolation = interpolation_pixels(sess, m, config)
        scores = raw = None
        if classifier is not None:
            z = fixed_noise(config, count, stream=2)
            scores = measure(classifier, to_pixels(generate(sess, m, z)), ref_stats)
            if config.ema_decay:   # the generator as trained, without the averaging
                raw = measure(classifier, to_pixels(generate(sess, m, z, key="fake")),
                              ref_stats)
    if classifier is not None:
        classifier.close()
    write_figures(out, run, config, final_grid, interpolation)
    return report(config, out, run, data, scores, reference, device, wall_start, raw)


def report(config, out, run, data, scores, reference, device, wall_start, raw=None):
    """``metrics.json``, the summary lines and the mode-collapse warning."""
    last = run.history[-1] if run.history else {}
    metrics = {
        "lesson": LESSON, "model": config.model, "dataset": config.dataset,
        "data_source": data.source, "fast": config.fast, "steps": config.steps,
        "train_images": int(len(data.train[0])),
        **{k: (scores or {}).get(k) for k in ("class_entropy", "mean_confidence",
                                              "frechet_distance", "class_histogram")},
        "reference": reference, "untrained": run.untrained, "raw_generator": raw,
        "d_real_accuracy": last.get("d_real_accuracy"),
        "d_fake_accuracy": last.get("d_fake_accuracy"),
        "train_seconds": round(run.train_seconds, 2),
        "wall_seconds": round(time.time() - wall_start, 2), "device": device,
        "history": run.history, "config": dataclasses.asdict(config),
    }
    warning = scores and quality.mode_collapse(scores["class_histogram"],
                                               scores["class_entropy"])
    metrics["mode_collapse"] = warning or None
    write_json(out / "metrics.json", metrics)
    print(f"{config.model} on {config.dataset} ({data.source}), {config.steps:,} steps "
          f"({metrics['train_seconds']:.0f} s training, {metrics['wall_seconds']:.0f} s in all)")
    if scores:
        floor = run.untrained or {}
        print("quality (digit classifier trained on real training images only):")
        for key, label in (("class_entropy", "class entropy (nats, 2.30 = all ten equally)"),
                           ("mean_confidence", "mean confidence"),
                           ("frechet_distance", "Frechet distance in its feature space")):
            line = (f"  {label:<46} samples {scores[key]:8.3f}   real held-out "
                    f"{reference[key]:8.3f}   untrained G {floor.get(key, float('nan')):8.3f}")
            if raw:
                line += f"   (G without averaging {raw[key]:.3f})"
            print(line)
    if warning:
        print(f"warning: {warning}")
    print(f"wrote {out / 'metrics.json'} and {out / 'figures'}")
    return metrics


# --------------------------------------------------------------------------- --sample N


def write_samples(config, out):
    """Restore the last checkpoint in ``out`` and write ``config.sample`` samples."""
    ckpt_dir = out / "checkpoints"
    prefix, state = rundir.resume_point(ckpt_dir)
    if prefix is None:
        raise UsageError(f"--sample needs a trained run: no checkpoint in {ckpt_dir}; train "
                         f"first (python -m tfgraph_lessons.{LESSON} --out {out}) or point "
                         "--out at a run folder")
    saved = state.get("run") or {}
    if saved.get("lesson") != LESSON or "image_shape" not in saved:
        raise UsageError(f"{ckpt_dir} holds no {LESSON} checkpoint; point --out at a "
                         f"{LESSON} run folder")
    settings = {k: saved[k] for k in ("model", "latent_size", "width", "dataset")}
    settings["ema_decay"] = saved.get("ema_decay", 0.0)
    settings["lr_decay"] = "none"   # sampling takes no step: no schedule
    config = dataclasses.replace(config, **settings)
    with new_graph(seed=config.seed) as graph:
        m = build_graph(config, tuple(saved["image_shape"]))
        saver = tf1.train.Saver(save_relative_paths=True)
    with tf1.Session(graph=graph, config=session_config(**cli.session_options(config))) as sess:
        saver.restore(sess, prefix)
        pixels = to_pixels(generate(sess, m, fixed_noise(config, config.sample,
                                                         stream=3 + config.seed)))
    folder = out / "samples"
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=pixels)
    atomic_write_bytes(folder / "samples.npz", buffer.getvalue())
    cmap = "gray" if pixels.shape[-1] == 1 else None
    plots.save_figure(grid_figure(tile(pixels, cols=min(10, len(pixels))),
                                  f"{len(pixels)} samples from step {state['step']:,}", cmap),
                      folder / "samples.png")
    print(f"wrote {len(pixels)} samples from {prefix} to {folder}")
    return {"samples": str(folder / "samples.npz"), "step": state["step"]}


# --------------------------------------------------------------------------- entry points


def with_steps(config, train_size):
    """Resolve the length: ``--steps``, else ``--epochs`` over the training images, else
    the model's default (fast mode: :data:`FAST_STEPS`)."""
    if config.steps is None:
        if config.epochs:
            steps = -(-config.epochs * train_size // config.batch_size)
        else:
            steps = FAST_STEPS if config.fast else DEFAULT_STEPS[config.model]
        config = dataclasses.replace(config, steps=steps)
    return config


def check_settings(config):
    if config.dataset not in DATASETS:
        raise UsageError(f"unknown --dataset {config.dataset!r}; use mnist or cifar10")
    models.check_shapes(config.model, (28, 28, 1) if config.dataset == "mnist" else
                        (32, 32, 3), config.latent_size)
    if config.model == "gan" and config.dataset == "cifar10":
        raise UsageError("--dataset cifar10 trains the dcgan only; use --model dcgan")
    for name in ("lr",):
        cli.check_positive(f"--{name}", getattr(config, name))
    if not 0 <= config.beta1 < 1:
        raise UsageError(f"--beta1 must be in [0, 1), got {config.beta1}")
    if not 0 <= config.label_smoothing < 1:
        raise UsageError(f"--label-smoothing must be in [0, 1), got {config.label_smoothing}")
    if config.lr_decay not in ("none", "linear"):
        raise UsageError(f"--lr-decay must be none or linear, got {config.lr_decay!r}")
    if not 0 <= config.ema_decay < 1:
        raise UsageError(f"--ema-decay must be in [0, 1) (0: no averaging), "
                         f"got {config.ema_decay}")
    for name in ("batch_size", "width", "sample_every", "checkpoint_every", "quality_samples",
                 "classifier_epochs"):
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number > 0, "
                             f"got {value}")
    if config.sample is not None and config.sample <= 0:
        raise UsageError(f"--sample must be a whole number > 0, got {config.sample}")


def resolve_config(config):
    check_settings(config)
    if config.fast:
        fill = {"sample_every": 20, "quality_samples": 500, "classifier_epochs": 1}
        fill = {k: v for k, v in fill.items() if getattr(config, k) == getattr(GanConfig, k)}
        config = dataclasses.replace(config, **fill)
    return config


def default_out(config):
    return cli.default_out(LESSON, config.dataset, config.model, fast=config.fast)


def run(config):
    """Train and measure (or, with ``sample``, write samples); returns the metrics dict."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    if config.sample:
        return write_samples(config, out)
    resolve_device(config.device, notice=lambda msg: None, soft_placement=config.soft_placement)
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=["snapshots.npz"])
    if config.fast:
        cli.announce_fast(config, f"{config.steps or FAST_STEPS} steps, the classifier 1 "
                                  f"epoch, {config.quality_samples} samples scored; "
                                  f"writes to {out}")
    return train(config, out)


def parse_config(argv=None):
    """The command line -> a :class:`GanConfig`."""
    c = GanConfig
    steps = ", ".join(f"{k} {v:,}" for k, v in DEFAULT_STEPS.items())
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}", __doc__.splitlines()[0],
                               default_batch_size=c.batch_size, length_unit="steps",
                               default_length=f"{steps}; {FAST_STEPS} with --fast")
    parser.add_argument("--model", default=c.model, choices=models.MODELS,
                        help="gan (fully connected) or dcgan (convolutional)")
    parser.add_argument("--dataset", default=c.dataset, choices=DATASETS,
                        help="mnist (with the quality measure) or cifar10 (dcgan only)")
    parser.add_argument("--latent-size", type=int, default=c.latent_size,
                        help="length of the noise vector z")
    cli.add_lr_argument(parser, c.lr, help="Adam's learning rate, both networks")
    parser.add_argument("--beta1", type=float, default=c.beta1,
                        help="Adam's beta1 (DCGAN: 0.5, not 0.9, which oscillates)")
    parser.add_argument("--width", type=cli.positive_int, default=c.width,
                        help="DCGAN's channels at full size (twice that at half size)")
    parser.add_argument("--ema-decay", type=float, default=c.ema_decay,
                        help="show and score a moving average of G's weights with this "
                             "decay, e.g. 0.999 (0: G itself)")
    parser.add_argument("--label-smoothing", type=float, default=c.label_smoothing,
                        help="one-sided: D's target for real images is 1 minus this")
    parser.add_argument("--lr-decay", default=c.lr_decay, choices=["none", "linear"],
                        help="linear: the learning rate falls to 0 over the second half")
    parser.add_argument("--sample-every", type=cli.positive_int, default=c.sample_every,
                        help="steps between progress grids (20 with --fast)")
    parser.add_argument("--checkpoint-every", type=cli.positive_int,
                        default=c.checkpoint_every, help="steps between checkpoints")
    parser.add_argument("--quality-samples", type=cli.positive_int, default=c.quality_samples,
                        help="samples scored, at most the held-out half (500 with --fast)")
    parser.add_argument("--classifier-dir", default=None,
                        help="the cached digit classifier (default: "
                             "runs/gan_mnist/classifier_<data source>)")
    parser.add_argument("--sample", type=cli.positive_int, default=None, metavar="N",
                        help="write N samples from the checkpoint in --out; no training")
    args = parser.parse_args(argv)
    shared = cli.shared_settings(args)
    config = GanConfig(
        model=args.model, dataset=args.dataset, steps=args.steps, batch_size=args.batch_size,
        latent_size=args.latent_size, lr=args.lr, beta1=args.beta1, width=args.width,
        ema_decay=args.ema_decay, label_smoothing=args.label_smoothing,
        lr_decay=args.lr_decay,
        sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
        quality_samples=args.quality_samples, classifier_dir=args.classifier_dir,
        sample=args.sample, **shared)
    return dataclasses.replace(config, epochs=args.epochs) if args.epochs else config


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
