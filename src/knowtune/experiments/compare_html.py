"""comparison.html: one self-contained page (inline CSS and SVG plots, no script, no network).

Every piece of text that comes from a run (names, config values, generated answers) goes through
`html.escape`; plot labels are SVG text, which matplotlib escapes, with math parsing off.
"""

from __future__ import annotations

import html
import io

import matplotlib
from matplotlib.figure import Figure

from knowtune.experiments.comparison import fmt, metric_columns, verdict
from knowtune.experiments.rundata import RunData

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plot svg { width: 460px; height: auto; }
.best { background: #e8f6e8; }
.pre { white-space: pre-wrap; font-family: monospace; max-width: 40em; }
"""


def _e(value) -> str:
    return html.escape(fmt(value))


def _table(header: list, rows: list[list], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        f"<tr class=\"{(classes or [''] * len(rows))[i]}\">" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
        for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(fig: Figure, salt: str) -> str:
    """The figure as inline SVG; the salt keeps element ids unique across the plots of one page."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(title: str, ylabel: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def plots(runs: dict[str, RunData]) -> list[tuple[str, str]]:
    """(title, inline SVG) per plot: the loss curves, then one plot per eval metric."""
    found = []
    with matplotlib.rc_context({"text.parse_math": False}):  # a '$' in a run name is text, not math
        fig, ax = _figure("Loss", "loss")
        for i, (name, run) in enumerate(runs.items()):
            steps, losses = run.losses()
            color = f"C{i % 10}"
            if steps:
                ax.plot(steps, losses, color=color, label=f"{name} (train)")
            evals = [(e["step"], e["eval_loss"]) for e in run.evals() if "eval_loss" in e]
            if evals:
                ax.plot(*zip(*evals), color=color, linestyle="--", marker="o", label=f"{name} (eval)")
        if ax.lines:
            ax.legend(fontsize="small")
            found.append(("Loss", _svg(fig, "loss")))
        keys = sorted({k for r in runs.values() for e in r.evals() for k in e} - {"step", "eval_loss"})
        for key in keys:
            fig, ax = _figure(key, key)
            for i, (name, run) in enumerate(runs.items()):
                points = [(e["step"], e[key]) for e in run.evals() if key in e]
                if points:
                    ax.plot(*zip(*points), color=f"C{i % 10}", marker="o", label=name)
            ax.legend(fontsize="small")
            found.append((key, _svg(fig, key)))
    return found


def render_html(summary: dict, runs: dict[str, RunData]) -> str:
    names = list(runs)
    parts = [f"<h1>{html.escape(summary['title'])}</h1>",
             f"<p>{html.escape(verdict(summary)).replace('**', '')}</p>", "<h2>Runs</h2>"]
    rows = [[r["name"], r["state"], r["step"], r["value"], r["meets_criteria"], "; ".join(r["misses"])]
            for r in summary["runs"]]
    classes = ["best" if r["name"] == summary["best"] else "" for r in summary["runs"]]
    parts.append(_table(["run", "state", "step", summary["metric"] or "metric", "meets criteria", "misses"], rows, classes))
    if summary["left_out"]:
        items = "".join(f"<li>{html.escape(i['path'])}: {html.escape(i['reason'])}</li>" for i in summary["left_out"])
        parts.append(f"<p>Left out:</p><ul>{items}</ul>")
    diffs = summary["config_differences"]
    parts.append("<h2>Config differences</h2>")
    parts.append(_table(["key", *names], [[k, *(v[n] for n in names)] for k, v in diffs.items()])
                 if diffs else "<p>The configs are the same.</p>")
    parts.append("<h2>Final metrics</h2>")
    parts.append(_table(["metric", *names], [[c, *(runs[n].final.get(c) for n in names)] for c in metric_columns(runs)]))
    figures = plots(runs)
    if figures:
        parts.append("<h2>Curves</h2><div class=\"plots\">" + "".join(
            f"<figure class=\"plot\" data-plot=\"{html.escape(title)}\">{svg}</figure>" for title, svg in figures) + "</div>")
    parts.append("<h2>Metrics at each evaluation</h2>")
    for name, run in runs.items():
        evals = run.evals()
        if evals:
            keys = [k for k in evals[-1] if k != "step"]
            parts.append(f"<h3>{html.escape(name)}</h3>")
            parts.append(_table(["step", *keys], [[e["step"], *(e.get(k) for k in keys)] for e in evals]))
    samples = [(name, run.samples) for name, run in runs.items() if run.samples]
    if samples:
        parts.append("<h2>Generated answers (first few)</h2>")
        for name, found in samples:
            parts.append(f"<h3>{html.escape(name)}</h3><table><thead><tr><th>question</th><th>gold</th>"
                         "<th>generated</th></tr></thead><tbody>" + "".join(
                             f"<tr><td class=\"pre\">{_e(s['question'])}</td><td class=\"pre\">{_e(s['answer'])}</td>"
                             f"<td class=\"pre\">{_e(s['prediction'])}</td></tr>" for s in found) + "</tbody></table>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(summary['title'])}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
