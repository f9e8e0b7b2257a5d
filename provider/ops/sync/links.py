"""The app's public URLs that payloads and Jira's actions carry, built once by the root.

The composition roots (``create_app``, ``build_worker``, the commands) bind :class:`Links` to
the session factory they make, so any code holding a session finds them with
:func:`links_of`; nothing passes a base URL down call chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

INFO_KEY = "provider.links"


@dataclass(frozen=True, slots=True)
class Links:
    base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def incident(self, public_id: str) -> str:
        return f"{self.base_url}/incidents/{public_id}"

    def review(self, public_id: str) -> str:
        return f"{self.base_url}/reviews/{public_id}"

    def component(self, public_id: str) -> str:
        return f"{self.base_url}/components/{public_id}"

    @property
    def component_avatar(self) -> str:
        return f"{self.base_url}/static/component.svg"

    @property
    def workspace_avatar(self) -> str:
        return f"{self.base_url}/static/workspace.svg"


def bind_links(factory: sessionmaker[Session], base_url: str) -> sessionmaker[Session]:
    """Make every session of ``factory`` carry the app's links; returns the factory."""
    info: dict[str, Any] = dict(factory.kw.get("info") or {})
    info[INFO_KEY] = Links(base_url)
    factory.configure(info=info)
    return factory


def links_of(session: Session) -> Links:
    """The links bound to the factory that made ``session``.

    :raises LookupError: for a session from a factory no composition root bound.
    """
    links = session.info.get(INFO_KEY)
    if not isinstance(links, Links):
        raise LookupError("this session's factory has no Links: bind them with bind_links()")
    return links
