"""Sans-IO PROXY protocol (HAProxy's, versions 1 and 2): the header a TCP proxy sends first.

`parse(data)` returns a `ProxyHeader` (with `length`, the bytes it took), None while more bytes are
needed, or raises `ProxyProtocolError`. The encoders build headers, for senders and tests.
"""

from ._errors import ProxyProtocolError
from ._header import (
    PP2_CLIENT_CERT_CONN,
    PP2_CLIENT_CERT_SESS,
    PP2_CLIENT_SSL,
    PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_CN,
    PP2_SUBTYPE_SSL_KEY_ALG,
    PP2_SUBTYPE_SSL_SIG_ALG,
    PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_ALPN,
    PP2_TYPE_AUTHORITY,
    PP2_TYPE_CRC32C,
    PP2_TYPE_NETNS,
    PP2_TYPE_NOOP,
    PP2_TYPE_SSL,
    PP2_TYPE_UNIQUE_ID,
    V1_MAX_LENGTH,
    V1_SIGNATURE,
    V2_SIGNATURE,
    Address,
    Command,
    Family,
    ProxyHeader,
    SSLInfo,
    Transport,
)
from ._parser import MAX_LENGTH, parse
from ._writer import encode_ssl, encode_v1, encode_v2, ssl_tlv, tlv

__all__ = [
    "parse",
    "ProxyHeader",
    "SSLInfo",
    "ProxyProtocolError",
    "MAX_LENGTH",
    "encode_v1",
    "encode_v2",
    "encode_ssl",
    "ssl_tlv",
    "tlv",
    "Address",
    "Command",
    "Family",
    "Transport",
    "V1_SIGNATURE",
    "V1_MAX_LENGTH",
    "V2_SIGNATURE",
    "PP2_TYPE_ALPN",
    "PP2_TYPE_AUTHORITY",
    "PP2_TYPE_CRC32C",
    "PP2_TYPE_NOOP",
    "PP2_TYPE_UNIQUE_ID",
    "PP2_TYPE_SSL",
    "PP2_SUBTYPE_SSL_VERSION",
    "PP2_SUBTYPE_SSL_CN",
    "PP2_SUBTYPE_SSL_CIPHER",
    "PP2_SUBTYPE_SSL_SIG_ALG",
    "PP2_SUBTYPE_SSL_KEY_ALG",
    "PP2_TYPE_NETNS",
    "PP2_CLIENT_SSL",
    "PP2_CLIENT_CERT_CONN",
    "PP2_CLIENT_CERT_SESS",
]
