"""Resume you can trust, one run per folder: checkpoints are read inside OUT/checkpoints
only, belong to this run, and unusable files are a one-line error, never a fresh start."""
import json
import shutil

import numpy as np
import pytest

from tfgraph_lessons.core import rundir
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import tf1

from test_runner import train


def weights_of(out, step):
    reader = tf1.train.load_checkpoint(str(out / "checkpoints" / f"model.ckpt-{step}"))
    return reader.get_tensor("fc/weights")


def test_a_moved_run_folder_resumes_from_its_own_files(tmp_path, capsys):
    train(tmp_path / "a", epochs=2)
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))
    history, _, t = train(tmp_path / "b", epochs=3, resume=True)
    assert f"resumed from {tmp_path / 'b' / 'checkpoints'}" in capsys.readouterr().err
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert t.start_step == 20


def test_a_copied_run_folder_restores_its_own_weights_not_the_original(tmp_path):
    train(tmp_path / "a", epochs=2)
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    # the original trains on: its checkpoint files of step 20 are replaced by later ones
    train(tmp_path / "a", epochs=6, resume=True)
    assert not (tmp_path / "a" / "checkpoints" / "model.ckpt-20.index").exists()
    _, resumed, t = train(tmp_path / "copy", epochs=2, resume=True)  # nothing left to train
    assert t.start_step == 20
    np.testing.assert_array_equal(resumed[0], weights_of(tmp_path / "copy", 20))


def test_checkpoint_paths_are_recorded_relative_to_the_folder(tmp_path):
    train(tmp_path, epochs=1)
    text = (tmp_path / "checkpoints" / "checkpoint").read_text()
    assert str(tmp_path) not in text and 'model_checkpoint_path: "model.ckpt-10"' in text


@pytest.mark.parametrize("change,needle", [
    ({"seed": 1}, "--seed 0, this one has 1"),
    ({"lesson": "other"}, "the lesson 'toy', this one has 'other'"),
    ({"val_size": 99}, "recorded no val_size"),
])
def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, change, needle):
    train(tmp_path, epochs=1)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    identity = {"lesson": "toy", "seed": 0, **change}
    with pytest.raises(UsageError, match=needle):
        train(tmp_path, epochs=2, resume=True, identity=identity)
    assert rundir.read_state(tmp_path / "checkpoints")["step"] == 10  # nothing lost
    # and nothing added: no event file of a run that never started
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def _damage_data(ckpt):
    (data,) = ckpt.glob("model.ckpt-10.data-*")
    data.write_bytes(data.read_bytes()[:7])


def _damage_index(ckpt):
    (ckpt / "model.ckpt-10.index").write_bytes(b"this is not an index" * 10)


def _damage_state(ckpt):
    (ckpt / "state.json").write_text('{"step": 10, "hist')


def _drop_state(ckpt):
    (ckpt / "state.json").unlink()


def _drop_data(ckpt):
    for p in ckpt.glob("model.ckpt-10.data-*"):
        p.unlink()


@pytest.mark.parametrize("damage,needle", [
    (_damage_data, "cannot be read"),
    (_damage_index, "cannot be read"),
    (_damage_state, "state.json is unreadable"),
    (_drop_state, "no state.json"),
    (_drop_data, "its files are not in"),
])
def test_unusable_checkpoint_files_are_an_error_that_says_what_to_delete(tmp_path, damage,
                                                                         needle):
    train(tmp_path, epochs=1)
    damage(tmp_path / "checkpoints")
    with pytest.raises(UsageError, match=needle) as e:
        train(tmp_path, epochs=2, resume=True)
    assert f"delete {tmp_path / 'checkpoints'}" in str(e.value) or "another --out" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_checkpoint_written_after_the_last_state_is_ignored(tmp_path):
    """Killed between Saver.save and state.json: resume from the step the state names."""
    train(tmp_path, epochs=1)
    ckpt = tmp_path / "checkpoints"
    state = json.loads((ckpt / "state.json").read_text())
    train(tmp_path / "later", epochs=2)
    for p in (tmp_path / "later" / "checkpoints").glob("model.ckpt-20.*"):
        shutil.copy(p, ckpt / p.name)
    (ckpt / "state.json").write_text(json.dumps(state))  # still names step 10
    _, _, t = train(tmp_path, epochs=1, resume=True)
    assert t.start_step == 10
    assert not (ckpt / "model.ckpt-20.index").exists()


def test_resume_marks_a_restart_so_tensorboard_drops_the_killed_steps(tmp_path):
    train(tmp_path, epochs=2)
    train(tmp_path, epochs=3, resume=True)
    starts = []
    for path in sorted((tmp_path / "logs" / "train").glob("events.*")):
        for event in tf1.train.summary_iterator(str(path)):
            if event.HasField("session_log") and \
                    event.session_log.status == tf1.SessionLog.START:
                starts.append(event.step)
    assert sorted(starts) == [0, 20]  # one START per process: the fresh run and the resume


# --------------------------------------------------------------------------- run folders


def test_a_fresh_run_refuses_a_folder_that_holds_a_run(tmp_path):
    train(tmp_path, epochs=1)
    with pytest.raises(UsageError, match="already holds a run; continue it with --resume"):
        rundir.prepare_run_dir(tmp_path)
    assert rundir.read_state(tmp_path / "checkpoints")["step"] == 10
    rundir.prepare_run_dir(tmp_path, resume=True)  # allowed
    (tmp_path / "notes.txt").write_text("mine")
    rundir.prepare_run_dir(tmp_path, overwrite=True)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "logs").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the run's outputs go


def test_out_that_is_a_file_or_unwritable(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        rundir.prepare_run_dir(tmp_path / "f")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        rundir.prepare_run_dir(tmp_path / "f" / "sub")
    with pytest.raises(UsageError, match="cannot be written"):
        rundir.prepare_run_dir("/proc/self/tfgraph-run")
    with pytest.raises(UsageError, match="give one of them"):
        rundir.prepare_run_dir(tmp_path / "x", resume=True, overwrite=True)
