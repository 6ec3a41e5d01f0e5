"""Tests for :mod:`tfgraph_lessons.data.download` against a real HTTP server on 127.0.0.1.

No internet is needed: a ``ThreadingHTTPServer`` on port 0 serves what each
test asks for (a good file, wrong bytes, a body cut short, a 404, silence),
and counts the requests that reach it.
"""
import hashlib
import io
import os
import random
import socket
import stat
import tarfile
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tfgraph_lessons.core.errors import ChecksumError, DataError, OfflineError
from tfgraph_lessons.data import download
from tfgraph_lessons.data.download import RemoteFile, extract, fetch, file_digest, verify

BODY = random.Random(0).randbytes(300_000)  # more than one 256 KiB read
BAD_BODY = bytes([BODY[0] ^ 0xFF]) + BODY[1:]  # same size, one byte different
MD5 = hashlib.md5(BODY).hexdigest()
SHA256 = hashlib.sha256(BODY).hexdigest()
TIMEOUT = 2.0


# ----------------------------------------------------------------------------- HTTP server

class _State:
    """What the server serves (``routes``) and what reached it (``requests``)."""

    def __init__(self):
        self.routes = {}       # path -> (kind, body)
        self.requests = []     # (path, User-Agent)
        self.release = threading.Event()
        self.base = ""

    def serve(self, path, body=BODY, kind="ok"):
        self.routes[path] = (kind, body)
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        state = self.server.state
        state.requests.append((self.path, self.headers.get("User-Agent")))
        kind, body = state.routes.get(self.path, ("404", b""))
        if kind == "404":
            self.send_error(404)
            return
        if kind == "hang":  # accept, then never answer (until the fixture ends)
            state.release.wait(10)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "truncate":  # announce the whole body, send half, close (HTTP/1.0)
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    state = _State()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No offline switch and no proxy from the caller's shell."""
    monkeypatch.delenv("TFGRAPH_OFFLINE", raising=False)
    for key in list(os.environ):
        if key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)


