"""Sessions of the pages people sign in to with a workspace key (reviews, incidents, components)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.ops.owned import workspace_fk


class PageSession(Base):
    """A signed-in browser. The cookie holds a random id whose hash is stored here, so signing
    out (or a key rotation) ends the session on the server, whatever the cookie still says."""

    __tablename__ = "page_sessions"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    workspace_id: Mapped[workspace_fk]
    # The workspace key the person proved; a rotated key no longer matches it.
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_now]
    expires_at: Mapped[datetime] = mapped_column(index=True)
