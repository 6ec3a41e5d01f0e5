"""What the benchmark's measurements become: the summary, the printed table, the JSON,
the bar chart and the Markdown table of ``benchmarks/RESULTS.md``.

A configuration is ``(network, batch size, threads)``; for each framework in it
the summary holds the median and the spread (min-max) of the repeats' training
and evaluation images/second, the median peak resident memory, the training
FLOP/s (median images/s x FLOPs per trained example) as a fraction of the
matmul peak on the same threads, and for Keras and PyTorch the ratio of our
median to theirs (above 1: ours is faster).
"""
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

from tfgraph_lessons.core.io import atomic_write_bytes

BEGIN = "<!-- written by python benchmarks/run.py --write-results: begin -->"
END = "<!-- written by python benchmarks/run.py --write-results: end -->"


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``, else ``lscpu``), or ``'unknown CPU'``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return "unknown CPU"


def spread(values):
    """``{'median', 'min', 'max', 'values'}`` of repeated measurements."""
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "values": values}


def summarise(results):
    """One entry per (network, batch, threads, framework), in the order they ran."""
    groups = defaultdict(list)
    for run in results["runs"]:
        groups[(run["network"], run["batch_size"], run["threads"], run["framework"])].append(run)
    rows = []
    for (network, batch, threads, fw), runs in groups.items():
        row = {"network": network, "batch_size": batch, "threads": threads, "framework": fw}
        ok = [r for r in runs if "train_images_per_second" in r]
        if runs[0].get("skipped"):
            row.update(status="skipped", reason=runs[0]["skipped"])
        elif not ok:
            row.update(status="failed", reason=runs[0].get("error", "no result"))
        else:
            row.update(_measured(ok, results, network, threads))
        rows.append(row)
    _add_ratios(rows)
    return rows


def _measured(runs, results, network, threads):
    train = spread(r["train_images_per_second"] for r in runs)
    row = {"status": "ok", "repeats": len(runs), "steps": runs[0]["steps"],
           "train": train, "eval": spread(r["eval_images_per_second"] for r in runs),
           "max_rss_mb": statistics.median(r["max_rss_mb"] for r in runs),
           "params": runs[0]["params"]}
    if runs[0].get("session_images_per_second"):
        row["session_train"] = spread(r["session_images_per_second"] for r in runs)
    flops = results["networks"][network]["flops"]["train_flops"]
    row["train_flops_per_second"] = train["median"] * flops
    peak = results["peak"].get(str(threads), {}).get("flops_per_second")
    row["fraction_of_peak"] = row["train_flops_per_second"] / peak if peak else None
    return row


def _add_ratios(rows):
    """``ours_over``: our median divided by this framework's, for training and evaluation."""
    ours = {(r["network"], r["batch_size"], r["threads"]): r for r in rows
            if r["framework"] == "ours" and r["status"] == "ok"}
    for r in rows:
        mine = ours.get((r["network"], r["batch_size"], r["threads"]))
        if r["framework"] != "ours" and r["status"] == "ok" and mine:
            r["ours_over"] = {k: mine[k]["median"] / r[k]["median"] for k in ("train", "eval")}


def run_line(run, repeats):
    """One printed line per measurement, as it finishes."""
    head = (f"{run['network']} batch {run['batch_size']} threads {run['threads']} "
            f"[{run['repeat'] + 1}/{repeats}] {run['framework']:>5}:")
    if "error" in run:
        return f"{head} FAILED: {run['error']}\n{run.get('log_tail', '')}"
    session = (f" (in Session.run: {run['session_images_per_second']:,.0f})"
               if run.get("session_images_per_second") else "")
    return (f"{head} train {run['train_images_per_second']:8,.0f} images/s{session}, eval "
            f"{run['eval_images_per_second']:8,.0f}, {run['max_rss_mb']:,.0f} MB, "
            f"{run['process_seconds']:.0f} s")


def _cells(row):
    """The table cells of one summary row (shared by the text and Markdown tables)."""
    if row["status"] != "ok":
        return [row["status"] + ": " + row["reason"]] + [""] * 6
    t, e = row["train"], row["eval"]
    ratio = row.get("ours_over")
    frac = row["fraction_of_peak"]
    return [f"{t['median']:,.0f}", f"{t['min']:,.0f}-{t['max']:,.0f}",
            f"{ratio['train']:.2f}x" if ratio else "",
            f"{e['median']:,.0f}", f"{ratio['eval']:.2f}x" if ratio else "",
            f"{row['max_rss_mb']:,.0f} MB",
            f"{row['train_flops_per_second'] / 1e9:,.1f} ({100 * frac:.0f}%)" if frac
            else f"{row['train_flops_per_second'] / 1e9:,.1f}"]


HEADER = ["network", "batch", "threads", "framework", "train img/s", "spread", "ours / it",
          "eval img/s", "ours / it", "peak RSS", "train GFLOP/s (of peak)"]


def text_table(results):
    """The summary as aligned text columns, the matmul peaks under it."""
    lines = [HEADER] + [[r["network"], str(r["batch_size"]), str(r["threads"]), r["framework"],
                         *_cells(r)] for r in results["summary"]]
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(HEADER))]
    text = ["  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in
                      enumerate(zip(line, widths))).rstrip() for line in lines]
    return "\n".join(text + [_session_text(results), _peak_text(results)])


