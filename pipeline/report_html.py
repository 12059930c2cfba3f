"""report.html: the run explained to a data protection officer, in one self-contained page.

No scripts, no fonts, no network: inline CSS and an inline SVG chart. Everything
shown comes from report.json, which holds counts, names and codes, never values.
"""

from __future__ import annotations

import html
import math
import os

from schemas.errors import FLAG_REASONS, ROW_REASONS

HTML_NAME = "report.html"
SIZE_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 1), (2, 2), (3, 3), (4, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, None),
)  # fmt: skip
_REASON_TEXT = {**ROW_REASONS, "k-anonymity": "the row's class has fewer than k subjects"}
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:62rem;
color:#1b1f24;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}
td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#57606a}.ok{color:#1a7f37;font-weight:600}.warn{color:#9a6700;font-weight:600}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.4rem}
code{background:#f6f8fa;padding:0 .25rem;border-radius:3px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: list[str], rows: list[list[object]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def bucket_counts(sizes: dict) -> list[int]:
    """Number of classes per size bucket (sizes: {class size: number of classes})."""
    counts = [0] * len(SIZE_BUCKETS)
    for size, classes in sizes.items():
        size = int(size)
        for index, (low, high) in enumerate(SIZE_BUCKETS):
            if size >= low and (high is None or size <= high):
                counts[index] += int(classes)
                break
    return counts


def class_size_chart(before: dict, after: dict, k: int) -> str:
    """Grouped bars: classes per size bucket, before and after enforcement (SVG)."""
    first, second = bucket_counts(before), bucket_counts(after)
    width, height, left, bottom, top = 720, 300, 56, 48, 28
    plot_w, plot_h = width - left - 16, height - bottom - top
    decades = max(1, math.ceil(math.log10(max([*first, *second, 1]) + 1)))
    slot = plot_w / len(SIZE_BUCKETS)
    bar = slot * 0.36

    def scaled(value: int) -> float:  # log scale: both phases stay visible
        return plot_h * math.log10(value + 1) / decades

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Classes per size, before and after">',
        f'<text x="{left}" y="16" font-size="13" fill="#1b1f24">Number of classes by size'
        " (distinct subjects per class; log scale)</text>",
    ]
    for decade in range(decades + 1):
        y = top + plot_h - plot_h * decade / decades
        label = 0 if decade == 0 else 10**decade
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#57606a">{label:,}</text>'
        )
    for index, (low, high) in enumerate(SIZE_BUCKETS):
        x = left + slot * index + slot * 0.14
        below_k = high is not None and high < k
        for offset, value, colour, name in (
            (0, first[index], "#cf222e" if below_k else "#8c959f", "before"),
            (bar, second[index], "#1a7f37", "after"),
        ):
            h = scaled(value)
            y = top + plot_h - h
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{name}: {value} classes of size '
                f"{_bucket_label(low, high)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" fill="#1b1f24">{_bucket_label(low, high)}</text>'
        )
    legend_y = height - 10
    parts.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#8c959f"/>'
        f'<text x="{left + 14}" y="{legend_y}" font-size="11">before (red: under k={k})</text>'
        f'<rect x="{left + 190}" y="{legend_y - 9}" width="10" height="10" fill="#1a7f37"/>'
        f'<text x="{left + 204}" y="{legend_y}" font-size="11">after enforcement</text>'
        "</svg>"
    )
    return "".join(parts)


