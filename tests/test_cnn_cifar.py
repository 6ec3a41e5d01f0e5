"""The main job's command line: a fast run, its outputs, bad input, and kill + --resume."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import error_line, run_lesson
from tfgraph_lessons import cnn_cifar


def run_cli(argv, capsys):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    return run_lesson(cnn_cifar.main, argv, capsys)



def test_fast_run_writes_metrics(tmp_path, capsys):
    status, out, _ = run_cli(["--dataset", "digits", "--fast", "--out", str(tmp_path)], capsys)
    assert status == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "train_accuracy", "test_loss",
                "images_per_second", "wall_seconds", "device", "steps", "epochs", "history",
                "config"):
        assert key in m, key
    assert m["images_per_second"] > 0 and m["fast"] is True
    assert m["test_examples"] == 359  # the whole digits test split (fast mode keeps <= 1000)
    assert m["train_examples"] + m["val_examples"] == 1438  # every digits training image
    # evaluated every 3 steps, and once at the end: a curve even from a one-epoch run
    steps = m["train_examples"] // 128
    assert m["steps"] == steps and m["val_examples"] == 500
    assert [h["step"] for h in m["history"]] == list(range(3, steps, 3)) + [steps]
    assert m["test_accuracy"] == m["history"][-1]["test_accuracy"]
    # train_accuracy is the inference-mode evaluation, not the dropout-mode running mean
    last = m["history"][-1]
    assert m["train_accuracy"] == last["train_eval_accuracy"] != last["train_running_accuracy"]
    assert "test accuracy" in out
    assert list((tmp_path / "checkpoints").glob("model.ckpt-*.index"))
    assert list((tmp_path / "logs" / "train").glob("events.*"))


@pytest.mark.parametrize("argv,needle", [
    (["--dataset", "imagenet"], "unknown --dataset 'imagenet'"),
    (["--dataset", "digits", "--device", "tpu"], "unknown --device 'tpu'"),
    (["--dataset", "digits", "--epochs", "-1"], "--epochs: must be >= 0"),
    (["--dataset", "digits", "--model", "nope"], "unknown --model 'nope'"),
    (["--dataset", "digits", "--batch-size", "0"], "--batch-size: must be > 0"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(argv + ["--out", str(tmp_path / "out")], capsys)
    assert status == 2
    assert needle in error_line(err)
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_missing_data_offline_says_what_to_put_where(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    status, _, err = run_cli(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                             capsys)
    assert status == 2
    line = error_line(err)
    assert str(tmp_path) in line and "cifar-10-binary.tar.gz" in line
    assert "--dataset digits" in line
    assert not (tmp_path / "out").exists()


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL after the first checkpoint, then --resume: same steps and epochs as an
    uninterrupted run, and a test accuracy within noise of it."""
    args = ["--dataset", "digits", "--epochs", "12", "--batch-size", "32", "--seed", "3"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TFGRAPH_FAST", None)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "tfgraph_lessons.cnn_cifar", *args,
                             "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists(), "no checkpoint was written before the kill"
    assert not (killed / "metrics.json").exists(), "the run finished before it was killed"

    resumed = subprocess.run([sys.executable, "-m", "tfgraph_lessons.cnn_cifar", *args,
                              "--out", str(killed), "--resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    after = json.loads((killed / "metrics.json").read_text())

    full = cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=12, batch_size=32, seed=3,
                                             out=str(tmp_path / "full")))
    assert after["steps"] == full["steps"]
    assert [h["epoch"] for h in after["history"]] == list(range(1, 13))
    assert abs(after["test_accuracy"] - full["test_accuracy"]) <= 0.03


def test_history_has_train_val_test_per_epoch_and_figures(tmp_path):
    m = cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=2, out=str(tmp_path),
                                          snapshot_steps=(1, 3)))
    for entry in m["history"]:
        for key in ("train_running_loss", "train_eval_accuracy", "val_accuracy", "val_loss",
                    "test_accuracy", "test_loss"):
            assert key in entry, key
    assert m["history"][-1]["test_accuracy"] == pytest.approx(m["test_accuracy"])
    cm = m["confusion_matrix"]
    assert sum(map(sum, cm)) == m["test_examples"] == 359
    assert sum(cm[i][i] for i in range(10)) / 359 == pytest.approx(m["test_accuracy"], abs=1e-6)
    figs = {p.name for p in (tmp_path / "figures").glob("*.png")}
    assert {"learning_curves.png", "confusion_matrix.png", "filters.png", "feature_maps.png",
            "filters_over_time.png"} <= figs
    import numpy as np
    with np.load(tmp_path / "snapshots.npz") as f:
        assert list(f["steps"]) == [1, 3, m["steps"]] and m["steps"] > 3
        assert f["kernel_1"].shape == (7, 7, 1, 28)
        assert not np.allclose(f["kernel_1"], f[f"kernel_{m['steps']}"])  # the filters moved


