"""The results tables the slides quote, each number stated as its paper's, next to the library's.

[1] Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens, Zbigniew
    Wojna. Rethinking the Inception Architecture for Computer Vision. CVPR 2016,
    arXiv:1512.00567. Table 3 (single crop, the cumulative changes from Inception-v2
    to Inception-v3) and Table 4 (single model, multi-crop).
[2] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning for
    Image Recognition. CVPR 2016, arXiv:1512.03385. Table 6 (CIFAR-10).
[3] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Identity Mappings in Deep
    Residual Networks. ECCV 2016, arXiv:1603.05027 (v3). Table 3 (original vs
    pre-activation units, CIFAR-10/100) and Table 4 (the networks' parameters).

* ``papers_results``: three tables, one per paper. The paper's columns are quotes
  (:data:`INCEPTION_TABLE3`, :data:`INCEPTION_TABLE4`, :data:`RESNET_TABLE6`,
  :data:`PREACT_TABLE3`, :data:`PREACT_PARAMS`), checked against the papers' text
  (``docs/errata.md``, "Checked and correct", says where each was checked). The
  "ours" columns are computed: parameters and multiply-adds counted from the graphs
  the library's builders make (:func:`cifar_resnet_params`,
  :func:`tfgraph_lessons.nets.summary.layer_table`), and test errors read from
  finished ``cnn_cifar`` runs (:func:`tfgraph_lessons.figures.runs.find_runs`). A
  pair (network, data set) with no run says "not run" and the figure's footnote gives
  the command that trains it; a fast-mode run is marked "(fast)": its error is not
  comparable with the paper's.

The numbers are split from the drawing: :func:`inception_rows`, :func:`resnet_rows`
and :func:`preact_rows` return the tables' rows (dicts), :func:`papers_results`
draws them.

Usage::

    from tfgraph_lessons.figures import papers, runs
    papers.resnet_rows()[0]     # {'network': 'ResNet-20', 'paper_error': 8.75,
                                #  'ours_params': 269722, 'ours_error': 'not run', ...}
    with runs.given(["runs/cnn_cifar"]):
        papers.resnet_rows()[0]["ours_error"]           # '8.9%', or 'not run'
"""
from tfgraph_lessons.figures import register

LESSON = "cnn_cifar"
COMMAND = "python -m tfgraph_lessons.cnn_cifar"

# [1] Table 3, single-crop ILSVRC-2012 validation error: (network as the table names it,
# top-1 %, top-5 % (None: the table prints "-"), cost in billions of operations, the
# library's network that builds it, or None). Each "+" row adds its change to all above.
INCEPTION_TABLE3 = (
    ("GoogLeNet", 29.0, 9.2, 1.5, "googlenet"),
    ("BN-GoogLeNet", 26.8, None, 1.5, None),
    ("BN-Inception", 25.2, 7.8, 2.0, None),
    ("Inception-v2", 23.4, None, 3.8, None),
    ("  + RMSProp", 23.1, 6.3, 3.8, None),
    ("  + Label Smoothing", 22.8, 6.1, 3.8, None),
    ("  + Factorized 7x7", 21.6, 5.8, 4.8, None),
    ("  + BN-auxiliary = Inception-v3", 21.2, 5.6, 4.8, "inception_v3"),
)
# [1] Table 4, single model, multi-crop: (network, crops, top-1 %, top-5 %); the
# Inception-v3 rows only (the other networks' rows were not checked, see docs/errata.md)
INCEPTION_TABLE4 = (
    ("Inception-v3", 12, 19.47, 4.48),
    ("Inception-v3", 144, 18.77, 4.2),
)
# [2] Table 6, CIFAR-10 test error with augmentation: (depth, parameters, error %, note)
RESNET_TABLE6 = (
    (20, 0.27e6, 8.75, ""),
    (32, 0.46e6, 7.51, ""),
    (44, 0.66e6, 7.17, ""),
    (56, 0.85e6, 6.97, ""),
    (110, 1.7e6, 6.43, "best of 5 runs; mean 6.61±0.16"),
    (1202, 19.4e6, 7.93, ""),
)
# [3] Table 3, test error (%): (data set, depth, original unit, pre-activation unit)
PREACT_TABLE3 = (
    ("cifar10", 110, 6.61, 6.37),
    ("cifar10", 164, 5.93, 5.46),
    ("cifar10", 1001, 7.61, 4.92),
    ("cifar100", 164, 25.16, 24.33),
    ("cifar100", 1001, 27.82, 22.71),
)
# [3] Table 4: the parameters it prints beside each depth
PREACT_PARAMS = {110: 1.7e6, 164: 1.7e6, 1001: 10.2e6}
# [3] Table 4 (and its abstract): pre-activation ResNet-1001 on CIFAR-10 with mini-batch 64
PREACT_1001_BATCH64 = 4.62

DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


# ------------------------------------------------------------------------ the library's side


def cifar_resnet_spec(depth):
    """``(n, bottleneck)`` of the CIFAR ResNet of ``depth`` layers: bottleneck blocks
    (``9n + 2``) for the depths [3] builds them with (164, 1001), basic (``6n + 2``)
    otherwise, as :mod:`tfgraph_lessons.nets.resnet` registers them."""
    bottleneck = depth in (164, 1001)
    return (depth - 2) // (9 if bottleneck else 6), bottleneck


def _count_trainable(bottleneck, preact, num_classes):
    """``(total, per_block)``: trainable parameters of ``resnet_cifar`` with two blocks per
    stage, and those of the three second blocks (``stage1..3/block2``), counted from the
    variables it asks for in a fresh graph (nothing runs).

    A custom getter records each variable's shape and trainable flag and hands back a
    placeholder of that shape, as :mod:`tfgraph_lessons.nets.summary` does: the same
    count, several times faster to build than real variables with their initialisers.
    """
    import math

    from tfgraph_lessons.core.graph import new_graph, tf1
    from tfgraph_lessons.nets.resnet import resnet_cifar

    asked = {}   # variable name -> (size, trainable, stand-in); reuse asks for a name again

    def record(getter, name, *args, shape=None, dtype=None, trainable=None, **kwargs):
        if name not in asked:
            size = math.prod(int(d) for d in shape)
            asked[name] = (size, True if trainable is None else bool(trainable),
                           tf1.placeholder(dtype or "float32", shape))
        return asked[name][2]

    with new_graph():
        images = tf1.placeholder("float32", [1, 32, 32, 3])
        with tf1.variable_scope("count", custom_getter=record):
            resnet_cifar(images, num_classes, False, n=2, bottleneck=bottleneck, preact=preact)
    trainable = {name: size for name, (size, keep, _) in asked.items() if keep}
    per_block = sum(size for name, size in trainable.items() if "/block2/" in name)
    return sum(trainable.values()), per_block


_PARAMS = {}


def cifar_resnet_params(depth, preact=False, num_classes=10):
    """Trainable parameters of the library's CIFAR ResNet of ``depth`` layers.

    Built with :func:`tfgraph_lessons.nets.resnet.resnet_cifar` at two blocks per stage
    and counted from the variables: every block after a stage's first is the same block
    again (same shapes, identity shortcut), so with ``n`` blocks per stage
    ``params(n) = params(2) + (n - 2) * (the three second blocks' parameters)`` exactly,
    and ResNet-1001 or ResNet-1202 need not be built in full (ten seconds and more).
    ``tests/test_figures_papers.py`` checks the formula against the registry's counts.

    Args:
      depth: 20, 32, 44, 56, 110, 1202 (basic blocks) or 164, 1001 (bottleneck).
      preact: pre-activation blocks ([3]).
      num_classes: width of the logits (the papers' counts are for CIFAR-10).
    Returns:
      an int.
    """
    n, bottleneck = cifar_resnet_spec(depth)
    key = (bottleneck, bool(preact), num_classes)
    if key not in _PARAMS:
        _PARAMS[key] = _count_trainable(bottleneck, preact, num_classes)
    two, per_block = _PARAMS[key]
    return two + (n - 2) * per_block


def _registered(name):
    from tfgraph_lessons import nets

    return name if name in nets.names() else None


