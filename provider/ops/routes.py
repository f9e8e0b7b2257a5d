"""One declaration per ``/v1`` operation: its method and path, who may call it, and its schema.

Registering a view, checking the caller's key and declaring the operation always go together
and in this order (the route outside, so the key is checked before the body is parsed); one
line says all three, so no handler can leave one out or stack them the other way round.

Most contexts serve the rows a workspace owns alike: find the caller's row named in the path,
perhaps create, change or delete one, commit, answer with it. :class:`Owned` says how a context
does each for one kind of row, and ``route.owned(...)`` serves an operation with that, in place
of a hand-written view.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import KW_ONLY
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import NamedTuple
from typing import ParamSpec
from typing import Protocol
from typing import Self
from typing import TypeVar
from typing import Unpack

from flask import Blueprint
from flask import Response
from flask import g
from pydantic import BaseModel
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.db import read_only as read_only_session
from provider.ops.access.http import api_key_required
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.schema.endpoint import Declaration
from provider.schema.endpoint import ResponseSpec
from provider.schema.endpoint import endpoint
from provider.schema.pages import Page
from provider.schema.pages import PageQuery
from provider.schema.pages import page_of

P = ParamSpec("P")
R = TypeVar("R")
Guard = Callable[[str], Callable[[Callable[..., Any]], Callable[..., Any]]]
Row = TypeVar("Row")
Row_contra = TypeVar("Row_contra", contravariant=True)


class Answer(Protocol[Row_contra]):
    """A response model made from one row (``Component.of(row)``)."""

    @classmethod
    def of(cls, row: Row_contra, /) -> Self: ...


@dataclass(frozen=True, slots=True)
class Owned(Generic[Row]):
    """One kind of row a workspace owns, as its context serves it.

    ``find(session, workspace_id, public_id)`` is the workspace's row (``NotFound`` also for
    another workspace's); ``answer.of(row)`` the body that shows it. The operations are named
    after ``noun`` (``get_component``), and so are their operation ids.
    """

    noun: str
    find: Callable[[Session, int, str], Row]
    answer: type[Answer[Row]]

    @property
    def schema(self) -> type[BaseModel]:
        """The answer's model, for the document."""
        if not issubclass(self.answer, BaseModel):
            raise TypeError(f"{self.answer.__name__} is not a response model")
        return self.answer

    @property
    def page(self) -> type[BaseModel]:
        """A page of answers, for the document."""
        # The item model is known only at run time, which mypy cannot follow as a type argument.
        return Page[self.schema]  # type: ignore[name-defined]

    def mine(self, session: Session, path: Mapping[str, str]) -> Row:
        """The caller's row named by the one argument of the route's path."""
        (public_id,) = path.values()
        return self.find(session, g.workspace.id, public_id)

    def view(self, method: str, act: Callable[..., Any] | None) -> Served:
        """How ``method`` is served, with the context's ``act``.

        ``act`` is ``list(session, workspace_id, offset=, size=) -> (rows, total)`` for a GET of
        the collection (a :class:`Page` of answers); none for the GET of one row;
        ``create(session, workspace_id, body) -> row`` for POST (201);
        ``update(session, row, body)`` for PATCH; ``delete(session, row)`` for DELETE (204).
        Each write commits before it answers, so what it answers is what is stored.
        """
        if act is None:
            if method != "GET":
                raise ValueError(f"{method} on a {self.noun} needs what it does")

            def get_view(**path: str) -> Answer[Row]:
                return self.answer.of(self.mine(get_session(), path))

            return Served(f"get_{self.noun}", get_view, {200: self.schema})

        def list_view(query: PageQuery) -> BaseModel:
            rows, total = act(get_session(), g.workspace.id, offset=query.offset, size=query.size)
            return self.page(**page_of([self.answer.of(row) for row in rows], total, query))

        def create_view(body: BaseModel) -> Answer[Row]:
            session = get_session()
            row = act(session, g.workspace.id, body)
            session.commit()
            return self.answer.of(row)

        def update_view(body: BaseModel, **path: str) -> Answer[Row]:
            session = get_session()
            row = self.mine(session, path)
            act(session, row, body)
            session.commit()
            return self.answer.of(row)

        def delete_view(**path: str) -> None:
            session = get_session()
            act(session, self.mine(session, path))
            session.commit()

        served = {
            "GET": Served(f"list_{self.noun}s", list_view, {200: self.page}),
            "POST": Served(f"create_{self.noun}", create_view, {201: self.schema}),
            "PATCH": Served(f"update_{self.noun}", update_view, {200: self.schema}),
            "DELETE": Served(f"delete_{self.noun}", delete_view, {204: "Deleted"}),
        }
        if method not in served:
            raise ValueError(f"{method} on a {self.noun} is not served")
        return served[method]


