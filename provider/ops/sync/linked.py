"""What an incident and a review link to, in the order they are shown.

The order is kept here once, so the console, the API bodies and the payloads Jira receives list
an incident's components and a review's incidents alike. ``what`` is the row or one of its
columns (``Component.public_id``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy import select

from provider.ops.alerts.models import Alert
from provider.ops.components.models import Component
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import Review
from provider.ops.incidents.models import ReviewIncident


def components_of(incident_id: int, what: Any = Component) -> Select[Any]:
    """The incident's components, first added first (the first is its main one)."""
    return (
        select(what)
        .join(IncidentComponent, IncidentComponent.component_id == Component.id)
        .where(IncidentComponent.incident_id == incident_id)
        .order_by(IncidentComponent.position, Component.id)
    )


def alerts_of(incident_id: int) -> Select[Alert]:
    """The incident's alerts, first joined first."""
    return (
        select(Alert)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(IncidentAlert.added_at, Alert.id)
    )


def reviews_of(incident_id: int) -> Select[Review]:
    """The reviews of the incident, oldest first."""
    return (
        select(Review)
        .join(ReviewIncident, ReviewIncident.review_id == Review.id)
        .where(ReviewIncident.incident_id == incident_id)
        .order_by(Review.created_at, Review.id)
    )


def incidents_of(review_id: int, what: Any = Incident) -> Select[Any]:
    """The review's incidents, in the order the review names them."""
    return (
        select(what)
        .join(ReviewIncident, ReviewIncident.incident_id == Incident.id)
        .where(ReviewIncident.review_id == review_id)
        .order_by(ReviewIncident.position, Incident.id)
    )
