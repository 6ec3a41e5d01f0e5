"""``python -m tfgraph_lessons.preprocessing``: chapter 2 end to end (see the package docstring).

    python -m tfgraph_lessons.preprocessing [--download] [--sectors K] [--train-size N]
        [--keep-prob P] [shared lesson options]

Writes ``OUT/metrics.json`` (every number below, by section), ``OUT/coco_example.json``
and ``OUT/figures/*.png`` (the same figures ``python -m tfgraph_lessons.figures``
registers, drawn from this run's data) into ``runs/preprocessing/chapter2``
(``_fast`` added in fast mode). ``--epochs``/``--steps`` and ``--batch-size`` set
the overfitting demo's training. The lesson keeps no checkpoints (its two small
trainings take seconds): ``--resume`` runs it again in the same folder.
"""
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfgraph_lessons.core import cli, rundir
from tfgraph_lessons.core.device import resolve_device, session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.data import datasets, preprocess
from tfgraph_lessons.preprocessing import networks, sets, transforms

LESSON = "preprocessing"
DEFAULT_EPOCHS = 300  # ~5 s per arm on two cores: the plain network has long memorised by then
FAST_EPOCHS = 60
COCO_FILE = "coco_example.json"
CIFAR_TRAIN, CIFAR_BATCH = 50_000, 128   # the CNN chapter's batches, counted in the batches section


@dataclass
class PrepConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    epochs: int = None          # overfitting demo; None: DEFAULT_EPOCHS (FAST_EPOCHS in fast mode)
    steps: int = None           # overrides epochs when set
    batch_size: int = 20        # 100 training digits -> 5 mini-batches per epoch
    download: bool = False      # fetch the data sets that are not on disk (hundreds of MB)
    # the ReLU question
    sectors: int = 6            # alternating sectors of a disc, two classes
    relu_units: int = 16        # hidden ReLUs: each one is a line that folds the plane
    relu_steps: int = 500       # full-batch Adam steps (2-D points: one batch is all of them)
    relu_lr: float = 0.05
    relu_points: int = 600      # training points; the test points are drawn with another seed
    relu_test_points: int = 2000
    # overfitting and dropout
    train_size: int = 100       # training digits, 10 per class, drawn stratified
    hidden_units: int = 256     # two hidden layers: ~85,000 weights for 100 examples
    init_stddev: float = 0.3    # above the slides' 0.1: the plain network memorises in seconds
    keep_prob: float = 0.5      # slides: dropout 0.5
    lr: float = 1e-3            # Adam


def fast_config(config):
    """The smoke-sized run (``--fast``): test splits only, shorter trainings. A length
    given explicitly (``epochs``, ``steps``) wins."""
    explicit = config.epochs is not None or config.steps is not None
    return dataclasses.replace(config, epochs=config.epochs if explicit else FAST_EPOCHS,
                               relu_steps=min(config.relu_steps, 300),
                               relu_test_points=min(config.relu_test_points, 1000), fast=True)


def resolve_config(config):
    """Apply fast mode and the default length; check what argparse could not."""
    if config.fast:
        config = fast_config(config)
    if config.epochs is None and config.steps is None:
        config = dataclasses.replace(config, epochs=DEFAULT_EPOCHS)
    if config.sectors < 4 or config.sectors % 2:
        raise UsageError(f"--sectors must be an even number >= 4 (alternating classes; the "
                         f"two halves are always shown too), got {config.sectors}")
    n_digits = len(datasets.load_split("digits", "train")[1])
    if not 10 <= config.train_size < n_digits:
        raise UsageError(f"--train-size must be in 10..{n_digits - 1} (the digits' training "
                         f"split), got {config.train_size}")
    if not 0 < config.keep_prob <= 1:
        raise UsageError(f"--keep-prob must be in (0, 1] (1: no dropout), got {config.keep_prob}")
    for name in ("relu_units", "relu_steps", "relu_points", "relu_test_points",
                 "hidden_units", "batch_size", "relu_lr", "lr", "init_stddev"):
        cli.check_positive(name, getattr(config, name))
    return config