def test_overfitting_experiment_has_both_arms_and_shows_overfitting_in_fast_mode(tmp_path,
                                                                                 capsys):
    """The fast experiment (what notebook 04 runs) must show what its title says."""
    status, out, _ = run_cli(["--dataset", "digits", "--experiment", "overfitting", "--fast",
                              "--out", str(tmp_path)], capsys)
    assert status == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    arms = m["arms"]
    assert set(arms) == {"no_regularization", "regularized"}
    assert arms["no_regularization"]["train_accuracy"] >= 0.99
    assert arms["no_regularization"]["gap"] >= 0.10  # 100 digits learnt by heart
    assert m["shows_overfitting"] is True and "verdict: " in out
    assert "training accuracy runs away" in m["verdict"] or "both arms overfit" in m["verdict"]
    assert (tmp_path / "figures" / "overfitting.png").is_file()
    assert (tmp_path / "no_regularization" / "metrics.json").is_file()
    assert "slides             train 100%  test 69%" in out


def test_the_experiment_arms_differ_in_exactly_what_they_switch():
    base = cnn_cifar.CNNConfig(dataset="digits", epochs=1)
    arms = cnn_cifar.arm_configs(base)
    plain, regular = arms["no_regularization"], arms["regularized"]
    assert (plain.dropout, plain.augment, plain.weight_decay) == (False, False, 0.0)
    assert (regular.dropout, regular.augment, regular.weight_decay) == (True, True, 5e-4)
    same = {k for k in vars(base) if k not in ("dropout", "augment", "weight_decay",
                                               "experiment")}
    assert all(getattr(plain, k) == getattr(regular, k) for k in same)

    def graph_facts(config):
        from tfgraph_lessons.core.graph import new_graph
        from tfgraph_lessons.core.layers import WEIGHT_DECAY
        from tfgraph_lessons.core.graph import tf1
        with new_graph() as g:
            cnn_cifar.build_graph(config, (8, 8, 1), 10, [0.0], [1.0], 10)
            dropout_ops = [op for op in g.get_operations() if "dropout" in op.name]
            return bool(dropout_ops), len(tf1.get_collection(WEIGHT_DECAY))

    assert graph_facts(plain) == (False, 0)
    assert graph_facts(regular) == (True, 4)  # w1..w4


def test_the_experiment_says_what_its_gaps_show():
    v = cnn_cifar.overfitting_verdict
    assert v(0.77, 0.67)["verdict"].startswith("without regularisation training accuracy runs")
    assert v(0.21, 0.20)["verdict"].startswith("both arms overfit")
    assert v(0.04, 0.01) == {"shows_overfitting": False, "regularization_narrows_gap": True,
                             "verdict": "this run does not show overfitting (gap 4.0 points "
                                        "without regularisation, under 10)"}


def test_image_size_the_network_cannot_take(tmp_path, capsys, monkeypatch):
    from tfgraph_lessons import nets

    def needs_32px(images, num_classes, is_training, keep_prob=1.0, wd=None):
        if images.shape[1] < 32:
            raise ValueError(f"[needs_32px] needs 32x32 images, got shape {images.shape}")
        raise AssertionError("not reached with digits")

    nets.get("slide_cnn")  # load the registry before adding to it
    monkeypatch.setitem(nets.NETS, "needs_32px", needs_32px)
    monkeypatch.setitem(nets.INFO, "needs_32px", nets.NetInfo("needs_32px"))  # a CIFAR one
    status, _, err = run_cli(["--dataset", "digits", "--model", "needs_32px",
                              "--out", str(tmp_path)], capsys)
    assert status == 2
    assert "--model needs_32px cannot take the digits images (8x8x1)" in error_line(err)


