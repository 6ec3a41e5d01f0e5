"""Regenerate the slide figures: ``python -m tfgraph_lessons.figures [--list]
[--only NAME ... | --chapter CH] [--format png|svg|pdf] [--dpi N] [--out DIR]
[--run DIR ...] [--train-missing]``.

Figures drawn from a trained model read the lessons' runs under ``runs/``, or the run
folders given with ``--run``; ``--train-missing`` trains a small fast-mode run for a
lesson that has none (:mod:`tfgraph_lessons.figures.runs`).

Drawing a chapter or everything also writes the gallery, ``OUT/index.html`` and
``OUT/gallery.md`` (:mod:`tfgraph_lessons.figures.gallery`).

Also installed as the ``tfgraph-figures`` command. A bad flag, a bad name or an
unwritable folder is a one-line ``error: ...`` on stderr and exit status 2.
"""
import argparse
import sys

from tfgraph_lessons.core.cli import OneLineParser, run_main


def _chapter(text):
    """``--chapter``'s type: a chapter number or word -> its key (``'cnn'`` -> ``'04'``)."""
    from tfgraph_lessons.figures.catalogue import CHAPTER_WORDS, CHAPTERS, chapter_key

    key = chapter_key(text)
    if key is None:
        raise argparse.ArgumentTypeError(
            f"unknown chapter {text!r}; use a number {min(CHAPTERS)}-{max(CHAPTERS)} or one of "
            f"{', '.join(sorted(CHAPTER_WORDS))}")
    return key


def _dpi(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of dots per inch >= 1, got {text!r}")
    return value


def _run_folder(text):
    """``--run``'s type: a folder holding at least one finished run."""
    from tfgraph_lessons.core.errors import UsageError
    from tfgraph_lessons.figures.runs import check_run_folder

    try:
        return check_run_folder(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_args(argv=None):
    """Parse the command line.

    Args:
      argv: arguments without the program name; None reads ``sys.argv[1:]``.

    Returns:
      ``argparse.Namespace`` with ``list`` (bool), ``only`` (list of names or None),
      ``chapter`` (a chapter key or None), ``format``, ``dpi``, ``out`` (str), ``run``
      (a list of folders or None) and ``train_missing`` (bool).

    Raises:
      SystemExit: status 2 after one ``error: ... (see --help)`` line on stderr for a bad argument.
    """
    from tfgraph_lessons.figures import DEFAULT_OUT, DPI, FORMATS

    p = OneLineParser(
        prog="python -m tfgraph_lessons.figures",
        description=(
            "Regenerate the slide figures, one <name>.<format> file per figure, in slide "
            "order; a rerun writes byte-identical files."
        ),
    )
    p.add_argument("--list", action="store_true",
                   help="print each figure's name, chapter, slide topic and what it needs (a "
                        "data set on disk, a lesson's run), in slide order, and exit")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME",
        help="render only these figures (repeatable; see --list for the names)",
    )
    which.add_argument("--chapter", type=_chapter, metavar="CH",
                       help="only one chapter's figures: its number (04) or word (cnn)")
    p.add_argument("--format", default="png", choices=FORMATS,
                   help="file format (default: png)")
    p.add_argument("--dpi", type=_dpi, default=DPI,
                   help=f"resolution of PNGs and of the images inside SVG/PDF (default: {DPI})")
    p.add_argument(
        "--out", default=str(DEFAULT_OUT), metavar="DIR",
        help=f"folder to write the figures into, created if missing (default: {DEFAULT_OUT})",
    )
    p.add_argument("--run", nargs="+", action="extend", type=_run_folder, metavar="DIR",
                   help="draw the figures that need a trained model from these runs: a "
                        "lesson's run folder or a folder of runs (repeatable; default: the "
                        "runs under runs/)")
    p.add_argument("--train-missing", action="store_true",
                   help="for a figure whose lesson has no run, train a small one first (fast "
                        "mode or a short run on offline data, into OUT/runs; under a minute "
                        "each) instead of skipping it")
    return p.parse_args(argv)


def catalogue_lines(chapter=None):
    """The ``--list`` table: a header, then one line per figure in slide order."""
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures.catalogue import NEEDS, SLOTS, in_chapter, in_slide_order

    names = in_chapter(in_slide_order(figures.load_all()), chapter)
    width = max([len(n) for n in names] + [6])
    topic = max([len(SLOTS[n].topic) for n in names if n in SLOTS] + [11])
    lines = [f"{'figure':<{width}}  ch  {'slide topic':<{topic}}  needs"]
    for n in names:
        slot = SLOTS.get(n)
        lines.append(f"{n:<{width}}  {slot.chapter if slot else '--'}  "
                     f"{slot.topic if slot else '(not in the catalogue)':<{topic}}  "
                     f"{NEEDS[slot.needs] if slot else '-'}")
    return lines


def _main(argv=None):
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures.catalogue import in_chapter

    args = parse_args(argv)
    if args.list:
        print("\n".join(catalogue_lines(args.chapter)))
        return 0
    names = args.only
    if args.chapter is not None:
        names = in_chapter(figures.load_all(), args.chapter)
        if not names:
            print(f"chapter {args.chapter} has no figures yet (see --list)")
            return 0
    from pathlib import Path

    from tfgraph_lessons.figures import runs

    train_into = Path(args.out) / "runs" if args.train_missing else None
    with runs.given(args.run, train_into):
        paths = figures.render(names, args.out, fmt=args.format, dpi=args.dpi,
                               skip=args.only is None)  # a figure named with --only must be made
    if args.only is not None:  # a few figures redrawn: the folder's gallery stays as it was
        print(f"wrote {len(paths)} figure(s) to {args.out}")
        return 0
    from tfgraph_lessons.figures import gallery

    asked = names if names is not None else list(figures.FIGURES)
    missing = sorted(set(asked) - {p.stem for p in paths})
    index, markdown = gallery.write(paths, args.out, missing, fmt=args.format, dpi=args.dpi)
    print(f"wrote {len(paths)} figure(s) to {args.out}, and the gallery: {index} "
          f"(open it in a browser) and {markdown}")
    return 0


def main(argv=None):
    """Command-line entry point: draw with the non-interactive Agg backend (no windows, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