def _dead_url():
    """A 127.0.0.1 URL whose port nothing listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/f.bin"


def _remote(*urls, md5=MD5, sha256=None, size=len(BODY)):
    return RemoteFile("f.bin", urls=tuple(urls), md5=md5, sha256=sha256, size=size)


def _fetch(remote, directory):
    return fetch(remote, directory, progress=False, timeout=TIMEOUT)


# ----------------------------------------------------------------------------- RemoteFile, verify

def test_remote_file_normalises_and_rejects_folders():
    r = RemoteFile("a.gz", urls="http://x/a.gz", md5=" ABCD ")
    assert r.urls == ("http://x/a.gz",)
    assert r.md5 == "abcd"
    with pytest.raises(ValueError, match="plain file name"):
        RemoteFile("sub/a.gz", urls=())


def test_file_digest_and_verify(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(BODY)
    assert file_digest(path) == MD5
    assert file_digest(path, "sha256") == SHA256
    verify(path, _remote(sha256=SHA256))  # does not raise

    wrong = "0" * 32
    with pytest.raises(ChecksumError) as info:
        verify(path, _remote(md5=wrong))
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg and f"md5 {MD5}" in msg and f"expected {wrong}" in msg

    with pytest.raises(ChecksumError, match=f"size {len(BODY)} bytes, expected 7"):
        verify(path, _remote(size=7))
    with pytest.raises(ChecksumError, match="sha256"):
        verify(path, _remote(sha256="f" * 64))
    with pytest.raises(DataError, match="does not exist"):
        verify(tmp_path / "missing.bin", _remote())


# ----------------------------------------------------------------------------- fetch

@pytest.mark.parametrize("digest", ["md5", "sha256"])
def test_fetch_downloads_and_verifies(server, tmp_path, digest):
    url = server.serve("/f.bin")
    remote = _remote(url, md5=MD5 if digest == "md5" else None,
                     sha256=SHA256 if digest == "sha256" else None)
    directory = tmp_path / "a" / "b"  # created on demand
    path = _fetch(remote, directory)
    assert path == directory / "f.bin"
    assert path.read_bytes() == BODY
    assert os.listdir(directory) == ["f.bin"]  # no .part left
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # readable by others
    assert [p for p, _ in server.requests] == ["/f.bin"]
    assert server.requests[0][1].startswith("tfgraph_lessons/")


def test_fetch_without_checksum_or_size(server, tmp_path):
    url = server.serve("/f.bin")
    path = _fetch(_remote(url, md5=None, size=None), tmp_path)
    assert path.read_bytes() == BODY


def test_file_url_mirror(tmp_path):
    shared = tmp_path / "shared" / "f.bin"
    shared.parent.mkdir()
    shared.write_bytes(BODY)
    path = _fetch(_remote(shared.as_uri()), tmp_path / "data")
    assert path.read_bytes() == BODY


def test_cached_good_file_makes_no_request(server, tmp_path):
    url = server.serve("/f.bin", BAD_BODY)  # would replace the cache if asked
    (tmp_path / "f.bin").write_bytes(BODY)
    path = _fetch(_remote(url), tmp_path)
    assert server.requests == []
    assert path.read_bytes() == BODY


@pytest.mark.parametrize("cached, detail", [
    (BAD_BODY, f"md5 {hashlib.md5(BAD_BODY).hexdigest()}, expected {MD5}"),
    (BODY[:1000], f"size 1000 bytes, expected {len(BODY)}"),
], ids=["wrong-bytes", "truncated"])
def test_corrupt_cache_is_downloaded_again(server, tmp_path, capsys, cached, detail):
    url = server.serve("/f.bin")
    target = tmp_path / "f.bin"
    target.write_bytes(cached)
    path = _fetch(_remote(url), tmp_path)
    assert path.read_bytes() == BODY
    assert len(server.requests) == 1
    err = capsys.readouterr().err
    assert f"{target} is corrupt ({detail}); downloading it again" in err
    assert os.listdir(tmp_path) == ["f.bin"]


def test_corrupt_download_raises_checksum_error(server, tmp_path):
    url = server.serve("/f.bin", BAD_BODY)
    with pytest.raises(ChecksumError) as info:
        _fetch(_remote(url), tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"expected {MD5}" in msg and str(tmp_path / "f.bin") in msg
    assert os.listdir(tmp_path) == []  # neither .part nor final file


def test_corrupt_first_mirror_then_good(server, tmp_path, capsys):
    bad = server.serve("/bad.bin", BAD_BODY)
    good = server.serve("/f.bin")
    path = _fetch(_remote(bad, good), tmp_path)
    assert path.read_bytes() == BODY
    assert "mirror 1/2 failed for f.bin" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["f.bin"]


def test_wrong_size_announced_is_a_checksum_error(server, tmp_path):
    url = server.serve("/f.bin", BODY + b"extra")
    with pytest.raises(ChecksumError, match=f"announces {len(BODY) + 5} bytes"):
        _fetch(_remote(url, md5=None), tmp_path)
    assert os.listdir(tmp_path) == []


def test_truncated_download_tries_next_mirror(server, tmp_path, capsys):
    cut = server.serve("/cut.bin", kind="truncate")
    good = server.serve("/f.bin")
    path = _fetch(_remote(cut, good), tmp_path)
    assert path.read_bytes() == BODY
    err = capsys.readouterr().err
    assert f"mirror 1/2 failed for f.bin ({cut}): connection closed after" in err
    assert "trying the next" in err
    assert os.listdir(tmp_path) == ["f.bin"]


def test_truncated_download_without_checksum_is_still_caught(server, tmp_path):
    url = server.serve("/cut.bin", kind="truncate")
    with pytest.raises(OfflineError, match=f"closed after {len(BODY) // 2} of {len(BODY)}"):
        _fetch(_remote(url, md5=None, size=None), tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("first", ["dead", "404", "hang"])
def test_failed_first_mirror_then_good(server, tmp_path, capsys, first):
    bad = {"dead": _dead_url(),
           "404": server.serve("/gone.bin", kind="404"),
           "hang": server.serve("/slow.bin", kind="hang")}[first]
    good = server.serve("/f.bin")
    timeout = 0.3 if first == "hang" else TIMEOUT
    path = fetch(_remote(bad, good), tmp_path, progress=False, timeout=timeout)
    assert path.read_bytes() == BODY
    err = capsys.readouterr().err
    reason = {"dead": "refused", "404": "HTTP 404", "hang": "no answer within 0.3 s"}[first]
    assert "mirror 1/2 failed for f.bin" in err and reason in err
    assert os.listdir(tmp_path) == ["f.bin"]


def test_all_mirrors_fail_raises_offline_error(server, tmp_path):
    urls = (_dead_url(), server.serve("/gone.bin", kind="404"),
            server.serve("/cut.bin", kind="truncate"))
    directory = tmp_path / "data"
    with pytest.raises(OfflineError) as info:
        _fetch(_remote(*urls), directory)
    msg = str(info.value)
    assert "\n" not in msg
    assert "could not download f.bin from 3 mirrors" in msg
    assert f"put f.bin (md5 {MD5}) at {directory / 'f.bin'}" in msg
    assert "--data-dir / TFGRAPH_DATA" in msg
    assert os.listdir(directory) == []


def test_bad_mirror_mixed_with_corrupt_one_is_offline_error(server, tmp_path):
    urls = (server.serve("/bad.bin", BAD_BODY), _dead_url())
    with pytest.raises(OfflineError):  # not every mirror served data: not a ChecksumError
        _fetch(_remote(*urls), tmp_path)


def test_offline_env_makes_no_request(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    url = server.serve("/f.bin")
    directory = tmp_path / "data"
    with pytest.raises(OfflineError) as info:
        _fetch(_remote(url), directory)
    msg = str(info.value)
    assert "\n" not in msg and "TFGRAPH_OFFLINE" in msg
    assert f"put f.bin (md5 {MD5}) at {directory / 'f.bin'}" in msg
    assert server.requests == []
    assert not directory.exists()

    directory.mkdir()
    (directory / "f.bin").write_bytes(BODY)  # a good cache is fine offline
    assert _fetch(_remote(url), directory).read_bytes() == BODY
    (directory / "f.bin").write_bytes(BAD_BODY)  # a corrupt one is reported, kept
    with pytest.raises(ChecksumError, match="is corrupt"):
        _fetch(_remote(url), directory)
    assert (directory / "f.bin").read_bytes() == BAD_BODY
    assert server.requests == []


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    def stream_then_interrupt(url, out, remote, **kwargs):
        out.write(BODY[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_stream", stream_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _fetch(_remote("http://127.0.0.1:9/f.bin"), tmp_path)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- extract

FILES = {"pkg/a.txt": b"alpha\n", "pkg/sub/b.bin": BODY[:5000]}


def _make_archive(path, files=FILES):
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(path, "w:" + {".gz": "gz", ".tgz": "gz", ".bz2": "bz2",
                                        ".xz": "xz"}.get(path.suffix, "")) as tf:
            for name, data in files.items():
                _add(tf, tarfile.TarInfo(name), data)
    return path


def _add(tf, info, data=b""):
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in Path(root).rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["d.tar", "d.tar.gz", "d.tgz", "d.tar.bz2", "d.tar.xz", "d.zip"])
def test_extract_good_archive(tmp_path, name):
    archive = _make_archive(tmp_path / name)
    out = tmp_path / "out"
    assert extract(archive, out) == out
    assert _tree(out) == FILES
    assert [p.name for p in out.iterdir()] == ["pkg"]  # no staging folder left


def test_extract_dot_slash_archive(tmp_path):
    """``tar -C folder .`` makes members ``./`` and ``./pkg/a.txt``: safe, and unpacked as such."""
    archive = tmp_path / "dot.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        dot = tarfile.TarInfo(".")
        dot.type = tarfile.DIRTYPE
        tf.addfile(dot)
        _add(tf, tarfile.TarInfo("./pkg/a.txt"), b"alpha\n")
    out = tmp_path / "out"
    extract(archive, out)
    assert _tree(out) == {"pkg/a.txt": b"alpha\n"}


def test_extract_replaces_older_copy(tmp_path):
    archive = _make_archive(tmp_path / "d.tar.gz")
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    (out / "pkg" / "stale.txt").write_text("old")
    (out / "keep.txt").write_text("user's")
    extract(archive, out)
    assert _tree(out) == {**FILES, "keep.txt": b"user's"}
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "pkg"]


ABS_EVIL = f"/tmp/tfgraph-evil-{uuid.uuid4().hex}"


def _tar_member(kind):
    if kind == "traversal":
        return tarfile.TarInfo("../evil.txt"), b"pwned"
    if kind == "absolute":
        return tarfile.TarInfo(ABS_EVIL), b"pwned"
    info = tarfile.TarInfo("pkg/link")
    info.type, info.linkname = {
        "symlink": (tarfile.SYMTYPE, "/etc/passwd"),
        "hardlink": (tarfile.LNKTYPE, "../outside.txt"),
        "device": (tarfile.CHRTYPE, ""),
        "fifo": (tarfile.FIFOTYPE, ""),
    }[kind]
    return info, b""


@pytest.mark.parametrize("kind, name, why", [
    ("traversal", "../evil.txt", "'..' component"),
    ("absolute", ABS_EVIL, "absolute path"),
    ("symlink", "pkg/link", "symbolic link to '/etc/passwd'"),
    ("hardlink", "pkg/link", "hard link to '../outside.txt'"),
    ("device", "pkg/link", "character device"),
    ("fifo", "pkg/link", "named pipe"),
])
def test_extract_refuses_unsafe_tar_member(tmp_path, kind, name, why):
    archive = tmp_path / "archives" / "evil.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tf:
        _add(tf, tarfile.TarInfo("pkg/ok.txt"), b"fine")  # a good member comes first
        _add(tf, *_tar_member(kind))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DataError) as info:
        extract(archive, root / "out")
    msg = str(info.value)
    assert "\n" not in msg
    assert str(archive) in msg and repr(name) in msg and why in msg
    assert list(root.rglob("*")) == []  # nothing written, not even the good member
    assert not (tmp_path / "evil.txt").exists() and not (root / "evil.txt").exists()
    assert not os.path.exists(ABS_EVIL)


@pytest.mark.parametrize("name, mode, why", [
    ("../evil.txt", None, "'..' component"),
    ("/abs/evil.txt", None, "absolute path"),
    ("pkg/link", stat.S_IFLNK | 0o777, "symbolic link"),
])
def test_extract_refuses_unsafe_zip_member(tmp_path, name, mode, why):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/ok.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.create_system = 3
            info.external_attr = mode << 16
        zf.writestr(info, b"/etc/passwd")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DataError) as info:
        extract(archive, root / "out")
    msg = str(info.value)
    assert "\n" not in msg and str(archive) in msg and repr(name) in msg and why in msg
    assert list(root.rglob("*")) == []
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("name, damage", [
    ("d.tar.gz", "truncate"),
    ("d.tar.xz", "truncate"),
    ("d.zip", "truncate"),
    ("d.tar.bz2", "garbage"),
    ("d.zip", "garbage"),
    ("d.tar", "garbage"),
])
def test_extract_corrupt_archive(tmp_path, name, damage):
    archive = tmp_path / name
    if damage == "garbage":
        archive.write_bytes(random.Random(1).randbytes(4096))
    else:
        _make_archive(archive)
        data = archive.read_bytes()
        archive.write_bytes(data[: len(data) // 2])
    before = archive.read_bytes()
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        extract(archive, out)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"archive {archive} is corrupt" in msg and "delete it and run again" in msg
    assert archive.read_bytes() == before  # reported, never deleted
    assert not out.exists()


def test_extract_unknown_type_and_missing(tmp_path):
    (tmp_path / "d.rar").write_bytes(b"Rar!")
    with pytest.raises(DataError, match="unknown archive type"):
        extract(tmp_path / "d.rar", tmp_path / "out")
    with pytest.raises(DataError, match="does not exist"):
        extract(tmp_path / "none.tar.gz", tmp_path / "out")
