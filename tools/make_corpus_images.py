"""Generate the images of the labeled corpus (tests/corpus/images/) from the district logo.

Logo variants (resized, cropped up to 10%, grayscale, recolored, JPEG re-encoded and
combinations) must match `district-logo`; the unrelated images (procedurally drawn: gradients,
noise, shapes, text, simple scenes, other crests) must not. Nothing is downloaded. The output
is deterministic (fixed seeds), so re-running it reproduces the committed files.

Run: .venv/bin/python tools/make_corpus_images.py
"""

from __future__ import annotations

import colorsys
import io
import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parent.parent
LOGO = ROOT / "policies" / "region14" / "logos" / "region14-shield.png"
OUT = ROOT / "tests" / "corpus" / "images"
MAX_BYTES = 60_000


def crop(img: Image.Image, left: float = 0, top: float = 0, right: float = 0, bottom: float = 0) -> Image.Image:
    """Cut the given fractions off each side."""
    w, h = img.size
    return img.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))


def hue_shift(img: Image.Image, degrees: float) -> Image.Image:
    """Rotate every pixel's hue, keeping saturation and value."""
    hsv = np.array(img.convert("HSV"), dtype=np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(degrees / 360 * 255)) % 256
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def tint(img: Image.Image, color: tuple[int, int, int], amount: float = 0.4) -> Image.Image:
    """Blend the image with a flat colour (a photo filter)."""
    return Image.blend(img.convert("RGB"), Image.new("RGB", img.size, color), amount)


def jpeg(img: Image.Image, quality: int) -> bytes:
    """JPEG bytes at the given quality."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    """Optimised PNG bytes."""
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def logo_variants(logo: Image.Image) -> dict[str, bytes]:
    """Every transformed copy of the logo the checker must still recognise."""
    g = ImageOps.grayscale
    v: dict[str, Callable[[], bytes]] = {
        "logo-original.png": lambda: png(logo),
        "logo-resize-48.png": lambda: png(logo.resize((48, 48))),
        "logo-resize-96.png": lambda: png(logo.resize((96, 96))),
        "logo-resize-150.jpg": lambda: jpeg(logo.resize((150, 150)), 85),
        "logo-resize-300.png": lambda: png(logo.resize((300, 300))),
        "logo-resize-800.jpg": lambda: jpeg(logo.resize((800, 800), Image.LANCZOS), 70),
        "logo-stretch-400x300.png": lambda: png(logo.resize((400, 300))),
        "logo-crop-left10.png": lambda: png(crop(logo, left=0.10)),
        "logo-crop-top8.png": lambda: png(crop(logo, top=0.08)),
        "logo-crop-right10.png": lambda: png(crop(logo, right=0.10)),
        "logo-crop-bottom10.png": lambda: png(crop(logo, bottom=0.10)),
        "logo-crop-all5.png": lambda: png(crop(logo, 0.05, 0.05, 0.05, 0.05)),
        "logo-crop-tl7.png": lambda: png(crop(logo, left=0.07, top=0.07)),
        "logo-crop-br9.jpg": lambda: jpeg(crop(logo, right=0.09, bottom=0.09), 80),
        "logo-gray.png": lambda: png(g(logo)),
        "logo-gray-small.jpg": lambda: jpeg(g(logo).resize((120, 120)), 75),
        "logo-hue90.png": lambda: png(hue_shift(logo, 90)),
        "logo-hue180.png": lambda: png(hue_shift(logo, 180)),
        "logo-hue270.jpg": lambda: jpeg(hue_shift(logo, 270), 80),
        "logo-tint-sepia.jpg": lambda: jpeg(tint(logo, (112, 66, 20), 0.35), 80),
        "logo-tint-red.png": lambda: png(tint(logo, (200, 30, 30), 0.3)),
        "logo-bright.jpg": lambda: jpeg(ImageEnhance.Brightness(logo).enhance(1.3), 80),
        "logo-lowcontrast.jpg": lambda: jpeg(ImageEnhance.Contrast(logo).enhance(0.6), 80),
        "logo-jpeg-q10.jpg": lambda: jpeg(logo, 10),
        "logo-jpeg-q25.jpg": lambda: jpeg(logo.resize((256, 256)), 25),
        "logo-blur.jpg": lambda: jpeg(logo.filter(ImageFilter.GaussianBlur(2)), 70),
        "logo-combo-crop-gray-jpeg.jpg": lambda: jpeg(g(crop(logo, left=0.06, bottom=0.05)).resize((200, 200)), 30),
        "logo-combo-hue-crop-small.jpg": lambda: jpeg(crop(hue_shift(logo, 120), top=0.1).resize((128, 115)), 40),
        "logo-combo-tint-resize-q20.jpg": lambda: jpeg(tint(logo, (0, 120, 60), 0.3).resize((220, 220)), 20),
        "logo-pad-border.png": lambda: png(ImageOps.expand(logo.resize((240, 240)), border=12, fill=(255, 255, 255))),
        "logo-rotate3.jpg": lambda: jpeg(logo.rotate(3, fillcolor=(255, 255, 255)).resize((256, 256)), 70),
        "logo-combo-crop-right-hue-png.png": lambda: png(hue_shift(crop(logo, right=0.08, top=0.04), 200).resize((240, 250))),
    }
    return {name: make() for name, make in v.items()}


def font(size: int) -> ImageFont.ImageFont:
    """A TrueType font when the system has DejaVu, else Pillow's default."""
    for p in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        if Path(p).exists():
            return ImageFont.truetype(p, size)
    return ImageFont.load_default()


