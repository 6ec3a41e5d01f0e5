"""A quick, quiet start: TensorFlow's native start-up lines are filtered, real lines are not,
``--verbose`` / ``TFGRAPH_VERBOSE=1`` let everything through, and the TensorFlow-free parts
import no TensorFlow (:mod:`tfgraph_lessons.core.startup`)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfgraph_lessons.core import cli, startup

REPO = Path(__file__).resolve().parents[1]

# TensorFlow 2.21's start-up lines on this course's CPU machine, as it writes them
NOISE_LINES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796058492.852222   11660 port.cc:153] oneDNN custom operations are on. You "
    b"may see slightly different numerical results due to floating-point round-off errors from "
    b"different computation orders. To turn them off, set the environment variable "
    b"`TF_ENABLE_ONEDNN_OPTS=0`.\n"
    b"I0000 00:00:1796058492.852636   11660 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.\n"
    b"I0000 00:00:1796058492.921470   11660 cpu_feature_guard.cc:227] This TensorFlow binary is "
    b"optimized to use available CPU instructions in performance-critical operations.\n"
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    b"with the appropriate compiler flags.\n"
)
CUINIT_LINE = (b"E0000 00:00:1796058506.814663   11788 cuda_platform.cc:52] failed call to cuInit: "
               b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
REAL_ERROR = b"E0000 00:00:1796058506.9   11788 op_kernel.cc:1857] a real error the user must see\n"

# what shows that a start-up line got through, written independently of startup.NOISE
MARKERS = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers",
           "cpu_feature_guard", "To enable the following instructions", "cuInit")


def markers_in(text):
    return [m for m in MARKERS if m in text]


def run_python(args, env_extra=None, drop=(), path=None):
    """``python ARGS`` from the repository root -> CompletedProcess (text); ``drop``
    removes variables from the environment, ``path`` goes first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in drop and k not in ("TFGRAPH_VERBOSE", "PYTHONPATH")}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


# ----------------------------------------------------------------------------- the filter


def test_capture_drops_the_start_up_lines_and_keeps_everything_else_in_order(capfd):
    with startup.captured_stderr():
        os.write(2, NOISE_LINES[:200])        # a line cut in two writes is still one line
        print("a Python warning", file=sys.stderr)
        os.write(2, NOISE_LINES[200:] + REAL_ERROR + CUINIT_LINE + b"no newline at the end")
    err = capfd.readouterr().err
    assert err == "a Python warning\n" + REAL_ERROR.decode() + "no newline at the end"


def test_the_cuinit_error_is_noise_only_when_the_cuda_driver_is_missing():
    assert startup.filter_noise(NOISE_LINES + CUINIT_LINE) == b""
    with_driver = NOISE_LINES.replace(NOISE_LINES.splitlines(keepends=True)[2], b"")
    assert startup.filter_noise(with_driver + CUINIT_LINE) == CUINIT_LINE


def test_a_block_that_raises_gets_every_captured_line_back(capfd):
    with pytest.raises(ImportError, match="broken"):
        with startup.captured_stderr():
            os.write(2, NOISE_LINES + REAL_ERROR)
            raise ImportError("broken")
    assert capfd.readouterr().err == (NOISE_LINES + REAL_ERROR).decode()


# ----------------------------------------------------------------------------- --verbose


@pytest.mark.parametrize("argv, orig_argv, verbose", [
    (["-m", "--help", "--verbose"], ["python", "-m", "tfgraph_lessons.cnn_cifar", "--help",
                                     "--verbose"], True),
    (["-m", "--verbose"], ["python", "-X", "utf8", "-mtfgraph_lessons.figures", "--verbose"], True),
    (["/venv/bin/tfgraph-figures", "--verbose"], ["python", "/venv/bin/tfgraph-figures",
                                                  "--verbose"], True),
    (["-m", "--list"], ["python", "-m", "tfgraph_lessons.figures", "--list"], False),
    (["-m", "--", "--verbose"], ["python", "-m", "tfgraph_lessons.x", "--", "--verbose"], False),
    # another program's --verbose (pytest's) is not ours
    (["/venv/bin/pytest", "--verbose"], ["python", "/venv/bin/pytest", "--verbose"], False),
    (["-m", "--verbose"], ["python", "-m", "pytest", "--verbose"], False),
    (["-c", "--verbose"], ["python", "-c", "import tfgraph_lessons", "--verbose"], False),
])
def test_verbose_is_read_from_package_commands_only(monkeypatch, argv, orig_argv, verbose):
    monkeypatch.delenv(startup.VERBOSE_ENV, raising=False)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    assert startup.verbose_requested() is verbose
    monkeypatch.setenv(startup.VERBOSE_ENV, "1")
    assert startup.verbose_requested() is True


