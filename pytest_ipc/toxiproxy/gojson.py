"""JSON the way Toxiproxy's Go server reads and writes it.

Clients compare error bodies, and Toxiproxy's are Go's `encoding/json` error texts verbatim
(`bad request body: unexpected EOF`, `json: cannot unmarshal number 1000.0 into Go struct field
LatencyToxic.attributes.latency of type int64`). Python's `json` module accepts and rejects other
things (NaN, trailing data, floats for ints) with other words, so this module re-implements the two
halves Toxiproxy relies on:

- `parse`: `json.Decoder.Decode` on a request body: the first JSON value only (trailing bytes are
  ignored, as Go's stream decoder does), `EOF` for an empty body, Go's syntax error messages;
- `decode`: unmarshalling that value into a declared Go type: keys matched exactly, then
  case-insensitively, unknown keys ignored, `null` leaving non-pointer fields alone, integers parsed
  strictly, and the first type error reported with Go's struct/field path.

`encode` writes compact JSON as Go's `json.Marshal` does (HTML-safe escapes, Go's float format).
"""

from __future__ import annotations

import json
import math
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_NESTING_DEPTH = 10000
_WHITESPACE = re.compile(rb"[ \t\r\n]*")  # Go's isSpace: no other whitespace


class GoJsonError(ValueError):
    """A decoding failure; `str(error)` is exactly what Go's `err.Error()` would say."""


class Number(str):
    """A JSON number kept as its literal text: Go parses it only once it knows the target type."""


