"""Draws the integration's brand images (custom_components/fluvius/brand/).

The mark is our own: a meter dial with a needle and a spark, not Fluvius's logo.
Run with the project's venv (Pillow comes with Home Assistant) after changing it:
    .venv/bin/python scripts/brand.py
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "fluvius" / "brand"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SCALE = 4  # drawn larger, then scaled down: smooth edges without an anti-aliasing API
TEXT = "Fluvius"


@dataclass(frozen=True)
class Palette:
    dial: str
    needle: str
    spark: str
    text: str


LIGHT = Palette(dial="#0F7C74", needle="#1F2933", spark="#F5A300", text="#1F2933")
DARK = Palette(dial="#3CC4B8", needle="#F3F4F6", spark="#FFB81C", text="#F3F4F6")


def _point(cx: float, cy: float, radius: float, degrees: float) -> tuple[float, float]:
    angle = math.radians(degrees)
    return cx + radius * math.cos(angle), cy - radius * math.sin(angle)


def draw_mark(draw: ImageDraw.ImageDraw, x: float, y: float, size: float, p: Palette) -> None:
    """A gauge arc (210° to -30°), a needle at 50° and a spark below the hub."""
    cx, cy, r = x + size / 2, y + size * 0.54, size * 0.42
    width = round(size * 0.11)
    box = (cx - r, cy - r, cx + r, cy + r)
    draw.arc(box, start=150, end=390, fill=p.dial, width=width)
    for degrees in (210, 150, 90, 30, -30):  # ticks inside the arc
        outer = _point(cx, cy, r - width * 1.2, degrees)
        inner = _point(cx, cy, r - width * 1.9, degrees)
        draw.line((outer, inner), fill=p.dial, width=round(width * 0.45))
    tip = _point(cx, cy, r * 0.6, 50)
    draw.line(((cx, cy), tip), fill=p.needle, width=round(width * 0.55))
    hub = size * 0.065
    draw.ellipse((cx - hub, cy - hub, cx + hub, cy + hub), fill=p.needle)
    s = size * 0.2  # the spark, a bolt under the hub
    top = cy + size * 0.12
    bolt = [
        (cx + s * 0.15, top),
        (cx - s * 0.35, top + s * 0.62),
        (cx - s * 0.02, top + s * 0.62),
        (cx - s * 0.18, top + s * 1.15),
        (cx + s * 0.38, top + s * 0.45),
        (cx + s * 0.05, top + s * 0.45),
    ]
    draw.polygon(bolt, fill=p.spark)


def icon(size: int, palette: Palette) -> Image.Image:
    big = Image.new("RGBA", (size * SCALE, size * SCALE), (0, 0, 0, 0))
    draw_mark(ImageDraw.Draw(big), 0, 0, size * SCALE, palette)
    return big.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int, palette: Palette) -> Image.Image:
    """The mark with the name beside it, landscape as the brand guidelines ask."""
    h = height * SCALE
    font = ImageFont.truetype(FONT, round(h * 0.5))
    text_width = ImageDraw.Draw(Image.new("RGBA", (1, 1))).textlength(TEXT, font=font)
    big = Image.new("RGBA", (round(h * 1.1 + text_width + h * 0.1), h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    draw_mark(draw, 0, 0, h, palette)
    draw.text((h * 1.1, h * 0.5), TEXT, font=font, fill=palette.text, anchor="lm")
    width = round(big.width / SCALE)
    return big.resize((width, height), Image.Resampling.LANCZOS)


def main() -> None:
    BRAND.mkdir(exist_ok=True)
    for prefix, palette in (("", LIGHT), ("dark_", DARK)):
        icon(256, palette).save(BRAND / f"{prefix}icon.png", optimize=True)
        icon(512, palette).save(BRAND / f"{prefix}icon@2x.png", optimize=True)
        logo(128, palette).save(BRAND / f"{prefix}logo.png", optimize=True)
        logo(256, palette).save(BRAND / f"{prefix}logo@2x.png", optimize=True)
    print(f"wrote {len(list(BRAND.glob('*.png')))} images to {BRAND}")


if __name__ == "__main__":
    main()