def test_every_command_parser_accepts_verbose():
    assert cli.OneLineParser(prog="x").parse_args(["--verbose"]).verbose is True
    assert cli.lesson_parser("x", "d").parse_args([]).verbose is False


# ------------------------------------------------------- the import, with a stand-in TensorFlow

FAKE_TENSORFLOW = f'''
import os, sys
os.write(2, {NOISE_LINES!r})
os.write(2, {REAL_ERROR!r})
print("a Python warning", file=sys.stderr)
if os.environ.get("FAKE_TF_FAIL"):
    raise ImportError("the stand-in TensorFlow failed to load")

class config:
    @staticmethod
    def list_physical_devices():
        os.write(2, {CUINIT_LINE!r})
        return []
'''


@pytest.fixture
def fake_tensorflow(tmp_path):
    """A folder holding a stand-in ``tensorflow`` package that writes TensorFlow's
    start-up lines, a real error line and a Python warning to descriptor 2."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    return tmp_path


SCRIPT = ("import tfgraph_lessons, tensorflow; "
          "print(type(tensorflow.__loader__).__name__, type(tensorflow.__spec__.loader).__name__)")


def test_the_first_tensorflow_import_is_filtered_and_keeps_its_own_loader(fake_tensorflow):
    res = run_python(["-c", SCRIPT], path=fake_tensorflow)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["SourceFileLoader", "SourceFileLoader"]
    assert res.stderr == REAL_ERROR.decode() + "a Python warning\n"


def test_a_failing_tensorflow_import_shows_everything_and_its_error(fake_tensorflow):
    res = run_python(["-c", SCRIPT], {"FAKE_TF_FAIL": "1"}, path=fake_tensorflow)
    assert res.returncode == 1
    assert res.stderr.startswith((NOISE_LINES + REAL_ERROR).decode() + "a Python warning\n")
    assert "ImportError: the stand-in TensorFlow failed to load" in res.stderr


def test_tfgraph_verbose_lets_every_line_through(fake_tensorflow):
    res = run_python(["-c", SCRIPT], {"TFGRAPH_VERBOSE": "1"}, path=fake_tensorflow)
    assert res.returncode == 0, res.stderr
    assert res.stderr == (NOISE_LINES + REAL_ERROR).decode() + "a Python warning\n"


# ----------------------------------------------------------------------------- real TensorFlow


def test_real_tensorflow_starts_quietly_up_to_a_session():
    script = ("import os, tfgraph_lessons, tensorflow as tf; tf.compat.v1.Session().close(); "
              "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    res = run_python(["-c", script], drop=("TF_CPP_MIN_LOG_LEVEL",))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"
    assert markers_in(res.stderr) == [], res.stderr


def test_verbose_on_a_lesson_command_lets_the_lines_through():
    res = run_python(["-m", "tfgraph_lessons.tf_mechanism", "--verbose", "--help"])
    assert res.returncode == 0, res.stderr
    assert "--verbose" in res.stdout and "TFGRAPH_VERBOSE=1" in res.stdout
    assert "absl::InitializeLog" in res.stderr


# ----------------------------------------------------------------------------- no TensorFlow


@pytest.mark.parametrize("args, expected", [
    (["-c", "import tfgraph_lessons.data, tfgraph_lessons.core.errors, tfgraph_lessons.core.cli"],
     ""),
    (["-m", "tfgraph_lessons.ml_basics", "--list"], "K-means"),
])
def test_the_tensorflow_free_parts_import_no_tensorflow(tmp_path, args, expected):
    # a tensorflow that cannot be imported: the command fails if anything asks for it
    (tmp_path / "tensorflow.py").write_text("raise ImportError('TensorFlow was imported')\n")
    res = run_python(args, path=tmp_path)
    assert res.returncode == 0, res.stderr
    assert expected in res.stdout


# ------------------------------------------- --help and --list defer TensorFlow (DeferredModule)

COMMANDS = ("architectures", "char_rnn", "cnn_cifar", "detection", "distributed", "figures",
            "gan_mnist", "ml_basics", "preprocessing", "rl_cartpole", "rl_frozenlake",
            "rnn_mnist", "rnn_timeseries", "tf_mechanism", "towers")

# a TensorFlow whose import fails when it really runs: a deferred import binds it unrun
UNLOADABLE = "raise ImportError('TensorFlow was loaded')\n"


def as_command(module, *args):
    """Python lines that make this process look like ``python -m MODULE ARGS`` to the
    package (what :func:`startup.command_arguments` reads), before it is imported."""
    return (f"import sys; sys.argv = ['-m', *{list(args)!r}]; "
            f"sys.orig_argv = [sys.executable, '-m', {module!r}, *{list(args)!r}]; ")


def test_every_command_is_a_package_module_with_a_main():
    found = {p.stem if p.suffix == ".py" else p.name
             for p in (REPO / "tfgraph_lessons").iterdir()
             if (p.suffix == ".py" and "__main__" in p.read_text()) or (p / "__main__.py").exists()}
    assert found == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_loads_no_tensorflow(tmp_path, command):
    (tmp_path / "tensorflow.py").write_text(UNLOADABLE)
    res = run_python(["-m", f"tfgraph_lessons.{command}", "--help"], path=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage:") and "--verbose" in res.stdout


@pytest.mark.parametrize("command, expected", [
    ("figures", "conv_slide_example"), ("architectures", "resnet20"), ("ml_basics", "K-means")])
def test_list_loads_no_tensorflow(tmp_path, command, expected):
    (tmp_path / "tensorflow.py").write_text(UNLOADABLE)
    res = run_python(["-m", f"tfgraph_lessons.{command}", "--list"], path=tmp_path)
    assert res.returncode == 0, res.stderr
    assert expected in res.stdout


def test_no_module_reads_tensorflow_while_it_is_imported(tmp_path):
    # the rule that makes deferral work: no tf.<attribute> at module level or in defaults
    (tmp_path / "tensorflow.py").write_text(UNLOADABLE)
    script = as_command("tfgraph_lessons.figures", "--list") + (
        "import importlib, pkgutil, tfgraph_lessons; "
        "names = [m.name for m in pkgutil.walk_packages(tfgraph_lessons.__path__, "
        "'tfgraph_lessons.') if not m.name.endswith('__main__')]; "
        "[importlib.import_module(n) for n in names]; "
        "print(len(names), type(sys.modules['tensorflow']).__name__)")
    res = run_python(["-c", script], path=tmp_path)
    assert res.returncode == 0, res.stderr
    count, kind = res.stdout.split()
    assert int(count) > 50 and kind == "DeferredModule"


def test_a_deferred_tensorflow_loads_quietly_on_first_use_and_works():
    # a --help command that goes on after all: the first tf1.<name> loads TensorFlow into
    # the same module object, graph mode is switched on, and the start-up lines stay hidden
    script = as_command("tfgraph_lessons.tf_mechanism", "--help") + (
        "from tfgraph_lessons.core.graph import tf1; import tensorflow as tf; "
        "print(type(tf).__name__, type(tf1).__name__); "
        "x = tf1.placeholder('float32', [2]); "
        "print(type(tf).__name__, tf.executing_eagerly(), sys.modules['tensorflow'] is tf); "
        "sess = tf1.Session(); print(sess.run(x * 2.0, {x: [1.0, 2.5]}).tolist())")
    res = run_python(["-c", script], drop=("TF_CPP_MIN_LOG_LEVEL",))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["DeferredModule DeferredAttribute", "module False True",
                                       "[2.0, 5.0]"]
    assert markers_in(res.stderr) == [], res.stderr


def test_without_help_tensorflow_loads_at_its_import(fake_tensorflow):
    script = as_command("tfgraph_lessons.tf_mechanism", "--steps", "3") + (
        "import tfgraph_lessons, tensorflow; print(type(tensorflow).__name__)")
    res = run_python(["-c", script], path=fake_tensorflow)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["module"]


@pytest.mark.parametrize("args, expected", [
    (["--help"], True), (["-h"], True), (["--list"], True), (["--epochs", "2"], False),
    (["--", "--help"], False)])
def test_help_requested(monkeypatch, args, expected):
    monkeypatch.setattr(sys, "argv", ["-m", *args])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-m", "tfgraph_lessons.x", *args])
    assert startup.help_requested() is expected


def test_the_users_environment_wins_over_the_defaults():
    script = ("import os, tfgraph_lessons; "
              "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    res = run_python(["-c", script], {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.stdout.split() == ["0", "3"], res.stderr
    if startup.platform.machine().lower() in ("x86_64", "amd64"):
        res = run_python(["-c", script], drop=("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL"))
        assert res.stdout.split() == ["1", "1"], res.stderr
