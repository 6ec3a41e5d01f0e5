"""Files a run writes, written so a killed process never leaves half of one."""
import json
import math
import os
import secrets
import stat
from pathlib import Path


def _create_temp_beside(path):
    """Create a new, empty ``.<name>.<random>.tmp`` beside ``path``; return ``(fd, tmp_path)``.

    Opened with mode 0o666 so the process umask (and a folder's default ACL)
    applies exactly as for ``open(path, 'wb')``: ``tempfile.mkstemp`` would make
    it 0o600, and the renamed file would be unreadable to everyone else.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary file name for {path.name}")


def atomic_write_bytes(path, data):
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    The file gets the permissions a plain ``open(path, 'wb')`` would give it:
    an existing file keeps its mode, a new one gets ``0o666 & ~umask``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))   # overwriting: keep its mode
            except FileNotFoundError:
                pass                                                 # a new file: the umask decided
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _plain(obj):
    """Turn NumPy scalars/arrays and non-finite floats into JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return _plain(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path, obj):
    """Atomically write ``obj`` as indented JSON (NumPy values converted, NaN as null)."""
    text = json.dumps(_plain(obj), indent=2, sort_keys=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path, default=None):
    """Read a JSON file, or return ``default`` when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))
