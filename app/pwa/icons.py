"""Draw the app's PNG icons with nothing but zlib: `python -m app.pwa.icons`.

Writes app/static/icons/icon-192.png, icon-512.png (rounded, transparent
corners) and icon-512-maskable.png (full bleed, the mark inside the 80 %
safe zone that launchers may crop to a circle). The mark is a door arch: the
lobby's entrance, where the lobby manager stands.
"""

from __future__ import annotations

import os
import struct
import zlib

GREEN = (11, 92, 74)
CREAM = (246, 244, 239)
GOLD = (214, 170, 72)
ICON_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static", "icons")


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGBA PNG from rows of width*4 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def in_arch(x: float, y: float, left: float, right: float, top: float, bottom: float) -> bool:
    """Inside a door arch: a rectangle with a half-disc on top."""
    if not (left <= x <= right and y <= bottom):
        return False
    radius = (right - left) / 2
    centre_y = top + radius
    if y >= centre_y:
        return True
    cx = (left + right) / 2
    return (x - cx) ** 2 + (y - centre_y) ** 2 <= radius**2


def draw(size: int, maskable: bool) -> bytes:
    # The mark fills 56 % of a normal icon and 44 % of a maskable one (safe zone 80 %).
    scale = 0.44 if maskable else 0.56
    corner = 0 if maskable else size * 0.18
    mark_w, mark_h = size * scale * 0.78, size * scale
    left, right = (size - mark_w) / 2, (size + mark_w) / 2
    top, bottom = (size - mark_h) / 2, (size + mark_h) / 2
    stroke = size * 0.045
    rows = []
    for py in range(size):
        row = bytearray()
        y = py + 0.5
        for px in range(size):
            x = px + 0.5
            # rounded corners of the tile (transparent outside)
            if corner:
                cx = min(max(x, corner), size - corner)
                cy = min(max(y, corner), size - corner)
                if (x - cx) ** 2 + (y - cy) ** 2 > corner**2:
                    row += b"\x00\x00\x00\x00"
                    continue
            colour = GREEN
            if in_arch(x, y, left, right, top, bottom):
                colour = CREAM
                if in_arch(x, y, left + stroke, right - stroke, top + stroke, bottom - stroke):
                    colour = GREEN
                    # the threshold: a gold step at the foot of the door
                    if y > bottom - stroke * 2.2:
                        colour = GOLD
            row += bytes(colour) + b"\xff"
        rows.append(bytes(row))
    return png(size, size, rows)


def main() -> None:
    os.makedirs(ICON_DIR, exist_ok=True)
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-512-maskable.png", 512, True),
    ):
        with open(os.path.join(ICON_DIR, name), "wb") as out:
            out.write(draw(size, maskable))
        print("wrote", os.path.join(ICON_DIR, name))


if __name__ == "__main__":
    main()