def _register_fake(monkeypatch, name, builder, **info):
    """Put ``builder`` in the registry for this test only (the real registry loaded first)."""
    from tfgraph_lessons import nets

    nets.names()
    monkeypatch.setitem(nets.NETS, name, builder)
    monkeypatch.setitem(nets.INFO, name, nets.NetInfo(name, **info))


def _never_called(images, num_classes, is_training, keep_prob=1.0, wd=None):
    raise AssertionError("an ImageNet-size network was built")


def test_model_choices_are_the_cifar_networks_in_help(monkeypatch, capsys):
    from tfgraph_lessons import nets

    _register_fake(monkeypatch, "fake_imagenet_net", _never_called,
                   input_shape=(224, 224, 3), num_classes=1000, cifar=False)
    with pytest.raises(SystemExit):
        cnn_cifar.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    model_help = text.split("--model MODEL ")[-1].split(" --optimizer")[0]
    listed = model_help.split("(32x32 images): ")[1].split(" (default: slide_cnn)")[0]
    assert listed.split(", ") == nets.names(cifar=True)
    assert {"slide_cnn", "resnet20"} <= set(listed.split(", "))
    assert "fake_imagenet_net" in nets.names() and "fake_imagenet_net" not in text


def test_an_imagenet_size_model_is_refused_before_loading_data(tmp_path, capsys, monkeypatch):
    from tfgraph_lessons import nets

    _register_fake(monkeypatch, "fake_imagenet_net", _never_called,
                   input_shape=(224, 224, 3), num_classes=1000, cifar=False)

    def no_data(config):
        raise AssertionError("data loaded before --model was checked")

    monkeypatch.setattr(cnn_cifar, "load_splits", no_data)
    choices = ", ".join(nets.names(cifar=True))
    for name in ["fake_imagenet_net"] + nets.names(cifar=False):  # and any real one (vgg16...)
        status, _, err = run_cli(["--model", name, "--fast", "--out", str(tmp_path / "o")],
                                 capsys)
        line = error_line(err)
        assert status == 2, name
        size = "x".join(map(str, nets.info(name).input_shape))
        assert f"--model {name} is an ImageNet-size network ({size} input)" in line
        assert line.endswith(f"the CIFAR-size ones (32x32): {choices}")
        assert not (tmp_path / "o").exists()


def test_unknown_model_names_the_cifar_choices(tmp_path, capsys):
    from tfgraph_lessons import nets

    status, _, err = run_cli(["--model", "vgg99", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and error_line(err) == (
        "error: unknown --model 'vgg99'; the CIFAR-size networks: "
        + ", ".join(nets.names(cifar=True)))


@pytest.mark.parametrize("dropout,weight_decay,expect", [
    (True, 5e-4, {"keep_prob": 0.5, "wd": 5e-4}),
    (False, 0.0, {"keep_prob": 1.0, "wd": None})])
def test_the_model_gets_keep_prob_and_weight_decay(dropout, weight_decay, expect,
                                                   monkeypatch):
    from tfgraph_lessons import nets
    from tfgraph_lessons.core.graph import new_graph

    calls = []

    def recording(images, num_classes, is_training, **kwargs):
        calls.append(kwargs)
        return nets.get("slide_cnn")(images, num_classes, is_training, **kwargs)

    _register_fake(monkeypatch, "recording", recording)
    config = cnn_cifar.CNNConfig(dataset="digits", model="recording", dropout=dropout,
                                 weight_decay=weight_decay)
    with new_graph():
        cnn_cifar.build_graph(config, (32, 32, 3), 10, [0.0] * 3, [1.0] * 3, train_steps=10)
    assert calls == [expect]
    config.model = "fake_imagenet_net"
    _register_fake(monkeypatch, "fake_imagenet_net", _never_called, cifar=False,
                   input_shape=(224, 224, 3))
    with new_graph(), pytest.raises(ValueError, match="ImageNet-size"):   # not built either
        cnn_cifar.build_graph(config, (32, 32, 3), 10, [0.0] * 3, [1.0] * 3, train_steps=10)


def test_log_placement_shows_the_convolutions(tmp_path, capsys):
    status, out, _ = run_cli(["--dataset", "digits", "--fast", "--device", "cpu",
                              "--log-placement", "--out", str(tmp_path)], capsys)
    assert status == 0
    report = (tmp_path / "placement.txt").read_text()
    assert "Conv2D" in report and "-> /CPU:0" in report
    assert "placement of the slide_cnn ops" in out


def test_missing_gpu_falls_back_with_a_notice(tmp_path, capsys):
    from tfgraph_lessons.core.device import available_gpus
    if available_gpus():
        pytest.skip("this machine has a GPU")
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--device", "gpu",
                              "--out", str(tmp_path)], capsys)
    assert status == 0
    assert "running on /CPU:0" in err
    assert json.loads((tmp_path / "metrics.json").read_text())["device"] == "/CPU:0"


