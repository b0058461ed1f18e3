"""HTML fragments for panes: notices, tables and bars, with every piece of user text escaped.

Plain HTML (not Bokeh plots) wherever a table or a list of numbers says it best: screen readers
read it, it reflows on a phone, and it costs the worker nothing to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

import panel as pn

KINDS = {"error": ("#9b1c1c", "#fdecec", "alert"), "warning": ("#7a4b00", "#fff4e0", "status"),
         "info": ("#1d4e89", "#eaf2fb", "status"), "success": ("#1d5e2c", "#e7f4ea", "status")}


def notice(text: str, kind: str = "info") -> str:
    """A message box; errors are announced at once (role=alert), the rest politely."""
    if not text:
        return ""
    color, background, role = KINDS[kind]
    return (f'<div role="{role}" class="hearth-notice hearth-{kind}" style="color:{color};background:{background};'
            f'padding:.5rem .75rem;border-radius:.4rem;margin:.25rem 0;white-space:pre-wrap">{escape(text)}</div>')


def message_pane() -> pn.pane.HTML:
    """An empty pane that pages fill with `notice()`; polite live region so changes are read out."""
    return pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5))


def table(header: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> str:
    head = "".join(f'<th scope="col">{escape(str(h))}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f'<div style="overflow-x:auto;max-width:100%"><table class="hearth-table" style="border-collapse:collapse;'
            f'font-size:.85rem">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            "<style>.hearth-table td,.hearth-table th{border:1px solid #e6ddd3;padding:.2rem .45rem;"
            "text-align:right}.hearth-table caption{text-align:left;font-weight:600;padding:.2rem 0}</style>")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def bars(items: Sequence[tuple[str, float]], *, maximum: float | None = None, percent: bool = False,
         highlight: int | None = None, label: str = "") -> str:
    """Horizontal bars with their numbers written out (class counts, probabilities, per-class accuracy)."""
    top = maximum if maximum is not None else max([v for _, v in items] + [1e-12])
    rows = []
    for i, (name, value) in enumerate(items):
        width = 0 if top <= 0 else max(0.0, min(1.0, value / top)) * 100
        text = f"{value * 100:.1f}%" if percent else f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"
        color = "#b4532a" if i == highlight else "#d9a27f"
        weight = "font-weight:700;" if i == highlight else ""
        rows.append(
            f'<div style="display:flex;align-items:center;gap:.5rem;margin:.1rem 0;{weight}">'
            f'<span style="flex:0 0 6.5rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">'
            f"{escape(name)}</span>"
            f'<span style="flex:1 1 auto;background:#f1e9e1;border-radius:.2rem;height:.9rem;min-width:3rem">'
            f'<span style="display:block;height:100%;width:{width:.1f}%;background:{color};border-radius:.2rem">'
            "</span></span>"
            f'<span style="flex:0 0 4rem;text-align:right;font-variant-numeric:tabular-nums">{text}</span></div>')
    aria = f' aria-label="{escape(label)}"' if label else ""
    return f'<div role="list"{aria} class="hearth-bars" style="max-width:40rem">' + "".join(
        f'<div role="listitem">{row}</div>' for row in rows) + "</div>"


def heading(text: str, level: int = 3) -> str:
    return f"<h{level} style='margin:.6rem 0 .2rem'>{escape(text)}</h{level}>"


def wrap_row(*objects: pn.viewable.Viewable) -> pn.Row:
    """A row whose items (each of a fixed width) wrap onto new lines on a narrow screen (a phone).

    Panel's FlexBox would do this, but it is a ReactiveHTML component, whose page-side code needs
    eval (the page's CSP forbids it) and an HTML sanitizer Hearth does not ship. A Bokeh Row with
    `flex-wrap` is plain CSS; it must not be "stretch_width", or Panel gives it the sum of its
    items' widths as a minimum width, and the whole page would be that wide on a phone.
    """
    return pn.Row(*objects, sizing_mode=None, styles={"flex-wrap": "wrap", "width": "100%"})