def quoted_runs():
    """The ``cnn_cifar`` run to quote for each (model, data set): ``{(model, dataset): Run}``.

    Of several runs of one pair, a full run wins over a fast-mode one, one with
    augmentation over one without (the overfitting experiment's bare arm), then the
    one with the most steps; ties keep the first in path order. Runs without a
    ``test_accuracy`` (an experiment's summary) are skipped.
    """
    from tfgraph_lessons.figures.runs import find_runs

    best = {}
    for run in find_runs(LESSON):
        m = run.metrics
        if m.get("test_accuracy") is None or not m.get("model") or not m.get("dataset"):
            continue
        key = (m["model"], m["dataset"])
        rank = (not m.get("fast"), bool((m.get("config") or {}).get("augment", True)),
                m.get("steps") or 0)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, run)
    return {key: run for key, (_, run) in best.items()}


def train_command(model, dataset):
    """The command that trains ``model`` on ``dataset`` (cifar10 is the lesson's default)."""
    return f"{COMMAND} --model {model}" + ("" if dataset == "cifar10" else f" --dataset {dataset}")


def ours_error(model, dataset, found):
    """The "ours" test-error cell of ``model`` on ``dataset``.

    Args:
      model: a registry name, or None where the library has no such network.
      dataset: ``'cifar10'`` or ``'cifar100'``.
      found: :func:`quoted_runs` output.
    Returns:
      ``(text, run or None, command or None)``: ``'10.0%'`` (1 - test accuracy), with
      ``' (fast)'`` for a fast-mode run and ``' (no aug.)'`` for one without
      augmentation; ``'not run'`` with the command that would run it; ``'not built'``.
    """
    if model is None:
        return "not built", None, None
    run = found.get((model, dataset))
    if run is None:
        return "not run", None, train_command(model, dataset)
    m = run.metrics
    text = f"{100 * (1 - m['test_accuracy']):.1f}%"
    if m.get("fast"):
        text += " (fast)"
    elif not (m.get("config") or {}).get("augment", True):
        text += " (no aug.)"
    return text, run, None


def inception_rows():
    """[1]'s Table 3 and Table 4 rows, the library's network counted where it builds one.

    Returns:
      list of dicts: ``table`` (3 or 4), ``network``, ``crops`` (Table 4), ``top1``,
      ``top5`` (None: the paper prints "-"), ``cost`` (billions of operations, Table 3),
      ``model`` (registry name or None), ``ours_params``, ``ours_madds`` (None without
      a model) and ``ours_error`` (``'not run'``: the library trains no ImageNet network).
    """
    from tfgraph_lessons.nets.summary import layer_table

    def ours(model):
        model = model and _registered(model)
        if model is None:
            return {"model": None, "ours_params": None, "ours_madds": None, "ours_error": "—"}
        table = layer_table(model)
        return {"model": model, "ours_params": table.trainable_params,
                "ours_madds": table.madds, "ours_error": "not run"}

    rows = [{"table": 3, "network": name, "crops": 1, "top1": top1, "top5": top5,
             "cost": cost, **ours(model)} for name, top1, top5, cost, model in INCEPTION_TABLE3]
    rows += [{"table": 4, "network": f"{name}, {crops} crops", "crops": crops, "top1": top1,
              "top5": top5, "cost": None, **ours("inception_v3")}
             for name, crops, top1, top5 in INCEPTION_TABLE4]
    return rows


def resnet_rows(found=None):
    """[2]'s Table 6 with the library's parameters and, where it ran, its CIFAR-10 error.

    Args:
      found: :func:`quoted_runs` output (None: read the runs now).
    Returns:
      list of dicts: ``network``, ``depth``, ``model`` (``resnet20`` ...; None for
      ResNet-1202, which the registry does not hold), ``paper_params``, ``paper_error``,
      ``note``, ``ours_params`` (counted, :func:`cifar_resnet_params`), ``ours_error``
      (the cell text), ``run`` and ``command`` (:func:`ours_error`).
    """
    found = quoted_runs() if found is None else found
    rows = []
    for depth, params, error, note in RESNET_TABLE6:
        model = _registered(f"resnet{depth}")
        text, run, command = ours_error(model, "cifar10", found)
        rows.append({"network": f"ResNet-{depth}", "depth": depth, "model": model,
                     "paper_params": params, "paper_error": error, "note": note,
                     "ours_params": cifar_resnet_params(depth), "ours_error": text,
                     "run": run, "command": command, "dataset": "cifar10"})
    return rows


