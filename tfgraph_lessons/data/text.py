"""Text for the character-level language model: Tiny Shakespeare, any UTF-8 file,
the vocabulary, and the cut into training windows.

    text = load_tiny_shakespeare()            # 1,115,394 characters, downloaded once
    vocab = Vocabulary.from_text(text)         # 65 distinct characters, sorted
    ids = vocab.encode(text)                   # int32 [N]
    train, val = split_text(ids, 0.1)          # the last 10% is the validation text

Tiny Shakespeare is the public-domain text of Karpathy's char-rnn demo,
published in its repository as ``data/tinyshakespeare/input.txt``; it is
fetched from there with a pinned md5 and sha256 (the download code of
:mod:`tfgraph_lessons.data.download`: temporary file, checksum, rename). A copy
on disk is found as ``<data dir>/tinyshakespeare/input.txt`` or
``<data dir>/tinyshakespeare.txt``.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfgraph_lessons.core.errors import DataError, OfflineError, UsageError
from tfgraph_lessons.data import paths

__all__ = ["TINY_SHAKESPEARE", "load_tiny_shakespeare", "read_text", "Vocabulary",
           "split_text", "windows"]

TINY_SHAKESPEARE = dict(
    filename="input.txt",
    urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
          "input.txt",),
    md5="6fb458f1232090904fb40fe944165e91",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    size=1_115_394,
)
FOLDER = "tinyshakespeare"
MIN_CHARACTERS = 1_000  # shorter than this, there is nothing to split into train and validation


def read_text(path, what="--text"):
    """The UTF-8 text of ``path``, checked: a file, readable, UTF-8, not empty.

    Raises:
      UsageError: a message naming ``what`` (the argument) and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{what} {path}: no such file" + (" (it is a folder)" if path.is_dir()
                                                            else ""))
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read it ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{what} {path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                         f"{e.start:,}); convert it first, e.g. iconv -t UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the text
    if not text.strip():
        raise UsageError(f"{what} {path}: the file is empty; give a text to learn from")
    if len(text) < MIN_CHARACTERS:
        raise UsageError(f"{what} {path}: only {len(text):,} characters; give at least "
                         f"{MIN_CHARACTERS:,} (a model learns nothing from less)")
    return text


def load_tiny_shakespeare(data_dir=None, download=True):
    """Tiny Shakespeare as one string (downloaded and checked the first time)."""
    root = paths.data_dir(data_dir)
    for candidate in (root / FOLDER / TINY_SHAKESPEARE["filename"], root / "tinyshakespeare.txt"):
        if candidate.is_file():
            return read_text(candidate, what="Tiny Shakespeare")
    target = root / FOLDER
    if not download:
        raise DataError(f"Tiny Shakespeare: {target / 'input.txt'} not found and download=False; "
                        f"put the file there ({TINY_SHAKESPEARE['urls'][0]}) or pass --text FILE")
    from tfgraph_lessons.data import download as dl

    try:
        path = dl.fetch(dl.RemoteFile(**TINY_SHAKESPEARE), target)
    except OfflineError as e:
        raise OfflineError(f"Tiny Shakespeare: {' '.join(str(e).split())}; or train on any "
                           "UTF-8 text with --text FILE") from e
    return read_text(path, what="Tiny Shakespeare")


@dataclass(frozen=True)
class Vocabulary:
    """The distinct characters of a text, sorted: id ``k`` is ``chars[k]``.

    Saved as JSON beside the checkpoints (``vocab.json``), so sampling from a
    checkpoint maps ids back to the same characters (char-rnn pickles it; a
    JSON file can be read by anything and runs no code).
    """

    chars: tuple

    @classmethod
    def from_text(cls, text):
        return cls(tuple(sorted(set(text))))

    def __len__(self):
        return len(self.chars)

    @property
    def index(self):
        return {c: i for i, c in enumerate(self.chars)}

    def encode(self, text, what="text"):
        """``text`` -> int32 ids; a character outside the vocabulary is a UsageError."""
        index = self.index
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            shown = "".join(unknown[:10])
            raise UsageError(f"{what} holds {len(unknown)} character(s) the model never saw "
                             f"({shown!r}); use only characters of its training text")
        return np.fromiter((index[c] for c in text), np.int32, len(text))

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)

    def save(self, path):
        from tfgraph_lessons.core.io import atomic_write_bytes

        atomic_write_bytes(path, json.dumps({"chars": "".join(self.chars)},
                                            ensure_ascii=False).encode("utf-8"))

    @classmethod
    def load(cls, path):
        try:
            chars = json.loads(Path(path).read_text(encoding="utf-8"))["chars"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{path}: not a vocabulary file ({type(e).__name__}); delete the "
                             "run folder's checkpoints and train again") from None
        return cls(tuple(chars))


def split_text(ids, val_fraction=0.1):
    """Training text and validation text: the last ``val_fraction`` of the text is held out
    in one piece (no window of the validation text overlaps the training text)."""
    if not 0 < val_fraction < 1:
        raise UsageError(f"the validation fraction must be in (0, 1), got {val_fraction}")
    cut = int(round(len(ids) * (1 - val_fraction)))
    return ids[:cut], ids[cut:]


def windows(ids, length, offset=0):
    """Non-overlapping windows of the text and their targets (the next character).

    Args:
      ids: int [N] encoded text.
      length: characters per window (the unrolled steps).
      offset: start of the first window.
    Returns:
      ``(x, y)``, int32 ``[num_windows, length]`` each, ``y[:, t] = ids[start + t + 1]``.
    Raises:
      UsageError: the text is shorter than one window plus its target.
    """
    n = (len(ids) - offset - 1) // length
    if n < 1:
        raise UsageError(f"the text ({len(ids):,} characters) is shorter than one window of "
                         f"{length} + 1; lower --seq-length or give a longer text")
    starts = offset + length * np.arange(n)
    steps = np.arange(length)
    return ids[starts[:, None] + steps], ids[starts[:, None] + steps + 1]
