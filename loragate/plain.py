"""Plain sentences for bad values, shared by every door: the CLI and the MCP server say the same
thing about the same mistake, and neither shows pydantic's own text."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Request = TypeVar("Request", bound=BaseModel)

_SAID = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "can hold at most {max_length} item(s)",
    "string_too_long": "can be at most {max_length} characters long",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "missing": "is required",
    "extra_forbidden": "is not something this takes",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be an object (names and values)",
    "model_type": "must be an object (names and values)",
}


def _shown(value: Any) -> str:
    # Numbers are shown back; text is not, since a caller may have pasted something private.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a CLI's -3.0 and a JSON caller's -3 read the same
    return f" (got {value})"


def describe_validation(exc: ValidationError, what: str = "value") -> str:
    """'batch must be at most 256 (got 10000000); model is required.' from a ValidationError."""
    parts = []
    for error in exc.errors()[:5]:
        name = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int)) or what
        template = _SAID.get(error.get("type", ""))
        try:
            ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in (error.get("ctx") or {}).items()}
            said = template.format(**ctx) if template else None  # a bound of 2.0 reads "2", like the value shown
        except (KeyError, IndexError):
            said = None
        if said is None:
            said = "is not valid"
        parts.append(f"{name} {said}{_shown(error.get('input')) if error.get('type') != 'missing' else ''}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "") + "."


def door_request(model: type[Request], values: dict[str, Any], problem: str, fix: str) -> Request:
    """An operation's input model from a door's arguments; a value it refuses becomes a LoragateError
    ("{problem}: rank must be at least 1 (got 0)."), the same sentence whichever door was used."""
    from loragate.core.errors import BadArguments

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise BadArguments(f"{problem}: {describe_validation(exc)}", fix) from exc
