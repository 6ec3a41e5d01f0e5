"""The character-level language model: its text data, its two shapes (training and
sampling share one set of weights), the sampler, the command line and bad input."""
import hashlib
import json
import math
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import char_rnn
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.data import text as textdata

SHAKESPEARE_START = "First Citizen:\nBefore we proceed any further, hear me speak."


def run_cli(argv, capsys):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    return run_lesson(char_rnn.main, argv, capsys)



@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small real text: the first 20,000 characters of Tiny Shakespeare where the shared
    copy exists, else a made-up text of the same kind."""
    from conftest import SHARED_DATA

    path = SHARED_DATA / "tinyshakespeare.txt"
    if path.is_file():
        text = path.read_text(encoding="utf-8")[:20_000]
    else:
        rng = np.random.default_rng(0)
        words = ["the", "king", "shall", "speak", "my", "lord", "and", "thou", "art"]
        text = "\n".join(" ".join(rng.choice(words, 8)) for _ in range(1500))
    f = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    f.write_text(text, encoding="utf-8")
    return f


# --------------------------------------------------------------------------- text data


@pytest.mark.parametrize("content,needle", [
    (b"", "the file is empty"),
    (b"   \n\n", "the file is empty"),
    (b"caf\xe9 " * 400, "not UTF-8 text (byte 0xe9 at offset 3)"),
    (b"short text", "only 10 characters"),
])
def test_bad_text_files_are_named_errors(content, needle, tmp_path):
    f = tmp_path / "t.txt"
    f.write_bytes(content)
    with pytest.raises(UsageError, match="--text") as e:
        textdata.read_text(f)
    assert needle in str(e.value)


def test_read_text_missing_file_or_folder(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        textdata.read_text(tmp_path / "nope.txt")
    with pytest.raises(UsageError, match="it is a folder"):
        textdata.read_text(tmp_path)


def test_byte_order_mark_is_not_part_of_the_text(tmp_path):
    f = tmp_path / "bom.txt"
    f.write_bytes("\ufeff".encode() + b"abc " * 300)
    assert textdata.read_text(f) == "abc " * 300


def test_vocabulary_round_trip_and_json(tmp_path):
    vocab = textdata.Vocabulary.from_text("hello, world\nÆsop")
    assert list(vocab.chars) == sorted(set("hello, world\nÆsop"))
    ids = vocab.encode("world\nÆ")
    assert ids.dtype == np.int32 and vocab.decode(ids) == "world\nÆ"
    vocab.save(tmp_path / "v.json")
    assert textdata.Vocabulary.load(tmp_path / "v.json") == vocab
    with pytest.raises(UsageError, match=r"--prime holds 3 character\(s\) the model never saw"):
        vocab.encode("xyz", what="--prime")


def test_split_keeps_the_validation_text_in_one_piece_at_the_end():
    ids = np.arange(1000)
    train, val = textdata.split_text(ids, 0.1)
    assert len(train) == 900 and len(val) == 100
    assert train[-1] + 1 == val[0] and np.all(np.diff(val) == 1)


def test_windows_targets_are_the_next_characters():
    ids = np.arange(23, dtype=np.int32)
    x, y = textdata.windows(ids, 5)
    assert x.shape == y.shape == (4, 5)
    assert np.array_equal(x[1], [5, 6, 7, 8, 9]) and np.array_equal(y, x + 1)
    with pytest.raises(UsageError, match="shorter than one window"):
        textdata.windows(ids, 30)


def test_jittered_windows_stay_inside_the_training_text():
    ids = np.arange(1000, dtype=np.int32)
    batches = char_rnn.JitteredWindows(ids, 50)
    numbers = np.arange(batches.count)
    rng = np.random.default_rng(0)
    x, y = batches(numbers, numbers, rng)
    assert np.array_equal(y, x + 1) and y.max() < 1000
    starts = x[:, 0] - numbers * 50
    assert starts.min() >= 0 and starts.max() < 50 and len(set(starts)) > 1  # shifted
    x2, _ = batches(numbers, numbers, np.random.default_rng(0))
    assert np.array_equal(x, x2)   # the step's seed decides the windows (resume)


def test_tiny_shakespeare_pinned_checksums_are_the_published_files(shared_data):
    path = shared_data / "tinyshakespeare.txt"
    data = path.read_bytes()
    assert len(data) == textdata.TINY_SHAKESPEARE["size"]
    assert hashlib.md5(data).hexdigest() == textdata.TINY_SHAKESPEARE["md5"]
    assert hashlib.sha256(data).hexdigest() == textdata.TINY_SHAKESPEARE["sha256"]


def test_tiny_shakespeare_downloads_with_the_project_download_code(shared_data, tmp_path,
                                                                   monkeypatch):
    """Served by a local HTTP server (no internet here); the pinned checksums accept it."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(shared_data))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/tinyshakespeare.txt"
        monkeypatch.setitem(textdata.TINY_SHAKESPEARE, "urls", (url,))
        text = textdata.load_tiny_shakespeare(tmp_path)
    finally:
        httpd.shutdown()
    assert text.startswith(SHAKESPEARE_START) and len(text) == 1_115_394
    assert (tmp_path / "tinyshakespeare" / "input.txt").is_file()
    assert not list(tmp_path.rglob("*.part"))


