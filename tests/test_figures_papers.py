"""The papers_results figure: the papers' numbers as quoted, the library's parameter counts
from its own networks, and its test errors read from cnn_cifar runs (or "not run")."""
import json

from tfgraph_lessons import figures
from tfgraph_lessons.figures import papers, runs
from tfgraph_lessons.nets import summary


def write_run(folder, model="resnet20", dataset="cifar10", accuracy=0.9, fast=False, steps=1000,
              augment=True):
    """A finished cnn_cifar run folder holding only its metrics.json."""
    folder.mkdir(parents=True)
    metrics = {"lesson": "cnn_cifar", "model": model, "dataset": dataset,
               "test_accuracy": accuracy, "epochs": 15.0, "steps": steps, "fast": fast,
               "config": {"augment": augment}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def texts(fig):
    """Every string drawn on the figure (table cells, titles, footnote)."""
    from matplotlib.text import Text

    cells = [cell.get_text().get_text() for ax in fig.axes for table in ax.tables
             for cell in table.get_celld().values()]
    return "\n".join([t.get_text() for t in fig.findobj(Text)] + cells)


def test_resnet_rows_quote_table6_and_count_the_registrys_networks():
    rows = papers.resnet_rows(found={})
    assert [r["network"] for r in rows] == ["ResNet-20", "ResNet-32", "ResNet-44", "ResNet-56",
                                            "ResNet-110", "ResNet-1202"]
    assert [r["paper_error"] for r in rows] == [8.75, 7.51, 7.17, 6.97, 6.43, 7.93]
    by_name = {r["network"]: r for r in rows}
    # the counts are the registry networks' own (summary.layer_table builds them in full)
    for name, model in (("ResNet-20", "resnet20"), ("ResNet-56", "resnet56")):
        assert by_name[name]["model"] == model
        assert by_name[name]["ours_params"] == summary.layer_table(model).trainable_params
    # ResNet-1202 is not in the registry: counted, but there is nothing to train
    assert by_name["ResNet-1202"]["model"] is None
    assert by_name["ResNet-1202"]["ours_error"] == "not built"
    assert round(by_name["ResNet-1202"]["ours_params"] / 1e6, 1) == 19.4   # Table 6's 19.4M
    for r in rows:                                                            # 0.27M ... 1.7M
        assert round(r["ours_params"] / r["paper_params"], 1) == 1.0, r["network"]


def test_the_block_formula_gives_the_registrys_count_for_bottleneck_and_preact_nets():
    # params(n) = params(2) + (n - 2) * block: checked where the registry builds the whole net
    assert papers.cifar_resnet_params(164) == summary.layer_table("resnet164").trainable_params
    assert (papers.cifar_resnet_params(164, preact=True)
            == summary.layer_table("preact_resnet164").trainable_params)
    assert (papers.cifar_resnet_params(110, preact=True)
            == summary.layer_table("preact_resnet110").trainable_params)
    assert round(papers.cifar_resnet_params(1001, preact=True) / 1e6, 1) == 10.3  # paper: 10.2M


def test_preact_rows_pair_the_original_and_preactivation_networks():
    rows = papers.preact_rows(found={})
    assert [(r["dataset"], r["depth"], r["paper_original"], r["paper_preact"]) for r in rows] == [
        ("cifar10", 110, 6.61, 6.37), ("cifar10", 164, 5.93, 5.46), ("cifar10", 1001, 7.61, 4.92),
        ("cifar100", 164, 25.16, 24.33), ("cifar100", 1001, 27.82, 22.71)]
    r1001 = rows[2]
    assert r1001["original_model"] is None and r1001["ours_error_original"] == "not built"
    assert r1001["preact_model"] == "preact_resnet1001" and r1001["ours_error_preact"] == "not run"
    assert r1001["commands"] == ["python -m tfgraph_lessons.cnn_cifar --model preact_resnet1001"]
    assert rows[3]["commands"] == [
        "python -m tfgraph_lessons.cnn_cifar --model resnet164 --dataset cifar100",
        "python -m tfgraph_lessons.cnn_cifar --model preact_resnet164 --dataset cifar100"]


def test_inception_rows_count_the_library_networks_where_it_builds_them():
    rows = papers.inception_rows()
    assert [r["top1"] for r in rows] == [29.0, 26.8, 25.2, 23.4, 23.1, 22.8, 21.6, 21.2, 19.47,
                                         18.77]
    final = next(r for r in rows if r["network"].endswith("Inception-v3"))
    table = summary.layer_table("inception_v3")
    assert final["model"] == "inception_v3"
    assert (final["ours_params"], final["ours_madds"]) == (table.trainable_params, table.madds)
    googlenet = rows[0]
    assert googlenet["ours_params"] == summary.layer_table("googlenet").trainable_params
    assert all(r["ours_params"] is None for r in rows[1:7])   # no BN-Inception etc. in the registry


def test_a_run_gives_its_error_and_a_missing_one_says_not_run(tmp_path):
    with runs.given([tmp_path]):
        assert papers.resnet_rows()[0]["ours_error"] == "not run"
    write_run(tmp_path / "cifar10_resnet20")
    with runs.given([tmp_path]):
        row = papers.resnet_rows()[0]
    assert row["ours_error"] == "10.0%"                     # 1 - test accuracy 0.9
    assert row["run"].path == tmp_path / "cifar10_resnet20" and row["command"] is None


def test_a_full_run_wins_over_a_fast_one_and_a_fast_one_is_marked(tmp_path):
    write_run(tmp_path / "fast", accuracy=0.5, fast=True, steps=99999)
    with runs.given([tmp_path]):
        assert papers.resnet_rows()[0]["ours_error"] == "50.0% (fast)"
    write_run(tmp_path / "full", accuracy=0.913, steps=10)
    write_run(tmp_path / "bare", accuracy=0.95, steps=20, augment=False)   # the experiment's arm
    with runs.given([tmp_path]):
        assert papers.resnet_rows()[0]["ours_error"] == "8.7%"


def test_the_figure_renders_without_runs_and_names_the_command(tmp_path):
    with runs.given([tmp_path]):                            # no run anywhere
        fig = figures.make("papers_results")
    try:
        drawn = texts(fig)
    finally:
        import matplotlib.pyplot as plt
        plt.close(fig)
    assert "not run" in drawn and "10.0%" not in drawn
    assert "python -m tfgraph_lessons.cnn_cifar --model resnet20" in drawn
    for quoted in ("8.75%", "0.27M", "22.71%", "10.2M", "18.77%", "6.61±0.16"):
        assert quoted in drawn
    assert f"{summary.layer_table('resnet20').trainable_params:,}" in drawn


def test_the_figure_names_the_run_it_quotes_and_is_byte_identical(tmp_path):
    run = write_run(tmp_path / "runs" / "cifar100_preact_resnet164", model="preact_resnet164",
                    dataset="cifar100", accuracy=0.7512, fast=True)
    pngs = []
    with runs.given([tmp_path / "runs"]):
        for i in range(2):
            (path,) = figures.render(["papers_results"], tmp_path / f"out{i}")
            pngs.append(path.read_bytes())
        fig = figures.make("papers_results")
    import matplotlib.pyplot as plt
    drawn = texts(fig)
    plt.close(fig)
    assert pngs[0] == pngs[1]
    assert "24.9% (fast)" in drawn
    assert runs.describe(runs.read_run(run)) in drawn.replace("\n  ", " ")