def preact_rows(found=None):
    """[3]'s Table 3 (original and pre-activation units) with its Table 4 parameters,
    next to the library's parameters and errors of both kinds of network.

    Returns:
      list of dicts: ``dataset``, ``network``, ``depth``, ``paper_params``,
      ``paper_original``, ``paper_preact``, ``original_model`` / ``preact_model``
      (registry names, None where it holds no such network), ``ours_params_original``,
      ``ours_params_preact``, ``ours_error_original`` / ``ours_error_preact`` (cell
      texts) and ``runs`` / ``commands`` (lists, None left out).
    """
    found = quoted_runs() if found is None else found
    rows = []
    for dataset, depth, original, preact in PREACT_TABLE3:
        models = (_registered(f"resnet{depth}"), _registered(f"preact_resnet{depth}"))
        cells = [ours_error(m, dataset, found) for m in models]
        rows.append({"dataset": dataset, "network": f"ResNet-{depth}", "depth": depth,
                     "paper_params": PREACT_PARAMS[depth], "paper_original": original,
                     "paper_preact": preact, "original_model": models[0],
                     "preact_model": models[1],
                     "ours_params_original": cifar_resnet_params(depth),
                     "ours_params_preact": cifar_resnet_params(depth, preact=True),
                     "ours_error_original": cells[0][0], "ours_error_preact": cells[1][0],
                     "runs": [c[1] for c in cells if c[1] is not None],
                     "commands": [c[2] for c in cells if c[2] is not None]})
    return rows


# ------------------------------------------------------------------------------ drawing


def _millions(params):
    """The paper's way: ``270000.0`` -> ``'0.27M'``."""
    return f"{params / 1e6:g}M"


def _percent(value):
    return "-" if value is None else f"{value:g}%"


def _draw_table(ax, head, cells, widths, title):
    """One table on ``ax``: bold header, light rules; text columns (the first) left-aligned,
    numbers right-aligned. ``head`` may hold two-line labels."""
    from matplotlib.table import Table

    ax.axis("off")
    grid = Table(ax, bbox=[0, 0, 1, 1])
    height = 1.0 / (len(cells) + 1)
    for r, line in enumerate([head, *cells]):
        for c, text in enumerate(line):
            cell = grid.add_cell(r, c, widths[c], height, text=text,
                                 loc="left" if c == 0 else "right",
                                 edgecolor="#999999" if r == 0 else "#dddddd")
            cell.visible_edges = "horizontal"
            cell.set_text_props(weight="bold" if r == 0 else "normal")
            if r == 0:
                cell.set_facecolor("#eef1f5")
    grid.auto_set_font_size(False)
    grid.set_fontsize(8.5)
    ax.add_table(grid)
    ax.set_title(title, loc="left", fontsize=10.5)


def _inception_cells(rows):
    cells = []
    for r in rows:
        params = "" if r["ours_params"] is None else f"{r['ours_params']:,}"
        madds = "" if r["ours_madds"] is None else f"{r['ours_madds'] / 1e9:.2f} G"
        cost = "" if r["cost"] is None else f"{r['cost']:.1f}"      # the paper prints 2.0
        label = r["network"] + ("" if r["table"] == 3 else "  (Table 4)")
        cells.append([label, _percent(r["top1"]), _percent(r["top5"]), cost, params, madds,
                      r["ours_error"]])
    return cells


