"""What the real Telegram Bot API checks before it accepts a request, for the fake server to enforce.

Two parts:

- `TelegramSpec`: the official method and type descriptions (../shared/specs/telegram-bot-api.json,
  read at test time, never copied into the project) turned into a request checker: the method exists,
  required fields are present, each value has a plausible type (form-encoded values arrive as strings,
  objects as JSON text, files as multipart parts) and nested objects match their declared type.
- `parse_html`: Telegram's strict HTML parse mode: the allowed tags, the four named entities plus numeric
  ones, proper nesting; anything else is an `EntityParseError` with Telegram's wording.

Errors:

    SpecError              the spec file is missing or unreadable (callers skip the spec check)
    EntityParseError       the text is not valid Telegram HTML ("can't parse entities: ...")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_FILE = "telegram-bot-api.json"
_PRIMITIVES = {"Integer", "String", "Boolean", "Float", "True"}
_INT_TEXT = re.compile(r"^-?\d+$")
_FLOAT_TEXT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


class SpecError(Exception):
    """The Bot API description cannot be loaded from `path`."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; `reason` uses Telegram's own wording."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"can't parse entities: {reason}")
        self.reason = reason


def default_spec_dir() -> Path:
    """Return ../shared/specs relative to the repository root (where the official descriptions live)."""
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "specs"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request, as the fake received it."""

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class CheckResult:
    """The outcome of checking one request: the typed parameters and every problem found."""

    params: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class TelegramSpec:
    """The Bot API methods and types, able to check a request's parameters against them."""

    def __init__(self, methods: dict[str, Any], types: dict[str, Any], version: str) -> None:
        self.methods = methods
        self.types = types
        self.version = version
        self._by_lower = {name.lower(): name for name in methods}

    @classmethod
    def load(cls, spec_dir: Path | None = None) -> TelegramSpec:
        """Read the official description from `spec_dir` (default: ../shared/specs); raise SpecError."""
        path = (spec_dir or default_spec_dir()) / SPEC_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["methods"], data["types"], str(data.get("version", "")))
        except FileNotFoundError as exc:
            raise SpecError(path, "not found") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpecError(path, f"unreadable: {exc}") from exc

    def method_name(self, name: str) -> str | None:
        """Return the canonical spelling of a method (Telegram ignores case), or None when unknown."""
        return self._by_lower.get(name.lower())

    def check(self, method: str, raw: dict[str, Any]) -> CheckResult:
        """Check a request's raw parameters (text, JSON values or files) and convert them to typed values."""
        result = CheckResult()
        spec = self.methods[method]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name, spec_field in fields.items():
            if spec_field["required"] and name not in raw:
                result.problems.append(f"Bad Request: parameter {name!r} is required")
        for name, value in raw.items():
            spec_field = fields.get(name)
            if spec_field is None:
                # Telegram ignores unknown parameters; a test double should not, since it means a typo.
                result.problems.append(f"Bad Request: unknown parameter {name!r} for method {method}")
                continue
            typed, problem = self._coerce_top(value, spec_field["types"], name)
            if problem:
                result.problems.append(problem)
            else:
                result.params[name] = typed
        return result

    def _coerce_top(self, value: Any, types: list[str], name: str) -> tuple[Any, str | None]:
        """Convert one top-level parameter, which may arrive as text, as a JSON value or as a file."""
        problems = []
        for type_name in types:
            if isinstance(value, UploadedFile):
                if type_name == "InputFile":
                    return value, None
                problems.append(f"a file where {type_name} is expected")
                continue
            if type_name == "InputFile":
                continue
            if isinstance(value, str) and type_name not in _PRIMITIVES:
                # Objects and arrays travel as JSON text in form-encoded requests.
                try:
                    decoded = json.loads(value)
                except ValueError:
                    problems.append(f"not JSON for {type_name}")
                    continue
                problem = self.validate(decoded, type_name, name)
                if problem is None:
                    return decoded, None
                problems.append(problem)
                continue
            typed, problem = (
                _coerce_primitive_text(value, type_name)
                if isinstance(value, str)
                else (value, self.validate(value, type_name, name))
            )
            if problem is None:
                return typed, None
            problems.append(problem)
        if "InputFile" in types and isinstance(value, str) and not problems:
            return value, None
        return None, f"Bad Request: field {name!r} has a wrong type ({'; '.join(problems) or 'unexpected'})"

    def validate(self, value: Any, type_name: str, path: str) -> str | None:
        """Return why a decoded JSON value does not match `type_name`, or None when it does."""
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return f"{path}: expected an array"
            inner = type_name[len("Array of ") :]
            for index, item in enumerate(value):
                problem = self.validate(item, inner, f"{path}[{index}]")
                if problem:
                    return problem
            return None
        if type_name in _PRIMITIVES:
            return _check_primitive(value, type_name, path)
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return None  # InputFile and friends: nothing more to check in JSON form
        if "subtypes" in spec_type:
            problems = [self.validate(value, sub, path) for sub in spec_type["subtypes"]]
            if any(problem is None for problem in problems):
                return None
            return f"{path}: matches no kind of {type_name} ({problems[0]})"
        if not isinstance(value, dict):
            return f"{path}: expected a {type_name} object"
        fields = {f["name"]: f for f in spec_type.get("fields", [])}
        for name, spec_field in fields.items():
            if spec_field["required"] and name not in value:
                return f"{path}.{name}: required by {type_name}"
        for name, item in value.items():
            spec_field = fields.get(name)
            if spec_field is None:
                return f"{path}.{name}: not a field of {type_name}"
            problems = [self.validate(item, t, f"{path}.{name}") for t in spec_field["types"]]
            if all(problem is not None for problem in problems):
                return problems[0]
        # Fields documented as "must be X" pin a subtype's discriminator (BotCommandScopeDefault).
        for name, spec_field in fields.items():
            pinned = re.search(r'must be (?:\*)?"?([a-z_]+)"?\s*$', spec_field.get("description", ""))
            if (
                pinned
                and name in value
                and name in {"type", "status", "source"}
                and value[name] != pinned.group(1)
            ):
                return f"{path}.{name}: must be {pinned.group(1)!r} for {type_name}"
        return None