class Object(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in order, duplicates included (the last one wins)."""


# ---------------------------------------------------------------------------------------------
# Parsing: json.Decoder.Decode


def parse(data: bytes) -> Any:
    """Read the first JSON value of `data` as Go's `json.Decoder.Decode` would, or raise GoJsonError."""
    return _Parser(data).parse()


def _quote_char(byte: int) -> str:
    """Go's scanner quoteChar: the offending byte taken as a rune, quoted like strconv.Quote."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    char = chr(byte)
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    if char in escapes:
        return f"'{escapes[char]}'"
    if char == "\\":
        return "'\\\\'"
    if byte < 0x20 or byte == 0x7F:
        return f"'\\x{byte:02x}'"
    if char == " " or unicodedata.category(char)[0] in "LMNPS":
        return f"'{char}'"
    return f"'\\u{byte:04x}'"


def _syntax_error(byte: int, context: str) -> GoJsonError:
    return GoJsonError(f"invalid character {_quote_char(byte)} {context}")


_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN_STRING = re.compile(rb'"([^"\\\x00-\x1f]*)"')
_SIMPLE_ESCAPES = {
    ord('"'): '"',
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}
_HEX = b"0123456789abcdefABCDEF"
_LITERALS = {ord("t"): (b"true", "true", True), ord("f"): (b"false", "false", False), ord("n"): (b"null", "null", None)}


class _UnexpectedEnd(Exception):
    pass


class _Parser:
    """An iterative parser (nesting is bounded by Go's limit, not Python's recursion limit)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def parse(self) -> Any:
        self._skip_space()
        if self.pos >= len(self.data):
            raise GoJsonError("EOF")
        try:
            return self._value()
        except _UnexpectedEnd:
            raise GoJsonError("unexpected EOF") from None

    def _skip_space(self) -> None:
        match = _WHITESPACE.match(self.data, self.pos)
        assert match is not None  # `*` matches the empty string
        self.pos = match.end()

    def _peek(self) -> int:
        if self.pos >= len(self.data):
            raise _UnexpectedEnd
        return self.data[self.pos]

    def _value(self) -> Any:
        # Each stack entry is a container being filled: (container, pending object key or None).
        stack: list[list[Any]] = []
        while True:
            self._skip_space()
            byte = self._peek()
            if byte in b"{[":
                if len(stack) + 1 > MAX_NESTING_DEPTH:
                    raise _syntax_error(byte, "exceeded max depth")
                self.pos += 1
                container: Object | list[Any] = Object() if byte == ord("{") else []
                stack.append([container, None])
                self._skip_space()
                closer = ord("}") if byte == ord("{") else ord("]")
                if self._peek() == closer:
                    self.pos += 1
                    value: Any = stack.pop()[0]
                elif byte == ord("{"):
                    stack[-1][1] = self._key()
                    continue
                else:
                    continue
            else:
                value = self._scalar(byte, at_top=not stack)
            # A value is complete: attach it, then read separators until the next value starts.
            while True:
                if not stack:
                    return value
                entry = stack[-1]
                if isinstance(entry[0], Object):
                    entry[0].append((entry[1], value))
                else:
                    entry[0].append(value)
                self._skip_space()
                byte = self._peek()
                self.pos += 1
                if isinstance(entry[0], Object):
                    if byte == ord(","):
                        entry[1] = self._key()
                        break
                    if byte != ord("}"):
                        raise _syntax_error(byte, "after object key:value pair")
                elif byte == ord(","):
                    break
                elif byte != ord("]"):
                    raise _syntax_error(byte, "after array element")
                value = stack.pop()[0]

    def _key(self) -> str:
        """After `{` or `,` in an object: a key string, then the colon."""
        self._skip_space()
        byte = self._peek()
        if byte != ord('"'):
            raise _syntax_error(byte, "looking for beginning of object key string")
        key = self._string()
        self._skip_space()
        byte = self._peek()
        if byte != ord(":"):
            raise _syntax_error(byte, "after object key")
        self.pos += 1
        return key

    def _scalar(self, byte: int, *, at_top: bool) -> Any:
        if byte == ord('"'):
            return self._string()
        if byte == ord("-") or ord("0") <= byte <= ord("9"):
            return self._number(at_top=at_top)
        if byte in _LITERALS:
            text, name, value = _LITERALS[byte]
            for offset in range(1, len(text)):
                found = self._byte_at(self.pos + offset)
                if found != text[offset]:
                    raise _syntax_error(found, f"in literal {name} (expecting {_quote_char(text[offset])})")
            self.pos += len(text)
            return value
        raise _syntax_error(byte, "looking for beginning of value")

    def _byte_at(self, pos: int) -> int:
        if pos >= len(self.data):
            raise _UnexpectedEnd
        return self.data[pos]

    def _number(self, *, at_top: bool) -> Number:
        match = _NUMBER.match(self.data, self.pos)
        end = match.end() if match else self.pos
        # The regex stops at the longest valid prefix; find where and why Go's scanner would stop.
        text = self.data[self.pos : end]
        following = end
        if not match:  # a minus sign without digits
            following = self.pos + 1
            found = self._byte_at(following)
            if not ord("0") <= found <= ord("9"):
                raise _syntax_error(found, "in numeric literal")
        if following < len(self.data):
            found = self.data[following]
            if found == ord(".") and b"." not in text and b"e" not in text.lower():
                after = self._byte_at(following + 1)
                raise _syntax_error(after, "after decimal point in numeric literal")
            if found in b"eE" and b"e" not in text.lower():
                after = self._byte_at(following + 1)
                if after in b"+-":
                    after = self._byte_at(following + 2)
                raise _syntax_error(after, "in exponent of numeric literal")
        elif not at_top:
            raise _UnexpectedEnd
        self.pos = end
        return Number(text.decode("ascii"))

    def _string(self) -> str:
        plain = _PLAIN_STRING.match(self.data, self.pos)
        if plain:
            self.pos = plain.end()
            return plain.group(1).decode("utf-8", errors="replace")
        return self._escaped_string()

    def _escaped_string(self) -> str:
        data = self.data
        pos = self.pos + 1
        raw = bytearray()
        pieces: list[str] = []

        def flush() -> None:
            if raw:
                pieces.append(raw.decode("utf-8", errors="replace"))
                raw.clear()

        while True:
            byte = self._byte_at(pos)
            if byte == ord('"'):
                flush()
                self.pos = pos + 1
                return "".join(pieces)
            if byte < 0x20:
                raise _syntax_error(byte, "in string literal")
            if byte != ord("\\"):
                raw.append(byte)
                pos += 1
                continue
            escape = self._byte_at(pos + 1)
            if escape in _SIMPLE_ESCAPES:
                flush()
                pieces.append(_SIMPLE_ESCAPES[escape])
                pos += 2
                continue
            if escape != ord("u"):
                raise _syntax_error(escape, "in string escape code")
            code = self._hex4(pos + 2)
            pos += 6
            flush()
            if 0xD800 <= code < 0xDC00 and data[pos : pos + 2] == b"\\u":
                low = self._hex4(pos + 2)
                if 0xDC00 <= low < 0xE000:
                    pieces.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                    pos += 6
                    continue
            pieces.append("\ufffd" if 0xD800 <= code < 0xE000 else chr(code))

    def _hex4(self, pos: int) -> int:
        for offset in range(4):
            found = self._byte_at(pos + offset)
            if found not in _HEX:
                raise _syntax_error(found, "in \\u hexadecimal character escape")
        return int(self.data[pos : pos + 4], 16)


# ---------------------------------------------------------------------------------------------
# Decoding: json.Unmarshal into a declared Go type


@dataclass(frozen=True)
class Scalar:
    """A Go scalar type: string, bool, int, int64 or float32."""

    go: str


@dataclass(frozen=True)
class Pointer:
    """A pointer field: `null` sets it to nil (None) instead of leaving the default."""

    elem: Scalar


@dataclass(frozen=True)
class Struct:
    """A Go struct: `name` is what type errors quote as the struct, `go` is reflect's Type.String()."""

    name: str
    go: str
    fields: tuple[tuple[str, GoType], ...] = ()


@dataclass(frozen=True)
class Interface:
    """An interface field holding a pointer to `holds`: decoded into it; `null` sets it to nil."""

    holds: Struct


@dataclass(frozen=True)
class Slice:
    """A slice of structs (/populate's body); `null` elements become empty structs."""

    elem: Struct
    go: str


GoType = Scalar | Pointer | Struct | Interface | Slice

STRING, BOOL, INT, INT64, FLOAT32 = (Scalar(name) for name in ("string", "bool", "int", "int64", "float32"))


def decode(data: bytes, target: GoType) -> Any:
    """Parse `data` and unmarshal it into `target`, raising GoJsonError like Go does.

    A Struct yields a dict of the fields the body set (by JSON name; None where `null` cleared a
    pointer or interface), a Slice a list of such dicts, and a top-level `null` yields None.
    """
    decoder = _Decoder()
    result = decoder.value(parse(data), target, _Context(None, ()))
    if decoder.error is not None:
        raise decoder.error
    return None if result is _MISSING else result


def _fold(name: str) -> str:
    """Go's case folding for field names (ASCII upper-case, other runes through simple folding)."""
    folded = []
    for char in name:
        if char.isascii():
            folded.append(char.upper())
        else:
            simple = char.lower().upper()
            folded.append(simple if len(simple) == 1 else char)
    return "".join(folded)


@dataclass(frozen=True)
class _Context:
    struct: Struct | None
    fields: tuple[str, ...]


_MISSING = object()


class _Decoder:
    """Keeps Go's behaviour of carrying on after a type error and reporting the first one."""

    def __init__(self) -> None:
        self.error: GoJsonError | None = None

    def type_error(self, value: str, go_type: str, context: _Context) -> object:
        if self.error is None:
            if context.struct is not None or context.fields:
                where = f"Go struct field {context.struct.name if context.struct else ''}.{'.'.join(context.fields)}"
            else:
                where = "Go value"
            self.error = GoJsonError(f"json: cannot unmarshal {value} into {where} of type {go_type}")
        return _MISSING

    def value(self, value: Any, target: GoType, context: _Context) -> Any:
        if value is None:
            return None if isinstance(target, (Pointer, Interface, Slice)) else _MISSING
        if isinstance(target, Pointer):
            return self.value(value, target.elem, context)
        if isinstance(target, Interface):
            return self.value(value, target.holds, context)
        if isinstance(target, Struct):
            if not isinstance(value, Object):
                return self.type_error(_kind(value), target.go, context)
            return self.struct(value, target, context)
        if isinstance(target, Slice):
            if not isinstance(value, list) or isinstance(value, Object):
                return self.type_error(_kind(value), target.go, context)
            items = [self.value(item, target.elem, context) for item in value]
            return [{} if item is None or item is _MISSING else item for item in items]
        return self.scalar(value, target, context)

    def struct(self, value: Object, target: Struct, context: _Context) -> dict[str, Any]:
        exact = dict(target.fields)
        folded = {_fold(name): (name, go_type) for name, go_type in reversed(target.fields)}
        result: dict[str, Any] = {}
        for key, item in value:
            if key in exact:
                name, go_type = key, exact[key]
            elif _fold(key) in folded:
                name, go_type = folded[_fold(key)]
            else:
                continue
            decoded = self.value(item, go_type, _Context(target, (*context.fields, name)))
            if decoded is not _MISSING:
                result[name] = decoded
        return result

    def scalar(self, value: Any, target: Scalar, context: _Context) -> Any:
        kind = _kind(value)
        if target.go == "string":
            return value if kind == "string" else self.type_error(kind, target.go, context)
        if target.go == "bool":
            return value if kind == "bool" else self.type_error(kind, target.go, context)
        if kind != "number":
            return self.type_error(kind, target.go, context)
        parsed = _parse_int(value) if target.go in ("int", "int64") else _parse_float32(value)
        return self.type_error(f"number {value}", target.go, context) if parsed is None else parsed


def _kind(value: Any) -> str:
    if isinstance(value, Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Number):
        return "number"
    return "string"


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _parse_int(literal: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): digits only, within int64."""
    if not re.fullmatch(r"-?[0-9]+", literal):
        return None
    number = int(literal)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _parse_float32(literal: str) -> float | None:
    """strconv.ParseFloat(s, 32): rounded to float32, out of range is an error."""
    number = float(literal)
    if math.isinf(number):
        return None
    try:
        return to_float32(number)
    except OverflowError:
        return None


def to_float32(number: float) -> float:
    """Round to the nearest float32; OverflowError when that is infinite, as Go's ParseFloat says."""
    return float(struct.unpack("<f", struct.pack("<f", number))[0])


# ---------------------------------------------------------------------------------------------
# Encoding: json.Marshal


class Float32(float):
    """A float that Go holds as float32 (a toxic's toxicity): written with float32's shortest form."""


def encode(value: Any) -> bytes:
    """Compact JSON as Go's json.Marshal writes it."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value, bits=32 if isinstance(value, Float32) else 64)
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode_string(str(key))}:{_encode(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_GO_STRING_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _encode_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda match: _GO_STRING_ESCAPES[match.group()], encoded)


def go_float(number: float, *, bits: int = 64) -> str:
    """strconv.AppendFloat as encoding/json uses it: shortest digits, 'e' form outside [1e-6, 1e21)."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"json: unsupported value: {number}")
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    digits, exponent = _shortest_digits(number, bits)
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if magnitude < 1e-6 or magnitude >= 1e21:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exponent_text = f"{exponent:+03d}" if exponent >= 0 else f"-{abs(exponent)}"
        return f"{sign}{mantissa}e{exponent_text}"
    if exponent >= len(digits) - 1:
        return sign + digits + "0" * (exponent - len(digits) + 1)
    if exponent >= 0:
        return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"
    return f"{sign}0.{'0' * (-exponent - 1)}{digits}"


def _shortest_digits(number: float, bits: int) -> tuple[str, int]:
    """The fewest significant digits that read back as the same float32/float64, and the exponent."""
    magnitude = abs(number)
    text = repr(magnitude)
    if bits == 32:
        target = to_float32(magnitude)
        for precision in range(1, 10):
            text = f"{target:.{precision - 1}e}"
            if to_float32(float(text)) == target:
                break
    mantissa, _, exponent_text = _scientific(text)
    return mantissa.replace(".", "").rstrip("0") or "0", int(exponent_text)


def _scientific(text: str) -> tuple[str, str, str]:
    """'123.45' or '1.5e-07' -> ('1.2345', 'e', '2') style pieces, keeping every significant digit."""
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text or 0)
    whole, _, fraction = mantissa.partition(".")
    all_digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole + fraction) - len((whole + fraction).lstrip("0"))
    exponent += len(whole) - 1 - leading_zeros
    return all_digits[:1] + "." + all_digits[1:], "e", str(exponent)