def test_offline_without_the_text_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    with pytest.raises(Exception) as e:
        textdata.load_tiny_shakespeare(tmp_path)
    assert "input.txt" in str(e.value) and "--text FILE" in str(e.value)


# --------------------------------------------------------------------------- the model


def test_training_graph_names_shapes_and_parameter_count():
    config = char_rnn.CharRNNConfig()                    # the default LSTM(512)
    with new_graph(0):
        model = char_rnn.build_graph(config, 65, 100)
        shapes = {v.op.name: v.shape.as_list() for v in char_rnn.model_variables()}
    assert shapes == {
        "char_rnn/embedding": [65, 64],
        "char_rnn/rnn/lstm/kernel": [64, 2048],
        "char_rnn/rnn/lstm/recurrent_kernel": [512, 2048],
        "char_rnn/rnn/lstm/bias": [2048],
        "char_rnn/softmax/weights": [512, 65],
        "char_rnn/softmax/biases": [65],
    }
    assert sum(np.prod(s) for s in shapes.values()) == 65 * 64 + 576 * 2048 + 2048 + 513 * 65
    assert model["logits"].shape.as_list() == [None, None, 65]


def test_the_sampler_is_the_same_model_one_character_at_a_time():
    """One model, two shapes: the sampler stepping through a text with its state fed back
    gives the logits the training graph gives for the whole window."""
    config = char_rnn.CharRNNConfig(units=16, embedding=8, layers=2, cell="gru")
    vocab = textdata.Vocabulary.from_text("abcdefgh")
    x = np.array([[0, 3, 1, 7, 2, 5]], np.int32)
    with new_graph(1) as g:
        model = char_rnn.build_graph(config, len(vocab), 10)
        sess = tf1.Session()
        sess.run(tf1.global_variables_initializer())
        want = sess.run(model["logits"], {model["images"]: x})[0]
        sampler = char_rnn.Sampler(config, vocab)
        sampler.copy_from(sess, g)
    state, got = sampler.zero, []
    for char_id in x[0]:
        logits, state = sampler._step(int(char_id), state)
        got.append(logits)
    sampler.close()
    np.testing.assert_allclose(np.array(got), want, atol=1e-5)


def test_temperature_sharpens_or_flattens_the_samples():
    config = char_rnn.CharRNNConfig(units=8, embedding=4)
    vocab = textdata.Vocabulary.from_text("abcdefghij")
    with new_graph(2) as g:
        char_rnn.build_graph(config, len(vocab), 10)
        sess = tf1.Session()
        sess.run(tf1.global_variables_initializer())
        # a strong preference for "c" after anything
        bias = [v for v in tf1.global_variables() if v.op.name == "char_rnn/softmax/biases"][0]
        bias.load(np.eye(10, dtype=np.float32)[2] * 3.0, sess)
        sampler = char_rnn.Sampler(config, vocab)
        sampler.copy_from(sess, g)
    cold = sampler.sample(300, 0.1, "a", np.random.default_rng(0))
    hot = sampler.sample(300, 5.0, "a", np.random.default_rng(0))
    assert cold.startswith("a") and len(cold) == 301
    assert cold[1:].count("c") > 290 and hot[1:].count("c") < 150
    with pytest.raises(UsageError, match="--temperature must be > 0"):
        sampler.sample(5, 0.0, "a", np.random.default_rng(0))
    with pytest.raises(UsageError, match="--prime holds 1 character"):
        sampler.sample(5, 1.0, "az", np.random.default_rng(0))
    sampler.close()