def _privacy_section(privacy: dict) -> str:
    k_ok = privacy["k_achieved"] >= privacy["k_target"] or privacy["k_achieved"] == 0
    verdict = (
        f'<span class="ok">k = {privacy["k_achieved"]} achieved (target {privacy["k_target"]})'
        "</span>"
        if k_ok
        else f'<span class="warn">k = {privacy["k_achieved"]} below target</span>'
    )
    steps = ", ".join(f"{s['column']} → {s['to']}" for s in privacy["steps_applied"]) or "none"
    rows = [
        ["subject (whose privacy is counted)", privacy["subject"]],
        ["quasi-identifiers", ", ".join(privacy["quasi_identifiers"])],
        ["strategy below target", privacy["strategy"]],
        ["generalisation steps applied", steps],
        [
            "classes before / after",
            f"{privacy['classes']['before']} / {privacy['classes']['after']}",
        ],
        [
            "subjects suppressed",
            f"{privacy['subjects_suppressed']} of {privacy['subjects']}"
            f" ({privacy['subjects_suppressed_share']:.2%}; cap"
            f" {privacy['max_suppressed_share']:.0%})",
        ],
        ["rows suppressed", privacy["rows_suppressed"]],
        [
            "subjects unique on their quasi-identifiers, before / after",
            f"{privacy['unique_subjects_share']['before']:.1%} /"
            f" {privacy['unique_subjects_share']['after']:.1%}",
        ],
        [
            "prosecutor re-identification risk, max / average",
            f"{privacy['prosecutor_risk']['max']:.3f}"
            f" / {privacy['prosecutor_risk']['average']:.4f}",
        ],
    ]
    for attribute, value in privacy.get("l_achieved", {}).items():
        rows.append([f"l-diversity of {attribute} (target {privacy['l_target']})", value])
    chart = class_size_chart(
        privacy["class_sizes"]["before"], privacy["class_sizes"]["after"], privacy["k_target"]
    )
    return (
        f"<h2>Re-identification risk</h2><p>{verdict}. Each combination of quasi-identifier"
        f" values left in the output covers at least k distinct {_e(privacy['subject'])}"
        " values; rows of smaller groups are suppressed to rejected/.</p>"
        + _table(["measure", "value"], rows)
        + f"<figure>{chart}</figure>"
    )


def render_html(report: dict) -> str:
    policy = report["policy"]
    ratio = report.get("rejected_ratio", 0)
    cards = "".join(
        f'<div class="card"><span class="muted">{_e(label)}</span><b>{value:,}</b></div>'
        for label, value in (
            ("rows in", report["rows_in"]),
            ("rows published", report["rows_out"]),
            ("rows rejected", report["rows_rejected"]),
        )
    )
    inputs = _table(
        ["input file", "format", "rows"],
        [[i["path"], i.get("format", ""), f"{i['rows']:,}"] for i in report["inputs"]],
        {2},
    )
    details = report.get("column_details") or [
        {"input": name, "action": action, "output": "", "detail": ""}
        for name, action in report["columns"].items()
    ]
    columns = _table(
        ["input column", "what happened", "published as", "how"],
        [[d["input"], d["action"], d.get("output") or "—", d.get("detail", "")] for d in details],
    )
    reasons = [
        [code, f"{count:,}", _REASON_TEXT.get(code, "")]
        for code, count in report["rejected_by_reason"].items()
    ]
    rejected = (
        _table(["reason", "rows", "meaning"], reasons, {1})
        if reasons
        else "<p>No row rejected.</p>"
    )
    flags = [
        [code, column, f"{count:,}", FLAG_REASONS.get(code, "")]
        for code, per_column in report.get("flags", {}).items()
        for column, count in per_column.items()
    ]
    flag_html = (
        "<h2>Values flagged</h2><p>Rows published with a null in the derived column.</p>"
        + _table(["flag", "column", "rows", "meaning"], flags, {2})
        if flags
        else ""
    )
    privacy = _privacy_section(report["privacy"]) if report.get("privacy") else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>pseudolab report {_e(report['run_id'])}</title><style>{_CSS}</style></head><body>"
        f'<h1>pseudolab run report</h1><p class="muted">run {_e(report["run_id"])} ·'
        f" started {_e(report.get('started_at', ''))} · pseudolab"
        f" {_e(report['pseudolab_version'])} · {_e(report.get('runner', ''))}</p>"
        f"<p>Policy <code>{_e(policy['name'])}</code> version {_e(policy['version'])}"
        f" (sha256 <code>{_e(policy['sha256'][:16])}…</code>), key <code>"
        f"{_e(report['key_id'])}</code>.</p>"
        f'<div class="cards">{cards}</div>'
        f"<p>Rejected share {ratio:.3%}. Every input row is either published or"
        " rejected: rows in = rows published + rows rejected, checked by the run.</p>"
        f"<h2>What came in</h2>{inputs}"
        f"{privacy}"
        f"<h2>What happened to each column</h2>{columns}"
        f"<h2>Rejected rows by reason</h2>{rejected}"
        '<p class="muted">rejected/ lists each rejected row\'s file, row number and reason,'
        " never its values.</p>"
        f"{flag_html}"
        "</body></html>\n"
    )


def write_html(directory: str, report: dict) -> str:
    path = os.path.join(directory, HTML_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_html(report))
    return path
