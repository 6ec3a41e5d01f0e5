"""Chapter 1: every algorithm of the slides' machine-learning map, ours against scikit-learn's.

    python -m tfgraph_lessons.ml_basics [--only NAME[,NAME]] [--list] [shared lesson options]

The slides open with a map: supervised learning (decision tree, CART, CNN, RNN,
reinforcement learning, LASSO, logistic regression) and unsupervised learning
(Boltzmann machine, Apriori, KNN, Hebbian learning, GAN, K-means). The neural
networks have chapters of their own; the classical algorithms are here, each an
estimator with scikit-learn's shape (``fit``, ``predict``, ``score``) that builds
and runs its TensorFlow graph inside (:data:`ALGORITHMS` says where each one
lives). The lesson fits each on real data that ships with scikit-learn, fits
scikit-learn's own counterpart on the same split, and prints one line per
algorithm: the data set, the measure, ours, scikit-learn's, the seconds each
took, and whether the issue's requirement holds (within 2 accuracy points,
identical predictions, inertia within 2%, the same LASSO coefficients to 1e-4,
Oja's direction within 1 degree of PCA's, Apriori equal to brute force).

Writes ``runs/ml_basics/comparison`` (``_fast`` in fast mode): ``metrics.json``
(``algorithms``: one object per algorithm with ``dataset``, ``metric``, ``ours``,
``sklearn``, ``ours_seconds``, ``sklearn_seconds``, ``check``, ``passed``; ``reference``
where the counterpart is not scikit-learn's, as for Apriori) and
``comparison.md`` (the table).
"""
import dataclasses
import importlib
import time
from dataclasses import dataclass
from pathlib import Path

from tfgraph_lessons.core import cli, rundir
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.io import atomic_write_bytes, write_json

LESSON = "ml_basics"

# The modules whose compare() the lesson runs, in the slides' order.
MODULES = ("linear", "tree", "rbm", "apriori", "neighbors", "hebbian", "cluster")


@dataclass(frozen=True)
class Algorithm:
    """One box of the slides' map.

    Attributes:
      name: as the slide writes it.
      learning: ``supervised``, ``unsupervised`` or ``reinforcement`` (what it is).
      slide: the side of the map the slide puts it on.
      where: the module or lesson that teaches it.
      note: what differs from the slide, if anything.
    """

    name: str
    learning: str
    slide: str
    where: str
    note: str = ""


ALGORITHMS = (
    Algorithm("decision tree", "supervised", "supervised", "ml_basics.tree"),
    Algorithm("CART", "supervised", "supervised", "ml_basics.tree",
              "CART is the decision-tree algorithm used here (binary splits, Gini or entropy)"),
    Algorithm("CNN", "supervised", "supervised", "cnn_cifar"),
    Algorithm("RNN", "supervised", "supervised", "rnn_mnist, char_rnn, rnn_timeseries"),
    Algorithm("reinforcement learning", "reinforcement", "supervised",
              "rl_frozenlake, rl_cartpole",
              "neither supervised nor unsupervised: it learns from rewards, not labels"),
    Algorithm("LASSO", "supervised", "supervised", "ml_basics.linear"),
    Algorithm("logistic regression", "supervised", "supervised", "ml_basics.linear"),
    Algorithm("Boltzmann machine", "unsupervised", "unsupervised", "ml_basics.rbm",
              "the restricted one (RBM), trained with contrastive divergence"),
    Algorithm("Apriori", "unsupervised", "unsupervised", "ml_basics.apriori"),
    Algorithm("KNN", "supervised", "unsupervised", "ml_basics.neighbors",
              "the k-nearest-neighbours classifier learns from labels: supervised"),
    Algorithm("Hebbian learning", "unsupervised", "unsupervised", "ml_basics.hebbian"),
    Algorithm("GAN", "unsupervised", "unsupervised", "gan_mnist"),
    Algorithm("K-means", "unsupervised", "unsupervised", "ml_basics.cluster"),
)


@dataclass
class MLBasicsConfig(cli.LessonConfig):
    """Every setting of a run; ``metrics.json`` records all of them."""

    only: tuple = None           # names of MODULES to run (None: all)


def run_comparisons(config):
    """Call every selected module's ``compare`` and collect its rows."""
    rows = []
    for name in config.only or MODULES:
        module = importlib.import_module(f"tfgraph_lessons.ml_basics.{name}")
        start = time.time()
        found = module.compare(seed=config.seed, fast=config.fast)
        for row in found:
            row = dict(row, module=f"ml_basics.{name}")
            rows.append(row)
            print(format_row(row), flush=True)
        if not found:
            print(f"{name}: no comparison ({time.time() - start:.1f} s)")
    return rows