def test_snapshot_figures_read_a_real_run(tmp_path, monkeypatch):
    from tfgraph_lessons import figures
    from tfgraph_lessons.figures import runs

    monkeypatch.setenv(runs.ROOT_ENV, str(tmp_path / "no_runs"))
    figures.load_all()
    names = ["cnn_filters_over_time", "cnn_feature_maps_by_depth", "cnn_results"]
    for name in names:
        with pytest.raises(figures.FigureUnavailable, match="run python -m tfgraph_lessons.cnn_cifar"):
            figures.render([name], tmp_path / "figs")
    cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", fast=True, out=str(tmp_path / "run")))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["class_names"] == [str(k) for k in range(10)]
    with runs.given([tmp_path / "run"]):
        paths = figures.render(names, tmp_path / "figs")
        again = figures.render(names, tmp_path / "again")
        fig = figures.make("cnn_results")
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]   # same pixels
    # the figure names the run it was drawn from, and that it was a fast one
    assert f"{tmp_path / 'run'}, step {metrics['steps']:,} (fast mode)" in fig._suptitle.get_text()


def test_corrupt_data_file_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFGRAPH_OFFLINE", "1")
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(b"\x00" * 3000)  # not a whole 3,073-byte record
    status, _, err = run_cli(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                             capsys)
    assert status == 2
    assert "data_batch_1.bin" in error_line(err)
    assert not (tmp_path / "out" / "metrics.json").exists()


# --------------------------------------------------------------------------- what the tests guard


def test_splits_are_disjoint_and_test_is_the_real_test_split(monkeypatch):
    """Every image carries its own index, so overlaps and mix-ups show."""
    import numpy as np
    from tfgraph_lessons import data as datasets

    n_train, n_test = 400, 100
    ids = np.arange(n_train + n_test)
    images = np.zeros((len(ids), 8, 8, 1), np.uint8)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = ids % 250, ids // 250
    labels = (ids % 10).astype(np.int64)
    fake = datasets.Dataset(name="digits", train_images=images[:n_train],
                            train_labels=labels[:n_train], test_images=images[n_train:],
                            test_labels=labels[n_train:],
                            class_names=[str(i) for i in range(10)])
    monkeypatch.setattr(datasets, "load", lambda name, data_dir=None: fake)
    config = cnn_cifar.CNNConfig(dataset="digits", val_size=100, test_limit=0)
    _, train, val, test = cnn_cifar.load_splits(config)

    def index(split):
        pixels = split[0].astype(int)
        return set((pixels[:, 0, 0, 0] + 250 * pixels[:, 0, 1, 0]).tolist())

    assert len(val[0]) == 100 and len(train[0]) == 300
    assert not index(train) & index(val)
    assert index(train) | index(val) == set(range(n_train))
    assert index(test) == set(range(n_train, n_train + n_test))


def test_flips_only_for_data_sets_whose_labels_survive_a_mirror(monkeypatch):
    from tfgraph_lessons.data import preprocess

    seen = {}
    monkeypatch.setattr(preprocess, "augment",
                        lambda images, rng, crop_padding, flip: seen.setdefault("flip", flip))
    for dataset, flips in (("cifar10", True), ("cifar100", True), ("mnist", False),
                           ("svhn", False), ("digits", False)):
        seen.clear()
        cnn_cifar.augmenter(dataset, (32, 32, 3))(None, None, None)
        assert seen["flip"] is flips, dataset


