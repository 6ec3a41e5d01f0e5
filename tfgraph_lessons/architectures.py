"""Architectures chapter: the layer table of any network, and every network next to its paper.

    python -m tfgraph_lessons.architectures --summary NAME      # layer table (slides' AlexNet table)
    python -m tfgraph_lessons.architectures --compare           # params and MACs vs the papers
    python -m tfgraph_lessons.architectures --json [--only NAME[,NAME]] [--family F]
    python -m tfgraph_lessons.architectures --compare --out DIR # + DIR/architectures.json and chart
    python -m tfgraph_lessons.architectures --list              # the registered networks

Every count comes from the network's graph (:mod:`tfgraph_lessons.nets.summary`):
parameters from its variables, multiply-adds from its convolution and matrix
product ops at batch 1; nothing is trained or run. ``--json`` prints a list of
objects with ``name``, ``family``, ``input_shape``, ``trainable_params``,
``all_params`` (trainable plus batch norm's moving statistics), ``madds``,
``paper_params``, ``paper_madds``, ``paper_source`` and the two ratios (with
``--summary``, each object also has its ``layers``).

Not a training lesson: it has no data, device or length options. A bad name or
family is one ``error:`` line on stderr and exit status 2.
Taught in ``notebooks/06_architectures.ipynb``.
"""
import json
import sys
from pathlib import Path

from tfgraph_lessons.core.cli import HelpFormatter, OneLineParser, run_main
from tfgraph_lessons.core.errors import UsageError

PROG = "python -m tfgraph_lessons.architectures"
JSON_FILE = "architectures.json"
CHART_FILE = "architectures_compare.png"


def _names(text):
    return [n.strip() for n in text.split(",") if n.strip()]


def parse_args(argv=None):
    """The command line -> ``argparse.Namespace`` (exit 2 with one line on a bad flag)."""
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0],
                      formatter_class=HelpFormatter)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--summary", type=_names, metavar="NAME[,NAME]",
                      help="print the layer table of these networks")
    what.add_argument("--compare", action="store_true",
                      help="print every network's parameters and multiply-adds next to its "
                           "paper's (the default)")
    what.add_argument("--list", action="store_true",
                      help="print the registered networks with their family and input size")
    p.add_argument("--json", action="store_true",
                   help="print JSON instead of text (a list of objects, one per network)")
    p.add_argument("--only", type=_names, action="extend", metavar="NAME[,NAME]",
                   help="only these networks (repeatable)")
    p.add_argument("--family", default=None, metavar="F",
                   help="only the networks of this family (see --list)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help=f"also write DIR/{JSON_FILE} and DIR/{CHART_FILE} (the compare chart)")
    p.add_check(lambda a: "--only cannot be combined with --summary (give the names to "
                          "--summary)" if a.summary and a.only else None)
    return p.parse_args(argv)


def summaries(names, family=None):
    """The layer tables of ``names`` (checked), as :class:`~tfgraph_lessons.nets.summary.LayerTable`."""
    from tfgraph_lessons.nets import summary

    return [summary.layer_table(n) for n in summary.select(names, family)]


def write_outputs(entries, out):
    """``out/architectures.json`` and ``out/architectures_compare.png``; returns both paths."""
    from tfgraph_lessons.core.io import write_json
    from tfgraph_lessons.core.plots import save_figure
    from tfgraph_lessons.figures import DPI, figure_style
    from tfgraph_lessons.figures.architectures import compare_chart

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the output folder {out}: {e.strerror or e}; "
                         "pass another --out") from None
    import matplotlib.pyplot as plt

    json_path, chart_path = out / JSON_FILE, out / CHART_FILE
    write_json(json_path, entries)
    with figure_style((12, 5)):
        fig = compare_chart(entries)
        try:
            save_figure(fig, chart_path, dpi=DPI)
        finally:
            plt.close(fig)
    return json_path, chart_path


def _main(argv=None):
    from tfgraph_lessons import nets
    from tfgraph_lessons.nets import summary

    args = parse_args(argv)
    if args.list:
        names = summary.select(args.only, args.family)
        width = max(len(n) for n in names)
        for n in names:
            info = nets.info(n)
            print(f"{n:<{width}}  {info.family:<10}  {summary.shape_text(info.input_shape):<10}"
                  f"  {info.num_classes:>5} classes")
        return 0
    if args.summary:
        tables = summaries(args.summary, args.family)
        if args.json:
            print(json.dumps([t.as_dict() for t in tables], indent=1))
        else:
            print("\n\n".join(summary.format_table(t) for t in tables))
        entries = None
    else:  # --compare, the default
        entries = summary.compare(args.only, args.family, progress=True)
        if args.json:
            print(json.dumps(entries, indent=1))
        else:
            print(summary.format_compare(entries))
    if args.out:
        if entries is None:
            entries = summary.compare(args.summary, args.family)
        paths = write_outputs(entries, args.out)
        print(f"wrote {' and '.join(map(str, paths))}", file=sys.stderr)
    return 0


def main(argv=None):
    """Command-line entry point (the chart is drawn with the non-interactive Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
