"""The shared lesson command line: every option documented, each default stated once."""
import argparse
import importlib
import subprocess
import sys

import pytest

LESSONS = ("cnn_cifar", "tf_mechanism", "towers", "distributed", "rnn_mnist", "char_rnn",
           "rnn_timeseries", "rl_frozenlake", "rl_cartpole", "gan_mnist", "detection",
           "preprocessing")


def parser_of(lesson, monkeypatch):
    """The lesson's parser, caught as ``parse_config`` builds it."""
    from tfgraph_lessons.core import cli

    made = []
    real = cli.lesson_parser

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(cli, "lesson_parser", spy)
    module = importlib.import_module(f"tfgraph_lessons.{lesson}")
    with pytest.raises(SystemExit):
        module.parse_config(["--help"])
    return made[0]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_option_has_help_that_states_its_default_once(lesson, monkeypatch, capsys):
    parser = parser_of(lesson, monkeypatch)
    capsys.readouterr()
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or \
                action.dest == "help":
            continue
        text = formatter._expand_help(action) if action.help else ""
        flag = action.option_strings[0]
        assert text.strip(), f"{lesson} {flag} has no help"
        assert text.count("default:") <= 1, f"{lesson} {flag}: {text}"
        assert "default: None" not in text, f"{lesson} {flag}: {text}"
        meaningful = action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0
        if meaningful:
            assert "default" in text, f"{lesson} {flag} does not state its default: {text}"


def test_a_reader_that_goes_away_ends_the_command_quietly():
    # ``python -m tfgraph_lessons.figures --list | head -1``: stdout closes under the writer
    proc = subprocess.Popen([sys.executable, "-m", "tfgraph_lessons.figures", "--list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