def format_number(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_row(row):
    """Two lines: the algorithm and its data set, then the measure, both results with
    their seconds, and the requirement."""
    mark = "ok  " if row["passed"] else "FAIL"
    return (f"{mark} {row['algorithm']} on {row['dataset']}\n"
            f"     {row['metric']}: ours {format_number(row['ours'])} "
            f"({row['ours_seconds']:.2f} s), {row.get('reference', 'scikit-learn')} "
            f"{format_number(row['sklearn'])} "
            f"({row['sklearn_seconds']:.2f} s); {row['check']}")


def markdown_table(rows):
    """The comparison as a Markdown table (``comparison.md``, the README's table)."""
    lines = ["| algorithm | data set | measure | ours | scikit-learn | ours (s) | "
             "scikit-learn (s) | requirement |", "|" + " --- |" * 8]
    def cell(text):
        return str(text).replace("|", "\\|")     # a norm ||w|| must not end the cell

    for r in rows:
        lines.append(f"| {cell(r['algorithm'])} | {cell(r['dataset'])} | {cell(r['metric'])} | "
                     f"{format_number(r['ours'])} | {format_number(r['sklearn'])}"
                     f"{'' if 'reference' not in r else ' (' + r['reference'] + ')'} | "
                     f"{r['ours_seconds']:.2f} | {r['sklearn_seconds']:.2f} | "
                     f"{cell(r['check'])} |")
    return "\n".join(lines) + "\n"


def run(config):
    """Run the comparisons; returns the metrics dict (also in ``OUT/metrics.json``)."""
    config = resolve_config(config)
    out = Path(config.out or cli.default_out(LESSON, "comparison", fast=config.fast))
    rundir.prepare_run_dir(out, resume=False, overwrite=config.overwrite,
                           extra_outputs=["comparison.md"])
    if config.fast:
        cli.announce_fast(config, f"smaller subsets where a comparison is slow; writes to {out}")
    start = time.time()
    rows = run_comparisons(config)
    metrics = {"lesson": LESSON, "fast": config.fast,
               "algorithms": {r["algorithm"]: {k: v for k, v in r.items() if k != "algorithm"}
                              for r in rows},
               "all_passed": all(r["passed"] for r in rows),
               "wall_seconds": round(time.time() - start, 2),
               "map": [dataclasses.asdict(a) for a in ALGORITHMS],
               "config": dataclasses.asdict(config)}
    write_json(out / "metrics.json", metrics)
    atomic_write_bytes(out / "comparison.md", markdown_table(rows).encode())
    failed = [r["algorithm"] for r in rows if not r["passed"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} comparisons meet the requirement"
          + (f"; not met: {', '.join(failed)}" if failed else "")
          + f" ({metrics['wall_seconds']:.0f} s); wrote {out / 'metrics.json'}")
    return metrics


def resolve_config(config):
    if config.only:
        unknown = [n for n in config.only if n not in MODULES]
        if unknown:
            raise UsageError(f"--only: unknown {', '.join(unknown)}; choose from "
                             f"{', '.join(MODULES)}")
    return config


def list_algorithms():
    for a in ALGORITHMS:
        note = f"  ({a.note})" if a.note else ""
        print(f"{a.name:<24} {a.learning:<14} {a.where}{note}")


def parse_config(argv=None):
    """The command line -> a :class:`MLBasicsConfig` (``None`` after ``--list``).

    Only the shared options that mean something here (no epochs, batch size or
    device: each algorithm runs to its own convergence on the CPU).
    """
    parser = cli.OneLineParser(prog=f"python -m tfgraph_lessons.{LESSON}",
                               description=__doc__.splitlines()[0],
                               formatter_class=cli.HelpFormatter)
    parser.add_argument("--only", type=lambda s: tuple(x for x in s.split(",") if x),
                        default=None, metavar="NAME[,NAME]",
                        help=f"run these modules only: {', '.join(MODULES)}")
    parser.add_argument("--list", action="store_true",
                        help="print the slides' map: each algorithm and where it is taught")
    parser.add_argument("--out", default=None,
                        help="output folder (default: runs/ml_basics/comparison)")
    parser.add_argument("--seed", type=cli._seed, default=0,
                        help="seed of the splits and of every algorithm")
    parser.add_argument("--fast", action="store_true",
                        help="smaller subsets where a comparison is slow (also TFGRAPH_FAST=1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results already in OUT")
    args = parser.parse_args(argv)
    if args.list:
        return None
    source = cli.fast_source(args.fast)
    return MLBasicsConfig(only=args.only, out=args.out, seed=args.seed,
                          fast=source is not None, fast_source=source,
                          overwrite=args.overwrite)


def main(argv=None):
    def go():
        config = parse_config(argv)
        if config is None:
            return list_algorithms()
        return run(config)
    return cli.run_main(go)


if __name__ == "__main__":
    main()
