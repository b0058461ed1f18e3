"""Image augmentation: each training batch's images changed at random (rotated, shifted, flipped,
inverted), so a small dataset teaches a network more than its exact pixels.

    augmentation = Augmentation.from_dict({"rotation": 15, "shift": 0.1, "flip": True, "invert": False})
    x_batch = augmentation(x_batch, rng)          # (N, H, W, C) floats in [0, 1]

The settings are the spec's `training.augmentation` object (`TrainConfig.augmentation`); an empty
object is no augmentation. Only training batches are changed, never validation or predictions.
Every random number comes from the generator passed in (the trainer's, seeded by `config.seed`), so
the same seed gives the same batches on CPython and in the browser, and a saved project carries on
with the same stream. `TORCH_SOURCE` is the same transform in torch tensor ops (no torchvision),
for the generated PyTorch training script.

Owns: the augmentation settings and their checks, the numpy transform, its torch twin as source text.
Imports: numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Augmentation", "AugmentationError", "Draw", "TORCH_SOURCE", "KINDS"]

# What each setting does, in the words the Train page and messages use.
KINDS = {
    "rotation": "rotation (degrees, up to this much either way)",
    "shift": "shift (fraction of the width and height, up to this much either way)",
    "flip": "horizontal flip (half of the images, mirrored left to right)",
    "invert": "invert (half of the images, dark and light swapped)",
}
MAX_ROTATION = 180.0
MAX_SHIFT = 0.5


class AugmentationError(ValueError):
    """Augmentation settings that cannot be used; the message names the setting and its range."""


@dataclass(frozen=True)
class Draw:
    """One batch's random choices, one entry per image: what `Augmentation.apply` does to each."""

    flip: np.ndarray  # (N,) bool
    angle: np.ndarray  # (N,) radians, clockwise as the image is seen (rows run down)
    shift: np.ndarray  # (N, 2) fractions of the width (right) and height (down)
    invert: np.ndarray  # (N,) bool


@dataclass(frozen=True)
class Augmentation:
    rotation: float = 0.0  # degrees, at most this much either way
    shift: float = 0.0  # fraction of the width/height, at most this much either way
    flip: bool = False
    invert: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Augmentation:
        if data is not None and not isinstance(data, dict):
            raise AugmentationError(f"augmentation must be an object such as {{\"rotation\": 15, \"flip\": true}}, "
                                    f"got {data!r}")
        data = dict(data or {})
        unknown = set(data) - set(KINDS)
        if unknown:
            raise AugmentationError(f"augmentation has unknown setting(s) {sorted(unknown)}; it takes "
                                    f"{', '.join(KINDS)}")
        for name, high in (("rotation", MAX_ROTATION), ("shift", MAX_SHIFT)):
            value = data.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
                raise AugmentationError(f"augmentation.{name} must be a number from 0 to {high:g}, got {value!r}")
        for name in ("flip", "invert"):
            if not isinstance(data.get(name, False), bool):
                raise AugmentationError(f"augmentation.{name} must be true or false, got {data[name]!r}")
        return cls(float(data.get("rotation", 0.0)), float(data.get("shift", 0.0)), data.get("flip", False),
                   data.get("invert", False))

    def to_dict(self) -> dict[str, Any]:
        """The settings that are on (an empty dict: no augmentation), as the spec stores them."""
        return {k: v for k, v in asdict(self).items() if v}

    @property
    def active(self) -> bool:
        return bool(self.rotation or self.shift or self.flip or self.invert)

    def only(self, kind: str) -> Augmentation:
        """These settings with every kind but `kind` off (the Train page previews each on its own)."""
        return Augmentation(**{k: (v if k == kind else type(v)()) for k, v in asdict(self).items()})

    # ------------------------------------------------------------------ the transform
    def draw(self, rng: np.random.Generator, n: int) -> Draw:
        """The random choices for n images. Only the kinds that are on take numbers from `rng`, in a
        fixed order, so turning augmentation off leaves the trainer's stream (shuffles, dropout) as
        it always was."""
        flip = rng.random(n) < 0.5 if self.flip else np.zeros(n, bool)
        angle = (np.radians(rng.uniform(-self.rotation, self.rotation, n)) if self.rotation
                 else np.zeros(n))
        shift = rng.uniform(-self.shift, self.shift, (n, 2)) if self.shift else np.zeros((n, 2))
        invert = rng.random(n) < 0.5 if self.invert else np.zeros(n, bool)
        return Draw(flip, angle, shift, invert)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A changed copy of a batch of images (N, H, W, C); x itself is left as it was."""
        if not self.active:
            return x
        return apply(x, self.draw(rng, len(x)))


def apply(x: np.ndarray, draw: Draw) -> np.ndarray:
    """Flip, then rotate and shift about the centre (bilinear, zeros brought in at the edges), then
    invert. Geometry before inversion: the corners a rotation brings in are black, the background of
    most image sets here, and an inverted image gets them inverted with the rest."""
    x = np.array(x, np.float32)
    if x.ndim != 4:
        raise AugmentationError(f"augmentation works on images (batch, height, width, channels), got an array "
                                f"of shape {x.shape}")
    x[draw.flip] = x[draw.flip, :, ::-1]
    moved = (draw.angle != 0) | (draw.shift != 0).any(axis=1)
    if moved.any():
        x[moved] = _resample(x[moved], theta(draw.angle[moved], draw.shift[moved], x.shape[1], x.shape[2]))
    x[draw.invert] = 1.0 - x[draw.invert]
    return x


def theta(angle: np.ndarray, shift: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 2, 3) maps from each output pixel to where it samples the input, in the normalised
    coordinates of torch's `affine_grid` (-1..1 across the width and the height).

    In pixels the image turns by `angle` about its centre and then moves by `shift`: an output point
    p samples R(-angle) (p - t). Normalised x and y are scaled by width/2 and height/2, hence the
    aspect ratio in the off-diagonal terms (a square image has none)."""
    cos, sin = np.cos(angle), np.sin(angle)
    aspect = height / width
    a = np.stack([np.stack([cos, sin * aspect], -1), np.stack([-sin / aspect, cos], -1)], -2)  # (N, 2, 2)
    t = 2.0 * np.asarray(shift, np.float64)  # fractions of the size -> normalised units
    b = -np.einsum("nij,nj->ni", a, t)
    return np.concatenate([a, b[:, :, None]], axis=2)