def _check_primitive(value: Any, type_name: str, path: str) -> str | None:
    """Check a JSON-native primitive against a Bot API primitive type."""
    if type_name == "Integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "Float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "Boolean":
        ok = isinstance(value, bool)
    elif type_name == "True":
        ok = value is True
    else:
        ok = isinstance(value, str)
    return None if ok else f"{path}: expected {type_name}, got {type(value).__name__}"


def _coerce_primitive_text(value: str, type_name: str) -> tuple[Any, str | None]:
    """Read a form-encoded primitive the way the Bot API does."""
    if type_name == "Integer":
        return (int(value), None) if _INT_TEXT.match(value.strip()) else (None, "not an Integer")
    if type_name == "Float":
        return (float(value), None) if _FLOAT_TEXT.match(value.strip()) else (None, "not a Float")
    if type_name in {"Boolean", "True"}:
        lowered = value.strip().lower()
        if lowered in {"true", "1"}:
            return True, None
        if lowered in {"false", "0"} and type_name == "Boolean":
            return False, None
        return None, f"not a {type_name}"
    return value, None


# --- HTML parse mode -------------------------------------------------------------------------------------

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR = re.compile(r"\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?")


@dataclass(slots=True)
class ParsedText:
    """Text after entity parsing: what the user sees, and the formatting entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]]

    @property
    def length(self) -> int:
        """Return the length Telegram limits (Unicode code points of the visible text)."""
        return len(self.text)


@dataclass(slots=True)
class _Open:
    tag: str
    kind: str
    start: int  # offset in the output, in UTF-16 code units
    attrs: dict[str, str]


def utf16_len(text: str) -> int:
    """Return how many UTF-16 code units `text` takes (the unit of Telegram entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML strictly; raise EntityParseError with Telegram's wording on any fault."""
    out: list[str] = []
    out_len = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)

    def offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8"))

    while i < n:
        ch = source[i]
        if ch == "&":
            match = _ENTITY.match(source, i)
            if not match:
                raise EntityParseError(
                    f"Character '&' is reserved and must be escaped at byte offset {offset(i)}"
                )
            if match.group(1):
                decoded = _NAMED_ENTITIES[match.group(1)]
            else:
                code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
                if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise EntityParseError(f"Invalid numeric HTML entity at byte offset {offset(i)}")
                decoded = chr(code)
            out.append(decoded)
            out_len += utf16_len(decoded)
            i = match.end()
            continue
        if ch != "<":
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        tag_start = i
        if source.startswith("</", i):
            name_match = _TAG_NAME.match(source, i + 2)
            if not name_match:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset(tag_start)}")
            close = source.find(">", name_match.end())
            if close < 0 or source[name_match.end() : close].strip():
                raise EntityParseError(f"Unclosed end tag at byte offset {offset(tag_start)}")
            name = name_match.group(0).lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset(tag_start)}")
            top = stack.pop()
            if top.tag != name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {offset(tag_start)}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            length = out_len - top.start
            if length > 0:
                entity: dict[str, Any] = {"type": top.kind, "offset": top.start, "length": length}
                if top.kind == "text_link":
                    entity["url"] = top.attrs["href"]
                if top.kind == "pre" and "language" in top.attrs:
                    entity["language"] = top.attrs["language"]
                entities.append(entity)
            i = close + 1
            continue
        name_match = _TAG_NAME.match(source, i + 1)
        if not name_match:
            raise EntityParseError(
                f"Unexpected character after '<' at byte offset {offset(tag_start)}: "
                "'<' must be escaped as &lt;"
            )
        name = name_match.group(0).lower()
        if name not in _SIMPLE_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset(tag_start)}')
        attrs, i = _read_attributes(source, name_match.end(), offset(tag_start))
        kind = _SIMPLE_TAGS[name]
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset(tag_start)}'
            )
        if name == "a":
            if not attrs.get("href"):
                raise EntityParseError(
                    f'Tag "a" must have attribute "href" at byte offset {offset(tag_start)}'
                )
            attrs["href"] = _decode_attribute(attrs["href"], offset(tag_start))
        if name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        _check_nesting(stack, name, kind, attrs, offset(tag_start))
        if (
            name == "code"
            and stack
            and stack[-1].kind == "pre"
            and attrs.get("class", "").startswith("language-")
        ):
            stack[-1].attrs["language"] = attrs["class"][len("language-") :]
        stack.append(_Open(name, kind, out_len, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _read_attributes(source: str, pos: int, tag_offset: int) -> tuple[dict[str, str], int]:
    """Read `name="value"` pairs up to the closing `>`; return them and the position after it."""
    attrs: dict[str, str] = {}
    while True:
        while pos < len(source) and source[pos].isspace():
            pos += 1
        if pos >= len(source):
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_offset}")
        if source[pos] == ">":
            return attrs, pos + 1
        match = _ATTR.match(source, pos)
        if not match or match.end() == pos:
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute at byte offset {tag_offset}"
            )
        value = match.group(2) or ""
        if value[:1] in {'"', "'"}:
            value = value[1:-1]
        attrs[match.group(1).lower()] = value
        pos = match.end()


def _decode_attribute(value: str, tag_offset: int) -> str:
    """Decode entities inside an attribute value, as strictly as in text."""
    try:
        return parse_html(value).text if "&" in value else value
    except EntityParseError as exc:
        raise EntityParseError(
            f"{exc.reason} (in an attribute of the tag at byte offset {tag_offset})"
        ) from exc


def _check_nesting(stack: list[_Open], name: str, kind: str, attrs: dict[str, str], tag_offset: int) -> None:
    """Enforce the documented containment rules: code/pre hold nothing, links and quotes do not nest."""
    for opened in stack:
        if opened.kind == "code" or (opened.kind == "pre" and name != "code"):
            raise EntityParseError(
                f'Entity "{opened.tag}" can\'t contain tag "{name}" at byte offset {tag_offset}'
            )
        if kind == "text_link" and opened.kind == "text_link":
            raise EntityParseError(f"Links can't be nested at byte offset {tag_offset}")
        if kind.endswith("blockquote") and opened.kind.endswith("blockquote"):
            raise EntityParseError(f"Blockquotes can't be nested at byte offset {tag_offset}")
