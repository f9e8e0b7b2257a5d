"""``/v1/components`` bodies: what a create or update takes and what a component looks like."""

from __future__ import annotations

from typing import Annotated
from typing import Any

from pydantic import AfterValidator
from pydantic import AliasChoices
from pydantic import Field
from pydantic import Strict
from pydantic import model_validator

from provider.ops.components import models
from provider.ops.components.models import ComponentType
from provider.ops.components.models import Tier
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import Timestamp
from provider.schema.fields import predicate
from provider.schema.fields import unset
from provider.schema.pages import PageQuery

NAME_MAX = 255
DESCRIPTION_MAX = 5000
URL_MAX = 2000


def _is_http_url(value: str) -> bool:
    return not value or value.startswith(("https://", "http://"))


# An http(s) URL; empty or null clears it.
Url = Annotated[
    Annotated[str, Text(URL_MAX)],
    AfterValidator(predicate(_is_http_url, "must be an http(s) URL")),
    Field(description="An http(s) URL; null clears it."),
]
TierChoice = Annotated[Tier, Strict(False)]
TypeChoice = Annotated[ComponentType, Strict(False)]


class ComponentCreate(RequestModel):
    name: Annotated[str, Text(NAME_MAX, nonempty=True)] = Field(
        description="Unique in the workspace."
    )
    description: Annotated[str, Text(DESCRIPTION_MAX)] | None = None
    url: Url | None = None
    avatar_url: Url | None = None
    tier: TierChoice = Tier.TIER_3
    component_type: TypeChoice = ComponentType.SERVICE

    def changes(self) -> dict[str, Any]:
        """The attributes a create or update sets: what was sent; empty text and URLs clear."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "description":
                value = value or ""
            elif name in ("url", "avatar_url"):
                value = value or None
            out[name] = value
        return out


class ComponentUpdate(ComponentCreate):
    """At least one field."""

    # Absent means unchanged; these three cannot be cleared, so null is refused.
    name: Annotated[str, Text(NAME_MAX, nonempty=True)] = unset()
    tier: TierChoice = unset()
    component_type: TypeChoice = unset()

    @model_validator(mode="after")
    def _something_to_change(self) -> ComponentUpdate:
        if not self.model_fields_set:
            raise ValueError("Nothing to update: send at least one field.")
        return self


class ComponentQuery(PageQuery):
    name: str = Field(default="", description="Case-insensitive substring.")


class Component(ResponseModel):
    """A service of the workspace, shown in Jira as a DevOps component."""

    id: str
    name: str = Field(max_length=NAME_MAX)
    description: str
    url: str | None
    avatar_url: str | None
    tier: Tier
    component_type: ComponentType
    is_fallback: bool = Field(
        description="The workspace's fallback component; it cannot be deleted."
    )
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: models.Component) -> Component:
        return cls.from_row(row, id=row.public_id)


# ── Jira's calls: searchContainers and the component actions ──────────────────────────────────

ID_MAX = 255
REF_MAX = 2000


class ContainerCard(ResponseModel):
    """A component as Jira's connection manager lists it (a "container")."""

    id: str
    name: str
    url: str
    avatar_url: str
    last_updated_date: Timestamp | None


class Containers(ResponseModel):
    containers: list[ContainerCard]


class EntityRef(RequestModel):
    """The component an action names: by the id the provider gave it, or by its url."""

    id: Annotated[str, Text(ID_MAX)] | None = None
    url: Annotated[str, Text(REF_MAX)] | None = None
    ari: Annotated[str, Text(REF_MAX)] | None = None

    @model_validator(mode="after")
    def _names_something(self) -> EntityRef:
        if not self.id and not self.url:
            raise ValueError("must have an id or a url")
        return self


class JiraEntity(RequestModel):
    """The Jira entity (normally a project) a component is associated with."""

    ati: Annotated[str, Text(REF_MAX)] | None = None
    ari: Annotated[str, Text(REF_MAX)] | None = None
    cloud_id: Annotated[str, Text(REF_MAX)] | None = None
    id: Annotated[str, Text(REF_MAX)] | None = None

    @model_validator(mode="after")
    def _names_something(self) -> JiraEntity:
        if not self.ari and not self.id:
            raise ValueError("must have an ari or an id")
        return self

    def values(self) -> dict[str, str]:
        return {
            key: value
            for key, value in (
                ("ati", self.ati),
                ("ari", self.ari),
                ("cloudId", self.cloud_id),
                ("id", self.id),
            )
            if value
        }


class JiraUser(RequestModel):
    id: Annotated[str, Text(ID_MAX)] | None = None


class _ComponentAction(RequestModel):
    entity: EntityRef
    user: JiraUser | None = None


class AssociateAction(_ComponentAction):
    """``associate``: Jira asks for the component a project is about to be connected to."""

    target: JiraEntity | None = Field(
        default=None, validation_alias=AliasChoices("associateWith", "associatedWith")
    )


class DisassociateAction(_ComponentAction):
    target: JiraEntity | None = Field(
        default=None, validation_alias=AliasChoices("disassociateFrom", "disassociatedFrom")
    )


class EntityAssociated(_ComponentAction):
    """``onEntityAssociated``: Jira tells that a project was connected to the component."""

    target: JiraEntity = Field(validation_alias=AliasChoices("associatedWith", "associateWith"))


class EntityDisassociated(_ComponentAction):
    target: JiraEntity = Field(
        validation_alias=AliasChoices("disassociatedFrom", "disassociateFrom")
    )
