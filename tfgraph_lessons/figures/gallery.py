"""The gallery: one page that shows every figure a run of the command drew.

``python -m tfgraph_lessons.figures`` (the whole catalogue or a ``--chapter``) ends by
writing, beside the figures, ``OUT/index.html`` and ``OUT/gallery.md``: each figure
under its chapter, in slide order, with its name, slide topic, description and the
command that regenerates it, then the figures this run could not draw and what they
need. The HTML page is self-contained (its style inline, the images beside it by
relative path, no script and nothing fetched from the network), so the folder can be
copied to a laptop or a USB stick and opened offline; the Markdown version renders on
a code host or in a notebook viewer. Both are written atomically and hold no date, so
a rerun writes the same bytes.

Usage::

    from tfgraph_lessons import figures
    from tfgraph_lessons.figures import gallery
    paths = figures.render(None, "runs/figures")
    gallery.write(paths, "runs/figures")          # -> (index.html, gallery.md)
"""
import html
from pathlib import Path

from tfgraph_lessons.core.io import atomic_write_bytes
from tfgraph_lessons.figures import DPI, FIGURES, load_all
from tfgraph_lessons.figures.catalogue import CHAPTERS, NEEDS, SLOTS, in_slide_order

TITLE = "tfgraph_lessons: the slide figures"

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 1250px;
       color: #222; background: #fff; }
figure { margin: 1.5em 0 2.5em; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { margin-top: 0.4em; line-height: 1.45; }
code { background: #f3f3f3; padding: 0 0.25em; }
.topic { color: #555; }
"""


def command(name, fmt="png", dpi=DPI):
    """The command line that regenerates figure ``name`` as this run drew it."""
    extra = (f" --format {fmt}" if fmt != "png" else "") + (f" --dpi {dpi}" if dpi != DPI else "")
    return f"python -m tfgraph_lessons.figures --only {name}{extra}"


def _groups(names):
    """``[(chapter key, [names])]`` in slide order; figures outside the catalogue last."""
    groups = {}
    for name in in_slide_order(names):
        groups.setdefault(SLOTS[name].chapter if name in SLOTS else "--", []).append(name)
    return list(groups.items())


def _need(name):
    """What a figure the run skipped needs, in words."""
    return NEEDS[SLOTS[name].needs] if name in SLOTS else "see the notice the run printed"


def _chapter_title(key):
    return f"{key} {CHAPTERS[key]}" if key in CHAPTERS else "other figures"


def html_page(paths, missing=(), fmt="png", dpi=DPI):
    """The HTML text for the figure files ``paths`` (and the names in ``missing``)."""
    load_all()
    by_name = {Path(p).stem: Path(p).name for p in paths}
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(TITLE)}</title>", f"<style>{STYLE}</style>", "</head>",
           "<body>", f"<h1>{html.escape(TITLE)}</h1>",
           f"<p>{len(by_name)} figure(s), in slide order. Each is computed by the library; "
           "the command under it draws it again.</p>"]
    for key, names in _groups(by_name):
        out.append(f'<h2 id="chapter-{html.escape(key)}">{html.escape(_chapter_title(key))}</h2>')
        for name in names:
            file, entry, slot = by_name[name], FIGURES.get(name), SLOTS.get(name)
            description = html.escape(entry.description if entry else "")
            if file.endswith(".pdf"):  # a browser shows no PDF in an <img>: link it
                body = f'<a href="{html.escape(file)}">{html.escape(file)}</a>'
            else:
                body = f'<img src="{html.escape(file)}" alt="{description}">'
            topic = f' <span class="topic">({html.escape(slot.topic)})</span>' if slot else ""
            out += [f'<figure id="{html.escape(name)}">', body,
                    f"<figcaption><strong>{html.escape(name)}</strong>{topic}<br>{description}"
                    f"<br><code>{html.escape(command(name, fmt, dpi))}</code></figcaption>",
                    "</figure>"]
    if missing:
        out.append("<h2>Not drawn in this run</h2>")
        out.append("<ul>")
        for name in in_slide_order(missing):
            out.append(f"<li><strong>{html.escape(name)}</strong>: needs "
                       f"{html.escape(_need(name))}</li>")
        out.append("</ul>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def markdown_page(paths, missing=(), fmt="png", dpi=DPI):
    """The Markdown text for the figure files ``paths`` (and the names in ``missing``)."""
    load_all()
    by_name = {Path(p).stem: Path(p).name for p in paths}
    out = [f"# {TITLE}", "", f"{len(by_name)} figure(s), in slide order. Each is computed by "
           "the library; the command under it draws it again.", ""]
    for key, names in _groups(by_name):
        out += [f"## {_chapter_title(key)}", ""]
        for name in names:
            file, entry, slot = by_name[name], FIGURES.get(name), SLOTS.get(name)
            description = entry.description if entry else ""
            out += [f"### `{name}`" + (f" ({slot.topic})" if slot else ""), ""]
            out += [f"[{file}]({file})" if file.endswith(".pdf") else f"![{name}]({file})", ""]
            out += [description, "", f"    {command(name, fmt, dpi)}", ""]
    if missing:
        out += ["## Not drawn in this run", ""]
        for name in in_slide_order(missing):
            out.append(f"- `{name}`: needs {_need(name)}")
        out.append("")
    return "\n".join(out)


def write(paths, out_dir, missing=(), fmt="png", dpi=DPI):
    """Write ``out_dir/index.html`` and ``out_dir/gallery.md`` for the figure files ``paths``
    (all in ``out_dir``); ``missing`` names the figures the run skipped.

    Returns:
      ``(index.html path, gallery.md path)``.
    """
    out_dir = Path(out_dir)
    index, markdown = out_dir / "index.html", out_dir / "gallery.md"
    atomic_write_bytes(index, html_page(paths, missing, fmt, dpi).encode("utf-8"))
    atomic_write_bytes(markdown, markdown_page(paths, missing, fmt, dpi).encode("utf-8"))
    return index, markdown