def gradient(w: int, h: int, a: tuple[int, int, int], b: tuple[int, int, int], vertical: bool = True) -> Image.Image:
    """A linear two-colour gradient."""
    t = np.linspace(0, 1, h if vertical else w)[:, None] if vertical else np.linspace(0, 1, w)[None, :]
    t = np.broadcast_to(t, (h, w))[..., None]
    arr = np.array(a)[None, None, :] * (1 - t) + np.array(b)[None, None, :] * t
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def unrelated_images() -> dict[str, bytes]:
    """Procedural pictures that share nothing with the logo (some share its colours or shape)."""
    rng = random.Random(14)
    nrng = np.random.default_rng(14)
    out: dict[str, bytes] = {}

    out["other-gradient-sunset.jpg"] = jpeg(gradient(400, 300, (250, 140, 60), (60, 20, 110)), 80)
    out["other-gradient-horizontal.png"] = png(gradient(320, 200, (20, 160, 200), (240, 240, 240), vertical=False))
    out["other-noise-gray.png"] = png(Image.fromarray(nrng.integers(0, 256, (160, 160), dtype=np.uint8), "L"))
    noise = nrng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    out["other-noise-color.jpg"] = jpeg(Image.fromarray(noise, "RGB").resize((240, 240), Image.NEAREST), 50)

    img = Image.new("RGB", (400, 400), (245, 245, 240))
    d = ImageDraw.Draw(img)
    for _ in range(25):
        x, y, r = rng.randint(0, 400), rng.randint(0, 400), rng.randint(10, 60)
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    out["other-circles.png"] = png(img)

    img = Image.new("RGB", (400, 300), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i in range(0, 400, 40):
        d.rectangle((i, 0, i + 20, 300), fill=(30, 40, 90))
    out["other-stripes-navy.png"] = png(img)

    img = Image.new("RGB", (320, 320), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i in range(8):
        for j in range(8):
            if (i + j) % 2:
                d.rectangle((i * 40, j * 40, i * 40 + 39, j * 40 + 39), fill=(0, 0, 0))
    out["other-checkerboard.png"] = png(img)

    # A school-flyer-like image with text only.
    img = Image.new("RGB", (600, 400), (255, 250, 230))
    d = ImageDraw.Draw(img)
    d.text((30, 40), "BAKE SALE", font=font(64), fill=(180, 40, 40))
    d.text((30, 150), "Saturday 9am - noon", font=font(36), fill=(40, 40, 40))
    d.text((30, 220), "Cookies  Pies  Brownies", font=font(30), fill=(60, 90, 60))
    out["other-text-flyer.jpg"] = jpeg(img, 75)

    img = Image.new("RGB", (500, 250), (20, 30, 60))
    ImageDraw.Draw(img).text((40, 80), "Welcome back!", font=font(60), fill=(230, 180, 40))
    out["other-text-navy-gold.png"] = png(img)

    # A landscape: sky, sun, hills, a tree.
    img = gradient(480, 320, (120, 180, 240), (220, 235, 250))
    d = ImageDraw.Draw(img)
    d.ellipse((360, 30, 430, 100), fill=(255, 220, 80))
    d.polygon([(0, 230), (140, 150), (300, 240), (480, 170), (480, 320), (0, 320)], fill=(70, 140, 60))
    d.rectangle((90, 190, 105, 250), fill=(100, 60, 30))
    d.ellipse((60, 130, 135, 205), fill=(40, 110, 40))
    out["other-scene-landscape.jpg"] = jpeg(img, 75)

    # A classroom-ish scene: whiteboard, desks.
    img = Image.new("RGB", (480, 320), (210, 200, 180))
    d = ImageDraw.Draw(img)
    d.rectangle((60, 30, 420, 150), fill=(250, 250, 250), outline=(90, 90, 90), width=4)
    d.text((80, 60), "2x + 3 = 11", font=font(36), fill=(20, 60, 160))
    for i in range(4):
        d.rectangle((40 + i * 110, 220, 120 + i * 110, 260), fill=(150, 100, 60))
    out["other-scene-classroom.jpg"] = jpeg(img, 75)

    # A sports field from above.
    img = Image.new("RGB", (480, 300), (40, 140, 50))
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 460, 280), outline=(255, 255, 255), width=4)
    d.line((240, 20, 240, 280), fill=(255, 255, 255), width=4)
    d.ellipse((200, 110, 280, 190), outline=(255, 255, 255), width=4)
    out["other-scene-field.png"] = png(img)

    # Another school's crest: a round badge (different shape, other colours).
    img = Image.new("RGB", (400, 400), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse((30, 30, 370, 370), fill=(120, 20, 30), outline=(200, 200, 200), width=12)
    d.text((110, 150), "WHS", font=font(80), fill=(255, 255, 255))
    out["other-crest-round.png"] = png(img)

    # A shield in the same colours but upside-down layout and no chevron: near the logo's palette.
    img = Image.new("RGB", (400, 400), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.polygon([(200, 20), (380, 200), (200, 380), (20, 200)], fill=(25, 40, 95), outline=(230, 175, 30))
    d.text((150, 170), "HC", font=font(60), fill=(230, 175, 30))
    out["other-diamond-navy-gold.png"] = png(img)

    # A pie chart, a bar chart (a teacher's data slide).
    img = Image.new("RGB", (400, 300), (255, 255, 255))
    d = ImageDraw.Draw(img)
    start = 0.0
    for frac, col in ((0.45, (66, 133, 244)), (0.3, (219, 68, 55)), (0.25, (244, 180, 0))):
        d.pieslice((50, 50, 250, 250), start, start + frac * 360, fill=col)
        start += frac * 360
    out["other-chart-pie.png"] = png(img)
    img = Image.new("RGB", (400, 300), (250, 250, 250))
    d = ImageDraw.Draw(img)
    for i, hgt in enumerate((120, 200, 90, 240, 170)):
        d.rectangle((40 + i * 70, 280 - hgt, 90 + i * 70, 280), fill=(30, 120, 180))
    out["other-chart-bars.png"] = png(img)

    # A plate of food-ish blobs, a pumpkin patch, a snowy scene.
    img = Image.new("RGB", (400, 400), (230, 220, 200))
    d = ImageDraw.Draw(img)
    d.ellipse((40, 40, 360, 360), fill=(250, 250, 250))
    d.ellipse((110, 120, 230, 220), fill=(200, 120, 40))
    d.ellipse((200, 180, 300, 290), fill=(80, 150, 60))
    out["other-scene-plate.jpg"] = jpeg(img, 75)
    img = gradient(480, 320, (170, 200, 230), (200, 190, 160))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 220, 480, 320), fill=(110, 80, 50))
    for _ in range(9):
        x, y = rng.randint(20, 440), rng.randint(225, 290)
        d.ellipse((x, y, x + 40, y + 30), fill=(235, 120, 20))
    out["other-scene-pumpkins.jpg"] = jpeg(img, 75)
    img = gradient(480, 320, (180, 190, 210), (250, 250, 255))
    d = ImageDraw.Draw(img)
    for _ in range(150):
        x, y = rng.randint(0, 480), rng.randint(0, 320)
        d.ellipse((x, y, x + 4, y + 4), fill=(255, 255, 255))
    d.polygon([(100, 320), (240, 120), (380, 320)], fill=(240, 245, 255))
    out["other-scene-snow.jpg"] = jpeg(img, 75)

    # Sine interference pattern and a spiral.
    yy, xx = np.mgrid[0:256, 0:256]
    wave = (127 + 60 * np.sin(xx / 9.0) + 60 * np.cos(yy / 13.0)).astype(np.uint8)
    out["other-waves.png"] = png(Image.fromarray(wave, "L"))
    img = Image.new("RGB", (360, 360), (255, 255, 255))
    d = ImageDraw.Draw(img)
    pts = [(180 + t * 1.4 * math.cos(t / 6), 180 + t * 1.4 * math.sin(t / 6)) for t in range(0, 120)]
    d.line(pts, fill=(120, 40, 160), width=5)
    out["other-spiral.png"] = png(img)

    # A "selfie" placeholder: face-like circles on a coloured backdrop.
    h, s, v = 0.58, 0.35, 0.9
    bg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))
    img = Image.new("RGB", (360, 420), bg)
    d = ImageDraw.Draw(img)
    d.ellipse((100, 80, 260, 260), fill=(235, 195, 160))
    d.ellipse((140, 140, 160, 160), fill=(40, 40, 40))
    d.ellipse((200, 140, 220, 160), fill=(40, 40, 40))
    d.arc((140, 170, 220, 230), 20, 160, fill=(150, 50, 50), width=4)
    d.rectangle((90, 270, 270, 420), fill=(30, 60, 120))
    out["other-scene-portrait.jpg"] = jpeg(img, 75)
    return out


def main() -> int:
    """Write every image; fail if one is too large to commit."""
    OUT.mkdir(parents=True, exist_ok=True)
    logo = Image.open(LOGO).convert("RGB")
    files = {**logo_variants(logo), **unrelated_images()}
    for name, data in files.items():
        if len(data) > MAX_BYTES:
            raise SystemExit(f"{name}: {len(data):,} bytes is more than {MAX_BYTES:,}")
        (OUT / name).write_bytes(data)
    print(f"wrote {len(files)} images to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