# --------------------------------------------------------------------------- the command


def test_fast_run_learns_writes_metrics_samples_and_samples_from_the_checkpoint(
        corpus, tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, err = run_cli(["--text", str(corpus), "--fast", "--steps", "60",
                                   "--lr", "0.01", "--out", str(out)], capsys)
    assert status == 0, err
    m = json.loads((out / "metrics.json").read_text())
    vocab = json.loads((out / "checkpoints" / "vocab.json").read_text())["chars"]
    assert m["vocabulary_size"] == len(vocab)
    assert m["val_bits_per_char"] == pytest.approx(m["val_loss_nats"] / math.log(2))
    # learned something: well below a uniform guess over the vocabulary
    assert m["val_loss_nats"] < math.log(len(vocab)) - 1.0
    assert m["val_loss_nats"] == min(h["val_loss"] for h in m["history"])
    assert m["seconds_to_best"] > 0 and m["steps"] == 60
    assert [s["step"] for s in m["samples"]] == [10, 20, 30, 40, 50, 60]
    assert all(s["text"].startswith("First Citizen:\n") or s["text"] for s in m["samples"])
    assert "=== step 60" in (out / "samples.txt").read_text(encoding="utf-8")
    assert (out / "figures" / "learning_curves.png").is_file()
    assert "--- sample at step 10" in stdout

    status, stdout, err = run_cli(["--text", str(corpus), "--out", str(out), "--sample", "40",
                                   "--prime", "The ", "--temperature", "0.5"], capsys)
    assert status == 0, err
    sample = stdout.strip("\n")
    assert sample.startswith("The ") and len(sample) == 44
    assert set(sample) <= set(vocab)


def test_resume_continues_from_the_checkpoint(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--text", str(corpus), "--fast", "--out", str(out)]
    assert run_cli(args + ["--steps", "10"], capsys)[0] == 0
    status, _, err = run_cli(args + ["--steps", "20", "--resume"], capsys)
    assert status == 0, err
    assert "resumed from" in err and "at step 10" in err
    m = json.loads((out / "metrics.json").read_text())
    assert [h["step"] for h in m["history"]] == [10, 20]
    status, _, err = run_cli(args + ["--steps", "30", "--resume", "--units", "32"], capsys)
    assert status == 2 and "units" in error_line(err)


@pytest.mark.parametrize("argv,needle", [
    (["--temperature", "0"], "--temperature must be > 0"),
    (["--temperature", "-1"], "--temperature must be > 0"),
    (["--cell", "lstmx"], "--cell: invalid choice"),
    (["--units", "0"], "--units: must be > 0"),
    (["--seq-length", "0"], "--seq-length: must be > 0"),
    (["--keep-prob", "0"], "--keep-prob must be in (0, 1]"),
    (["--sample", "20"], "--sample: no checkpoint in"),
    (["--text", "/nonexistent/t.txt"], "--text /nonexistent/t.txt: no such file"),
    (["--prime", "\u2603"], "--prime holds 1 character(s) the model never saw"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, needle, corpus, tmp_path,
                                                         capsys):
    out = tmp_path / "out"
    args = ["--fast", "--out", str(out)] + ([] if "--text" in argv else ["--text", str(corpus)])
    status, _, err = run_cli(args + argv, capsys)
    assert status == 2 and needle in error_line(err), err
    assert not (out / "metrics.json").exists() and not (out / "checkpoints").exists()


@pytest.mark.parametrize("content,needle", [(b"", "the file is empty"),
                                            (b"\xff\xfe" + b"x" * 2000, "not UTF-8 text")])
def test_an_empty_or_binary_text_is_refused_before_anything_is_written(content, needle,
                                                                       tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_bytes(content)
    status, _, err = run_cli(["--text", str(f), "--fast", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and needle in error_line(err)
    assert not (tmp_path / "o").exists()
