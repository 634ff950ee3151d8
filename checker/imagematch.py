"""Perceptual matching of uploaded images against district logos.

Each logo is hashed once at policy load in many variants (crops of up to 10% on each side,
inverted), so a query costs one decode, one pHash and a vectorised Hamming distance.
"""

from __future__ import annotations

import io
import itertools
import warnings
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from checker.errors import NotAnImage as NotAnImage  # re-exported: callers catch it from here too

MAX_PIXELS = 50_000_000
CROPS = (0.0, 0.05, 0.1)
ROTATIONS = (-5, -3, 3, 5)


def open_image(data: bytes) -> Image.Image:
    """Decode bytes into an RGB image; NotAnImage on anything else (bombs included)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise NotAnImage(f"image too large ({img.width}x{img.height})")
            img.draft("L", (512, 512))  # JPEG: decode at reduced size, much faster
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as e:
        if isinstance(e, NotAnImage):
            raise
        raise NotAnImage("not a readable image") from None
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("RGB")


def _hash(img: Image.Image, channel: str = "L") -> np.ndarray:
    # "L" is luminance (robust to grayscale and tints); "V" is HSV value, which a hue
    # rotation leaves unchanged (robust to recoloring).
    g = ImageOps.grayscale(img) if channel == "L" else img.convert("HSV").getchannel("V")
    return imagehash.phash(ImageOps.autocontrast(g), hash_size=8).hash.flatten()


@dataclass(frozen=True)
class LogoMatch:
    """The closest logo and how close (0 = identical hash, 64 = opposite)."""

    logo: str
    distance: int


class LogoIndex:
    """Hashes of every logo variant, for nearest-match queries."""

    def __init__(self, logos: dict[str, bytes]) -> None:
        names: list[str] = []
        rows: list[np.ndarray] = []
        for name, data in logos.items():
            img = open_image(data)
            img.thumbnail((128, 128))  # pHash works on 32x32: hashing crops of a small copy is as good, 20x faster
            w, h = img.size
            for l_, t, r, b in itertools.product(CROPS, repeat=4):
                crop = img.crop((int(w * l_), int(h * t), int(w * (1 - r)), int(h * (1 - b))))
                for ch in ("L", "V"):
                    rows.append(_hash(crop, ch))
                    names.append(name)
                if l_ == t == r == b == 0:
                    rows.append(_hash(ImageOps.invert(crop)))
                    names.append(name)
            for deg in ROTATIONS:  # a photo of a printed logo is rarely perfectly level
                rot = img.rotate(deg, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
                for ch in ("L", "V"):
                    rows.append(_hash(rot, ch))
                    names.append(name)
        self.names = names
        self.table = np.array(rows, dtype=bool) if rows else np.zeros((0, 64), dtype=bool)

    def nearest(self, data: bytes) -> LogoMatch | None:
        """The nearest logo variant to an image (NotAnImage if it cannot be decoded)."""
        if not len(self.table):
            return None
        img = open_image(data)
        best: LogoMatch | None = None
        for ch in ("L", "V"):
            d = (self.table != _hash(img, ch)).sum(axis=1)
            i = int(d.argmin())
            if best is None or d[i] < best.distance:
                best = LogoMatch(self.names[i], int(d[i]))
        return best
