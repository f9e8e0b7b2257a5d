"""Jira's wire formats for incidents, reviews and DevOps components, and their rules.

Pure: no Flask, no SQLAlchemy, no HTTP.
"""

from __future__ import annotations

from typing import Literal
from typing import NotRequired
from typing import TypedDict

MAX_ENTITIES_PER_REQUEST = 1000
MAX_WORKSPACE_IDS_PER_REQUEST = 100
MAX_PROPERTIES = 5
SCHEMA_VERSION: Literal["1.0"] = "1.0"
# Field limits of incidents and reviews (Jira refuses longer values).
MAX_SUMMARY = 255
MAX_DESCRIPTION = 5000
MAX_ITEMS = 100

IncidentStatus = Literal["open", "resolved", "unknown"]
ReviewStatus = Literal["in progress", "outstanding actions", "completed", "unknown"]
SeverityLevel = Literal["P1", "P2", "P3", "P4", "P5", "unknown"]
AssociationType = Literal["issueIdOrKeys", "serviceIdOrKeys", "ati:cloud:compass:event-source"]


def next_update_sequence_number(last: int, now_ms: int) -> int:
    """The next ``updateSequenceNumber`` of an entity.

    Jira silently drops a submission whose number is equal to or lower than the stored one, so
    every change must get a strictly larger number, even two changes in the same millisecond.
    """
    return max(now_ms, last + 1)


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


class Severity(TypedDict):
    level: SeverityLevel


class Association(TypedDict):
    associationType: AssociationType
    values: list[str]


class Incident(TypedDict):
    schemaVersion: Literal["1.0"]
    id: str
    updateSequenceNumber: int
    affectedComponents: list[str]
    summary: str
    description: str
    url: str
    createdDate: str
    lastUpdated: str
    status: IncidentStatus
    severity: NotRequired[Severity]
    associations: NotRequired[list[Association]]


class Review(TypedDict):
    schemaVersion: Literal["1.0"]
    id: str
    updateSequenceNumber: int
    reviews: list[str]
    summary: str
    description: str
    url: str
    createdDate: str
    lastUpdated: str
    status: ReviewStatus
    associations: NotRequired[list[Association]]


class DevOpsComponent(TypedDict):
    schemaVersion: Literal["1.0"]
    id: str
    updateSequenceNumber: int
    name: str
    providerName: NotRequired[str]
    description: str
    url: str
    avatarUrl: str
    tier: Literal["Tier 1", "Tier 2", "Tier 3", "Tier 4"]
    componentType: str
    lastUpdated: str


class ErrorMessage(TypedDict):
    message: str
    errorTraceId: NotRequired[str]


class SubmitIncidentsResponse(TypedDict, total=False):
    acceptedIncidents: list[str]
    failedIncidents: dict[str, list[ErrorMessage]]
    unknownProjectKeys: list[str]


class SubmitComponentsResponse(TypedDict, total=False):
    acceptedComponents: list[str]
    failedComponents: dict[str, list[ErrorMessage]]
    unknownProjectKeys: list[str]
