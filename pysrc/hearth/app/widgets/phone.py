"""The app on a phone: nothing wider than the screen, so the page never scrolls sideways.

Panel draws every component in its own shadow root, so web/hearth.css cannot reach inside; what
reaches every one of them is `pn.config.raw_css`, which Panel adds to each component's stylesheets
when it makes the component's model (so it must be set before the app is built). Each sheet comes
after Bokeh's own layout rules in that shadow root, so its `:host` rules win over them.

Two things make a page wider than a phone: widgets with a fixed width (a 520 px menu), and Panel
giving a stretching Column the widest child's width (plus margins) as its `min-width`, which then
climbs up to the tabs. On a narrow screen every component drops that minimum and is kept inside its
container instead; a fixed-width widget shrinks to fit, and in a `wrap_row` it first wraps onto its
own line. Desktop layouts are untouched: it is all inside one media query.
"""

from __future__ import annotations

import panel as pn

NARROW = "(max-width: 600px)"  # phones held upright, and narrow windows

PHONE_CSS = f"""
@media {NARROW} {{
  /* Widgets and panes have Panel's default side margins (10 px each); Bokeh sets no max-width on
     a fixed-width one, and 100% plus its margins would still stick out by 20 px. */
  :host {{ min-width: 0 !important; max-width: calc(100% - 20px); }}
  /* (!important: Panel writes some minimum widths into the element's own style attribute.) */
  /* Layouts have no margins of their own. */
  :host(.bk-Row), :host(.bk-Column), :host([class*="-layout-"]), :host([class*="-tabs-"]) {{
    max-width: 100%;
  }}
  /* A pane's content box (a div without a class) has the pane's fixed width written on it too.
     Only that div: a layout's children are divs as well, and a rule here would beat their own. */
  :host > div:not([class]) {{ max-width: 100%; }}
  /* Button groups (the Data and Predict source pickers) wrap instead of running off the edge. */
  .bk-btn-group {{ flex-wrap: wrap; }}
  /* Long unbroken text (a download URL, a file path) breaks instead of widening its pane. */
  code, a {{ overflow-wrap: anywhere; }}
  /* A camera's picture fits the screen, keeping its shape. */
  video, img {{ max-width: 100%; height: auto; }}
}}
"""


def use_phone_layout() -> None:
    """Add the narrow-screen rules to every component made from now on (once)."""
    if PHONE_CSS not in pn.config.raw_css:
        pn.config.raw_css = [*pn.config.raw_css, PHONE_CSS]
