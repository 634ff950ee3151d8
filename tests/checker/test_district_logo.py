"""district-logo: perceptual match robust to resize, 10% crop, grayscale/recolor, JPEG."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from checker import ImageInput, InputError, Post, check
from checker.imagematch import NotAnImage
from checker.policy import DEFAULT_POLICY_DIR

LOGO = Image.open(DEFAULT_POLICY_DIR / "logos" / "region14-shield.png").convert("RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def crop(img: Image.Image, left: float, t: float, r: float, b: float) -> Image.Image:
    w, h = img.size
    return img.crop((int(w * left), int(h * t), int(w * (1 - r)), int(h * (1 - b))))


def hue_shift(img: Image.Image, deg: int) -> Image.Image:
    hsv = img.convert("HSV")
    h, s, v = hsv.split()
    h = h.point(lambda x: (x + deg * 255 // 360) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


VARIANTS = {
    "original": lambda: encode(LOGO),
    "small": lambda: encode(LOGO.resize((96, 96))),
    "large-nonsquare": lambda: encode(LOGO.resize((900, 700))),
    "crop-10-left-top": lambda: encode(crop(LOGO, 0.1, 0.1, 0, 0)),
    "crop-7-right": lambda: encode(crop(LOGO, 0, 0, 0.07, 0)),
    "crop-10-bottom": lambda: encode(crop(LOGO, 0, 0, 0, 0.1)),
    "crop-5-all": lambda: encode(crop(LOGO, 0.05, 0.05, 0.05, 0.05)),
    "grayscale": lambda: encode(ImageOps.grayscale(LOGO)),
    "hue-120": lambda: encode(hue_shift(LOGO, 120)),
    "hue-200": lambda: encode(hue_shift(LOGO, 200)),
    "sepia-tint": lambda: encode(ImageOps.colorize(ImageOps.grayscale(LOGO), "#3b1f00", "#ffe9c4")),
    "jpeg-q20": lambda: encode(LOGO, "JPEG", quality=20),
    "jpeg-small-gray-crop": lambda: encode(ImageOps.grayscale(crop(LOGO, 0.08, 0, 0, 0.05)).resize((200, 180)), "JPEG", quality=35),
    "brighter": lambda: encode(ImageEnhance.Brightness(LOGO).enhance(1.3)),
    "blurred": lambda: encode(LOGO.filter(ImageFilter.GaussianBlur(2))),
}


def unrelated(seed: int) -> bytes:
    """Procedural stand-ins for photos: gradients, shapes, noise, text."""
    rng = random.Random(seed)
    img = Image.new("RGB", (400, 300), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 25)):
        x, y = rng.randrange(400), rng.randrange(300)
        box = (x, y, x + rng.randint(10, 200), y + rng.randint(10, 150))
        fill = tuple(rng.randrange(256) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=fill)
    if seed % 3 == 0:
        img = img.filter(ImageFilter.GaussianBlur(rng.randint(1, 6)))
    if seed % 4 == 0:
        d.text((20, 20), "Fall festival " * 3, fill=(0, 0, 0))
    return encode(img, "JPEG", quality=80)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_logo_variants_match(policy, name):
    v = check(Post(text="", account="personal", images=(ImageInput(f"{name}.png", VARIANTS[name]()),)), policy)
    assert "district-logo" in v.fired, name
    f = next(f for f in v.findings if f.rule == "district-logo")
    assert f.clause == "P3" and f.image == f"{name}.png"


@pytest.mark.parametrize("seed", range(40))
def test_unrelated_images_do_not_match(policy, seed):
    v = check(Post(text="", account="personal", images=(ImageInput("photo.jpg", unrelated(seed)),)), policy)
    assert "district-logo" not in v.fired


def test_inverted_colours_and_other_shield_shapes(policy):
    """A plain navy shield without the logo's marks is not the logo."""
    img = Image.new("RGB", (512, 512), "white")
    ImageDraw.Draw(img).polygon([(56, 40), (456, 40), (456, 260), (256, 480), (56, 260)], fill=(18, 38, 92))
    v = check(Post(text="", account="personal", images=(ImageInput("shield.png", encode(img)),)), policy)
    assert "district-logo" not in v.fired


def test_sponsored_account_may_use_logo(policy):
    v = check(Post(text="", account="sponsored", images=(ImageInput("l.png", encode(LOGO)),)), policy)
    assert "district-logo" not in v.fired


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"\x89PNG\r\n\x1a\n" + b"\0" * 50, b"hello"])
def test_not_an_image_raises_clearly(policy, data):
    with pytest.raises(NotAnImage):
        check(Post(text="", account="personal", images=(ImageInput("x.png", data),)), policy)
    assert issubclass(NotAnImage, ValueError) and not issubclass(NotAnImage, InputError)
