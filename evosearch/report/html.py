"""One self-contained page for a run: config summary, plots (embedded), front and history tables."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path


from .run import LEARNED_NOTE, Run, span_label, unit_for


def _front_rows(run: Run) -> tuple[list[str], list[list[str]]]:
    metrics = run.metrics
    units = {m: unit_for(m, run.candidates[m]) for m in metrics}
    header = ["id", "gen"] + [f"{m} ({units[m].unit})" if units[m].unit else m for m in metrics] + [
        "heads / layer", "FFN / layer", "bits / layer", "span / layer", "exit thresholds", "emb. bits"]
    rows = []
    for cid, r in run.front.iterrows():
        cfg, thresholds = run.config_of(r)
        layers = cfg["layers"]
        generation = int(run.candidates.loc[cid, "generation"]) if cid in run.candidates.index else -1
        rows.append([cid, str(generation)] + [units[m].fmt(r[m]) for m in metrics] + [
            " ".join(str(l["heads"]) for l in layers), " ".join(str(l["ffn"]) for l in layers),
            " ".join(str(l.get("bits", 32)) for l in layers),
            " ".join(span_label(*span) for span in run.layer_spans(cfg)),
            " ".join(f"{t:g}" for t in thresholds), str(cfg.get("embedding_bits", 32))
            + (f" ({float(cfg['embedding_sparsity']):g} pruned)" if cfg.get("embedding_sparsity") else "")])
    return header, rows


def _summary(run: Run) -> list[tuple[str, str]]:
    c = run.config
    hv = run.hypervolume
    items = [
        ("run folder", str(run.folder)),
        ("supernet", str(c.get("supernet"))),
        ("task", str(c.get("task"))),
        ("search space", f"{c.get('space', {}).get('name')} ({c.get('space', {}).get('quant')} quantization; "
                         f"{len(c.get('genome', []))} genes)"),
        ("objectives", ", ".join(run.objectives)),
        ("constraints", ", ".join(run.constraints) or "none"),
        ("hardware target", str(c.get("objectives", {}).get("target") or "none")),
        *([("attention spans", LEARNED_NOTE)] if run.learned_spans is not None else []),
        ("algorithm", f"{c.get('algorithm')}, population {c.get('population')}, "
                      f"{c.get('generations')} generations, seed {c.get('seed')}"),
        ("dev examples per candidate", str(c.get("dev_examples"))),
        ("candidates evaluated", f"{len(run.candidates)} ({run.candidates['genome'].nunique()} distinct)"),
        ("Pareto front", f"{len(run.front_ids)} members, scored on {run.front_dev}"
                         + (f"; {len(run.dropped_ids)} more of the search's final front dropped out there "
                            f"({', '.join(run.dropped_ids)})" if run.dropped_ids else "")),
    ]
    if not hv.empty:
        items.append(("final hypervolume", f"{hv['hypervolume'].iloc[-1]:.6g} after {int(hv['evaluations'].iloc[-1])} "
                                           f"evaluations (reference point {c.get('reference_point')})"))
    return items


def write_report(run: Run, out: str | Path | None = None, fmt: str | None = None, plots=None) -> Path:
    """Write ``<run>/report.html`` (or ``.md``); plots are drawn first unless given.

    HTML embeds every PNG as base64 (one self-contained file); Markdown embeds them as data URIs too.
    """
    from .plots import plot_all

    out = Path(out) if out else run.folder / "report.html"
    fmt = fmt or ("md" if out.suffix.lower() in (".md", ".markdown") else "html")
    if plots is None:
        plots = plot_all(run)
    images = [(p.title, base64.b64encode(p.png.read_bytes()).decode("ascii"), p.note) for p in plots]
    header, rows = _front_rows(run)
    summary = _summary(run)
    hv = run.hypervolume
    final = None
    if run.final_front is not None and len(run.final_front):
        f = run.final_front
        keep = [c for c in ["genome", "on_full_front"] + run.objectives if c in f.columns]
        subset = [f"subset_{o}" for o in run.objectives if f"subset_{o}" in f.columns]
        final = f[keep + subset]
    verified, verified_note = _front_verification(run)
    title = f"evosearch run {run.folder.name}"
    if fmt == "md":
        lines = [f"# {title}", ""]
        lines += [f"- **{k}**: {v}" for k, v in summary]
        for t, data, note in images:
            lines += ["", f"## {t}", "", f"![{t}](data:image/png;base64,{data})"]
            if note:
                lines += ["", f"_{note}_"]
        lines += ["", f"## Pareto front ({len(rows)} members)", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if final is not None:
            lines += ["", "## Final front re-scored on the full dev set", "", final.to_markdown(index=False)
                      if _has_tabulate() else "```\n" + final.to_string(index=False) + "\n```"]
        if verified is not None:
            lines += ["", "## The front as deployed", "", verified_note, "", "```", verified.to_string(), "```"]
        if not hv.empty:
            lines += ["", "## Hypervolume per generation", "", "```", hv.to_string(index=False), "```"]
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return out
    esc = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 7px;"
             "text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}"
             "img{max-width:100%;border:1px solid #eee;margin:.5em 0}.note{color:#666;font-size:12px}"
             "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}</style>"
             f"</head><body><h1>{esc(title)}</h1><h2>Run</h2><dl>"]
    parts += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary]
    parts.append("</dl>")
    for t, data, note in images:
        parts.append(f"<h2>{esc(t)}</h2><img alt='{esc(t)}' src='data:image/png;base64,{data}'>")
        if note:
            parts.append(f"<p class='note'>{esc(note)}</p>")
    parts.append(f"<h2>Pareto front ({len(rows)} members)</h2><p class='note'>pick one with "
                 f"<code>evosearch pick {esc(str(run.folder))} --knee</code> (or --where / --weights), export it with "
                 f"<code>evosearch export {esc(str(run.folder))} --pick ID --out DIR</code></p>")
    parts.append(_html_table(header, rows))
    if final is not None:
        parts.append("<h2>Final front re-scored on the full dev set</h2>")
        parts.append(_html_table(list(final.columns), [[_cell(v) for v in r] for r in final.itertuples(index=False)]))
    if verified is not None:
        parts.append(f"<h2>The front as deployed</h2><p class='note'>{esc(verified_note)}</p>")
        parts.append(_html_table(["id"] + list(verified.columns),
                                 [[str(i)] + [_cell(v) for v in r] for i, r in zip(verified.index,
                                                                                  verified.itertuples(index=False))]))
    if not hv.empty:
        parts.append("<h2>Hypervolume per generation</h2>")
        parts.append(_html_table(list(hv.columns), [[_cell(v) for v in r] for r in hv.itertuples(index=False)]))
    parts.append("</body></html>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def _front_verification(run: Run):
    """``RUN/front_verification.csv`` (written by ``evosearch verify``) and a one-line summary, or (None, "")."""
    import pandas as pd

    table_file, summary_file = run.folder / "front_verification.csv", run.folder / "front_verification.json"
    if not table_file.is_file() or not summary_file.is_file():
        return None, ""
    s = json.loads(summary_file.read_text())
    note = (f"Every front member exported and run with ONNX Runtime ({s['threads']} thread(s), one sentence at a time, "
            f"early exit) on the dev set: accuracy within {s['max_abs_accuracy_difference_pt']:.2f} pt of the supernet "
            f"estimate (same prediction for >= {100 * s['min_prediction_agreement']:.1f}% of sentences); latency "
            f"predicted against measured on {s['sentences']} sentences: MAPE {s['latency_mape_percent']:.1f}%, "
            f"Spearman {s['latency_spearman']:.3f}; sizes within {s['size_error_pct_max']:.1f}% (compact weights) and "
            f"{s['onnx_size_error_pct_max']:.1f}% (ONNX) of the estimates.")
    return pd.read_csv(table_file, index_col="id"), note


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _html_table(header, rows) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
