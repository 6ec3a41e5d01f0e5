"""Download and unpack the course's data sets: mirrors, pinned checksums, atomic writes.

The data-sets chapter of the slides starts where every real project starts:
getting the files. The classic loaders show what goes wrong there. The
early TensorFlow MNIST tutorial's ``maybe_download`` [1] called ``urlretrieve``
straight onto the final name and checked only that the name existed, so an
interrupted download left a truncated file that every later run trusted; and
when ``yann.lecun.com`` began refusing downloads, every copy of that loader
broke with it, which is why torchvision [2] lists several mirrors per file
with the md5 the publisher gives. Keras' ``get_file`` [3] checks a hash, and
Python's own ``tarfile`` documentation [4] warns that extracting an archive
from an untrusted source can write anywhere on the disk (CVE-2007-4559). So
here:

* :class:`RemoteFile` names one file: where it goes, its mirrors in order,
  and its md5 / sha256 / size as published.
* :func:`fetch` uses the cached copy when it verifies (no network at all),
  otherwise streams each mirror in turn into a hidden ``.part`` file beside
  the target, checks the byte count and the checksum, and only then renames
  it onto the final name (``os.replace`` is atomic on POSIX and Windows). A
  failed mirror costs one line on stderr; when all fail the error says how
  to put the file in place by hand. ``TFGRAPH_OFFLINE=1`` forbids the
  network (a class room without Wi-Fi, a CI job).
* :func:`extract` refuses archives whose members would land outside the
  target folder or are links or device files, unpacks into a temporary
  folder, and moves each top-level entry into place.

Usage::

    from tfgraph_lessons.data.download import RemoteFile, fetch, extract
    from tfgraph_lessons.data.paths import data_dir

    CIFAR10 = RemoteFile(
        "cifar-10-binary.tar.gz",
        urls=("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        md5="c32a1d4ab5d03f1284b67883e8d87530", size=170052171)
    archive = fetch(CIFAR10, data_dir(args.data_dir))
    extract(archive, archive.parent)        # -> data/cifar-10-batches-bin/

Mirrors may also be ``file://`` URLs (a shared folder on a lab network).

References:
  [1] TensorFlow 0.x, ``tensorflow/examples/tutorials/mnist/input_data.py``,
      ``maybe_download`` (the "MNIST for ML beginners" tutorial).
  [2] torchvision, ``torchvision/datasets/mnist.py``: ``mirrors`` and
      ``resources`` with md5 per file; ``datasets/utils.py``.
  [3] Keras, ``keras.utils.get_file(..., file_hash=...)``.
  [4] Python documentation, ``tarfile`` - "Extraction filters" and the
      warning on ``TarFile.extractall``; PEP 706.
"""
import gzip
import hashlib
import http.client
import lzma
import os
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from tfgraph_lessons import __version__
from tfgraph_lessons.core.errors import ChecksumError, DataError, OfflineError
from tfgraph_lessons.data.paths import ENV_VAR as DATA_ENV_VAR

__all__ = ["RemoteFile", "file_digest", "verify", "fetch", "extract",
           "OFFLINE_ENV_VAR", "USER_AGENT"]

OFFLINE_ENV_VAR = "TFGRAPH_OFFLINE"
# Some hosts answer urllib's default "Python-urllib/3.x" with 403; say who we are.
USER_AGENT = f"tfgraph_lessons/{__version__} (+python-urllib)"
_CHUNK = 1 << 18  # 256 KiB per read: few syscalls, a smooth progress bar

