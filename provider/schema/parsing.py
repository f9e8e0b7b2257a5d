"""Turn a request's JSON body or query string into a model, or into the API's 400/422 errors.

A body that is not JSON, not an object, holds text no database can store (NUL, a lone UTF-16
surrogate) or a number JSON cannot carry back out (``NaN``, ``Infinity``, ``1e999999``) is a 400
before any field is looked at: what is accepted can be stored, processed and served again. Field errors become one 422 that names the
first bad field in its title and lists them all under ``fields``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from pydantic import BaseModel
from pydantic import RootModel
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from provider.errors import BadRequest
from provider.errors import ValidationFailed
from provider.schema.fields import Limits
from provider.schema.fields import RequestModel

M = TypeVar("M", bound=BaseModel)

NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Text may not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)."
NON_FINITE_MESSAGE = "Numbers must be finite: NaN, Infinity and out-of-range values are not JSON."

_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "is not allowed",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
}


def _one_of(expected: str) -> str:
    # pydantic writes "'a', 'b' or 'c'"; the API has always written "a, b, c".
    return expected.replace("'", "").replace(" or ", ", ")


def message_of(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "provider":
        return str(error["msg"])
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("enum", "literal_error"):
        return f"must be one of: {_one_of(str(ctx.get('expected', '')))}"
    template = _MESSAGES.get(kind)
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def to_validation_failed(
    error: ValidationError, *, where: str = "body", prefix: tuple[str, ...] = ()
) -> ValidationFailed:
    """One 422 for every field error; the first names the field in the title."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        fields.setdefault(_dotted((*prefix, *item["loc"])), message_of(item))
    (name, message), *rest = fields.items()
    extra = f" (and {len(rest)} more)" if rest else ""
    first_loc = (*prefix, *error.errors(include_url=False)[0]["loc"])
    if not first_loc:  # a rule about the whole body: its message stands alone
        return ValidationFailed(message, details={"source": {"pointer": ""}})
    if where == "query":
        source: dict[str, Any] = {"parameter": str(first_loc[0]) if first_loc else name}
    else:
        source = {"pointer": "/" + "/".join(str(p) for p in first_loc)}
    return ValidationFailed(
        f"{name} {message}{extra}", details={"source": source, "fields": fields}
    )


def decode_json(data: bytes, *, optional: bool = False) -> Any:
    """The JSON value of a body (any content type); ``{}`` for an empty one when ``optional``.

    :raises BadRequest: for a missing or malformed body, text that cannot be stored, or a
        number that is not finite.
    """
    if not data.strip():
        if optional:
            return {}
        raise BadRequest("A JSON request body is required.", code="invalid_json")
    try:
        value = json.loads(data, parse_float=_finite_float, parse_constant=_no_constant)
    except _NonFinite:
        raise BadRequest(NON_FINITE_MESSAGE, code="invalid_number") from None
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    check_storable(value)
    return value


class _NonFinite(Exception):
    pass


def _finite_float(text: str) -> float:
    # Python reads 1e999999 as inf, which json.dumps then writes as the non-JSON ``Infinity``.
    number = float(text)
    if math.isinf(number):
        raise _NonFinite
    return number


def _no_constant(_name: str) -> Any:
    raise _NonFinite


def check_storable(value: Any) -> None:
    """:raises BadRequest: when text holds NUL or a lone surrogate (no database stores those)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BadRequest(NUL_MESSAGE, code="invalid_characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(SURROGATE_MESSAGE, code="invalid_characters") from None


def parse_model(
    model: type[M],
    raw: Any,
    *,
    strict: bool = False,
    what: str = "request body",
    query: BaseModel | None = None,
) -> M:
    """Validate ``raw`` (decoded JSON) against ``model``; ``query`` is the request's parsed query.

    A :class:`~pydantic.RootModel` takes whatever JSON value its root type accepts.

    :raises BadRequest: when ``raw`` is not an object and ``model`` is not a root model.
    :raises ValidationFailed: for field errors.
    """
    if not isinstance(raw, Mapping) and not issubclass(model, RootModel):
        raise BadRequest(f"The {what} must be a JSON object.", code="invalid_json")
    limits = Limits(strict=strict, query=query)
    try:
        value = model.model_validate(raw, context=limits)
    except ValidationError as e:
        raise to_validation_failed(e) from None
    if isinstance(value, RequestModel):
        value._truncations = limits.notes
    return value


def parse_query(model: type[M], args: Mapping[str, str]) -> M:
    """Validate query parameters (first value of each) against ``model``.

    :raises ValidationFailed: naming the parameter.
    """
    for key, value in args.items():
        if "\x00" in key or "\x00" in value:
            raise BadRequest(NUL_MESSAGE, code="invalid_characters")
    try:
        return model.model_validate(dict(args))
    except ValidationError as e:
        raise to_validation_failed(e, where="query") from None


def parse_malformed_as_400(model: type[M], raw: Any) -> M:
    """Validate a body for a contract that answers every malformed body with 400 (Jira's
    actions), not with the operations API's 422.

    :raises BadRequest:
    """
    try:
        return parse_model(model, raw)
    except ValidationFailed as e:
        raise BadRequest(e.message, code="invalid_body", details=e.details) from None