def fast_summary(config):
    """The first line of a fast run: what it shrinks."""
    return (f"test splits only, {config.relu_steps} steps per sector classifier, "
            f"overfitting demo {cli.length_text(config)}")


def default_out(config):
    """``runs/preprocessing/chapter2`` (``chapter2_fast`` in fast mode)."""
    return cli.default_out(LESSON, "chapter2", fast=config.fast)


# --------------------------------------------------------------------------- the sections


def data_section(config, out):
    """1. The data sets on disk, and COCO's format written and read back."""
    splits = ("test",) if config.fast else ("train", "test")
    summary, loaded = sets.survey_datasets(config.data_dir, config.download, splits)
    print("1. the data sets" + (" (fast: test splits only)" if config.fast else ""))
    for name, info in summary.items():
        if info["available"]:
            shapes = ", ".join(f"{s} {'x'.join(map(str, p['images']))}"
                               for s, p in info["splits"].items())
            names = info["class_names"]
            print(f"   {name:9s} {shapes} {next(iter(info['splits'].values()))['dtype']}, "
                  f"{info['num_classes']} classes ({names[0]}, {names[1]}, ... {names[-1]})")
        elif name == "coco":
            print(f"   {name:9s} described, not downloaded (about 19 GB); its annotation format:")
        else:
            print(f"   {name:9s} not on disk (--download fetches it): {info['about']}")
    coco = sets.read_coco(sets.write_coco_example(out / COCO_FILE))
    print(f"   COCO format: {out / COCO_FILE} read back: {coco['images']} images, "
          f"{coco['annotations']} objects, boxes [x, y, width, height]")
    return {"datasets": summary, "loaded": loaded, "coco": coco}


def image_section(loaded, seed):
    """2-4. Channels, normalisation and augmentation of real colour images."""
    images, source = sets.colour_images(loaded)
    split = transforms.channels(images[0])
    norm = transforms.normalisation(images)
    augs = transforms.augmentations(images[0], copies=8, seed=seed)
    print(f"2. channels of one {source} image {images[0].shape}: mean R/G/B "
          + "/".join(f"{m:.0f}" for m in split["means"]))
    print(f"3. {len(images):,} images: min-max {norm['min']:.0f}..{norm['max']:.0f} -> "
          f"{norm['after_min_max'][0]:.0f}..{norm['after_min_max'][1]:.0f} (graph op vs NumPy: "
          f"{norm['graph_vs_numpy']:.1e}); standardised per channel: mean "
          + "/".join(f"{m:+.2f}" for m in norm["after_standardize"]["mean"]) + ", std "
          + "/".join(f"{s:.2f}" for s in norm["after_standardize"]["std"]))
    changed = {k: transforms.changed_fraction(images[0], v) for k, v in augs.items()}
    print("4. augmentation, share of 8 copies that differ from the original: "
          + ", ".join(f"{k} {v:.0%}" for k, v in changed.items()))
    return {"image": images[0], "source": source, "channels": split, "normalisation": norm,
            "augmentations": augs, "changed": changed}


