"""CRC32c (Castagnoli), for the PP2_TYPE_CRC32C TLV (section 2.2.3, RFC 4960 Appendix B)."""

from __future__ import annotations

from typing import Final


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # reflected polynomial
        table.append(crc)
    return tuple(table)


_TABLE: Final = _table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
