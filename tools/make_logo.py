"""Draw the sample district logo shipped in policies/region14/logos/ (made for this repo).

Usage: python tools/make_logo.py OUT.png
"""

from __future__ import annotations

import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def main() -> None:
    """Draw a shield with a chevron, a lightning bolt and 'R14'."""
    size = 512
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    navy, gold = (18, 38, 92), (230, 176, 30)
    shield = [(56, 40), (456, 40), (456, 260), (256, 480), (56, 260)]
    d.polygon(shield, fill=navy)
    d.line(shield + [shield[0]], fill=gold, width=14)
    d.polygon([(70, 250), (256, 150), (442, 250), (442, 285), (256, 185), (70, 285)], fill=gold)
    d.polygon([(290, 60), (215, 150), (255, 150), (225, 230), (315, 125), (272, 125), (310, 60)], fill=gold)
    font = ImageFont.truetype(FONT, 96)
    d.text((256, 345), "R14", font=font, fill=(255, 255, 255), anchor="mm")
    d.ellipse((80, 64, 150, 134), outline=gold, width=8)
    img.save(sys.argv[1], optimize=True)


if __name__ == "__main__":
    main()
