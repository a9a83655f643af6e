"""Draw the ShotDesk app icon: shotdesk.svg, shotdesk-<size>.png (16…512), shotdesk.ico, shotdesk.icns.

Briefcase reads ``icon = "resources/icons/shotdesk"`` and appends ``-<size>.png``, ``.ico`` or
``.icns``. The design: a blue rounded square holding a browser window whose page is a camera
lens — "a picture of a web page". Run from anywhere: ``python resources/icons/make_icons.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
BIG = 1024
BLUE_TOP = (45, 125, 240)
BLUE_BOTTOM = (22, 72, 180)
WHITE = (255, 255, 255, 255)
LENS = (22, 72, 180, 255)
LENS_INNER = (120, 190, 255, 255)


def draw(size: int = BIG) -> Image.Image:
    s = size / 1024
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    # Background: vertical gradient inside a rounded square.
    gradient = Image.new("RGBA", (size, size))
    gd = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / max(1, size - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(BLUE_TOP, BLUE_BOTTOM, strict=True))
        gd.line([(0, y), (size, y)], fill=(*colour, 255))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([round(40 * s), round(40 * s), round(984 * s), round(984 * s)],
                                           radius=round(200 * s), fill=255)
    img.paste(gradient, (0, 0), mask)
    d = ImageDraw.Draw(img)
    # Browser window.
    x0, y0, x1, y1 = 190 * s, 250 * s, 834 * s, 770 * s
    d.rounded_rectangle([x0, y0, x1, y1], radius=round(56 * s), fill=WHITE)
    d.rectangle([x0, y0 + 110 * s, x1, y0 + 122 * s], fill=(*BLUE_BOTTOM, 255))
    for i in range(3):  # window buttons
        cx, cy, r = x0 + (70 + i * 62) * s, y0 + 56 * s, 20 * s
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(*BLUE_TOP, 255))
    # Lens in the page.
    cx, cy = 512 * s, 520 * s
    for radius, colour in ((170, LENS), (118, WHITE), (96, LENS_INNER), (46, LENS)):
        r = radius * s
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    r = 22 * s
    d.ellipse([cx + 30 * s - r, cy - 40 * s - r, cx + 30 * s + r, cy - 40 * s + r], fill=WHITE)
    return img


SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1024 1024" width="1024" height="1024">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="rgb(45,125,240)"/>
      <stop offset="1" stop-color="rgb(22,72,180)"/>
    </linearGradient>
  </defs>
  <rect x="40" y="40" width="944" height="944" rx="200" fill="url(#bg)"/>
  <rect x="190" y="250" width="644" height="520" rx="56" fill="#fff"/>
  <rect x="190" y="360" width="644" height="12" fill="rgb(22,72,180)"/>
  <circle cx="260" cy="306" r="20" fill="rgb(45,125,240)"/>
  <circle cx="322" cy="306" r="20" fill="rgb(45,125,240)"/>
  <circle cx="384" cy="306" r="20" fill="rgb(45,125,240)"/>
  <circle cx="512" cy="520" r="170" fill="rgb(22,72,180)"/>
  <circle cx="512" cy="520" r="118" fill="#fff"/>
  <circle cx="512" cy="520" r="96" fill="rgb(120,190,255)"/>
  <circle cx="512" cy="520" r="46" fill="rgb(22,72,180)"/>
  <circle cx="542" cy="480" r="22" fill="#fff"/>
</svg>
"""


def main() -> None:
    big = draw(BIG)
    (HERE / "shotdesk.svg").write_text(SVG, encoding="utf-8")
    for size in SIZES:
        big.resize((size, size), Image.Resampling.LANCZOS).save(HERE / f"shotdesk-{size}.png", optimize=True)
    big.save(HERE / "shotdesk.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(HERE / "shotdesk.icns")
    print("wrote", ", ".join(sorted(p.name for p in HERE.iterdir() if p.name.startswith("shotdesk"))))


if __name__ == "__main__":
    main()
