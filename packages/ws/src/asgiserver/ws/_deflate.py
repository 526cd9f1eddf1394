"""permessage-deflate (RFC 7692): negotiation on both sides and the per-message codec."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Final, final

from ._errors import MessageTooBig, RemoteProtocolError

__all__ = [
    "Compressor",
    "DeflateOptions",
    "Decompressor",
    "PerMessageDeflate",
    "client_offer",
    "client_accept",
    "negotiate",
]

NAME: Final = "permessage-deflate"
# §7.2.1: every compressed message ends with this empty stored block, which the sender removes
# and the receiver puts back (§7.2.2).
TAIL: Final = b"\x00\x00\xff\xff"
# What may follow a BFINAL block: the rest of an empty stored block, whose 3-bit header either
# fitted in the final block's last byte or took a byte of its own.
_AFTER_FINAL: Final = (b"", TAIL, b"\x00" + TAIL)
# §7.1.2.1/§7.1.2.2: 1*DIGIT without leading zero, and 8..15.
_BITS_RE: Final = re.compile(r"[89]|1[0-5]")


def _check(obj: DeflateOptions | PerMessageDeflate) -> None:
    if not 9 <= obj.server_max_window_bits <= 15:
        raise ValueError("server_max_window_bits must be 9..15 (zlib cannot compress with 8)")
    if not 8 <= obj.client_max_window_bits <= 15:
        raise ValueError("client_max_window_bits must be 8..15")
    if not -1 <= obj.compression_level <= 9:
        raise ValueError("compression_level must be -1..9")
    if not 1 <= obj.mem_level <= 9:
        raise ValueError("mem_level must be 1..9")


@final
@dataclass(frozen=True, slots=True)
class DeflateOptions:
    """What the server is willing to agree to, given to :func:`accept`; or, given to
    :func:`open_handshake`, what a client offers (the server's windows and context takeover are
    requested, ours are promised; ``client_max_window_bits`` is the largest window we compress
    with, and the server may lower it).

    - ``server_no_context_takeover``: compress each message on its own even when the client did not
      ask for it (§7.1.1.1; saves nothing on memory, since zlib keeps its window allocated).
    - ``client_no_context_takeover``: ask the client to compress each message on its own (§7.1.1.2),
      which lets us drop the inflate window between messages.
    - ``server_max_window_bits``: the largest LZ77 window we compress with, 9..15 (zlib cannot
      compress raw deflate with 8). A client's smaller request is honoured; a request of 8 declines
      that offer.
    - ``client_max_window_bits``: the largest window we let the client use, 8..15. Below 15, offers
      without ``client_max_window_bits`` are declined, because we could not hold the client to it.
    - ``compression_level`` (0..9, or -1 for zlib's default) and ``mem_level`` (1..9): zlib tuning
      for outgoing messages. Compressor memory is about ``2**(server_max_window_bits + 2) +
      2**(mem_level + 9)`` bytes per connection; the inflate window is
      ``2**client_max_window_bits``.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    compression_level: int = 6
    mem_level: int = 8

    def __post_init__(self) -> None:
        _check(self)


@final
@dataclass(frozen=True, slots=True)
class PerMessageDeflate:
    """The agreed permessage-deflate parameters; pass it to ``ServerConnection(extensions=...)``.

    ``server_max_window_bits`` is what we compress with (9..15), ``client_max_window_bits`` what the
    client may compress with (8..15).
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    compression_level: int = 6
    mem_level: int = 8

    def __post_init__(self) -> None:
        _check(self)


def negotiate(
    params: tuple[tuple[str, str | None], ...], options: DeflateOptions
) -> tuple[PerMessageDeflate, bytes] | None:
    """Accept one permessage-deflate offer: the agreement and the response element, or ``None``.

    §7: decline (not fail) an offer with an unknown parameter, a bad value, or a duplicate.
    """
    seen: set[str] = set()
    server_nct = client_nct = False
    server_bits: int | None = None
    client_bits: int | bool = False  # False: absent, True: present without a value
    for name, value in params:
        if name in seen:
            return None
        seen.add(name)
        if name == "server_no_context_takeover" or name == "client_no_context_takeover":
            if value is not None:  # §7.1.1: these parameters have no value.
                return None
            if name[0] == "s":
                server_nct = True
            else:
                client_nct = True
        elif name == "server_max_window_bits":
            if value is None or not _BITS_RE.fullmatch(value):  # §7.1.2.1: value required
                return None
            server_bits = int(value)
        elif name == "client_max_window_bits":
            if value is None:  # §7.1.2.2: the value is optional in an offer
                client_bits = True
            elif _BITS_RE.fullmatch(value):
                client_bits = int(value)
            else:
                return None
        else:
            return None

    response = [NAME]
    # §7.1.1.1: honour the client's request, or impose it ourselves.
    server_nct = server_nct or options.server_no_context_takeover
    if server_nct:
        response.append("server_no_context_takeover")
    # §7.1.1.2: taking up the client's hint (or asking ourselves) lets us reset the inflater.
    client_nct = client_nct or options.client_no_context_takeover
    if client_nct:
        response.append("client_no_context_takeover")
    # §7.1.2.1: accept with the same or a smaller value; decline what zlib cannot do (8).
    ours = options.server_max_window_bits
    if server_bits is not None:
        if server_bits < 9:
            return None
        ours = min(ours, server_bits)
        response.append(f"server_max_window_bits={ours}")
    # §7.1.2.2: we may only limit the client when it offered the parameter; the response value
    # is binding (the offer's value is a hint), so we always state it when below 15.
    theirs = options.client_max_window_bits
    if client_bits is False:
        if theirs < 15:
            return None
    else:
        if client_bits is not True:
            theirs = min(theirs, client_bits)
        if theirs < 15:
            response.append(f"client_max_window_bits={theirs}")
    agreed = PerMessageDeflate(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        server_max_window_bits=ours,
        client_max_window_bits=theirs,
        compression_level=options.compression_level,
        mem_level=options.mem_level,
    )
    return agreed, "; ".join(response).encode("ascii")


def client_offer(options: DeflateOptions) -> bytes:
    """A client's Sec-WebSocket-Extensions element for ``options`` (RFC 7692 §7.1).

    ``client_max_window_bits`` is always offered, with a value below 15, so the server may
    limit our window; the other parameters only when they ask for something.
    """
    params = [NAME]
    if options.server_no_context_takeover:
        params.append("server_no_context_takeover")
    if options.client_no_context_takeover:
        params.append("client_no_context_takeover")
    if options.server_max_window_bits < 15:
        params.append(f"server_max_window_bits={options.server_max_window_bits}")
    bits = options.client_max_window_bits
    params.append("client_max_window_bits" if bits == 15 else f"client_max_window_bits={bits}")
    return "; ".join(params).encode("ascii")


def client_accept(
    params: tuple[tuple[str, str | None], ...], options: DeflateOptions
) -> PerMessageDeflate | str:
    """Check the server's permessage-deflate response to our :func:`client_offer`: the
    agreement, or why the client must fail the connection (RFC 7692 §5, §7.1)."""
    seen: set[str] = set()
    server_nct = client_nct = False
    server_bits = 15
    client_bits = options.client_max_window_bits
    for name, value in params:
        if name in seen:
            return f"{name} repeated in the permessage-deflate response (RFC 7692 §7)"
        seen.add(name)
        if name == "server_no_context_takeover" or name == "client_no_context_takeover":
            if value is not None:
                return f"{name} takes no value (RFC 7692 §7.1.1)"
            if name[0] == "s":
                server_nct = True
            else:
                client_nct = True
        elif name == "server_max_window_bits" or name == "client_max_window_bits":
            if value is None or not _BITS_RE.fullmatch(value):
                return f"invalid {name} in the response (RFC 7692 §7.1.2)"
            if name[0] == "s":
                server_bits = int(value)
            else:
                client_bits = int(value)
        else:
            return f"unknown parameter {name} in the response (RFC 7692 §7)"
    # §7.1.1.1 / §7.1.2.1: what we asked of the server must be granted, never exceeded.
    if options.server_no_context_takeover and not server_nct:
        return "server_no_context_takeover was asked for and not granted (RFC 7692 §7.1.1.1)"
    if server_bits > options.server_max_window_bits:
        return "server_max_window_bits above the offer (RFC 7692 §7.1.2.1)"
    # §7.1.2.2: the server may lower our window, never raise it.
    if client_bits > options.client_max_window_bits:
        return "client_max_window_bits above the offer (RFC 7692 §7.1.2.2)"
    if client_bits < 9:
        return "client_max_window_bits=8: zlib cannot compress with an 8-bit window"
    return PerMessageDeflate(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct or options.client_no_context_takeover,
        # An 8-bit server window is inflated with 9, which decodes it (see Decompressor).
        server_max_window_bits=max(9, server_bits),
        client_max_window_bits=client_bits,
        compression_level=options.compression_level,
        mem_level=options.mem_level,
    )


class Compressor:
    """Compresses outgoing messages (§7.2.1), with the window agreed for our side."""

    __slots__ = ("_compress", "_flush", "_mode")

    def __init__(self, params: PerMessageDeflate, client: bool = False) -> None:
        bits = params.client_max_window_bits if client else params.server_max_window_bits
        nct = params.client_no_context_takeover if client else params.server_no_context_takeover
        c = zlib.compressobj(params.compression_level, zlib.DEFLATED, -bits, params.mem_level)
        self._compress = c.compress
        self._flush = c.flush
        # §7.1.1.1: a full flush resets the compressor's state, so the next message cannot refer
        # back; cheaper than a new compressobj per message (3 µs against 20 µs).
        self._mode = zlib.Z_FULL_FLUSH if nct else zlib.Z_SYNC_FLUSH

    def compress(self, data: bytes) -> bytes:
        out = self._compress(data) + self._flush(self._mode)
        # §7.2.1: remove the trailing 0x00 0x00 0xff 0xff; a sync flush always ends with it.
        return out[:-4] if out.endswith(TAIL) else out


class Decompressor:
    """Inflates incoming messages with a bound on the output (§7.2.2)."""

    __slots__ = ("_d", "_reset", "_wbits")

    def __init__(self, params: PerMessageDeflate, client: bool = False) -> None:
        # The peer's side of the agreement. A zlib peer asked for 8 compresses with a 9-bit
        # window (zlib cannot do 8), which an inflater set to 8 may refuse depending on the zlib
        # version; 9 decodes both.
        bits = params.server_max_window_bits if client else params.client_max_window_bits
        self._wbits = -max(9, bits)
        self._reset = (
            params.server_no_context_takeover if client else params.client_no_context_takeover
        )
        self._d = zlib.decompressobj(self._wbits)

    def _inflate(self, data: bytes, room: int) -> bytes:
        # max_length bounds what zlib produces (and so allocates): a bomb fails with 1009 as soon
        # as it passes the limit, without inflating the rest.
        try:
            out = self._d.decompress(data, room + 1)
        except zlib.error as exc:
            raise RemoteProtocolError(f"invalid compressed data: {exc}", close_code=1007) from None
        if len(out) > room:
            raise MessageTooBig("message exceeds max_message_bytes once decompressed")
        return out

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate one frame's payload; at most ``room`` bytes of output may come out."""
        out = self._inflate(data, room)
        d = self._d
        if d.eof and len(d.unused_data) > 1:
            # zlib keeps whatever follows a final block; refuse it before it piles up.
            raise RemoteProtocolError("data after the final deflate block", close_code=1007)
        return out

    def finish(self, room: int) -> bytes:
        """End of message: put the tail back (§7.2.2) and drop the context if agreed."""
        out = self._inflate(TAIL, room)
        d = self._d
        if d.eof:
            # §7.2.3.4: a sender may end with a BFINAL block; the empty stored block appended
            # after it (§7.2.1) is all that may follow. The stream is over, so the next message
            # starts from an empty window.
            if d.unused_data not in _AFTER_FINAL:
                raise RemoteProtocolError("data after the final deflate block", close_code=1007)
            self._d = zlib.decompressobj(self._wbits)
        elif self._reset:
            # §7.1.1.2: the client promised not to refer back; forgetting the window frees memory.
            self._d = zlib.decompressobj(self._wbits)
        return out
