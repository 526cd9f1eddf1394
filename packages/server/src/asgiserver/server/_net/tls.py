"""The ASGI TLS extension (`scope["extensions"]["tls"]`, asgiref specs/tls.rst, version 0.2).

Given only on TLS connections. `server_cert` is the first certificate of `--ssl-certfile` (the one
the server presents); `client_cert_chain` is what the client sent, leaf first (PEM): the whole chain
on Python 3.13+ (`get_unverified_chain()`), the leaf alone before; `client_cert_name` is the leaf's
subject as an RFC 4514 string; `client_cert_error` is always None, because with
`--ssl-cert-reqs optional|required` a certificate that fails verification fails the handshake, and
with `none` none is asked for. `tls_version` is the protocol version number from the TLS
specifications (0x0303 for TLS 1.2, 0x0304 for 1.3, RFC 8446 §4.2.1) and `cipher_suite` the 16-bit
IANA number of the negotiated suite (OpenSSL's cipher id carries it in its low 16 bits).
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

# RFC 4514 §3: the attribute types with a short name; Python's `getpeercert()` spells them out.
RFC4514_NAMES = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}

_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


@lru_cache(maxsize=4)
def server_certificate(certfile: str) -> str | None:
    """The first certificate of a PEM file (read once per worker), or None if it has none."""
    try:
        with open(certfile, encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    start = text.find(_PEM_BEGIN)
    end = text.find(_PEM_END, start)
    if start < 0 or end < 0:
        return None
    return text[start : end + len(_PEM_END)] + "\n"


def _escape(value: str) -> str:
    """RFC 4514 §2.4: escape the special characters of an attribute value."""
    out = []
    for i, char in enumerate(value):
        if (
            char in ',+"\\<>;'
            or (char == "#" and i == 0)
            or (char == " " and i in (0, len(value) - 1))
        ):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)


def rfc4514_name(subject: Any) -> str:
    """An RFC 4514 string from the `subject` of `SSLObject.getpeercert()`: the relative
    distinguished names in reverse order (§2.1), multi-valued ones joined with '+' (§2.2)."""
    return ",".join(
        "+".join(f"{RFC4514_NAMES.get(kind, kind)}={_escape(value)}" for kind, value in rdn)
        for rdn in reversed(subject)
    )


@lru_cache(maxsize=8)
def _cipher_ids(context: ssl.SSLContext) -> dict[str, int]:
    return {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}


def cipher_suite(ssl_object: ssl.SSLObject) -> int | None:
    cipher = ssl_object.cipher()
    if cipher is None:
        return None
    return _cipher_ids(ssl_object.context).get(cipher[0])


def tls_extension(ssl_object: ssl.SSLObject, certfile: str | None) -> dict[str, Any]:
    """The `tls` extension of one TLS connection, after its handshake."""
    chain: list[str] = []
    name = None
    leaf = ssl_object.getpeercert(binary_form=True)
    if leaf:
        unverified = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
        if unverified is not None:
            # SSLObject (what asyncio and uvloop transports use) gives DER bytes, leaf first.
            chain = [
                ssl.DER_cert_to_PEM_cert(der) for der in unverified() if isinstance(der, bytes)
            ]
        if not chain:
            chain = [ssl.DER_cert_to_PEM_cert(leaf)]
        details = ssl_object.getpeercert()  # filled in only for a verified certificate
        if details:
            name = rfc4514_name(details.get("subject", ()))
    version = ssl_object.version()
    return {
        "server_cert": server_certificate(certfile) if certfile else None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(version) if version else None,
        "cipher_suite": cipher_suite(ssl_object),
    }
