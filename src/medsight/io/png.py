"""Fast PNG encoding of 8-bit greyscale, RGB and RGBA arrays, for previews and rendered frames.

Pillow chooses a filter for every row by trying all five (as libpng does), which costs
more than the compression itself at zlib level 1: a 512 x 512 RGB heatmap preview took
16 ms to encode on the 2-core CI machine. Every row here takes the "Up" filter (the
difference from the row above, one vectorised subtraction), which suits photographs and
radiographs, whose neighbouring rows differ little: the same preview takes 8 ms and is a
few per cent smaller. The output is a plain, valid PNG (PNG 2nd edition, ISO/IEC 15948):
signature, ``IHDR``, one ``IDAT``, ``IEND``; bit depth 8, no interlacing.

A large image is deflated in parts on several cores, as pigz does: each part is a raw
deflate stream primed with the 32 KiB before it (so it compresses as well as one stream
would) and ended on a byte boundary by a sync flush, the parts are joined, and one zlib
header and the Adler-32 of the whole wrap them. zlib releases the GIL while it deflates,
so threads suffice: the 512 px preview's 6.0 ms of deflate take 3.5 on two cores.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.typing import NDArray

from medsight.errors import UsageError
from medsight.parallel import cores, run_parts

__all__ = ["encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: greyscale, truecolour, truecolour with alpha
_UP = 2  # PNG filter type "Up"
_HISTORY = 32768  # deflate's window: what a part may refer back to
_MIN_PART = 256 * 1024  # bytes; below this a thread costs more than it saves
_MAX_PARTS = 4


def encode_png(pixels: NDArray[np.uint8], *, level: int = 1) -> bytes:
    """PNG bytes of an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array.

    Args:
        pixels: greyscale, RGB or RGBA values, at least one row and one column.
        level: zlib compression level, 0 (stored) to 9; 1 trades a little size for speed.

    Raises:
        UsageError: not such an array, or ``level`` outside 0..9.
    """
    channels = 1 if pixels.ndim == 2 else int(pixels.shape[2]) if pixels.ndim == 3 else 0
    if pixels.dtype != np.uint8 or channels not in _COLOUR_TYPE or 0 in pixels.shape:
        shape = f"{pixels.shape} {pixels.dtype}"
        raise UsageError(f"a PNG is written from (H, W), (H, W, 3) or (H, W, 4) uint8, got {shape}")
    if not 0 <= level <= 9:
        raise UsageError(f"zlib level {level} is not in 0..9")
    rows, columns = int(pixels.shape[0]), int(pixels.shape[1])
    scanlines = np.ascontiguousarray(pixels).reshape(rows, columns * channels)
    filtered = np.empty((rows, columns * channels + 1), dtype=np.uint8)
    filtered[:, 0] = _UP
    filtered[0, 1:] = scanlines[0]  # the first row's "row above" is zeros
    np.subtract(scanlines[1:], scanlines[:-1], out=filtered[1:, 1:])  # uint8 wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", columns, rows, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", _deflate(filtered.data.cast("B"), level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _deflate(data: memoryview, level: int) -> bytes:
    """The zlib stream of ``data`` (RFC 1950), its parts deflated at once on several cores."""
    parts = min(_MAX_PARTS, cores(), len(data) // _MIN_PART)
    if parts < 2:
        return zlib.compress(data, level)
    cuts = [len(data) * i // parts for i in range(parts + 1)]
    raw: list[bytes] = [b""] * parts

    def deflate_part(i: int) -> None:
        start, end = cuts[i], cuts[i + 1]
        # Raw deflate (the header is written once, below), primed with what precedes the part.
        primer = data[max(0, start - _HISTORY) : start]
        stream = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=primer)
        last = i == parts - 1
        raw[i] = stream.compress(data[start:end]) + stream.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    run_parts(deflate_part, parts)
    return _zlib_header(level) + b"".join(raw) + struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)


def _zlib_header(level: int) -> bytes:
    # CMF: deflate with a 32 KiB window; FLG: the level class, and check bits that make the
    # two bytes a multiple of 31 (RFC 1950, 2.2), as zlib.compress writes them.
    cmf = 0x78
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += (31 - (cmf * 256 + flg) % 31) % 31
    return bytes((cmf, flg))