def _resample(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """torch's grid_sample(affine_grid(theta), bilinear, padding 'zeros', align_corners=False) on
    (N, H, W, C): the same sampling, so the exported script augments as Hearth does."""
    n, h, w, c = x.shape
    xs = (2.0 * np.arange(w) + 1.0) / w - 1.0
    ys = (2.0 * np.arange(h) + 1.0) / h - 1.0
    gx = theta[:, 0, 0, None, None] * xs[None, None, :] + theta[:, 0, 1, None, None] * ys[None, :, None] \
        + theta[:, 0, 2, None, None]
    gy = theta[:, 1, 0, None, None] * xs[None, None, :] + theta[:, 1, 1, None, None] * ys[None, :, None] \
        + theta[:, 1, 2, None, None]
    ix = ((gx + 1.0) * w - 1.0) / 2.0  # (N, H, W) source column, in pixels
    iy = ((gy + 1.0) * h - 1.0) / 2.0
    x0, y0 = np.floor(ix), np.floor(iy)
    flat = x.reshape(n, h * w, c)
    out = np.zeros((n, h * w, c), np.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = (1.0 - np.abs(ix - cx)) * (1.0 - np.abs(iy - cy))
            inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            index = (np.clip(cy, 0, h - 1) * w + np.clip(cx, 0, w - 1)).astype(np.int64).reshape(n, h * w, 1)
            values = np.take_along_axis(flat, index, axis=1)
            out += values * np.where(inside, weight, 0.0).reshape(n, h * w, 1)
    return out.reshape(n, h, w, c).astype(np.float32)


# The same transform for the generated PyTorch training script: torch ops only (affine_grid and
# grid_sample are torch.nn.functional), images as Hearth holds them, (batch, height, width, channels).
TORCH_SOURCE = '''
def augment_with(x, flip, angle, shift, invert):
    """Hearth's image augmentation with given choices per image: flip left-right, then rotate by
    angle (radians) and shift by (right, down) fractions of the size, then invert."""
    x = torch.where(flip[:, None, None, None], x.flip(2), x)
    n, h, w, c = x.shape
    cos, sin = torch.cos(angle), torch.sin(angle)
    aspect = h / w
    a = torch.stack([torch.stack([cos, sin * aspect], -1), torch.stack([-sin / aspect, cos], -1)], -2)
    b = -(a @ (2.0 * shift)[:, :, None])
    theta = torch.cat([a, b], dim=2).float()
    grid = nn.functional.affine_grid(theta, [n, c, h, w], align_corners=False)
    moved = nn.functional.grid_sample(x.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="zeros",
                                      align_corners=False).permute(0, 2, 3, 1)
    x = torch.where(((angle != 0) | (shift != 0).any(1))[:, None, None, None], moved, x)
    return torch.where(invert[:, None, None, None], 1.0 - x, x)


def augment(x):
    """Random changes to a batch of training images, drawn as Hearth draws them (AUGMENTATION)."""
    n = x.shape[0]
    zero = torch.zeros(n, dtype=torch.float64)
    rotation, shift = AUGMENTATION.get("rotation", 0.0), AUGMENTATION.get("shift", 0.0)
    flip = torch.rand(n) < 0.5 if AUGMENTATION.get("flip") else torch.zeros(n, dtype=torch.bool)
    angle = torch.deg2rad((torch.rand(n, dtype=torch.float64) * 2 - 1) * rotation) if rotation else zero
    moves = (torch.rand(n, 2, dtype=torch.float64) * 2 - 1) * shift if shift else torch.zeros(n, 2, dtype=torch.float64)
    invert = torch.rand(n) < 0.5 if AUGMENTATION.get("invert") else torch.zeros(n, dtype=torch.bool)
    return augment_with(x, flip, angle, moves, invert)
'''