def batches_section(config):
    """5-6. Mini-batches and epochs of the overfitting demo; the three-way split."""
    per_epoch = preprocess.num_batches(config.train_size, config.batch_size)
    epochs = config.epochs if config.steps is None else -(-config.steps // per_epoch)
    plan = transforms.batch_plan(config.train_size, config.batch_size, epochs, seed=config.seed)
    cifar = {"examples": CIFAR_TRAIN, "batch_size": CIFAR_BATCH,
             "batches_per_epoch": preprocess.num_batches(CIFAR_TRAIN, CIFAR_BATCH),
             "last_batch_size": CIFAR_TRAIN % CIFAR_BATCH or CIFAR_BATCH}
    print(f"5. {plan['examples']} training examples in batches of {plan['batch_size']}: "
          f"{plan['batches_per_epoch']} steps = 1 epoch; CIFAR-10: {CIFAR_TRAIN:,} / "
          f"{CIFAR_BATCH} = {cifar['batches_per_epoch']} steps (the last one "
          f"{cifar['last_batch_size']} images)")
    digits = datasets.load_digits()
    labels = np.concatenate([digits.train_labels, digits.test_labels])   # all 1,797
    split = transforms.split_report(labels, 0.2, 0.1, seed=config.seed)
    dev = split["max_class_deviation"]
    print(f"6. digits split train/val/test {split['sizes']['train']}/{split['sizes']['val']}/"
          f"{split['sizes']['test']}: class shares off by at most {dev['stratified']:.3f} "
          f"(stratified) vs {dev['random']:.3f} (a random cut)")
    return {"plan": plan, "cifar_batches": cifar, "split": split}


def network_section(config, device, sess_config):
    """7-8. The ReLU question and the overfitting demo."""
    relu = networks.relu_question(config.sectors, config.relu_units, config.relu_steps,
                                  config.relu_lr, config.relu_points, config.relu_test_points,
                                  seed=config.seed, device=device, config=sess_config)
    print(f"7. one line on two halves: {relu['halves']['test_accuracy']:.1%}; one line on "
          f"{config.sectors} alternating sectors: {relu['linear']['test_accuracy']:.1%}; "
          f"one layer of {config.relu_units} ReLUs: {relu['relu']['test_accuracy']:.1%} "
          "(held-out points)")
    demo = networks.overfitting_demo(
        config.train_size, config.epochs, config.steps, config.batch_size, config.keep_prob,
        config.hidden_units, config.init_stddev, config.lr, config.seed, device, sess_config)
    for arm, m in demo["arms"].items():
        print(f"8. {arm:10s} train {m['train_accuracy']:.1%}  test {m['test_accuracy']:.1%}  "
              f"gap {100 * m['gap']:.1f} points ({demo['train_examples']} training digits, "
              f"{demo['steps']} steps)")
    print(f"   verdict: {demo['verdict']}")
    return {"relu": relu, "overfitting": demo}


# --------------------------------------------------------------------------- outputs


def metrics_of(config, results, device, seconds):
    """The JSON of a run: each section's numbers (no image arrays)."""
    image, norm = results["image"], results["normalisation"]
    relu, demo = results["relu"], results["overfitting"]
    plan = {k: v for k, v in results["plan"].items() if k != "epoch_batches"}
    return {
        "lesson": LESSON,
        "fast": config.fast,
        "datasets": results["datasets"],
        "coco": results["coco"],
        "channels": {"source": results["source"], "image_shape": list(image.shape),
                     "channel_means": results["channels"]["means"]},
        "normalisation": {"source": results["source"], "images": list(norm["raw"].shape),
                          **{k: norm[k] for k in ("min", "max", "mean", "std", "after_min_max",
                                                  "after_standardize", "graph_vs_numpy")}},
        "augmentation": {"image_shape": list(image.shape), "copies": 8,
                         "changed_fraction": results["changed"]},
        "batches": {**plan, "cifar10": results["cifar_batches"]},
        "split": {"dataset": "digits (all 1,797 images)",
                  **{k: v for k, v in results["split"].items() if k != "indices"}},
        "relu": {"sectors": config.sectors, "hidden_units": config.relu_units,
                 "train_points": config.relu_points, "test_points": config.relu_test_points,
                 **{f"{name}_{key}": relu[name][key] for name in ("halves", "linear", "relu")
                    for key in ("train_accuracy", "test_accuracy")}},
        "overfitting": demo,
        "steps": demo["steps"],
        "epochs": demo["epochs"],
        "wall_seconds": round(seconds, 2),
        "device": device,
        "config": dataclasses.asdict(config),
    }


def write_figures(fig_dir, results):
    """Draw the run's figures into ``fig_dir`` with the registered figures' drawing
    functions (:mod:`tfgraph_lessons.figures.preprocessing`); returns the paths."""
    import matplotlib.pyplot as plt

    from tfgraph_lessons.core.plots import save_figure
    from tfgraph_lessons.figures import DPI, figure_style
    from tfgraph_lessons.figures import preprocessing as draw

    jobs = {f"data_{name}_samples": (draw.samples_figure, (name, images, labels, names))
            for name, (images, labels, names) in results["loaded"].items()}
    jobs.update({
        "prep_channels": (draw.channels_figure, (results["image"], results["source"])),
        "prep_normalisation": (draw.normalisation_figure,
                               (results["normalisation"], results["source"])),
        "prep_augmentation": (draw.augmentation_figure,
                              (results["image"], results["augmentations"])),
        "prep_batches_epochs": (draw.batches_figure, (results["plan"],)),
        "prep_split": (draw.split_figure, (results["split"],)),
        "prep_relu_separation": (draw.relu_figure, (results["relu"],)),
        "prep_overfitting_dropout": (draw.overfitting_figure, (results["overfitting"],)),
    })
    written = []
    for name, (fn, args) in jobs.items():
        with figure_style(draw.figsize(name)):
            fig = fn(*args)
            try:
                written.append(save_figure(fig, Path(fig_dir) / f"{name}.png", dpi=DPI))
            finally:
                plt.close(fig)
    return written


def run(config):
    """Run the chapter as configured; returns the metrics dict (also in ``OUT/metrics.json``)."""
    config = resolve_config(config)
    out = Path(config.out or default_out(config))
    device = resolve_device(config.device, soft_placement=config.soft_placement)
    rundir.prepare_run_dir(out, resume=config.resume, overwrite=config.overwrite,
                           extra_outputs=(COCO_FILE,))
    if config.resume:
        print(f"--resume: this lesson keeps no checkpoints; running it again in {out}",
              file=sys.stderr)
    if config.fast:
        cli.announce_fast(config, fast_summary(config) + f"; writes to {out}")
    start = time.time()
    sess_config = session_config(soft_placement=config.soft_placement,
                                 intra_threads=config.intra_threads,
                                 inter_threads=config.inter_threads)
    results = data_section(config, out)
    results.update(image_section(results["loaded"], config.seed))
    results.update(batches_section(config))
    results.update(network_section(config, device, sess_config))
    metrics = metrics_of(config, results, device, time.time() - start)
    write_json(out / "metrics.json", metrics)
    figures = write_figures(out / "figures", results)
    print(f"wrote {out / 'metrics.json'} and {len(figures)} figures in {out / 'figures'} "
          f"({metrics['wall_seconds']:.0f} s)")
    return metrics


def parse_config(argv=None):
    """The command line -> a :class:`PrepConfig`."""
    parser = cli.lesson_parser(f"python -m tfgraph_lessons.{LESSON}",
                               "Chapter 2: data sets, preprocessing, batches, ReLU, overfitting.",
                               default_batch_size=PrepConfig.batch_size,
                               default_length=f"{DEFAULT_EPOCHS}; {FAST_EPOCHS} with --fast")
    parser.add_argument("--download", action="store_true",
                        help="fetch the data sets that are not on disk (MNIST 11 MB, CIFAR-10 "
                             "163 MB, CIFAR-100 161 MB, SVHN 246 MB); without it only what is "
                             "there is loaded")
    parser.add_argument("--sectors", type=cli.positive_int, default=PrepConfig.sectors,
                        help="alternating sectors of the ReLU question (even, >= 4)")
    parser.add_argument("--train-size", type=cli.positive_int, default=PrepConfig.train_size,
                        help="training digits of the overfitting demo")
    parser.add_argument("--keep-prob", type=float, default=PrepConfig.keep_prob,
                        help="keep probability of the dropout arm")
    args = parser.parse_args(argv)
    return PrepConfig(download=args.download, sectors=args.sectors, train_size=args.train_size,
                      keep_prob=args.keep_prob, batch_size=args.batch_size, epochs=args.epochs,
                      steps=args.steps, **cli.shared_settings(args))


def main(argv=None):
    return cli.run_main(lambda: run(parse_config(argv)))


if __name__ == "__main__":
    main()
