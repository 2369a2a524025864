"""Check HTTP requests against Discord's own OpenAPI description, the way Discord's API answers them.

The fake Discord server uses this to refuse what the real service would refuse: a route or method that
does not exist, a missing required field, a wrong type, a string or list over its documented limit.
Errors come back in Discord's nested shape, so a test sees what the bot would see in production:

    {"embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "..."}]}}}}

The description itself is data read at test time from ../shared/specs/discord-openapi.json (relative to
the repository root); `find_spec_path` says where it is or returns None, and callers skip with a reason.

    SpecError               base: the description cannot be used
    └── SpecNotFound        no description file where it was looked for
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_RELATIVE = Path("..") / "shared" / "specs" / "discord-openapi.json"

_TYPE_NAMES = {"string": str, "boolean": bool, "object": dict, "array": list}
# A union that cannot be told apart by its "type" discriminator is tried branch by branch; cap the
# recursion so a pathological schema cannot make one request slow.
_MAX_DEPTH = 40


class SpecError(Exception):
    """The API description cannot be used."""


class SpecNotFound(SpecError):
    """The API description file is not where it was looked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"Discord OpenAPI description not found at {path}")
        self.path = path


def find_spec_path(repo_root: Path = REPO_ROOT) -> Path | None:
    """Return the path of discord-openapi.json next to the repository, or None when it is absent."""
    path = (repo_root / SPEC_RELATIVE).resolve()
    return path if path.is_file() else None


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented route and method: its template, its id and its JSON request schema."""

    method: str
    template: str
    operation_id: str
    body_schema: dict[str, Any] | None
    body_required: bool


ErrorTree = dict[str, Any]


class DiscordSpec:
    """Routes and request schemas of Discord's HTTP API v10, with a validator that answers like Discord."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._doc = document
        self._schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        # Literal segments win over parameters (/messages/pins before /messages/{message_id}).
        for template in sorted(document.get("paths", {}), key=lambda t: (t.count("{"), t)):
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            self._routes.append((re.compile(pattern), template, document["paths"][template]))

    @classmethod
    def load(cls, path: Path) -> DiscordSpec:
        """Read the OpenAPI JSON at `path`; raise SpecNotFound or SpecError when it is unusable."""
        if not path.is_file():
            raise SpecNotFound(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"cannot read {path}: {exc}") from exc
        if not isinstance(document, dict) or "paths" not in document:
            raise SpecError(f"{path} is not an OpenAPI document (no 'paths')")
        return cls(document)

    def match_path(self, path: str) -> tuple[str, dict[str, Any]] | None:
        """Return (template, path item) for a concrete path such as /channels/1/messages, or None."""
        for pattern, template, item in self._routes:
            if pattern.match(path):
                return template, item
        return None

    def operation(self, method: str, path: str) -> Operation | None:
        """Return the documented operation for `method` on the concrete `path`, or None if there is none."""
        found = self.match_path(path)
        if found is None:
            return None
        template, item = found
        op = item.get(method.lower())
        if op is None:
            return None
        body = op.get("requestBody") or {}
        schema = (body.get("content") or {}).get("application/json", {}).get("schema")
        return Operation(
            method.upper(), template, op.get("operationId", ""), schema, bool(body.get("required"))
        )

    def validate(self, schema: dict[str, Any], value: Any) -> ErrorTree:
        """Check `value` against `schema`; return Discord's nested error tree (empty when valid)."""
        errors: ErrorTree = {}
        self._check(schema, value, (), errors, 0)
        return errors

    # -- validator -------------------------------------------------------------------------------

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self._schemas.get(name, {})
        return schema

    def _check(
        self, schema: dict[str, Any], value: Any, path: tuple[str, ...], out: ErrorTree, depth: int
    ) -> None:
        if depth > _MAX_DEPTH:
            return
        schema = self._resolve(schema)
        for part in schema.get("allOf", ()):
            resolved = self._resolve(part)
            # allOf entries that only restate the enum type carry no extra constraint worth reporting twice.
            if "enum" in resolved and "type" in resolved and "enum" in schema:
                continue
            self._check(resolved, value, path, out, depth + 1)
        if schema.get("format") == "snowflake" and isinstance(value, int) and not isinstance(value, bool):
            # Discord reads a snowflake from a JSON integer as well as from a string.
            value = str(value)
        union = schema.get("oneOf") or schema.get("anyOf")
        if union:
            self._check_union(union, value, path, out, depth)
        if "type" in schema and not _type_ok(schema["type"], value):
            _add(out, path, _type_error(schema["type"], value))
            return
        if "enum" in schema and value not in schema["enum"]:
            choices = ", ".join(str(c) for c in schema["enum"])
            _add(out, path, ("BASE_TYPE_CHOICES", f"Value must be one of ({choices})."))
            return
        if isinstance(value, str):
            self._check_string(schema, value, path, out)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int | float):
            if "minimum" in schema and value < schema["minimum"]:
                _add(
                    out,
                    path,
                    ("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {schema['minimum']}."),
                )
            if "maximum" in schema and value > schema["maximum"]:
                _add(
                    out,
                    path,
                    ("NUMBER_TYPE_MAX", f"int value should be less than or equal to {schema['maximum']}."),
                )
        elif isinstance(value, list):
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                _add(out, path, ("BASE_TYPE_MAX_LENGTH", f"Must be {schema['maxItems']} or fewer in length."))
            if "minItems" in schema and len(value) < schema["minItems"]:
                _add(out, path, ("BASE_TYPE_MIN_LENGTH", f"Must be {schema['minItems']} or more in length."))
            if "items" in schema:
                for index, item in enumerate(value):
                    self._check(schema["items"], item, (*path, str(index)), out, depth + 1)
        elif isinstance(value, dict):
            for name in schema.get("required", ()):
                if name not in value:
                    _add(out, (*path, name), ("BASE_TYPE_REQUIRED", "This field is required"))
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    self._check(sub, value[name], (*path, name), out, depth + 1)

    def _check_string(
        self, schema: dict[str, Any], value: str, path: tuple[str, ...], out: ErrorTree
    ) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            _add(out, path, ("BASE_TYPE_MAX_LENGTH", f"Must be {schema['maxLength']} or fewer in length."))
        if "minLength" in schema and len(value) < schema["minLength"]:
            _add(out, path, ("BASE_TYPE_MIN_LENGTH", f"Must be {schema['minLength']} or more in length."))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            code = "NUMBER_TYPE_COERCE" if schema.get("format") == "snowflake" else "STRING_TYPE_REGEX"
            _add(
                out,
                path,
                (
                    code,
                    f'Value "{value[:40]}" is not snowflake.'
                    if code == "NUMBER_TYPE_COERCE"
                    else "String value did not match validation regex.",
                ),
            )
        if schema.get("format") == "uri" and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", value):
            _add(out, path, ("URL_TYPE_INVALID_URL", "Not a well formed URL."))

    def _check_union(
        self, union: list[Any], value: Any, path: tuple[str, ...], out: ErrorTree, depth: int
    ) -> None:
        branches = [self._resolve(b) for b in union]
        # Discord picks the branch from the "type" discriminator when there is one.
        if isinstance(value, dict) and "type" in value:
            tagged = [
                b for b in branches if value["type"] in _enum_of(self, b.get("properties", {}).get("type"))
            ]
            if tagged:
                branches = tagged
        best: ErrorTree | None = None
        for branch in branches:
            trial: ErrorTree = {}
            self._check(branch, value, path, trial, depth + 1)
            if not trial:
                return
            if best is None or _count(trial) < _count(best):
                best = trial
        if best:
            _merge(out, best)