def _peak_text(results):
    peaks = [f"{t} thread(s) {p['flops_per_second'] / 1e9:.1f} GFLOP/s"
             for t, p in results["peak"].items() if "flops_per_second" in p]
    return "float32 matmul peak (TensorFlow, best of the repeats): " + ("; ".join(peaks) or "-")


def _session_text(results):
    """Our training throughput inside ``Session.run`` alone, beside the wall-clock figure:
    the difference is the Trainer's Python (batching, augmentation, the feed)."""
    parts = [f"{r['network']} batch {r['batch_size']} threads {r['threads']}: "
             f"{r['session_train']['median']:,.0f} (wall clock {r['train']['median']:,.0f})"
             for r in results["summary"] if r.get("session_train")]
    return "ours inside Session.run only, images/s: " + ("; ".join(parts) or "-")


def markdown(results):
    """The Markdown section of ``benchmarks/RESULTS.md``: command, date, machine, table."""
    m, s = results["machine"], results["settings"]
    versions = ", ".join(f"{name} {m[key]}" for key, name in (
        ("tensorflow", "TensorFlow"), ("keras", "Keras"), ("torch", "PyTorch"),
        ("numpy", "NumPy")) if m.get(key))
    rows = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in results["summary"]:
        cells = [r["network"], str(r["batch_size"]), str(r["threads"]), r["framework"],
                 *_cells(r)]
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    steps = {r["network"]: r.get("steps") for r in results["summary"]
             if r["batch_size"] == s["configurations"][0][0] and r.get("steps")}
    evaluation = (f"{s['eval_batches']} test batches" if s["eval_batches"] else
                  f"{s['eval_images']:,} test images (whole batches)")
    data = "; ".join(f"{name} {n['dataset']} ({n['train_examples']:,} training examples"
                     + (f", {n['data_source']}" if n.get("data_source") else "") + ")"
                     for name, n in results["networks"].items())
    return "\n".join([
        f"Command: `{results['command']}`",
        "",
        f"Date: {results['date']}; {results.get('wall_seconds', 0):.0f} s in all.",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {versions}; "
        f"{m['onednn']}.",
        f"Each arm: {s['warmup_steps']} warm-up steps, then timed steps "
        f"({', '.join(f'{k} {v}' for k, v in steps.items())} at batch "
        f"{s['configurations'][0][0]}, the same images at the other batch sizes), then "
        f"evaluation over {evaluation}; median and spread (min-max) over {s['repeats']} "
        f"repeats in the first configuration, {s['sweep_repeats']} in the others. "
        f"Data: {data}.",
        "",
        *rows,
        "",
        _session_text(results) + ".",
        _peak_text(results) + ".",
        ""])


def update_results_file(path, section):
    """Put ``section`` between the markers of ``path`` (created, or appended to, when the
    markers are not there); the text around the markers is kept."""
    path = Path(path)
    block = f"{BEGIN}\n{section.rstrip()}\n{END}\n"
    text = path.read_text() if path.is_file() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    atomic_write_bytes(path, text.encode())


COLORS = {"ours": "#1f77b4", "keras": "#d62728", "torch": "#ff7f0e"}


def write_chart(results, path):
    """Training (top) and evaluation (bottom) images/second, one panel per network, one
    group of bars per configuration, one bar per framework; whiskers span min to max."""
    from matplotlib.figure import Figure

    from tfgraph_lessons.core import plots

    rows = [r for r in results["summary"] if r["status"] == "ok"]
    networks = list(dict.fromkeys(r["network"] for r in results["summary"]))
    frameworks = list(dict.fromkeys(r["framework"] for r in results["summary"]))
    fig = Figure(figsize=(4.5 * max(1, len(networks)), 7), layout="constrained")
    axes = fig.subplots(2, max(1, len(networks)), squeeze=False)
    width = 0.8 / max(1, len(frameworks))
    for col, network in enumerate(networks):
        configs = list(dict.fromkeys((r["batch_size"], r["threads"]) for r in results["summary"]
                                     if r["network"] == network))
        for row_index, key in enumerate(("train", "eval")):
            ax = axes[row_index, col]
            for i, fw in enumerate(frameworks):
                found = {(r["batch_size"], r["threads"]): r[key] for r in rows
                         if r["network"] == network and r["framework"] == fw}
                xs = [c + (i - (len(frameworks) - 1) / 2) * width for c in range(len(configs))
                      if configs[c] in found]
                stats = [found[c] for c in configs if c in found]
                if not stats:
                    continue
                med = [s["median"] for s in stats]
                err = [[m - s["min"] for m, s in zip(med, stats)],
                       [s["max"] - m for m, s in zip(med, stats)]]
                ax.bar(xs, med, width, yerr=err, capsize=2, color=COLORS.get(fw), label=fw)
            ax.set_xticks(range(len(configs)),
                          [f"batch {b}\n{t} thr" for b, t in configs], fontsize=8)
            ax.set_title(f"{network}: {'training' if key == 'train' else 'evaluation'}",
                         fontsize=10)
            ax.set_ylabel("images / second")
            ax.grid(axis="y", alpha=0.3)
        axes[0, col].legend(fontsize=8)
    fig.suptitle(f"Side by side on {results['machine']['cpu']} "
                 f"({results['machine']['cores']} cores): median, whiskers min-max")
    plots.save_figure(fig, path)
    return path
