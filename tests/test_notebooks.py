"""Every notebook runs top to bottom in fast mode in a real Jupyter kernel, and then
every cell runs a second time in the same kernel, last cell first: re-running any
cell, in any order, after the others have run must be safe (a cell may not depend on
a name that a later cell rebinds)."""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: clear outputs before committing")


def notebook_data_dir(request, tmp_path):
    """One data dir with what the notebooks read: the CIFAR-10 rebuild, the MNIST test
    set and Tiny Shakespeare, linked from ``../shared/data`` where it has them (an
    empty folder otherwise: the notebooks then use their offline fallbacks)."""
    root = tmp_path / "data"
    root.mkdir()
    try:
        cifar = request.getfixturevalue("cifar10_root") / "cifar-10-batches-bin"
        (root / cifar.name).symlink_to(cifar)
    except pytest.skip.Exception:
        pass
    from conftest import SHARED_DATA

    for name in ("mnist", "tinyshakespeare.txt"):
        if (SHARED_DATA / name).exists():
            (root / name).symlink_to(SHARED_DATA / name)
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_twice(path, tmp_path, monkeypatch, request):
    monkeypatch.setenv("TFGRAPH_FAST", "1")
    # real data where ../shared/data has it; the notebooks fall back to offline data
    monkeypatch.setenv("TFGRAPH_DATA", str(notebook_data_dir(request, tmp_path)))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        cells = list(enumerate(nb.cells))
        for rerun, order in ((False, cells), (True, cells[::-1])):
            for index, cell in order:
                try:
                    client.execute_cell(cell, index)
                except nbclient.exceptions.CellExecutionError as e:
                    when = ("when re-run after all the cells below it" if rerun
                            else "on the first run")
                    pytest.fail(f"{path.name} cell {index} failed {when}:\n{e}")
