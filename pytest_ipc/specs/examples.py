"""Values that conform to a schema of an API document: its own examples, else generated (seeded).

The one owner of "give me a value for this schema": the stub's responses (OpenAPI), example
messages (AsyncAPI), request bodies a test sends. A schema's `example`/`examples` come first; when
it has none (or they do not conform), a value is generated from the schema: `$ref`s, `allOf`
(merged), `oneOf`/`anyOf` (a branch; `oneOf` one that its siblings reject, with the discriminator
set), `enum`/`const`, formats (date, date-time, time, uuid, email, uri, hostname, ipv4/6, byte),
lengths and bounds, `multipleOf`, `pattern` (a string the regular expression matches, for the
patterns Python can parse and that use no look-around), `nullable` and `type` lists, and
`readOnly`/`writeOnly` for one direction of an exchange. Strings come from Faker (the `fake` extra,
through `pytest_ipc.stub.fake`), chosen by format or by a property's name (`email`, `city`, `name`).

Every value is checked against its schema with `SchemaValidator` before it is returned: a schema no
value can satisfy (or one this generator cannot) raises `SpecError` naming the schema and why.
The same document, pointer and seed give the same value on every run.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import random
import re
import string
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pytest_ipc.specs.document import ApiDocument, SpecError
from pytest_ipc.specs.schema import Direction, SchemaValidator

if TYPE_CHECKING:
    from faker import Faker

#: Below this depth of nesting, optional properties are left out and arrays get their minimum size.
DEEPEST = 4
#: The standard library's regular expression parser (private, but stable since Python 3.11).
sre_parse: Any = importlib.import_module("re._parser")
_LETTERS = string.ascii_letters + string.digits
_ALPHABET = [chr(code) for code in range(32, 127)]
#: A string property whose name says what it holds gets a value that looks like it.
_PROVIDER_FOR_NAME = {
    "name": "name",
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "username": "user_name",
    "user_name": "user_name",
    "email": "email",
    "phone": "phone_number",
    "phone_number": "phone_number",
    "city": "city",
    "country": "country",
    "address": "street_address",
    "street": "street_address",
    "company": "company",
    "title": "sentence",
    "description": "sentence",
    "url": "url",
}
_PROVIDER_FOR_FORMAT = {
    "uuid": "uuid4",
    "email": "email",
    "idn-email": "email",
    "uri": "uri",
    "url": "uri",
    "iri": "uri",
    "hostname": "hostname",
    "idn-hostname": "hostname",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "password": "password",
}
#: Dates and times fall between these, whatever today is (Faker's defaults end now: not repeatable).
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2030, 1, 1, tzinfo=UTC)
_THREAD_FAKERS = threading.local()
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_DESCRIPTIVE = {"description", "title", "example", "examples", "default", "deprecated", "externalDocs", "xml", "discriminator", "$comment"}


class ExampleGenerator:
    """Values for the schemas of one document; `value(pointer)` is the one call.

    `seed` makes values repeat run to run (each call may pass its own, e.g. the n-th request);
    `use_examples=False` ignores the document's examples and always generates.
    """

    def __init__(self, document: ApiDocument, *, seed: int = 0, locale: str | None = None, use_examples: bool = True) -> None:
        self.document = document
        self.seed = seed
        self.locale = locale
        self.use_examples = use_examples
        self._validators: dict[tuple[str, Direction | None], SchemaValidator] = {}
        self._rng = random.Random()
        self._faker_seed: int | None = None

    def value(self, pointer: str, *, seed: int | None = None, direction: Direction | None = None) -> Any:
        """A value that conforms to the schema at `pointer` (e.g. "#/components/schemas/Pet"), for a
        `direction` ("request" leaves read-only properties out, "response" write-only ones)."""
        pointer = pointer if pointer.startswith("#") else f"#{pointer}"
        validator = self.validator(pointer, direction)
        attempts = (True, False) if self.use_examples else (False,)
        problem = ""
        for use_examples in attempts:
            self._start(pointer, self.seed if seed is None else seed)
            try:
                candidate = _Walk(self, direction, use_examples).generate({"$ref": pointer}, None, 0)
            except _CannotGenerate as error:
                problem = str(error)
                continue
            violations = validator.violations(candidate)
            if not violations:
                return candidate
            problem = f"{json.dumps(candidate, default=str)[:200]} breaks it: {violations[0].describe()}"
        raise SpecError(f"{self.document.source}: cannot make a value for the schema at {pointer}: {problem}")

    def validator(self, pointer: str, direction: Direction | None = None) -> SchemaValidator:
        """The (cached) validator of the schema at `pointer`."""
        key = (pointer, direction)
        if key not in self._validators:
            self._validators[key] = SchemaValidator(self.document, pointer, direction=direction)
        return self._validators[key]

    def _start(self, pointer: str, seed: int) -> None:
        self._rng.seed(f"{seed}|{pointer}")
        self._faker_seed = self._rng.getrandbits(32)

    @property
    def rng(self) -> random.Random:
        return self._rng

    def fake(self, provider: str, **kwargs: Any) -> Any:
        """A Faker value, seeded for the value being made (from this thread's Faker for the locale:
        making one takes tens of milliseconds, and values are made one at a time per thread)."""
        from pytest_ipc.stub.fake import fake_value, new_faker  # Faker loads only when a value needs it

        fakers: dict[str | None, Faker] = _THREAD_FAKERS.__dict__.setdefault("by_locale", {})
        if self.locale not in fakers:
            fakers[self.locale] = new_faker(locale=self.locale, feature="values generated from schemas")
        faker = fakers[self.locale]
        if self._faker_seed is not None:  # the first Faker value of this value (made start to end on this thread)
            faker.seed_instance(self._faker_seed)
            self._faker_seed = None
        return fake_value(faker, provider, **kwargs)


def example_for(
    document: ApiDocument, pointer: str, *, seed: int = 0, direction: Direction | None = None, use_examples: bool = True
) -> Any:
    """One value for the schema at `pointer` (see `ExampleGenerator`; build one to make many)."""
    return ExampleGenerator(document, seed=seed, use_examples=use_examples).value(pointer, direction=direction)


class _CannotGenerate(Exception):
    """No value satisfies what this generator understood of the schema."""


class _Walk:
    """One value being made: walks the schema, following references, with the generator's randomness."""

    def __init__(self, generator: ExampleGenerator, direction: Direction | None, use_examples: bool) -> None:
        self.generator = generator
        self.document = generator.document
        self.rng = generator.rng
        self.direction = direction
        self.use_examples = use_examples
        self.making: list[str] = []  # the references being made, outermost first (recursion stops at optional ones)
        self.minimal = False  # required properties only (a oneOf whose branches differ in what they require)

    # -- schemas -----------------------------------------------------------------------------------
    def resolve(self, schema: Any, pointer: str | None) -> tuple[Any, str | None]:
        """The schema behind `$ref`s (3.1 siblings of a `$ref` kept), and its pointer when local."""
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            target = _step(self.document, ref)
            siblings = {key: value for key, value in schema.items() if key != "$ref" and key not in _DESCRIPTIVE}
            pointer = ref if ref.startswith("#/") and not siblings else None
            schema = {**target, **siblings} if siblings and isinstance(target, Mapping) else target
        if schema is True or schema is None:
            return {}, pointer
        if schema is False:
            raise _CannotGenerate(f"schema {pointer or ''} is false: no value conforms")
        if not isinstance(schema, Mapping):
            raise _CannotGenerate(f"schema {pointer or ''} is not a schema object: {schema!r}")
        return schema, pointer

    def merged(self, schema: Mapping[str, Any], pointer: str | None) -> tuple[Mapping[str, Any], list[str]]:
        """`allOf` folded into one schema (properties and required joined, the tightest bounds kept),
        and the pointers of the schemas a value must pass (the whole, or its parts where it has no
        pointer of its own): a `oneOf` branch is chosen by them."""
        checks = [] if pointer is None else [pointer]
        if "allOf" not in schema:
            return schema, checks
        result: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
        for index, part in enumerate(schema["allOf"]):
            resolved, part_pointer = self.resolve(part, None if pointer is None else f"{pointer}/allOf/{index}")
            resolved, part_checks = self.merged(resolved, part_pointer)
            result = _merge(result, resolved)
            checks += [] if pointer is not None else part_checks
        return result, checks

    def generate(self, schema: Any, pointer: str | None, depth: int, name: str | None = None) -> Any:
        if depth > DEEPEST * 8:
            raise _CannotGenerate("the schema requires itself too deeply (a required property that recurses)")
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        self.making.append(ref if isinstance(ref, str) else "")
        try:
            return self.made(schema, pointer, depth, name)
        finally:
            self.making.pop()

    def made(self, schema: Any, pointer: str | None, depth: int, name: str | None) -> Any:
        schema, pointer = self.resolve(schema, pointer)
        folded, checks = self.merged(schema, pointer)
        if folded is not schema:  # its properties come from several places: none has one pointer
            schema, pointer = folded, None
        if self.use_examples:
            for found in _examples_of(schema):
                return found
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            choices = [value for value in schema["enum"] if value is not None] or schema["enum"]
            return self.rng.choice(choices)
        if "oneOf" in schema or "anyOf" in schema:
            return self.branch(schema, checks, depth, name)
        kind = self.kind(schema)
        if kind == "null":
            return None
        if kind == "object":
            return self.object(schema, pointer, depth)
        if kind == "array":
            return self.array(schema, pointer, depth)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return self.string(schema, name)

    def kind(self, schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        kinds = [declared] if isinstance(declared, str) else list(declared) if isinstance(declared, list) else []
        concrete = [kind for kind in kinds if kind != "null"]
        if concrete:
            return str(concrete[0])
        if kinds:
            return "null"
        if {"properties", "required", "additionalProperties", "minProperties"} & set(schema):
            return "object"
        if {"items", "prefixItems", "minItems", "contains"} & set(schema):
            return "array"
        if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & set(schema):
            return "number"
        return "string"

    def branch(self, schema: Mapping[str, Any], checks: list[str], depth: int, name: str | None) -> Any:
        """A value of one `oneOf`/`anyOf` branch, with the rest of the schema (an object's shared
        properties) merged into it: the first whose value passes `checks` (for `oneOf`, that means
        no other branch accepts it too)."""
        keyword = "oneOf" if "oneOf" in schema else "anyOf"
        branches = list(schema[keyword])
        rest = {key: value for key, value in schema.items() if key not in ("oneOf", "anyOf", "discriminator")}
        order = sorted(range(len(branches)), key=lambda index: self.kind(self.resolve(branches[index], None)[0]) == "null")
        minimal = self.minimal
        try:
            for self.minimal, index in [(minimal, index) for index in order] + [(True, index) for index in order]:
                branch, _ = self.resolve(branches[index], None)
                candidate = self.generate(_merge(rest, branch) if rest else branches[index], None, depth + 1, name)
                candidate = self.discriminated(schema, branches[index], candidate)
                if all(self.generator.validator(check, self.direction).is_valid(candidate) for check in checks):
                    return candidate
        finally:
            self.minimal = minimal
        raise _CannotGenerate(f"no {keyword} branch of {checks[0] if checks else 'a schema'} made a value that passes it")

    def discriminated(self, schema: Mapping[str, Any], branch: Any, value: Any) -> Any:
        """An object of a `oneOf` with a discriminator carries the name that picks its branch (unless
        the branch's own schema gave that property a value already)."""
        discriminator = schema.get("discriminator")
        if not isinstance(discriminator, Mapping) or not isinstance(value, dict) or not isinstance(branch, Mapping):
            return value
        ref = branch.get("$ref")
        if not isinstance(ref, str):
            return value
        names = [key for key, target in (discriminator.get("mapping") or {}).items() if target == ref or ref.endswith(f"/{target}")]
        value.setdefault(discriminator["propertyName"], names[0] if names else ref.rsplit("/", 1)[-1])
        return value

    # -- values by kind ----------------------------------------------------------------------------
    def object(self, schema: Mapping[str, Any], pointer: str | None, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        skipped = {"request": "readOnly", "response": "writeOnly"}.get(self.direction or "")
        result: dict[str, Any] = {}
        for name, subschema in properties.items():
            optional_left_out = depth >= DEEPEST or self.minimal or self.recursive(subschema)
            if name not in required and (optional_left_out or _flag(self.document, subschema, skipped)):
                continue
            if name in required and skipped and _flag(self.document, subschema, skipped):
                continue
            inner = None if pointer is None else f"{pointer}/properties/{_escape(name)}"
            result[name] = self.generate(subschema, inner, depth + 1, name)
        for name in sorted(required - set(result) - set(properties)):
            result[name] = self.extra(schema, depth, name)
        wanted = int(schema.get("minProperties", 0))
        while len(result) < wanted:
            result[f"key{len(result)}"] = self.extra(schema, depth, None)
        most = schema.get("maxProperties")
        if isinstance(most, int):
            for name in [key for key in result if key not in required][: max(0, len(result) - most)]:
                del result[name]
        return result

    def recursive(self, schema: Any) -> bool:
        """A schema that (directly or through `items`) refers to one being made: optional, so left out."""
        if isinstance(schema, Mapping) and isinstance(schema.get("items"), Mapping):
            schema = schema["items"]
        return isinstance(schema, Mapping) and schema.get("$ref") in self.making

    def extra(self, schema: Mapping[str, Any], depth: int, name: str | None) -> Any:
        additional = schema.get("additionalProperties", True)
        if additional is False:
            raise _CannotGenerate(f"an object needs property {name or 'more properties'} that additionalProperties: false forbids")
        return self.generate(additional if isinstance(additional, Mapping) else {"type": "string"}, None, depth + 1, name)

    def array(self, schema: Mapping[str, Any], pointer: str | None, depth: int) -> list[Any]:
        least = int(schema.get("minItems", 0))
        most = schema.get("maxItems")
        count = least if depth >= DEEPEST else max(least, 1)
        if isinstance(most, int):
            count = min(count, most)
        prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else schema.get("additionalItems", {})
        result: list[Any] = [self.generate(item, None, depth + 1) for item in prefix[: max(count, len(prefix))]]
        seen = {_key(item) for item in result}
        tries = 0
        while len(result) < count:
            inner = None if pointer is None or not isinstance(schema.get("items"), Mapping) else f"{pointer}/items"
            item = self.generate(items if isinstance(items, Mapping) else {}, inner, depth + 1)
            tries += 1
            if schema.get("uniqueItems") and _key(item) in seen:
                if tries > count * 10:
                    raise _CannotGenerate(f"cannot find {count} distinct items for uniqueItems")
                continue
            seen.add(_key(item))
            result.append(item)
        contains = schema.get("contains")
        if isinstance(contains, Mapping):
            wanted = self.generate(contains, None, depth + 1)
            result = [wanted, *result[1:]] if result else [wanted]
        return result

    def integer(self, schema: Mapping[str, Any]) -> int:
        low, high = _bounds(schema, integer=True)
        low, high = _span(low, high, _INT_RANGES.get(str(schema.get("format"))))
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            if first > last:
                raise _CannotGenerate(f"no multiple of {step} between {low} and {high}")
            multiple = self.rng.randint(first, last) * step
            return int(multiple) if float(multiple).is_integer() else _fail(f"{multiple} is not an integer")
        if low > high:
            raise _CannotGenerate(f"no integer between {low} and {high}")
        return self.rng.randint(int(low), int(high))

    def number(self, schema: Mapping[str, Any]) -> float | int:
        low, high = _bounds(schema, integer=False)
        low, high = _span(low, high, None)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            start = self.rng.randint(first, last) if first <= last else first
            for multiple in (round(count * step, 10) for count in [*range(start, last + 1), *range(first, start)]):
                if low <= multiple <= high and (multiple / step).is_integer():
                    return float(multiple)
            raise _CannotGenerate(f"no multiple of {step} between {low} and {high}")
        value = round(self.rng.uniform(low, high), 2)
        return value if _inside(schema, value) else (low + high) / 2

    def string(self, schema: Mapping[str, Any], name: str | None) -> str:
        least = int(schema.get("minLength", 0))
        most = schema.get("maxLength")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            for _ in range(20):
                candidate = _from_pattern(pattern, self.rng)
                if candidate is not None and least <= len(candidate) <= (most if isinstance(most, int) else len(candidate)):
                    return candidate
            raise _CannotGenerate(f"cannot make a string matching pattern {pattern!r} ({least} to {most} characters)")
        text = self.formatted(str(schema.get("format", "")), name)
        if text is not None and len(text) >= least and (not isinstance(most, int) or len(text) <= most):
            return text
        text = text if text is not None and schema.get("format") is None else self.plain(name)
        if len(text) < least:
            text += "".join(self.rng.choice(_LETTERS) for _ in range(least - len(text)))
        return text[:most] if isinstance(most, int) else text

    def formatted(self, form: str, name: str | None) -> str | None:
        if form == "date-time":
            moment = self.generator.fake("date_time_between", start_date=_EARLIEST, end_date=_LATEST, tzinfo=UTC)
            return str(moment).replace(" ", "T").replace("+00:00", "Z")
        if form == "date":
            return str(self.generator.fake("date_between", start_date=_EARLIEST.date(), end_date=_LATEST.date()))
        if form == "time":
            return f"{self.generator.fake('time')}Z"
        if form == "byte":
            return base64.b64encode(self.rng.randbytes(self.rng.randint(4, 12))).decode()
        if form == "duration":
            return f"PT{self.rng.randint(1, 59)}M"
        if form in _PROVIDER_FOR_FORMAT:
            return str(self.generator.fake(_PROVIDER_FOR_FORMAT[form]))
        provider = _PROVIDER_FOR_NAME.get((name or "").lower())
        return None if provider is None else str(self.generator.fake(provider))

    def plain(self, name: str | None) -> str:
        return str(self.generator.fake("word"))


def _step(document: ApiDocument, ref: str) -> Any:
    """What a `$ref` points at, one reference deep when it is local (so its pointer stays known)."""
    if not ref.startswith("#/"):
        return document.resolve({"$ref": ref})
    node: Any = document.raw
    for token in [part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/")]:
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return document.resolve({"$ref": ref})  # through another reference on the way: SpecError names it
    return node


def _examples_of(schema: Mapping[str, Any]) -> list[Any]:
    """The schema's own examples: 3.1's `examples` list, else `example`, else `default`."""
    found = schema.get("examples")
    if isinstance(found, list) and found:
        return [found[0]]
    for key in ("example", "default"):
        if key in schema:
            return [schema[key]]
    return []


def _flag(document: ApiDocument, schema: Any, flag: str | None) -> bool:
    """Whether a property's schema (through its `$ref`) is marked `flag` (readOnly/writeOnly)."""
    if flag is None or not isinstance(schema, Mapping):
        return False
    if schema.get(flag) is True:
        return True
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        target = document.resolve(schema)
        return isinstance(target, Mapping) and target.get(flag) is True
    return False


def _merge(into: Mapping[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """Two schemas that must both hold, as one (for generation; the validator checks the real thing)."""
    result = dict(into)
    for key, value in part.items():
        if key not in result:
            result[key] = value
        elif key == "properties":
            joined = dict(result[key])
            for name, subschema in value.items():
                joined[name] = {"allOf": [joined[name], subschema]} if name in joined else subschema
            result[key] = joined
        elif key == "required":
            result[key] = sorted({*result[key], *value})
        elif key in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum") and _numbers(result[key], value):
            result[key] = max(result[key], value)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum") and _numbers(result[key], value):
            result[key] = min(result[key], value)
        elif key == "enum" and isinstance(value, list):
            result[key] = [item for item in result[key] if item in value]
        else:
            result[key] = value
    return result


def _numbers(*values: Any) -> bool:
    return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)


def _bounds(schema: Mapping[str, Any], *, integer: bool) -> tuple[float | None, float | None]:
    """(lowest, highest) allowed, with 3.0's boolean and 3.1's numeric exclusive bounds."""
    low: Any = schema.get("minimum")
    high: Any = schema.get("maximum")
    nudge = 1 if integer else 0.01
    exclusive_low: Any = schema.get("exclusiveMinimum")
    exclusive_high: Any = schema.get("exclusiveMaximum")
    if _numbers(exclusive_low):
        low = exclusive_low + nudge if low is None else max(low, exclusive_low + nudge)
    elif exclusive_low is True and low is not None:
        low = low + nudge
    if _numbers(exclusive_high):
        high = exclusive_high - nudge if high is None else min(high, exclusive_high - nudge)
    elif exclusive_high is True and high is not None:
        high = high - nudge
    if integer:
        low = None if low is None else math.ceil(low)
        high = None if high is None else math.floor(high)
    return low, high


def _span(low: float | None, high: float | None, limits: tuple[int, int] | None) -> tuple[float, float]:
    """Bounds completed to a small, friendly range where the schema leaves them open, then kept
    within the format's limits (int32, int64)."""
    if low is None and high is None:
        low, high = 1, 1000
    elif low is None:
        assert high is not None
        low = min(1, high) if high >= 1 else high - 1000
    elif high is None:
        high = low + 1000
    assert low is not None and high is not None
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    return low, high


def _inside(schema: Mapping[str, Any], value: float) -> bool:
    low, high = _bounds(schema, integer=False)
    return (low is None or value >= low) and (high is None or value <= high)


def _fail(message: str) -> int:
    raise _CannotGenerate(message)


def _escape(token: str) -> str:
    """A JSON pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# -- strings from regular expressions ----------------------------------------------------------------
class _Unsupported(Exception):
    """A regular expression construct this generator does not invert (look-around, conditionals)."""


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string that `re.search(pattern, ...)` finds a match in, or None where that is not cheap."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, OverflowError):
        return None
    out: list[str] = []
    try:
        _emit(list(parsed), rng, out, {})
    except _Unsupported:
        return None
    text = "".join(out)
    return text if re.search(pattern, text) else None


def _emit(items: list[tuple[Any, Any]], rng: random.Random, out: list[str], groups: dict[int, str]) -> None:
    constants = sre_parse  # opcodes are named constants of the parser module
    for op, argument in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(argument))
        elif name == "NOT_LITERAL":
            out.append(rng.choice([char for char in _LETTERS if ord(char) != argument]))
        elif name == "ANY":
            out.append(rng.choice(_LETTERS))
        elif name == "IN":
            allowed = [char for char in _ALPHABET if _in_class(char, argument)]
            if not allowed:
                raise _Unsupported(name)
            out.append(rng.choice(allowed))
        elif name == "BRANCH":
            _emit(list(rng.choice(argument[1])), rng, out, groups)
        elif name == "SUBPATTERN":
            start = len(out)
            _emit(list(argument[3]), rng, out, groups)
            if argument[0] is not None:
                groups[argument[0]] = "".join(out[start:])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            least, most, body = argument
            top = least + 3 if most == constants.MAXREPEAT else min(most, least + 3)
            for _ in range(rng.randint(least, top)):
                _emit(list(body), rng, out, groups)
        elif name == "GROUPREF":
            out.append(groups.get(argument, ""))
        elif name == "AT":
            continue
        else:
            raise _Unsupported(name)


def _in_class(char: str, items: list[tuple[Any, Any]]) -> bool:
    negate = False
    found = False
    for op, argument in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            found = found or ord(char) == argument
        elif name == "RANGE":
            found = found or argument[0] <= ord(char) <= argument[1]
        elif name == "CATEGORY":
            found = found or _in_category(char, str(argument))
        else:
            raise _Unsupported(name)
    return found != negate


def _in_category(char: str, category: str) -> bool:
    tests = {
        "CATEGORY_DIGIT": char.isdigit(),
        "CATEGORY_NOT_DIGIT": not char.isdigit(),
        "CATEGORY_WORD": char.isalnum() or char == "_",
        "CATEGORY_NOT_WORD": not (char.isalnum() or char == "_"),
        "CATEGORY_SPACE": char.isspace(),
        "CATEGORY_NOT_SPACE": not char.isspace(),
    }
    if category not in tests:
        raise _Unsupported(category)
    return tests[category]
