"""Regenerate the slide figures: ``python -m tfgraph_lessons.figures [--list] [--only NAME ...] [--out DIR]``.

Also installed as the ``tfgraph-figures`` command. A bad flag, a bad name or an
unwritable folder is a one-line ``error: ...`` on stderr and exit status 2.
"""
import sys

from tfgraph_lessons.core.cli import OneLineParser, run_main


def parse_args(argv=None):
    """Parse the command line.

    Args:
      argv: arguments without the program name; None reads ``sys.argv[1:]``.

    Returns:
      ``argparse.Namespace`` with ``list`` (bool), ``only`` (list of names or None), ``out`` (str).

    Raises:
      SystemExit: status 2 after one ``error: ... (see --help)`` line on stderr for a bad argument.
    """
    from tfgraph_lessons.figures import DEFAULT_OUT, DPI

    p = OneLineParser(
        prog="python -m tfgraph_lessons.figures",
        description=(
            "Regenerate the slide figures as PNG files, one <name>.png per figure, "
            f"at {DPI} dpi; a rerun writes byte-identical files."
        ),
    )
    p.add_argument("--list", action="store_true", help="print each figure's name and description, and exit")
    p.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME",
        help="render only these figures (repeatable; see --list for the names)",
    )
    p.add_argument(
        "--out", default=str(DEFAULT_OUT), metavar="DIR",
        help=f"folder to write the PNGs into, created if missing (default: {DEFAULT_OUT})",
    )
    return p.parse_args(argv)


def _main(argv=None):
    from tfgraph_lessons import figures

    args = parse_args(argv)
    if args.list:
        entries = figures.load_all()
        width = max(len(n) for n in entries)
        for name in sorted(entries):
            print(f"{name:<{width}}  {entries[name].description}")
        return 0
    paths = figures.render(args.only, args.out)
    print(f"wrote {len(paths)} figure(s) to {args.out}")
    return 0


def main(argv=None):
    """Command-line entry point: draw with the non-interactive Agg backend (no windows, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
