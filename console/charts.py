"""Server-rendered SVG charts for the dashboard (no scripts, no CDN)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

# Rule colours, given out in the order of the policy's rules (the built-in rules, sorted by id, keep
# the colours they have always had); rules past the end of the palette, and rules no longer in the
# policy, are grey.
PALETTE = ("#c2410c", "#be185d", "#0891b2", "#15803d", "#4338ca", "#0f766e", "#0369a1", "#7c3aed",
           "#a16207", "#b91c1c", "#57534e", "#9333ea", "#0d9488", "#ca8a04", "#db2777", "#2563eb")
OTHER_RULE = "#6b7280"
ACTION_COLORS = {
    "blocked": "#b91c1c", "warned": "#d97706", "overridden": "#7c3aed", "edited": "#15803d",
    "cancelled": "#0369a1", "logged": "#64748b", "error": "#111827", "passed": "#cbd5e1",
}


def swatch(fill: str) -> str:
    """A small colour square (an SVG, since the CSP forbids inline style attributes)."""
    return f'<svg class="sw" width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="{fill}"/></svg>'


def rule_colors(rule_ids: Sequence[str]) -> dict[str, str]:
    """A colour for each of the policy's rule ids, in the policy's order."""
    return {rule: PALETTE[i] if i < len(PALETTE) else OTHER_RULE for i, rule in enumerate(rule_ids)}


def _shows_day_label(i: int, n: int, every: int) -> bool:
    """Label every `every`-th day, and the last one unless it would crowd its neighbour."""
    return i % every == 0 or (i == n - 1 and (n - 1) % every >= every / 2)


def _axis_max(v: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000):
        if v <= step * 4:
            return step * 4
    return (v // 100000 + 1) * 100000


def per_day_by_rule(days: list[str], per_day: list[dict[str, Any]], colors: Mapping[str, str],
                    width: int = 760, height: int = 240) -> Markup:
    """Stacked columns: findings per day, one color per rule (`colors` from `rule_colors`)."""
    by_day: dict[str, dict[str, int]] = defaultdict(dict)
    for r in per_day:
        by_day[r["day"]][r["rule"]] = r["n"]
    rules = sorted({r["rule"] for r in per_day})
    top = _axis_max(max([sum(v.values()) for v in by_day.values()] or [0]))
    left, bottom, right, top_pad = 40, 28, 8, 10
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    bw = plot_w / max(1, len(days))
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Findings per day by rule, last {len(days)} days">']
    for i in range(5):  # grid lines and y labels
        y = top_pad + plot_h - plot_h * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{top * i // 4}</text>')
    for i, day in enumerate(days):
        x = left + i * bw
        y = top_pad + plot_h
        for rule in rules:
            n = by_day.get(day, {}).get(rule, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            out.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, bw - 2):.1f}" height="{h:.1f}" '
                       f'fill="{colors.get(rule, OTHER_RULE)}"><title>{escape(day)} · {escape(rule)}: {n}</title></rect>')
        if _shows_day_label(i, len(days), 5):
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - 8}" class="axis" text-anchor="middle">'
                       f'{escape(day[5:])}</text>')
    out.append("</svg>")
    legend = "".join(f'<span class="key">{swatch(colors.get(r, OTHER_RULE))}{escape(r)}</span>' for r in rules)
    return Markup("".join(out) + f'<div class="legend">{legend}</div>')


def top_rules(rows: list[dict[str, Any]], colors: Mapping[str, str], width: int = 560) -> Markup:
    """Horizontal bars: findings per rule (`colors` from `rule_colors`)."""
    if not rows:
        return Markup('<p class="muted">No findings in this period.</p>')
    bar_h, gap, label_w = 18, 8, 140
    height = len(rows) * (bar_h + gap)
    top = max(r["n"] for r in rows)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Top rules">']
    for i, r in enumerate(rows):
        y = i * (bar_h + gap)
        w = (width - label_w - 50) * r["n"] / top
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" class="label" text-anchor="end">{escape(r["rule"])}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{max(1.0, w):.1f}" height="{bar_h}" rx="3" '
                   f'fill="{colors.get(r["rule"], OTHER_RULE)}"><title>{escape(r["rule"])}: {r["n"]}</title></rect>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" class="label">{r["n"]}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def actions_bar(actions: dict[str, int], width: int = 560) -> Markup:
    """One stacked bar: what happened to the posts (blocked, warned, overridden, edited...)."""
    total = sum(actions.values())
    if not total:
        return Markup('<p class="muted">No events in this period.</p>')
    out = [f'<svg class="chart" viewBox="0 0 {width} 24" role="img" aria-label="Actions">']
    x = 0.0
    for a, n in sorted(actions.items(), key=lambda kv: -kv[1]):
        w = width * n / total
        out.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="24" fill="{ACTION_COLORS.get(a, "#6b7280")}">'
                   f'<title>{escape(a)}: {n} ({100 * n / total:.0f}%)</title></rect>')
        x += w
    out.append("</svg>")
    legend = "".join(f'<span class="key">{swatch(ACTION_COLORS.get(a, "#6b7280"))}'
                     f'{escape(a)} {n}</span>' for a, n in sorted(actions.items(), key=lambda kv: -kv[1]))
    return Markup("".join(out) + f'<div class="legend">{legend}</div>')


def override_rate(days: list[str], rows: list[dict[str, Any]], width: int = 560, height: int = 160) -> Markup:
    """Columns: share of warnings the employee overrode, per day (empty days left blank)."""
    by_day = {r["day"]: r for r in rows}
    if not rows:
        return Markup('<p class="muted">No warnings shown in this period.</p>')
    left, bottom, top_pad = 36, 22, 8
    plot_w, plot_h = width - left - 4, height - bottom - top_pad
    bw = plot_w / max(1, len(days))
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Override rate per day">']
    for pct in (0, 50, 100):
        y = top_pad + plot_h - plot_h * pct / 100
        out.append(f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{pct}%</text>')
    for i, day in enumerate(days):
        r = by_day.get(day)
        x = left + i * bw
        if r and r["shown"]:
            rate = r["overridden"] / r["shown"]
            h = max(1.0, plot_h * rate)
            out.append(f'<rect x="{x + 1:.1f}" y="{top_pad + plot_h - h:.1f}" width="{max(1.0, bw - 2):.1f}" '
                       f'height="{h:.1f}" fill="#7c3aed"><title>{escape(day)}: {r["overridden"]} of '
                       f'{r["shown"]} warnings overridden ({100 * rate:.0f}%)</title></rect>')
        if _shows_day_label(i, len(days), 7):
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - 6}" class="axis" text-anchor="middle">'
                       f'{escape(day[5:])}</text>')
    out.append("</svg>")
    return Markup("".join(out))
