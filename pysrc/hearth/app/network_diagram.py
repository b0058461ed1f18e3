"""A drawing of the network as it is being built: one figure per layer, sized by what it outputs.

Images are drawn as a stack of feature maps (height by the map's size, depth by its channels),
flat outputs as a bar (height by the number of values); a broken layer is outlined in red and the
layers after it, which wait for it, are dashed. Plain SVG, so it is crisp, small and readable by
screen readers (each layer has a <title>).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from hearth.app.layer_stack import LayerReport
from hearth.i18n import number, t

STEP = 112  # horizontal room per layer, in px
HEIGHT = 190
TOP = 14
INK, MUTED, ERROR, FILL = "#222", "#8a8178", "#c0392b", "#f3d9c9"


def _size(values: int, top: int = 110) -> float:
    return max(10.0, min(float(top), 14 * math.log2(values + 1)))


def _shape_text(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "?"
    return " × ".join(str(d) for d in shape)


def _figure(x: float, shape: Sequence[int] | None, stroke: str, dash: str) -> tuple[str, float, float]:
    """(SVG of one layer's output, its left edge, its right edge)."""
    centre = TOP + 60
    if shape is None:
        return (f'<rect x="{x + 36}" y="{centre - 20}" width="40" height="40" fill="none" stroke="{stroke}" '
                f'stroke-dasharray="4 3"{dash}/>', x + 36, x + 76)
    if len(shape) == 3:
        h, w, c = shape
        side = _size(h * w, 80)
        depth = min(c, 6)
        width = side * w / max(h, w)
        left = x + 56 - (width + 5 * (depth - 1)) / 2
        parts = []
        for i in reversed(range(depth)):
            ox, oy = left + i * 5, centre - side / 2 - i * 4
            parts.append(f'<rect x="{ox:.1f}" y="{oy:.1f}" width="{width:.1f}" '
                         f'height="{side * h / max(h, w):.1f}" fill="{FILL}" stroke="{stroke}"{dash}/>')
        return "".join(parts), left, left + width + 5 * (depth - 1)
    bar = _size(int(shape[0]))
    return (f'<rect x="{x + 48}" y="{centre - bar / 2:.1f}" width="16" height="{bar:.1f}" rx="3" fill="{FILL}" '
            f'stroke="{stroke}"{dash}/>', x + 48, x + 64)


def svg(input_shape: Sequence[int], layers: Sequence[LayerReport]) -> str:
    """The SVG source; its width grows with the layers (the page scrolls it sideways on a phone)."""
    width = STEP * (len(layers) + 1) + 10
    items = [(t("input"), tuple(input_shape), 0, None, False)]
    broken = False
    for layer in layers:
        items.append((f"{layer.position} {layer.type}", layer.output_shape, layer.params, layer.error, broken))
        broken = broken or layer.error is not None
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" viewBox="0 0 {width} '
             f'{HEIGHT}" role="img" aria-label="{escape(t("Network diagram: the input and {count} layers", count=len(layers)))}" '
             'style="font-family:system-ui,sans-serif;font-size:11px">']
    previous_right = 0.0
    for i, (label, shape, params, error, waiting) in enumerate(items):
        x = 5 + i * STEP
        stroke = ERROR if error else (MUTED if waiting else INK)
        dash = ' stroke-dasharray="4 3"' if waiting else ""
        title = t("{label}: output {shape}, {params} parameters", label=label, shape=_shape_text(shape),
                  params=number(params)) + (". " + t("Problem: {error}", error=error) if error else "")
        parts.append(f"<g><title>{escape(title)}</title>")
        figure, left, right = _figure(x, shape, stroke, dash)
        parts.append(figure)
        if i:
            parts.append(f'<line x1="{previous_right + 4:.1f}" y1="{TOP + 60}" x2="{left - 4:.1f}" y2="{TOP + 60}" '
                         f'stroke="{MUTED}" marker-end="url(#arrow)"/>')
        previous_right = right
        parts.append(f'<text x="{x + 56}" y="{TOP + 140}" text-anchor="middle" fill="{stroke}" '
                     f'font-weight="600">{escape(label)}</text>')
        parts.append(f'<text x="{x + 56}" y="{TOP + 155}" text-anchor="middle" fill="{INK}">'
                     f"{escape(_shape_text(shape))}</text>")
        if error:
            parts.append(f'<text x="{x + 56}" y="{TOP + 170}" text-anchor="middle" fill="{ERROR}">⚠ '
                         f"{escape(t('fix this layer'))}</text>")
        elif i:
            parts.append(f'<text x="{x + 56}" y="{TOP + 170}" text-anchor="middle" fill="{MUTED}">'
                         f"{escape(t('{params} params', params=number(params)))}</text>")
        parts.append("</g>")
    parts.append(f'<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
                 f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/></marker></defs></svg>')
    return "".join(parts)


def html(input_shape: Sequence[int], layers: Sequence[LayerReport]) -> str:
    return f'<div style="overflow-x:auto;max-width:100%">{svg(input_shape, layers)}</div>'