def _enum_of(spec: DiscordSpec, schema: Any) -> list[Any]:
    if not isinstance(schema, dict):
        return []
    return list(spec._resolve(schema).get("enum", []))


def _type_ok(expected: str | list[str], value: Any) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        if name == "null" and value is None:
            return True
        if name == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if name == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        kind = _TYPE_NAMES.get(name)
        if (
            kind is not None
            and isinstance(value, kind)
            and not (kind is not bool and isinstance(value, bool))
        ):
            return True
    return False


def _type_error(expected: str | list[str], value: Any) -> tuple[str, str]:
    names = [n for n in ([expected] if isinstance(expected, str) else expected) if n != "null"]
    name = names[0] if names else "null"
    if name in ("integer", "number"):
        return "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.'
    if name == "string":
        return "BASE_TYPE_STRING", "Must be a string."
    if name == "boolean":
        return "BOOLEAN_TYPE_COERCE", f'Value "{value}" is not bool.'
    if name == "array":
        return "BASE_TYPE_ARRAY", "Must be an array."
    return "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"


def _add(out: ErrorTree, path: tuple[str, ...], error: tuple[str, str]) -> None:
    node = out
    for part in path:
        node = node.setdefault(part, {})
    entries = node.setdefault("_errors", [])
    entry = {"code": error[0], "message": error[1]}
    if entry not in entries:
        entries.append(entry)


def _merge(out: ErrorTree, extra: ErrorTree) -> None:
    for key, value in extra.items():
        if key == "_errors":
            for entry in value:
                if entry not in out.setdefault("_errors", []):
                    out["_errors"].append(entry)
        else:
            _merge(out.setdefault(key, {}), value)


def _count(tree: ErrorTree) -> int:
    return sum(len(v) if k == "_errors" else _count(v) for k, v in tree.items())


def add_error(tree: ErrorTree, path: tuple[str, ...], code: str, message: str) -> None:
    """Add one Discord-style error at `path` (("embeds", "0", "title")) to an error tree."""
    _add(tree, path, (code, message))


def error_paths(tree: ErrorTree, prefix: str = "") -> list[str]:
    """Flatten an error tree into dotted paths with codes, for readable test assertions."""
    found: list[str] = []
    for key, value in tree.items():
        if key == "_errors":
            found.extend(f"{prefix or '<root>'}:{entry['code']}" for entry in value)
        else:
            found.extend(error_paths(value, f"{prefix}.{key}" if prefix else key))
    return found
