"""Rows a workspace owns: the column that says whose they are, and how one is found by its id."""

from __future__ import annotations

from typing import Annotated
from typing import TypeVar

from sqlalchemy import ForeignKey
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from provider.db import intpk
from provider.db import public_uuid
from provider.errors import NotFound

# A row that belongs to one workspace, and goes when the workspace goes.
workspace_fk = Annotated[
    int, mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
]
# The width of the public id column: a longer id cannot match, and is not looked up.
MAX_PUBLIC_ID = 64


class WorkspaceOwned:
    """A row of one workspace, known outside by its public id (a mixin of mapped classes)."""

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    workspace_id: Mapped[workspace_fk]


T = TypeVar("T", bound=WorkspaceOwned)


def require_owned(
    session: Session, model: type[T], workspace_id: int, public_id: str, *, what: str, code: str
) -> T:
    """The ``model`` row of the workspace known outside as ``public_id``.

    :raises NotFound: "``what`` does not exist." with ``code``, also for another workspace's row.
    """
    row = (
        session.scalars(
            select(model).where(model.workspace_id == workspace_id, model.public_id == public_id)
        ).first()
        if len(public_id) <= MAX_PUBLIC_ID
        else None
    )
    if row is None:
        raise NotFound(f"{what} does not exist.", code=code)
    return row