def _footnote(rows_by_table):
    """The lines under the tables: what "ours" is, the runs quoted, what to run."""
    from tfgraph_lessons.figures.runs import describe

    used, missing = {}, {}
    for rows in rows_by_table:
        for r in rows:
            for run in r.get("runs", [r.get("run")]):
                if run is not None:
                    m = run.metrics
                    data = DATASETS.get(m["dataset"], m["dataset"])
                    used[str(run.path)] = (f"{m['model']} on {data}: {describe(run)}, "
                                           f"{m.get('epochs', '?')} epochs")
            for command in r.get("commands", [r.get("command")]):
                if command is not None:
                    missing[command] = True
    lines = ["ours: parameters counted from the library's graphs (10 classes for CIFAR); "
             "multiply-adds per image at the paper's input size; errors = 1 - test accuracy "
             "of finished cnn_cifar runs, trained with the lesson's own schedule, not the "
             "paper's.",
             "(fast): a fast-mode run, not comparable with the paper.  not built: the "
             "registry has no such network.  ImageNet: the library trains only 32x32 networks."]
    if used:
        lines.append("runs quoted: " + "; ".join(used[k] for k in sorted(used)))
    if missing:
        first, *others = list(missing)
        others = ", ".join(c.replace(COMMAND + " ", "") for c in others)
        lines.append(f"not run: train with {first}"
                     + (f" (and likewise {others})" if others else ""))
    return lines


@register("papers_results", "the results tables the slides quote (Inception v2/v3, ResNet "
          "on CIFAR-10/100), the papers' numbers next to the library's parameter counts and "
          "test errors", figsize=(13, 12))
def papers_results():
    import textwrap

    import matplotlib.pyplot as plt

    found = quoted_runs()
    inception, resnet, preact = inception_rows(), resnet_rows(found), preact_rows(found)
    fig, axes = plt.subplots(3, 1, height_ratios=[len(inception) + 1, len(resnet) + 1,
                                                   len(preact) + 1])
    _draw_table(axes[0], ["network", "top-1 error", "top-5 error", "cost, G ops",
                          "ours: parameters", "ours: multiply-adds", "ours: error"],
                _inception_cells(inception), (0.3, 0.1, 0.1, 0.1, 0.14, 0.14, 0.12),
                "Szegedy et al. 2016, Rethinking the Inception Architecture (arXiv:1512.00567): "
                "Table 3, single crop, ILSVRC-2012 validation; Table 4, multi-crop")
    _draw_table(axes[1], ["network", "paper: parameters", "paper: CIFAR-10 error", "note",
                          "ours: parameters", "ours: CIFAR-10 error"],
                [[r["network"], _millions(r["paper_params"]), _percent(r["paper_error"]),
                  r["note"], f"{r['ours_params']:,}", r["ours_error"]] for r in resnet],
                (0.16, 0.14, 0.16, 0.24, 0.14, 0.16),
                "He et al. 2016, Deep Residual Learning (arXiv:1512.03385): Table 6, CIFAR-10 "
                "test error")
    _draw_table(axes[2], ["network", "paper: parameters", "paper: original", "paper: pre-act.",
                          "ours: parameters (original / pre-act.)", "ours: original",
                          "ours: pre-act."],
                [[f"{r['network']}, {DATASETS[r['dataset']]}", _millions(r["paper_params"]),
                  _percent(r["paper_original"]), _percent(r["paper_preact"]),
                  f"{r['ours_params_original']:,} / {r['ours_params_preact']:,}",
                  r["ours_error_original"], r["ours_error_preact"]] for r in preact],
                (0.2, 0.11, 0.11, 0.11, 0.23, 0.12, 0.12),
                "He et al. 2016, Identity Mappings (arXiv:1603.05027): Table 3 errors, Table 4 "
                f"parameters (pre-act. ResNet-1001, mini-batch 64: {PREACT_1001_BATCH64:g}%)")
    lines = [wrapped for line in _footnote([inception, resnet, preact])
             for wrapped in textwrap.wrap(line, 170, subsequent_indent="  ")]
    fig.text(0.01, 0.005, "\n".join(lines), fontsize=8, va="bottom", ha="left",
             color="#333333")
    bottom = 0.0125 * (len(lines) + 1)   # room for the footnote: about 0.15 inch a line
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
    fig.suptitle("The papers' results (quoted) next to the library's networks (computed)")
    return fig