class RouteOptions(Declaration, total=False):
    """What a declaration may add to the operation's: who may call it, and a read-only session."""

    access: str | None
    read_only: bool | None


class Served(NamedTuple):
    """An operation on owned rows: its name (the operation id's), view and usual answer."""

    name: str
    view: Callable[..., Any]
    responses: Mapping[int, ResponseSpec]


@dataclass(frozen=True, slots=True)
class Routes:
    """The operations of ``bp`` under one OpenAPI ``tag``, each checked by ``guard(access)``.

    Within a context, reading takes one access and writing another: a GET needs ``reads``, any
    other method ``writes``, unless its declaration names its own ``access``. With ``read_only``,
    the sessions of the operations declared here (authentication's included) never write.

    ``route = Routes(bp, "Components", writes=CONFIGURE)``, then ``@route("PATCH",
    "/<component_id>", "Update a component", {200: Component}, body=ComponentUpdate)`` (or, for a
    read, ``@route.get("/<component_id>", "Get a component", Component)``) above each view.
    """

    bp: Blueprint
    tag: str
    guard: Guard = api_key_required
    _: KW_ONLY
    reads: str = READ
    writes: str = WRITE
    read_only: bool = False

    def __call__(
        self,
        method: str,
        path: str,
        summary: str,
        responses: Mapping[int, ResponseSpec],
        *,
        access: str | None = None,
        read_only: bool | None = None,
        **declared: Unpack[Declaration],
    ) -> Callable[[Callable[P, R]], Callable[P, Response]]:
        """Serve ``method path`` to keys that may access it, as the operation declared here."""
        if access is None:
            access = self.reads if method == "GET" else self.writes
        if read_only is None:
            read_only = self.read_only

        def decorator(view: Callable[P, R]) -> Callable[P, Response]:
            declared_view = endpoint(summary, tag=self.tag, responses=responses, **declared)(view)
            guarded: Callable[P, Response] = self.guard(access)(declared_view)
            if read_only:
                guarded = read_only_session(guarded)
            self.bp.add_url_rule(path, view_func=guarded, methods=[method])
            return guarded

        return decorator

    def get(
        self, path: str, summary: str, answer: ResponseSpec, **declared: Unpack[RouteOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, Response]]:
        """Serve a read: ``GET path``, answered 200 with ``answer``."""
        return self("GET", path, summary, {200: answer}, **declared)

    def owned(
        self,
        method: str,
        path: str,
        summary: str,
        rows: Owned[Any],
        act: Callable[..., Any] | None = None,
        *,
        access: str | None = None,
        responses: Mapping[int, ResponseSpec] | None = None,
        **declared: Unpack[Declaration],
    ) -> Callable[..., Response]:
        """Serve ``method path`` on ``rows`` as :meth:`Owned.view` says, with its usual
        ``responses`` unless given; the view, as a decorator returns it.
        """
        name, view, usual = rows.view(method, act)
        # The view's name is the endpoint's, and so the operation id in the document.
        view.__name__ = view.__qualname__ = name
        return self(method, path, summary, responses or usual, access=access, **declared)(view)
