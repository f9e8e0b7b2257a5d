"""``@endpoint``: declare what an operation takes and answers; parse in, dump out, document it.

A handler receives its validated ``body`` and ``query`` as keyword arguments and returns a
response model (or ``(model, status)``, or a ready :class:`flask.Response`). The same
declaration is what :mod:`provider.schema.openapi` writes into the document, so the two cannot
drift apart.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ParamSpec
from typing import TypedDict
from typing import TypeVar

from flask import Response
from flask import request
from pydantic import BaseModel

from provider.schema.parsing import check_storable
from provider.schema.parsing import decode_json
from provider.schema.parsing import parse_model
from provider.schema.parsing import parse_query
from provider.schema.query import QueryModel

P = ParamSpec("P")
R = TypeVar("R")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
FORM_TYPES = (FORM, "multipart/form-data")
# A response declared as text is described, not modelled (e.g. "Done; no body.").
ResponseSpec = type[BaseModel] | str


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """How an operation authenticates, for the document: security schemes and the errors."""

    security: tuple[Mapping[str, list[str]], ...]
    errors: frozenset[int]


@dataclass(frozen=True)
class Operation:
    """Everything the document says about one operation."""

    summary: str
    tag: str
    responses: Mapping[int, ResponseSpec]
    body: type[BaseModel] | None = None
    body_required: bool = True
    form: bool = False
    query: type[QueryModel] | None = None
    errors: frozenset[int] = frozenset()
    description: str | None = None
    operation_id: str | None = None
    path_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    public: bool = False


class Declaration(TypedDict, total=False):
    """What an operation declares besides its summary and tag (see :func:`endpoint`)."""

    body: type[BaseModel] | None
    body_required: bool
    form: bool
    query: type[QueryModel] | None
    errors: Iterable[int]
    description: str | None
    operation_id: str | None
    path_parameters: Mapping[str, Mapping[str, Any]] | None
    public: bool


OPERATION_ATTR = "__operation__"
AUTH_ATTR = "__auth__"


def operation_of(view: Callable[..., Any]) -> Operation | None:
    found: Operation | None = getattr(view, OPERATION_ATTR, None)
    return found


def auth_of(view: Callable[..., Any]) -> AuthSpec | None:
    found: AuthSpec | None = getattr(view, AUTH_ATTR, None)
    return found


def mark_auth(view: Callable[..., Any], spec: AuthSpec) -> None:
    """Record on a view how it authenticates (called by authentication decorators)."""
    setattr(view, AUTH_ATTR, spec)


def endpoint(
    summary: str,
    *,
    tag: str,
    responses: Mapping[int, ResponseSpec],
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    form: bool = False,
    query: type[QueryModel] | None = None,
    errors: Iterable[int] = (),
    description: str | None = None,
    operation_id: str | None = None,
    path_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    public: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, Response]]:
    """Declare an operation; the view gets ``body=`` and ``query=`` when they are declared.

    With ``form``, a form-encoded body is read as its fields (strings) and validated like JSON.
    Without a ``description``, the operation states the limits of its ``query``, if it has any.
    """
    if description is None and query is not None:
        description = query.documented_limits()
    op = Operation(
        summary=summary,
        tag=tag,
        responses=dict(responses),
        body=body,
        body_required=body_required,
        form=form,
        query=query,
        errors=frozenset(errors),
        description=description,
        operation_id=operation_id,
        path_parameters=dict(path_parameters or {}),
        public=public,
    )
    success = min(op.responses)

    def decorator(view: Callable[P, R]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            strict = False
            parsed_query: QueryModel | None = None
            if op.query is not None:
                parsed_query = parse_query(op.query, request.args.to_dict(flat=True))
                strict = bool(getattr(parsed_query, "strict_validation", False))
                kwargs["query"] = parsed_query
            if op.body is not None:
                kwargs["body"] = parse_model(
                    op.body, _raw_body(op), strict=strict, query=parsed_query
                )
            return render(view(*args, **kwargs), success)

        setattr(wrapper, OPERATION_ATTR, op)
        return wrapper

    return decorator


def _raw_body(op: Operation) -> Any:
    if op.form and request.mimetype in FORM_TYPES:
        fields = request.form.to_dict()
        check_storable(fields)
        return fields
    return decode_json(request.get_data(cache=True), optional=not op.body_required)


def render(result: Any, status: int = 200) -> Response:
    """A handler's result as a response: models are dumped by their schema."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if result is None:
        return Response(status=status)
    if not isinstance(result, BaseModel):
        raise TypeError(f"an endpoint must return a response model, not {type(result).__name__}")
    return Response(result.model_dump_json(), status=status, mimetype=JSON)


def camel(name: str) -> str:
    """``component_id`` → ``componentId`` (the document's names for Flask's arguments)."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
