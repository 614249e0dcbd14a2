"""PNG plots for the I/O-models study (bench/study.py); needs matplotlib.

    python bench/study_plots.py bench/results/study.json [--out bench/results]

``plot_all(result, out_dir)`` draws, from the driver's JSON result:
- study_throughput.png: requests/s vs connections, one line per model;
- study_cpu.png: server CPU microseconds per request vs connections;
- study_idle_scaling.png: cost of one wait with 1 ready fd among N registered,
  for select, poll and epoll (pymux.select) and io_uring (pymux.uring).
One panel per message size in the first two. Cells a model could not run
(select above FD_SETSIZE, a failed start) are missing points, named in the
legend. matplotlib is imported only when plotting, so the driver can report
clearly that it is missing (``pip install -e '.[bench]'``).
"""
import argparse
import json
from pathlib import Path

MARKERS = "osD^v<>ph*XP"
STYLES = ("-", "--", "-.", ":")


def _matplotlib():
    import matplotlib
    matplotlib.use("Agg")              # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def _style(i):
    return {"marker": MARKERS[i % len(MARKERS)], "linestyle": STYLES[(i // 10) % len(STYLES)],
            "markersize": 4, "linewidth": 1.3}


def _per_model(result, key):
    """{size: {model: [(conns, value)]}} from the summary rows that have data."""
    out = {}
    for row in result["summary"]:
        if row.get(key) is None:
            continue
        by_model = out.setdefault(row["size"], {})
        by_model.setdefault(row["model"], []).append((row["conns"], row[key]))
    return out


def _label(model, result):
    """The model's name, plus the connection counts it could not run or starved at."""
    rows = [r for r in result["summary"] if r["model"] == model]
    cannot = sorted({r["conns"] for r in rows if r.get("status") == "cannot"})
    starved = sorted({r["conns"] for r in rows if r.get("starved")})
    notes = ([f"cannot run {', '.join(map(str, cannot))}"] if cannot else []) + \
            ([f"starves at {', '.join(map(str, starved))}"] if starved else [])
    return f"{model} ({'; '.join(notes)})" if notes else model


def plot_vs_connections(result, key, ylabel, title, path, logy=False, dpi=90):
    plt = _matplotlib()
    data = _per_model(result, key)
    sizes = sorted(data)
    models = result["models"]
    legend_w = 2.6                     # inches kept free on the right for the legend
    fig, axes = plt.subplots(1, max(len(sizes), 1),
                             figsize=(5.0 * max(len(sizes), 1) + legend_w, 4.4), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for i, model in enumerate(models):
            pts = sorted(data[size].get(model, []))
            if pts:
                ax.plot([c for c, _ in pts], [v for _, v in pts], label=_label(model, result),
                        color=f"C{i % 10}", **_style(i))
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{size} B messages")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - legend_w / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_idle_scaling(result, path, dpi=90):
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    rows = result["idle_scaling"]["rows"]
    lines = (("select", "select (pymux)", 0, "-"), ("poll", "poll (pymux)", 1, "-"),
             ("epoll", "epoll (pymux)", 2, "-"), ("uring", "io_uring (pymux.uring)", 3, "-"),
             ("select_stdlib", "select (stdlib, reference)", 0, ":"))
    for i, (key, label, color, style) in enumerate(lines):
        pts = [(r["n"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot([n for n, _ in pts], [v / 1000 for _, v in pts], label=label,
                    **dict(_style(i), color=f"C{color}", linestyle=style))
    limit = result["idle_scaling"].get("fd_setsize")
    if limit:
        ax.axvline(limit, color="grey", linestyle=":", linewidth=1)
        ax.text(limit, 0.03, f" FD_SETSIZE={limit}:\n select stops", fontsize=8, color="grey",
                va="bottom", transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered fds (N), 1 of them ready")
    ax.set_ylabel("microseconds per wait (timeout 0)")
    ax.set_title("Cost of one wait vs registered fds (pymux.select, pymux.uring)",
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_all(result, out_dir):
    """Write the three PNGs into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if result.get("summary"):
        paths.append(plot_vs_connections(result, "rps", "requests per second",
                                         "Echo throughput vs connections (closed loop, loopback)",
                                         out_dir / "study_throughput.png"))
        paths.append(plot_vs_connections(result, "cpu_us", "server CPU us per request",
                                         "Server CPU per request vs connections (lower is better)",
                                         out_dir / "study_cpu.png"))
    if result.get("idle_scaling", {}).get("rows"):
        paths.append(plot_idle_scaling(result, out_dir / "study_idle_scaling.png"))
    return paths


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="the driver's study.json")
    p.add_argument("--out", default=None, help="directory (default: the JSON file's)")
    a = p.parse_args()
    with open(a.json) as f:
        result = json.load(f)
    for path in plot_all(result, a.out or Path(a.json).parent):
        print(path)


if __name__ == "__main__":
    main()
