"""``docs/slides.md``, the slide map: every module, figure and notebook section it names exists."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

from tfgraph_lessons.figures import catalogue

REPO = Path(__file__).resolve().parents[1]
SLIDES = REPO / "docs" / "slides.md"
SECTION = re.compile(r"^(\d\d) § (.+)$")


def table_rows(text):
    """``(topic, modules, figures, (notebook number, heading))`` for each table row."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4 or cells[0] in ("slide topic", "---"):
            continue
        topic, modules, figs, section = cells
        match = SECTION.match(section)
        assert match, f"{topic}: notebook section {section!r} is not 'NN § heading'"
        rows.append((topic, re.findall(r"`([^`]+)`", modules),
                     re.findall(r"`([^`]+)`", figs) if figs != "—" else [], match.groups()))
    return rows


def notebook_headings():
    """``{'04': {'3. Filters, padding and stride', ...}, ...}`` from the notebooks' markdown."""
    headings = {}
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        lines = ("".join(c["source"]).splitlines() for c in cells if c["cell_type"] == "markdown")
        headings[path.name[:2]] = {l.lstrip("#").strip() for ls in lines for l in ls
                                   if l.startswith("#")}
    return headings


ROWS = table_rows(SLIDES.read_text())


def test_the_map_covers_every_chapter_and_every_registered_figure():
    chapters = re.findall(r"^## (\d\d) ", SLIDES.read_text(), re.M)
    assert chapters == list(catalogue.CHAPTERS)
    assert len(ROWS) >= 60
    mapped = {name for _, _, figs, _ in ROWS for name in figs}
    assert mapped == {slot.name for slot in catalogue.CATALOGUE}


@pytest.mark.parametrize("topic, modules, figs, section", ROWS, ids=[r[0][:40] for r in ROWS])
def test_every_row_names_what_exists(topic, modules, figs, section):
    assert modules, f"{topic}: no module"
    for module in modules:
        assert importlib.util.find_spec(module) is not None, f"{topic}: no module {module}"
    for name in figs:
        assert name in catalogue.SLOTS, f"{topic}: no figure {name}"
    number, heading = section
    assert heading in notebook_headings()[number], f"{topic}: no section {heading!r} in {number}"
