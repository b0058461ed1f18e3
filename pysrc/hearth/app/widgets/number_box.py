"""Number boxes without spinner arrows.

Panel's IntInput and FloatInput draw Bokeh's spinner, whose up/down buttons take keyboard focus but
have no accessible name; a screen-reader user tabbing through the Train page would meet a row of
unnamed buttons. The plain numeric input underneath them (Panel's own base classes, pinned with
Panel) is one labelled box per number.
"""

from __future__ import annotations

from panel.widgets.input import _FloatInputBase, _IntInputBase


class IntBox(_IntInputBase):
    """A labelled box for a whole number."""


class FloatBox(_FloatInputBase):
    """A labelled box for a number."""
