"""One declaration per ``/v1`` operation: its method and path, who may call it, and its schema.

Registering a view, checking the caller's key and declaring the operation always go together
and in this order (the route outside, so the key is checked before the body is parsed); one
line says all three, so no handler can leave one out or stack them the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ParamSpec
from typing import TypeVar
from typing import Unpack

from flask import Blueprint
from flask import Response

from provider.db import read_only as read_only_session
from provider.ops.access.http import api_key_required
from provider.schema.endpoint import Declaration
from provider.schema.endpoint import ResponseSpec
from provider.schema.endpoint import endpoint

P = ParamSpec("P")
R = TypeVar("R")
Guard = Callable[[str], Callable[[Callable[..., Any]], Callable[..., Any]]]


class Routes:
    """The operations of ``bp`` under one OpenAPI ``tag``, each checked by ``guard(access)``.

    ``route = Routes(bp, "Components")``, then ``@route("GET", "/<component_id>", READ,
    "Get a component", responses={200: Component})`` above each view.
    """

    def __init__(self, bp: Blueprint, tag: str, guard: Guard = api_key_required) -> None:
        self.bp = bp
        self.tag = tag
        self.guard = guard

    def __call__(
        self,
        method: str,
        path: str,
        access: str,
        summary: str,
        *,
        responses: Mapping[int, ResponseSpec],
        read_only: bool = False,
        **declared: Unpack[Declaration],
    ) -> Callable[[Callable[P, R]], Callable[P, Response]]:
        """Serve ``method path`` to keys that may ``access`` it, as the operation declared here.

        With ``read_only``, the view's session (authentication's included) never writes.
        """

        def decorator(view: Callable[P, R]) -> Callable[P, Response]:
            declared_view = endpoint(summary, tag=self.tag, responses=responses, **declared)(view)
            guarded: Callable[P, Response] = self.guard(access)(declared_view)
            if read_only:
                guarded = read_only_session(guarded)
            self.bp.add_url_rule(path, view_func=guarded, methods=[method])
            return guarded

        return decorator
