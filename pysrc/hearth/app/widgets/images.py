"""Turning model inputs into pictures people can see, and pictures from the page into model inputs.

Samples are (height, width, channels) floats in [0, 1] (how Hearth's datasets hold images); the
page gets small PNGs scaled up with hard pixel edges, so an 8x8 digit looks like 8x8 pixels.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

from hearth.i18n import t
from hearth.train.data import DataError, ImageCollection


def png(image: np.ndarray, scale: int | None = None, size: int = 64, stretch: bool = False) -> bytes:
    """PNG bytes of an (H, W), (H, W, 1) or (H, W, 3) array in [0, 1], enlarged by whole pixels.

    `stretch` maps the array's own range to black..white (feature maps, which have no fixed range)."""
    from PIL import Image

    array = np.asarray(image, np.float32)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    low, high = float(array.min(initial=0.0)), float(array.max(initial=1.0))
    if stretch:
        low, high = float(array.min(initial=np.inf)), float(array.max(initial=-np.inf))
    if stretch or low < 0 or high > 1:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    pixels = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels)
    factor = scale or max(1, size // max(pixels.shape[:2]))
    picture = picture.resize((pixels.shape[1] * factor, pixels.shape[0] * factor), Image.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def img_tag(image: np.ndarray, alt: str, size: int = 64, caption: str = "", stretch: bool = False) -> str:
    """An <img> with the PNG inline (the page's CSP allows data: images), and an optional caption."""
    data = base64.b64encode(png(image, size=size, stretch=stretch)).decode()
    tag = (f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" '
           f'style="image-rendering:pixelated;width:{size}px;height:auto;border:1px solid #e6ddd3">')
    if not caption:
        return tag
    return (f'<figure style="margin:0;display:inline-flex;flex-direction:column;align-items:center;'
            f'font-size:.75rem;max-width:{max(size, 72)}px">{tag}<figcaption style="text-align:center">'
            f"{escape(caption)}</figcaption></figure>")


def gallery(figures: list[str], label: str) -> str:
    return (f'<div role="group" aria-label="{escape(label)}" style="display:flex;flex-wrap:wrap;gap:.4rem">'
            + "".join(figures) + "</div>")


def data_url_bytes(url: str) -> bytes:
    """The bytes inside a `data:image/...;base64,` URL (what the page's webcam widget sends)."""
    if not url or "," not in url:
        raise DataError(t("no picture came from the camera yet; allow the camera and try again"))
    return base64.b64decode(url.split(",", 1)[1])


def to_model_input(picture: bytes | np.ndarray, input_shape: tuple[int, ...], dark_background: bool | None = None
                   ) -> np.ndarray:
    """A photo, upload or drawing as one model input, prepared exactly as training images were.

    It goes through `ImageCollection.add`, the path webcam shots and image files take into a
    dataset, so a prediction sees what training saw. `dark_background`: the training images'
    polarity (digits are light ink on black); a picture of the other kind is inverted to match.
    """
    if len(input_shape) != 3:
        raise DataError(t("this model takes {count} numbers, not a picture; use data with images", count=input_shape[0]))
    height, width, channels = input_shape
    if channels not in (1, 3):
        raise DataError(t("this model takes pictures with {channels} channels; Hearth reads grey (1) or colour (3)",
                          channels=channels))
    collection = ImageCollection(size=(height, width), channels=channels)
    collection.add("picture", picture)
    x = collection.images["picture"][0]
    if dark_background is not None and (float(x.mean()) > 0.5) == dark_background:
        x = 1.0 - x
    return x.astype(np.float32)
