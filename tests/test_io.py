"""Atomic writes (core.io): the file a run leaves has the permissions a plain ``open(path, 'wb')``
would give it, and a failed write leaves neither a half file nor a temporary one."""
import json
import os
import stat
from contextlib import contextmanager

import numpy as np
import pytest

from tfgraph_lessons.core import io

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")


@contextmanager
def umask(mask):
    """Run the block under ``mask``, restoring the process umask afterwards."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_new_file_gets_the_umask_mode_like_open(tmp_path, mask):
    with umask(mask):
        io.atomic_write_bytes(tmp_path / "figure.png", b"\x89PNG")
        io.write_json(tmp_path / "metrics.json", {"loss": np.float32(0.5)})
        with open(tmp_path / "plain.bin", "wb") as f:   # the reference: what open() gives
            f.write(b"x")
    assert mode(tmp_path / "plain.bin") == 0o666 & ~mask
    assert mode(tmp_path / "figure.png") == 0o666 & ~mask
    assert mode(tmp_path / "metrics.json") == 0o666 & ~mask
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"loss": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "metrics.json", "plain.bin"]


@pytest.mark.parametrize("existing", [0o640, 0o604, 0o600])
def test_overwrite_keeps_the_existing_mode(tmp_path, existing):
    path = tmp_path / "state.json"
    path.write_text("{}")
    os.chmod(path, existing)
    with umask(0o077 if existing != 0o600 else 0o022):   # a umask that would give another mode
        io.write_json(path, {"step": 3})
    assert mode(path) == existing
    assert io.read_json(path) == {"step": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        io.atomic_write_bytes(path, "not bytes")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_creates_missing_folders(tmp_path):
    path = tmp_path / "runs" / "lesson" / "figure.png"
    with umask(0o022):
        io.atomic_write_bytes(path, b"data")
    assert path.read_bytes() == b"data" and mode(path) == 0o644