# What a damaged archive raises while it is read (gzip: BadGzipFile or EOFError
# on truncation; zip: BadZipFile on a bad CRC; deflate / xz: zlib.error, LZMAError).
_CORRUPT_ARCHIVE = (tarfile.ReadError, tarfile.CompressionError, zipfile.BadZipFile,
                    EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set, as its publisher describes it.

    Attributes:
      filename: the name on disk inside the target directory (no folders).
      urls: mirrors, tried in order; a single string is accepted as one mirror.
      md5: hex digest as the publisher gives it (MNIST and CIFAR publish md5).
      sha256: hex digest, where published.
      size: length in bytes, when known; a cheap first check before hashing.
    """

    filename: str
    urls: tuple
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None

    def __post_init__(self):
        name = self.filename
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"RemoteFile.filename must be a plain file name, got {name!r}")
        # A bare string would otherwise be iterated one character at a time.
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        object.__setattr__(self, "urls", urls)
        for field in ("md5", "sha256"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, value.strip().lower())


def file_digest(path, algo="md5") -> str:
    """Hex digest of the file at *path* (``algo``: any :func:`hashlib.new` name), read in chunks."""
    # md5 here is an integrity check, not security: allowed on FIPS-mode systems.
    digest = hashlib.new(algo, usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mismatch(path, remote):
    """``None`` if *path* matches *remote*, else e.g. ``'md5 ab12..., expected cd34...'``.

    Size first (free), then md5, then sha256, so a truncated file is named as such.
    """
    actual_size = os.path.getsize(path)
    if remote.size is not None and actual_size != remote.size:
        return f"size {actual_size} bytes, expected {remote.size}"
    for algo in ("md5", "sha256"):
        expected = getattr(remote, algo)
        if expected is not None:
            actual = file_digest(path, algo)
            if actual != expected:
                return f"{algo} {actual}, expected {expected}"
    return None


def verify(path, remote) -> None:
    """Check the file at *path* against the size and checksums of *remote*.

    Raises:
      DataError: *path* does not exist.
      ChecksumError: size, md5 or sha256 differ; the one-line message names the
        file, the expected and the actual value.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; run again to download {remote.filename}")
    detail = _mismatch(path, remote)
    if detail is not None:
        raise ChecksumError(f"{path} does not match its published checksum ({detail}); "
                            f"delete it and run again to download it afresh")


def _put_by_hand(remote, target):
    """The fix every download error ends with: where to put the file yourself."""
    if remote.md5:
        what = f"{remote.filename} (md5 {remote.md5})"
    elif remote.sha256:
        what = f"{remote.filename} (sha256 {remote.sha256})"
    else:
        what = remote.filename
    return (f"put {what} at {target}, or point --data-dir / {DATA_ENV_VAR} "
            f"at a folder that has it")


class _MirrorFailed(Exception):
    """One mirror did not deliver; ``wrong_content`` when it served a different file."""

    def __init__(self, reason, wrong_content=False):
        super().__init__(reason)
        self.reason = reason
        self.wrong_content = wrong_content


def _one_line(exc):
    """``str(exc)`` squeezed onto one line (or the type's name when empty)."""
    return " ".join((str(exc) or type(exc).__name__).split())


def _describe(exc, timeout):
    """A network exception as a short single-line reason."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s"
    return _one_line(exc)


def _content_length(response):
    try:
        return int(response.headers["Content-Length"])
    except (TypeError, ValueError):
        return None  # absent (chunked transfer) or garbled: the bar has no total


def _stream(url, out, remote, *, timeout, progress):
    """Copy *url* into the open binary file *out*; any network fault is a :class:`_MirrorFailed`.

    Errors writing *out* (a full disk) are not the mirror's fault and propagate.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:  # before URLError, its base class
        e.close()
        raise _MirrorFailed(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise _MirrorFailed(_describe(e.reason, timeout)) from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _MirrorFailed(_describe(e, timeout)) from e

    with response:
        total = _content_length(response)
        if total is not None and remote.size is not None and total != remote.size:
            raise _MirrorFailed(f"the server announces {total} bytes, expected {remote.size}",
                                wrong_content=True)
        received = 0
        # disable=None: tqdm shows the bar on a terminal and stays quiet in logs and CI.
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=remote.filename, disable=None if progress else True,
                  leave=False) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except http.client.IncompleteRead as e:  # the server closed early
                    received += len(e.partial)
                    break
                except (OSError, http.client.HTTPException) as e:
                    raise _MirrorFailed(_describe(e, timeout)) from e
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise _MirrorFailed(f"connection closed after {received} of {total} bytes")
    if remote.size is not None and received != remote.size:
        raise _MirrorFailed(f"got {received} bytes, expected {remote.size}", wrong_content=True)


def _download(remote, url, directory, target, *, timeout, progress):
    """One mirror: stream into ``.<filename>.XXXX.part``, verify, rename onto *target*."""
    fd, part = tempfile.mkstemp(dir=directory, prefix="." + remote.filename + ".",
                                suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, remote, timeout=timeout, progress=progress)
            out.flush()
            os.fsync(out.fileno())  # the rename must not outlive the data in a crash
        detail = _mismatch(part, remote)
        if detail is not None:
            raise _MirrorFailed(detail, wrong_content=True)
        os.chmod(part, 0o644)  # mkstemp makes it 0600; a data cache is read by others too
        os.replace(part, target)
    finally:
        # Whatever happened (a failed mirror, Ctrl-C, a full disk), no .part stays behind.
        if os.path.exists(part):
            os.unlink(part)


def _offline():
    return os.environ.get(OFFLINE_ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


def fetch(remote, directory, *, progress=True, timeout=30.0) -> Path:
    """Return the path of *remote* inside *directory*, downloading it if needed.

    A cached copy that verifies is returned without touching the network. A
    cached copy that does not (an interrupted run of an older loader, a
    different version of the file) is reported on stderr, deleted and
    downloaded again. Mirrors are tried in order; each download streams into
    a temporary ``.part`` file beside the target and is renamed onto it only
    once its length and checksum are right, so the target is either absent or
    complete.

    Args:
      remote: the :class:`RemoteFile` to get.
      directory: folder to keep it in (created if needed), usually
        :func:`tfgraph_lessons.data.paths.data_dir`.
      progress: show a tqdm bar (only on a terminal).
      timeout: seconds to wait for a connection or for the next bytes.

    Returns:
      ``directory / remote.filename`` as a :class:`pathlib.Path`.

    Raises:
      OfflineError: ``TFGRAPH_OFFLINE`` is set and the file is missing, or no
        mirror delivered it; the message says where to put it by hand.
      ChecksumError: every mirror served a file with the wrong checksum, or
        the cached file is corrupt while ``TFGRAPH_OFFLINE`` is set.
    """
    directory = Path(directory)
    target = directory / remote.filename

    if target.is_file():
        detail = _mismatch(target, remote)
        if detail is None:
            return target
        if _offline():
            raise ChecksumError(f"{target} is corrupt ({detail}) and {OFFLINE_ENV_VAR} "
                                f"forbids downloading it again; {_put_by_hand(remote, target)}")
        print(f"{target} is corrupt ({detail}); downloading it again", file=sys.stderr)
        target.unlink()

    if _offline():
        raise OfflineError(f"{target} is missing and {OFFLINE_ENV_VAR} is set, so it is not "
                           f"downloaded; {_put_by_hand(remote, target)}")
    if not remote.urls:
        raise OfflineError(f"{target} is missing and no mirror is known for it; "
                           f"{_put_by_hand(remote, target)}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the data folder {directory} ({_one_line(e)}); "
                        f"point --data-dir / {DATA_ENV_VAR} at a writable folder") from e

    n = len(remote.urls)
    failures = []
    for i, url in enumerate(remote.urls, 1):
        try:
            _download(remote, url, directory, target, timeout=timeout, progress=progress)
            return target
        except _MirrorFailed as e:
            failures.append(e)
            if i < n:
                print(f"mirror {i}/{n} failed for {remote.filename} ({url}): {e.reason}; "
                      f"trying the next", file=sys.stderr)

    last = failures[-1].reason
    mirrors = f"{n} mirror" + ("s" if n > 1 else "")
    if all(e.wrong_content for e in failures):
        raise ChecksumError(f"{remote.filename} from {mirrors} did not match its published "
                            f"checksum (last: {last}); {_put_by_hand(remote, target)}")
    raise OfflineError(f"could not download {remote.filename} from {mirrors} "
                       f"(last error: {last}); {_put_by_hand(remote, target)}")


# ----------------------------------------------------------------------------- extraction

def _unsafe_name(name):
    """Why an archive member *name* would escape the target folder, or ``None``."""
    if not name:
        return "an empty name"
    posix = name.replace("\\", "/")  # a Windows-made archive may use either separator
    if posix.startswith("/") or (len(posix) > 1 and posix[0].isalpha() and posix[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "a '..' component"
    return None


def _unsafe_mode(mode, linkname=""):
    """Why a member of file type *mode* (``stat.S_IF*`` bits) is refused, or ``None``."""
    if stat.S_ISLNK(mode):
        return f"a symbolic link to {linkname!r}" if linkname else "a symbolic link"
    for test, what in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return None


def _tar_member_problem(member):
    why = _unsafe_name(member.name)
    if why:
        return why
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.ischr():
        return "a character device"
    if member.isblk():
        return "a block device"
    if member.isfifo():
        return "a named pipe"
    if not (member.isreg() or member.isdir()):
        return "not a regular file or folder"
    return None


def _zip_member_problem(info):
    why = _unsafe_name(info.filename)
    if why:
        return why
    if info.create_system == 3:  # made on Unix: the high 16 bits hold st_mode
        return _unsafe_mode(info.external_attr >> 16)
    return None


def _refuse(archive, name, why):
    return DataError(f"archive {archive} has an unsafe member {name!r} ({why}); nothing was "
                     f"extracted; delete it and download it again from its official source")


def _corrupt(archive, exc):
    return DataError(f"archive {archive} is corrupt or incomplete ({_one_line(exc)}); "
                     f"delete it and run again")


def extract(archive, directory) -> Path:
    """Unpack *archive* (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz or .zip) into *directory*.

    Every member is checked before anything is written: absolute paths,
    ``..`` components, symbolic and hard links and device or fifo files are
    refused (see the ``tarfile`` warning in [4]). The archive is unpacked into
    a temporary folder inside *directory*; then each top-level entry is moved
    into place with ``os.replace``, replacing an older copy, so a failure
    half-way leaves no partial folder under the real name.

    Returns:
      *directory* as a :class:`pathlib.Path`.

    Raises:
      DataError: the archive is missing, of an unknown type, corrupt, or has
        an unsafe member. The archive itself is never deleted.
    """
    archive, directory = Path(archive), Path(directory)
    if not archive.is_file():
        raise DataError(f"archive {archive} does not exist; run again to download it")
    lower = archive.name.lower()
    if lower.endswith(".zip"):
        kind = "zip"
    elif lower.endswith(_TAR_SUFFIXES):
        kind = "tar"
    else:
        raise DataError(f"cannot extract {archive}: unknown archive type (expected .tar, "
                        f".tar.gz/.tgz, .tar.bz2, .tar.xz or .zip)")

    try:
        # "r:*" lets tarfile detect gzip / bz2 / xz itself.
        opened = zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive, "r:*")
    except (*_CORRUPT_ARCHIVE, OSError) as e:
        raise _corrupt(archive, e) from e

    with opened:
        # 1. Validate every member; reading the whole member list also finds most damage.
        try:
            if kind == "zip":
                members = opened.infolist()
                problems = ((m.filename, _zip_member_problem(m)) for m in members)
            else:
                members = opened.getmembers()
                problems = ((m.name, _tar_member_problem(m)) for m in members)
            for name, why in problems:
                if why:
                    raise _refuse(archive, name, why)
        except (*_CORRUPT_ARCHIVE, OSError) as e:  # bz2 reports bad data as a plain OSError
            raise _corrupt(archive, e) from e

        # 2. Unpack into a hidden staging folder beside the final entries.
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory, prefix=".extract-"))
        ok = False
        try:
            fresh, old = staging / "new", staging / "old"
            fresh.mkdir()
            old.mkdir()
            try:
                if kind == "zip":
                    opened.extractall(fresh)
                elif hasattr(tarfile, "data_filter"):  # PEP 706: a second line of defence
                    opened.extractall(fresh, members=members, filter="data")
                else:
                    opened.extractall(fresh, members=members)
            except tarfile.FilterError as e:
                raise _refuse(archive, e.tarinfo.name, _one_line(e)) from e
            except _CORRUPT_ARCHIVE as e:
                raise _corrupt(archive, e) from e

            # 3. Move each top-level entry into place; an older copy goes to old/ first,
            #    because os.replace cannot overwrite a non-empty folder.
            for entry in sorted(os.listdir(fresh)):
                dest = directory / entry
                if os.path.lexists(dest):
                    os.replace(dest, old / entry)
                os.replace(fresh / entry, dest)
            ok = True
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if not ok and created:
                try:
                    directory.rmdir()  # only if still empty: never remove the user's files
                except OSError:
                    pass
    return directory
