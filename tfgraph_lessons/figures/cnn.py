"""CNN chapter figures drawn from a training run: "Iteration 1000 vs Iteration 200,000".

The filters and feature maps of the slides' network at chosen steps of one run
of ``python -m tfgraph_lessons.cnn_cifar`` (which records them in
``runs/cnn_cifar/cifar10_slide_cnn/snapshots.npz``). Set ``TFGRAPH_CNN_RUN`` to read
another run's folder.
"""
import os
from pathlib import Path

from tfgraph_lessons.figures import FigureUnavailable, register

RUN_ENV = "TFGRAPH_CNN_RUN"


def run_dir():
    """The run whose snapshots the figure shows: ``$TFGRAPH_CNN_RUN``, or the default
    run's folder ``runs/cnn_cifar/cifar10_slide_cnn``."""
    return Path(os.environ.get(RUN_ENV) or Path("runs") / "cnn_cifar" / "cifar10_slide_cnn")


@register("cnn_filters_over_time",
          "first-layer filters and feature maps at chosen steps of a cnn_cifar run",
          figsize=(14, 5))
def filters_over_time():
    from tfgraph_lessons.cnn_cifar import snapshots_figure

    path = run_dir() / "snapshots.npz"
    if not path.is_file():
        raise FigureUnavailable(
            f"{path} does not exist; run python -m tfgraph_lessons.cnn_cifar first "
            f"(or set {RUN_ENV} to a run folder that has snapshots.npz)")
    return snapshots_figure(path)
