"""The public surface, pinned: changing it must be a deliberate edit of this file."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import asgiserver.proxyproto as proxyproto
from asgiserver.proxyproto import ProxyHeader, ProxyProtocolError, SSLInfo

PUBLIC = [
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
ALIASES = ("Address", "Command", "Family", "Transport")


def test_all() -> None:
    assert proxyproto.__all__ == PUBLIC
    for name in PUBLIC:
        value = getattr(proxyproto, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("asgiserver.proxyproto._"), name


def test_no_other_public_names() -> None:
    public = {n for n in vars(proxyproto) if not n.startswith("_")}
    assert public == set(PUBLIC)


def test_constants() -> None:
    assert proxyproto.V1_SIGNATURE == b"PROXY "
    assert bytes.fromhex("0d0a0d0a000d0a515549540a") == proxyproto.V2_SIGNATURE
    assert (proxyproto.V1_MAX_LENGTH, proxyproto.MAX_LENGTH) == (107, 4096)
    numbers = [getattr(proxyproto, n) for n in PUBLIC if n.startswith("PP2_")]
    assert numbers == [1, 2, 3, 4, 5, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30, 1, 2, 4]


def test_aliases() -> None:
    assert typing.get_args(proxyproto.Command) == ("proxy", "local")
    assert typing.get_args(proxyproto.Family) == ("inet", "inet6", "unix", "unspec")
    assert typing.get_args(proxyproto.Transport) == ("stream", "dgram", "unspec")


def test_signatures() -> None:
    expected = {
        "parse": (
            "(data: 'bytes | bytearray | memoryview', *, max_length: 'int' = 4096)"
            " -> 'ProxyHeader | None'"
        ),
        "encode_v1": (
            "(family: 'Family', source: 'Address' = None, destination: 'Address' = None) -> 'bytes'"
        ),
        "encode_v2": (
            "(command: 'Command' = 'proxy', family: 'Family' = 'unspec', "
            "transport: 'Transport' = 'stream', source: 'Address' = None, "
            "destination: 'Address' = None, tlvs: 'Iterable[tuple[int, bytes]]' = (), *, "
            "checksum: 'bool' = False) -> 'bytes'"
        ),
        "tlv": "(kind: 'int', value: 'bytes') -> 'bytes'",
    }
    for name, signature in expected.items():
        assert str(inspect.signature(getattr(proxyproto, name))) == signature, name


def fields(cls: type) -> list[tuple[str, object]]:
    return [(f.name, f.type) for f in dataclasses.fields(cls)]


def test_header_fields() -> None:
    assert fields(ProxyHeader) == [
        ("length", "int"),
        ("version", "Literal[1, 2]"),
        ("command", "Command"),
        ("family", "Family"),
        ("transport", "Transport"),
        ("source", "Address"),
        ("destination", "Address"),
        ("tlvs", "tuple[tuple[int, bytes], ...]"),
        ("alpn", "bytes | None"),
        ("authority", "str | None"),
        ("ssl", "SSLInfo | None"),
        ("unique_id", "bytes | None"),
        ("netns", "str | None"),
    ]
    assert fields(SSLInfo) == [
        ("client", "int"),
        ("verify", "int"),
        ("version", "str | None"),
        ("cn", "str | None"),
        ("cipher", "str | None"),
        ("sig_alg", "str | None"),
        ("key_alg", "str | None"),
    ]
    for cls, properties in (
        (ProxyHeader, ("relayed", "client_tls")),
        (SSLInfo, ("client_tls", "client_cert")),
    ):
        for name in properties:
            assert isinstance(getattr(cls, name), property), name


@pytest.mark.parametrize("cls", [ProxyHeader, SSLInfo])
def test_frozen_slotted(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in vars(cls)


def test_error() -> None:
    assert issubclass(ProxyProtocolError, ValueError)
    assert str(ProxyProtocolError("m")) == "m"


@pytest.mark.parametrize("bad", [0, 231, True, 1.5])
def test_max_length_is_checked(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        proxyproto.parse(b"PROXY ", max_length=bad)  # type: ignore[arg-type]
    assert not isinstance(caught.value, ProxyProtocolError)
