"""Lists: ``{"values", "count", "links": {"next"}}`` read with ``offset`` and ``size``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from typing import Any
from typing import ClassVar
from typing import Generic
from typing import TypeVar
from urllib.parse import urlencode

from flask import request
from pydantic import Field
from pydantic import model_validator

from provider.errors import ValidationFailed
from provider.schema.fields import ResponseModel
from provider.schema.query import Count
from provider.schema.query import QueryModel

T = TypeVar("T")

MAX_SIZE = 100


class PageQuery(QueryModel):
    offset: Annotated[int, Count()] = Field(default=0, description="How many matches to skip.")
    size: Annotated[int, Count(1, MAX_SIZE, message=f"must be between 1 and {MAX_SIZE}")] = Field(
        default=20, description="How many to return."
    )


class WindowedPageQuery(PageQuery):
    """A page of a list that may be read only so deep (``offset + size`` below ``WINDOW``)."""

    WINDOW: ClassVar[int] = 20000

    @classmethod
    def size_name(cls) -> str:
        """The page size's parameter (``size``, or the alias a protocol gives it)."""
        return cls.model_fields["size"].alias or "size"

    @classmethod
    def documented_limits(cls) -> str:
        return f"`offset + {cls.size_name()}` must be below {cls.WINDOW}."

    @model_validator(mode="after")
    def _within_window(self) -> WindowedPageQuery:
        if self.offset + self.size >= self.WINDOW:
            raise ValidationFailed(
                f"offset + {self.size_name()} must be < {self.WINDOW}",
                details={"source": {"parameter": "offset"}},
            )
        return self


class PageLinks(ResponseModel):
    next: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The next page; absent on the last page.",
    )


class Page(ResponseModel, Generic[T]):
    values: list[T]
    count: int = Field(ge=0, description="All matches.")
    links: PageLinks


def page_of(
    values: Sequence[Any], total: int, query: PageQuery, *, window: int | None = None
) -> dict[str, Any]:
    """The fields of a :class:`Page`; ``next`` repeats the request's other parameters."""
    next_offset = query.offset + query.size
    links = PageLinks()
    if next_offset < total and (window is None or next_offset + query.size < window):
        args = {k: v for k, v in request.args.items() if k not in ("offset", "size")}
        args.update(offset=str(next_offset), size=str(query.size))
        links = PageLinks(next=f"{request.script_root}{request.path}?{urlencode(args)}")
    return {"values": list(values), "count": total, "links": links}
