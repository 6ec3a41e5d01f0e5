"""GAN chapter figures, drawn from the chapter's own graph functions.

* ``gan_two_networks``: the slides' two networks, the generator ``G(z)`` and the
  discriminator ``D(x)``, built by :mod:`tfgraph_lessons.gan.models` (DCGAN, MNIST's
  28x28 shape) in one graph: the shapes written on the arrows are the tensors' static
  shapes, the parameter counts come from each network's variables, and the samples are
  what the untrained ``G`` draws, with the probability the untrained ``D`` gives each
  (:func:`two_networks_example`);
* ``gan_losses``, ``gan_samples_over_training`` and ``gan_quality``: the two losses and
  D's accuracy over a ``gan_mnist`` run, G's samples from the same noise at its snapshot
  steps, and the chapter's quality measure between the untrained G and real digits, read
  from the run's ``metrics.json`` and ``snapshots.npz``
  (:func:`tfgraph_lessons.figures.runs.chosen`: ``--run DIR`` or ``runs/gan_mnist``).
"""
import numpy as np

from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.figures import FigureUnavailable, register, runs


def two_networks_example(model="dcgan", image_shape=(28, 28, 1), latent_size=100, samples=4,
                         seed=0):
    """Build ``G`` and ``D`` as the GAN lesson does and run them once, untrained.

    Returns:
      dict with ``z``, ``fake``, ``real``, ``logits`` (static shapes as lists, ``None`` for
      the batch), ``g_params`` and ``d_params`` (their variables' sizes), ``fakes``
      (``[samples, h, w]`` in [-1, 1]) and ``d_fake`` (``D``'s probability for each).
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.gan import models

    with new_graph(seed=seed) as g:
        z = tf1.placeholder(tf.float32, [None, latent_size], name="z")
        real = tf1.placeholder(tf.float32, [None, *image_shape], name="real")
        fake = models.generator(z, model, image_shape, False)
        real_logits = models.discriminator(real, model, False)
        fake_logits = models.discriminator(fake, model, False)  # the same variables, reused
        g_vars = tf1.trainable_variables("generator")
        d_vars = tf1.trainable_variables("discriminator")
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            noise = np.random.default_rng(seed).normal(size=(samples, latent_size))
            images, probs = sess.run([fake, tf.sigmoid(fake_logits)], {z: noise})
    return {"z": z.shape.as_list(), "fake": fake.shape.as_list(),
            "real": real.shape.as_list(), "logits": real_logits.shape.as_list(),
            "g_params": models.parameter_count(g_vars),
            "d_params": models.parameter_count(d_vars),
            "fakes": images[..., 0], "d_fake": probs}


def _shape(shape):
    return "[" + ", ".join("b" if d is None else str(d) for d in shape) + "]"


@register("gan_two_networks", "the GAN's two networks: G(z) and D(x) built by the chapter's "
          "graph functions, their shapes and parameters read from the graph, and what the "
          "untrained G draws", figsize=(12.0, 4.8))
def gan_two_networks_figure():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ex = two_networks_example()
    fig = plt.figure()
    grid = fig.add_gridspec(2, 4, width_ratios=[3.2, 1, 1, 0.2])
    ax = fig.add_subplot(grid[:, 0])
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.axis("off")
    boxes = {"G": (3.0, 4.5, f"generator G\n{ex['g_params']:,} parameters", "tab:blue"),
             "D": (7.0, 2.7, f"discriminator D\n{ex['d_params']:,} parameters", "tab:red")}
    for x, y, text, color in boxes.values():
        ax.add_patch(FancyBboxPatch((x - 1.4, y - 0.6), 2.8, 1.2, boxstyle="round,pad=0.15",
                                    facecolor="white", edgecolor=color, linewidth=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=10)
    arrows = (((0.2, 4.5), (1.5, 4.5), f"z {_shape(ex['z'])}", (0.2, 4.75)),
              ((4.5, 4.5), (6.0, 3.3), f"G(z) {_shape(ex['fake'])}", (5.3, 4.0)),
              ((2.5, 1.2), (5.5, 2.4), f"real x {_shape(ex['real'])}", (0.3, 1.0)),
              ((8.5, 2.7), (9.8, 2.7), f"logit {_shape(ex['logits'])}", (8.7, 2.9)))
    for start, end, label, at in arrows:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     linewidth=1.5, color="0.3"))
        ax.text(*at, label, fontsize=9, family="monospace")
    ax.text(7.0, 0.9, "D says how likely an image is real:\nD(x) -> 1 on real images, "
            "D(G(z)) -> 0;\nG learns to make D(G(z)) -> 1", ha="center", fontsize=9)
    for i, (image, prob) in enumerate(zip(ex["fakes"], ex["d_fake"])):
        sub = fig.add_subplot(grid[i // 2, 1 + i % 2])
        sub.imshow(image, cmap=CMAPS["image"])  # stretched: the untrained G's values are near 0
        sub.set_xticks([])
        sub.set_yticks([])
        sub.set_title(f"D(G(z)) = {prob:.2f}\nvalues {image.min():+.3f} to {image.max():+.3f}",
                      fontsize=8)
    fig.suptitle("A GAN is two networks in one graph (DCGAN on 28x28 images, untrained: G's "
                 "images are faint noise, shown stretched, and D answers 0.5)", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- from a run

LESSON = "gan_mnist"
COMMAND = "python -m tfgraph_lessons.gan_mnist"


def sample_steps(steps, shown=6):
    """Up to ``shown`` of a run's snapshot ``steps``, evenly spread, the first and the
    last always among them: the indices into ``steps``."""
    if len(steps) <= shown:
        return list(range(len(steps)))
    return sorted({int(round(i)) for i in np.linspace(0, len(steps) - 1, shown)})


def _named(run):
    m = run.metrics
    return f"{str(m.get('model', '?')).upper()} on {m.get('dataset', '?')}: {runs.describe(run)}"


@register("gan_losses", "the two losses over a gan_mnist run, and D's accuracy on real and "
          "on fake images (read from its metrics.json)", figsize=(12.0, 4.5))
def gan_losses_figure():
    import matplotlib.pyplot as plt

    run = runs.chosen(LESSON, COMMAND)
    history = [h for h in run.metrics.get("history") or [] if "d_loss" in h and "g_loss" in h]
    if not history:
        raise FigureUnavailable(f"{run.path / 'metrics.json'} has no loss history; run "
                                f"{COMMAND} again")
    steps = [h["step"] for h in history]
    fig, (left, right) = plt.subplots(1, 2)
    for key, color, what in (("d_loss", "tab:red", "D's loss: -log D(x) - log(1 - D(G(z)))"),
                             ("g_loss", "tab:blue", "G's loss: -log D(G(z))")):
        left.plot(steps, [h[key] for h in history], color=color, label=what)
    left.set(xlabel="step", ylabel="loss (nats)", title="the two losses")
    for key, color, line in (("d_real_accuracy", "tab:green", "-"),
                             ("d_fake_accuracy", "tab:purple", "--")):
        if all(key in h for h in history):
            right.plot(steps, [h[key] for h in history], line, color=color,
                       label=key.replace("d_", "D right on ").replace("_accuracy", " images"))
    right.axhline(0.5, color="0.5", ls=":", lw=1, label="a coin (0.5)")
    right.set(xlabel="step", ylabel="fraction right", ylim=(-0.02, 1.02),
              title="D's accuracy: neither network wins")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Training a GAN, {_named(run)}")
    return fig


@register("gan_samples_over_training", "G's samples from the same noise at steps of a "
          "gan_mnist run, getting better over training (its snapshots.npz)",
          figsize=(14.0, 3.4))
def gan_samples_over_training_figure(shown=6):
    import matplotlib.pyplot as plt

    run = runs.chosen(LESSON, COMMAND, "snapshots.npz")
    with np.load(run.path / "snapshots.npz") as f:
        steps, grids = [int(s) for s in f["steps"]], f["grids"]
    if not steps:
        raise FigureUnavailable(f"{run.path / 'snapshots.npz'} holds no samples; run "
                                f"{COMMAND} again")
    chosen = sample_steps(steps, shown)
    fig, axes = plt.subplots(1, len(chosen), squeeze=False)
    for ax, i in zip(axes[0], chosen):
        grid = grids[i]
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid,
                  cmap=CMAPS["image"] if grid.shape[-1] == 1 else None)
        ax.set(xticks=[], yticks=[], title=f"step {steps[i]:,}")
    fig.suptitle(f"The same noise vectors through G as training goes on, {_named(run)}")
    return fig


QUALITY_ROWS = {"untrained": "untrained G (the floor)", "trained": "this run's G",
                "reference": "real held-out digits (the best)"}


def quality_rows(metrics):
    """The quality measure of a ``gan_mnist`` run, next to its floor and its ceiling.

    Returns:
      ``{row: {mean_confidence, class_entropy, frechet_distance, class_histogram}}`` for
      ``untrained``, ``trained`` and ``reference`` (the rows that the run recorded).

    Raises:
      FigureUnavailable: the run recorded no quality measure (a CIFAR-10 run).
    """
    keys = ("mean_confidence", "class_entropy", "frechet_distance", "class_histogram")
    if not all(metrics.get(k) is not None for k in keys):
        raise FigureUnavailable("the gan_mnist run has no quality measure (only MNIST runs "
                                f"are scored); run {COMMAND} on MNIST")
    rows = {"trained": {k: metrics[k] for k in keys}}
    for row in ("untrained", "reference"):
        if isinstance(metrics.get(row), dict) and all(k in metrics[row] for k in keys):
            rows[row] = {k: metrics[row][k] for k in keys}
    return {row: rows[row] for row in QUALITY_ROWS if row in rows}


@register("gan_quality", "the GAN chapter's quality measure for a gan_mnist run (digit "
          "classifier: mean confidence, class entropy, Frechet distance, the classes drawn), "
          "between the untrained G and real digits", figsize=(13.0, 4.6))
def gan_quality_figure():
    import matplotlib.pyplot as plt

    run = runs.chosen(LESSON, COMMAND)
    rows = quality_rows(run.metrics)
    fig, (bars, table) = plt.subplots(1, 2, width_ratios=[1.4, 1.0])
    digits = np.arange(len(rows["trained"]["class_histogram"]))
    width = 0.8 / len(rows)
    colours = {"untrained": "0.7", "trained": "tab:blue", "reference": "tab:green"}
    for i, (row, q) in enumerate(rows.items()):
        bars.bar(digits + (i - (len(rows) - 1) / 2) * width, q["class_histogram"], width,
                 color=colours[row], label=QUALITY_ROWS[row])
    bars.axhline(1 / len(digits), color="k", ls=":", lw=1, label="every digit equally often")
    bars.set(xticks=digits, xlabel="digit the classifier sees", ylabel="fraction of images",
             title="which digits are drawn (the class histogram)")
    bars.legend(fontsize=8)
    table.axis("off")
    short = {"untrained": "untrained G", "trained": "this run's G", "reference": "real digits"}
    cells = [[short[row], f"{q['mean_confidence']:.3f}", f"{q['class_entropy']:.3f}",
              f"{q['frechet_distance']:.1f}"] for row, q in rows.items()]
    grid = table.table(cellText=cells, colLabels=["", "mean\nconfidence", "class entropy\n(max "
                       f"ln {len(digits)} = {np.log(len(digits)):.3f})", "Frechet\ndistance"],
                       loc="center", cellLoc="center", colWidths=[0.31, 0.21, 0.27, 0.21])
    grid.auto_set_font_size(False)
    grid.set_fontsize(9)
    grid.scale(1.0, 2.4)
    table.set_title("better: higher confidence, higher entropy, lower distance", fontsize=10)
    fig.suptitle(f"How good are G's digits? {_named(run)}")
    return fig
