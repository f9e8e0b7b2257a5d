"""Column types the models of every context share."""

from __future__ import annotations

from typing import Annotated

from sqlalchemy import ForeignKey
from sqlalchemy.orm import mapped_column

# A row that belongs to one workspace, and goes when the workspace goes.
workspace_fk = Annotated[
    int, mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
]
