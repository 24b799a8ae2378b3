"""Go's encoding/json texts, which Toxiproxy's error bodies quote and clients compare verbatim."""

from __future__ import annotations

import pytest

from pytest_ipc.toxiproxy.collection import PROXY_BODY, toxic_attributes_body
from pytest_ipc.toxiproxy.gojson import Float32, GoJsonError, decode, encode, go_float, parse


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "EOF"),
        (b" \r\n\t", "EOF"),
        (b'{"name":', "unexpected EOF"),
        (b"[1, 2", "unexpected EOF"),
        (b'"open', "unexpected EOF"),
        (b"tru", "unexpected EOF"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"{x", "invalid character 'x' looking for beginning of object key string"),
        (b'{"a",', "invalid character ',' after object key"),
        (b'{"a":1 "b"', "invalid character '\"' after object key:value pair"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (b"-a", "invalid character 'a' in numeric literal"),
        (b"1.e5", "invalid character 'e' after decimal point in numeric literal"),
        (b"[1e+]", "invalid character ']' in exponent of numeric literal"),
        (b"trUe", "invalid character 'U' in literal true (expecting 'u')"),
        (b"nul!", "invalid character '!' in literal null (expecting 'l')"),
        (b'"a\nb"', "invalid character '\\n' in string literal"),
        (b'"\\q"', "invalid character 'q' in string escape code"),
        (b'"\\u00zz"', "invalid character 'z' in \\u hexadecimal character escape"),
        (b"'single'", "invalid character '\\'' looking for beginning of value"),
        (b"\x00", "invalid character '\\x00' looking for beginning of value"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"[" * 10001, "invalid character '[' exceeded max depth"),
    ],
)
def test_syntax_errors_read_as_go_writes_them(body: bytes, message: str) -> None:
    with pytest.raises(GoJsonError) as caught:
        parse(body)
    assert str(caught.value) == message


def test_the_stream_decoder_reads_the_first_value_and_ignores_the_rest() -> None:
    assert parse(b'{"a":1} trailing garbage') == [("a", "1")]
    assert parse(b"12x") == "12"
    assert parse(b'"\\ud83d\\ude00 \\ud800 \\u00e9"') == "\U0001f600 \ufffd \u00e9"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "json: cannot unmarshal array into Go value of type toxiproxy.Proxy"),
        (b'{"name":7}', "json: cannot unmarshal number into Go struct field Proxy.name of type string"),
        (b'{"enabled":"yes"}', "json: cannot unmarshal string into Go struct field Proxy.enabled of type bool"),
        (b'{"ENABLED":{}}', "json: cannot unmarshal object into Go struct field Proxy.enabled of type bool"),
        (b'{"logger":5}', "json: cannot unmarshal number into Go struct field Proxy.Logger of type zerolog.Logger"),
        # The first type error wins, in document order.
        (b'{"listen":true,"name":1}', "json: cannot unmarshal bool into Go struct field Proxy.listen of type string"),
    ],
)
def test_type_errors_name_the_go_struct_field(body: bytes, message: str) -> None:
    with pytest.raises(GoJsonError) as caught:
        decode(body, PROXY_BODY)
    assert str(caught.value) == message


def test_keys_match_exactly_then_case_insensitively_and_unknown_keys_are_ignored() -> None:
    body = b'{"NAME":"a","name":"b","UpStream":"u","listen":null,"enabled":null,"other":[{"x":1}]}'
    assert decode(body, PROXY_BODY) == {"name": "b", "upstream": "u"}


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (b'{"latency":1000.0}', "number 1000.0 into Go struct field LatencyToxic.attributes.latency of type int64"),
        (b'{"jitter":1e3}', "number 1e3 into Go struct field LatencyToxic.attributes.jitter of type int64"),
        (
            b'{"latency":9223372036854775808}',
            "number 9223372036854775808 into Go struct field LatencyToxic.attributes.latency of type int64",
        ),
        (b'{"latency":"5"}', "string into Go struct field LatencyToxic.attributes.latency of type int64"),
        (b"[1]", "array into Go struct field .attributes of type toxics.LatencyToxic"),
    ],
)
def test_integer_attributes_are_parsed_strictly(attributes: bytes, message: str) -> None:
    with pytest.raises(GoJsonError) as caught:
        decode(b'{"attributes":' + attributes + b"}", toxic_attributes_body("latency"))
    assert str(caught.value) == f"json: cannot unmarshal {message}"


def test_negative_and_extreme_integers_are_accepted_as_go_accepts_them() -> None:
    body = b'{"attributes":{"latency":-9223372036854775808,"jitter":-0}}'
    assert decode(body, toxic_attributes_body("latency")) == {"attributes": {"latency": -(1 << 63), "jitter": 0}}


def test_encoding_matches_go_marshal() -> None:
    assert encode({"b": 1, "a": [True, None, "<&>\u2028"]}) == b'{"b":1,"a":[true,null,"\\u003c\\u0026\\u003e\\u2028"]}'
    assert encode(Float32(0.1)) == b"0.1"  # float32 0.1 is 0.100000001490116...; Go prints it short
    assert encode(Float32(1.0)) == b"1"


@pytest.mark.parametrize(
    ("number", "bits", "text"),
    [
        (1.0, 64, "1"),
        (0.5, 32, "0.5"),
        (-2.5, 64, "-2.5"),
        (1e21, 64, "1e+21"),
        (1e-7, 64, "1e-7"),
        (123456789.0, 32, "123456790"),
        (0.000001, 64, "0.000001"),
        (1e20, 64, "100000000000000000000"),
    ],
)
def test_floats_use_gos_shortest_format(number: float, bits: int, text: str) -> None:
    assert go_float(number, bits=bits) == text