def test_learning_rate_at_the_schedule_boundaries():
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    config = cnn_cifar.CNNConfig(dataset="digits", lr=0.01, schedule="steps")
    with new_graph() as g:
        model = cnn_cifar.build_graph(config, (8, 8, 1), 10, [0.0], [1.0], train_steps=100)
        set_step = model["global_step"].assign(tf1.placeholder(tf.int64, [], name="step"))
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            rates = {}
            for step in (0, 1, 50, 51, 75, 76, 100):
                sess.run(set_step, {"step:0": step})
                rates[step] = sess.run(model["learning_rate"])
    expected = {0: 0.01, 1: 0.01, 50: 0.01, 51: 0.001, 75: 0.001, 76: 0.0001, 100: 0.0001}
    for step, rate in expected.items():
        assert rates[step] == pytest.approx(rate), step


def test_the_default_is_one_cycle_and_steps_starts_at_the_slides_rate():
    default = cnn_cifar.parse_config([])
    assert (default.schedule, default.lr) == ("one-cycle", 0.03)
    assert cnn_cifar.resolve_config(default).epochs == cnn_cifar.DEFAULT_EPOCHS
    slides = cnn_cifar.parse_config(["--schedule", "steps"])
    assert (slides.schedule, slides.lr) == ("steps", cnn_cifar.SLIDES_LR)
    assert cnn_cifar.parse_config(["--schedule", "steps", "--lr", "0.03"]).lr == 0.03


def test_losses_are_cross_entropy_and_the_penalty_is_reported_apart(tmp_path):
    import numpy as np

    m = cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=1, out=str(tmp_path),
                                          weight_decay=0.05))
    assert m["weight_decay"] > 0.05  # a large penalty, reported on its own
    predictions = np.asarray(m["confusion_matrix"])
    assert predictions.sum() == m["test_examples"]
    # the loss of an untrained-ish 10-class net is near ln 10 as cross-entropy; with the
    # penalty added it would be larger by m['weight_decay']
    assert abs(m["test_loss"] - m["history"][-1]["test_loss"]) < 1e-6
    assert m["test_loss"] < np.log(10) + 0.5 < m["test_loss"] + m["weight_decay"]


def test_tensorboard_train_val_test_share_tags_in_sibling_folders(tmp_path):
    from tfgraph_lessons.core.graph import tf1

    cnn_cifar.run(cnn_cifar.CNNConfig(dataset="digits", epochs=1, out=str(tmp_path)))
    tags = {}
    for split in ("train", "val", "test", "train_eval"):
        tags[split] = set()
        for path in (tmp_path / "logs" / split).glob("events.*"):
            for event in tf1.train.summary_iterator(str(path)):
                tags[split] |= {v.tag for v in event.summary.value}
    for split in tags:
        assert {"loss", "accuracy"} <= tags[split], (split, tags[split])
    assert not any(t.endswith("_1") for t in set().union(*tags.values()))


def test_fast_mode_from_the_environment_says_so_and_explicit_flags_win(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("TFGRAPH_FAST", "1")
    status, out, _ = run_cli(["--dataset", "digits", "--epochs", "2", "--out", str(tmp_path)],
                             capsys)
    assert status == 0
    assert out.splitlines()[0].startswith("fast mode (TFGRAPH_FAST=1): ")
    assert "unset TFGRAPH_FAST for the full run" in out.splitlines()[0]
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["fast"] is True and m["config"]["fast_source"] == "TFGRAPH_FAST=1"
    assert m["config"]["epochs"] == 2 and m["epochs"] == 2  # --epochs 2 won


def test_each_run_gets_its_own_folder_and_a_used_one_is_refused(tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TFGRAPH_FAST", raising=False)
    assert run_cli(["--dataset", "digits", "--fast"], capsys)[0] == 0
    assert (tmp_path / "runs/cnn_cifar/digits_slide_cnn_fast/metrics.json").is_file()
    assert cnn_cifar.default_out(cnn_cifar.CNNConfig(dataset="cifar10", model="resnet20")) == \
        cnn_cifar.Path("runs/cnn_cifar/cifar10_resnet20")
    status, _, err = run_cli(["--dataset", "digits", "--fast"], capsys)
    assert status == 2 and "already holds a run" in error_line(err)
    status, _, _ = run_cli(["--dataset", "digits", "--fast", "--overwrite"], capsys)
    assert status == 0
    events = list((tmp_path / "runs/cnn_cifar/digits_slide_cnn_fast/logs/train").glob("ev*"))
    assert len(events) == 1  # the replaced run's events are gone: no two runs on one curve


def test_resume_refuses_another_lessons_or_seeds_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert run_cli(["--dataset", "digits", "--fast", "--out", out], capsys)[0] == 0
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--seed", "1", "--resume",
                              "--out", out], capsys)
    assert status == 2 and "--seed 0, this one has 1" in error_line(err)
    from tfgraph_lessons import towers
    try:
        towers.main(["--fast", "--resume", "--out", out])
        status = 0
    except SystemExit as e:
        status = e.code
    assert status == 2 and "the lesson 'cnn_cifar', this one has 'towers'" in capsys.readouterr().err


