"""Where data sets live: ``--data-dir``, else ``$TFGRAPH_DATA``, else the repository's ``data/``."""
import os
from pathlib import Path

ENV_VAR = "TFGRAPH_DATA"

# tfgraph_lessons/data/paths.py -> repository root (an editable install or a checkout)
_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """The repository's ``data/`` folder, or ``~/.tfgraph_lessons/data`` for a non-editable install."""
    repo_data = _REPO_ROOT / "data"
    if (_REPO_ROOT / "setup.py").is_file() and repo_data.is_dir():
        return repo_data
    return Path.home() / ".tfgraph_lessons" / "data"


def data_dir(explicit=None) -> Path:
    """Resolve the data directory: *explicit* (``--data-dir``), ``$TFGRAPH_DATA``, or the default.

    The folder is not created here; the downloader creates it when it writes.
    """
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return default_data_dir()
