"""Request bodies as small JSON schemas and a validator whose errors name the field.

A subset of JSON Schema (type, properties, required, additionalProperties, enum, maxLength,
minLength, maxItems, items) is enough here, and avoids a dependency for forty lines.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}

MAX_TEXT = 100_000
_URL = {"type": "string", "maxLength": 4096}
_NULLABLE_URL = {"type": ["string", "null"], "maxLength": 4096}
KINDS = ["post", "comment", "reply", "message"]
# The fields that describe a post, shared by a check request and an event.
_POST: dict[str, Any] = {
        "text": {"type": "string", "maxLength": MAX_TEXT},
        "site": {"type": "string", "minLength": 1, "maxLength": 253},
        "target": _NULLABLE_URL,
        "url": _NULLABLE_URL,
        "links": {"type": "array", "maxItems": 50, "items": _URL},
        "kind": {"type": "string", "enum": KINDS},
        "account": {"type": ["string", "null"], "enum": ["personal", "sponsored", None]},
}
CHOICES = ["edited", "overridden", "cancelled", "posted-clean", "logged", "unchecked", "blocked"]

CHECK = {
    "type": "object",
    "required": ["text", "site"],
    "additionalProperties": False,
    "properties": {
        **_POST,
        "hint": {"type": "boolean"},
        "images": {
            "type": "array", "maxItems": 10,
            "items": {
                "type": "object", "required": ["name", "data"], "additionalProperties": False,
                "properties": {"name": {"type": "string", "maxLength": 255},
                               "data": {"type": "string", "maxLength": 8 * 1024 * 1024}},
            },
        },
    },
}

EVENT = {
    "type": "object",
    "required": ["choice", "text", "site"],
    "additionalProperties": False,
    "properties": {
        "choice": {"type": "string", "enum": CHOICES},
        **_POST,
        "justification": {"type": ["string", "null"], "maxLength": 2000},
        "request_id": {"type": ["string", "null"], "maxLength": 64},
        "queued": {"type": "boolean"},
        "client_time": {"type": ["string", "null"], "maxLength": 40},
        "error": {"type": ["string", "null"], "maxLength": 500},
        # The browser profile's signed-in (managed) account, when it has one (its charset is
        # checked with store.event.check_staff).
        "staff": {"type": ["string", "null"], "maxLength": 254},
    },
}

EVENTS = {  # one event, or a batch of queued ones sent later
    "type": "object", "required": ["events"], "additionalProperties": False,
    "properties": {"events": {"type": "array", "maxItems": 200, "items": EVENT}},
}


def _type_ok(value: Any, types: str | list[str]) -> bool:
    for t in [types] if isinstance(types, str) else types:
        if isinstance(value, bool) and t in ("integer", "number"):
            continue  # JSON true is not a number
        if isinstance(value, _TYPES[t]):
            return True
    return False


def validate(value: Any, schema: dict[str, Any], where: str = "body") -> list[str]:
    """Every way `value` breaks `schema`, as "where: problem" lines (empty = valid)."""
    t = schema.get("type")
    if t is not None and not _type_ok(value, t):
        want = t if isinstance(t, str) else " or ".join(t)
        return [f"{where}: must be {want}"]
    errs: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        shown = ", ".join("null" if e is None else str(e) for e in schema["enum"])
        errs.append(f"{where}: must be one of {shown}")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", 1 << 62):
            errs.append(f"{where}: longer than {schema['maxLength']:,} characters")
        if len(value) < schema.get("minLength", 0):
            errs.append(f"{where}: must not be empty")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", 1 << 62):
            errs.append(f"{where}: more than {schema['maxItems']} items")
        elif "items" in schema:
            for i, item in enumerate(value):
                errs.extend(validate(item, schema["items"], f"{where}[{i}]"))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errs.extend(f"{where}.{k}: required" for k in schema.get("required", ()) if k not in value)
        for k, v in value.items():
            if k in props:
                errs.extend(validate(v, props[k], f"{where}.{k}"))
            elif schema.get("additionalProperties") is False:
                errs.append(f"{where}: unknown field {k[:40]!r}")
    return errs