def _break_checkpoint(out, how):
    ckpt = out / "checkpoints"
    step = json.loads((ckpt / "state.json").read_text())["step"]
    if how == "truncated":
        (data,) = ckpt.glob(f"model.ckpt-{step}.data-*")
        data.write_bytes(data.read_bytes()[:100])
    elif how == "index":
        (ckpt / f"model.ckpt-{step}.index").write_bytes(b"\x00garbage" * 20)
    else:
        (ckpt / "state.json").write_text("{not json")


@pytest.mark.parametrize("argv,needle", [
    (["--seed", "-1"], "--seed: must be >= 0"),
    (["--intra-threads", "99999999999"], "--intra-threads: must be at most 1024"),
    (["--device", "/CPU:3", "--no-soft-placement"], "asked for CPU 3"),
    (["--device", "/CPU:99999999999"], "no machine has CPU 99999999999"),
    (["--experiment", "overfitting", "--epochs", "0"], "at least one epoch"),
    (["--resume", "--overwrite"], "not allowed with argument --resume"),
])
def test_more_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    status, _, err = run_cli(["--dataset", "digits"] + argv + ["--out", str(tmp_path / "o")],
                             capsys)
    assert status == 2 and needle in error_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("target,needle", [("file", "is a file, not a folder"),
                                           ("proc", "cannot be written")])
def test_out_that_cannot_be_a_run_folder(target, needle, tmp_path, capsys):
    out = tmp_path / "f" if target == "file" else "/proc/self/tfgraph-run"
    if target == "file":
        out.write_text("keep me")
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--out", str(out)], capsys)
    assert status == 2 and needle in error_line(err)
    if target == "file":
        assert out.read_text() == "keep me"


@pytest.mark.parametrize("how,needle", [("truncated", "cannot be read"),
                                        ("index", "cannot be read"),
                                        ("state", "state.json is unreadable")])
def test_damaged_checkpoints_are_one_line_and_exit_2(how, needle, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["--dataset", "digits", "--fast", "--out", str(out)], capsys)[0] == 0
    _break_checkpoint(out, how)
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--resume", "--out", str(out)],
                             capsys)
    assert status == 2 and needle in error_line(err) and "Traceback" not in err


def test_a_missing_cpu_is_recorded_as_the_device_that_ran(tmp_path, capsys):
    status, _, err = run_cli(["--dataset", "digits", "--fast", "--device", "/CPU:3",
                              "--out", str(tmp_path)], capsys)
    assert status == 0 and "running on /CPU:0" in err
    assert json.loads((tmp_path / "metrics.json").read_text())["device"] == "/CPU:0"


def test_outputs_are_readable_by_others_like_any_file(tmp_path, capsys):
    import os
    old = os.umask(0o022)
    try:
        assert run_cli(["--dataset", "digits", "--fast", "--out", str(tmp_path)], capsys)[0] == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "metrics.json", tmp_path / "checkpoints" / "state.json",
                 *(tmp_path / "figures").glob("*.png")]:
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_help_states_each_default_once(capsys):
    with pytest.raises(SystemExit):
        cnn_cifar.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert text.count("(default: runs/") == 1
    assert f"(default: {cnn_cifar.DEFAULT_EPOCHS};" in text
    for flag in ("--batch-size", "--seed", "--optimizer", "--weight-decay"):
        assert "(default: " in text.split(flag)[2].split(" --")[0], flag
