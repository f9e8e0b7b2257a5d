"""The post-incident review pages Jira links to (``createPostIncidentReview``).

A person signs in with the workspace key (``provider.web.session``); the page then only shows
and accepts that workspace's incidents.
"""

from __future__ import annotations

import logging

from flask import Response
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.db import get_session
from provider.errors import ValidationFailed
from provider.extension import SETTINGS
from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import MAX_SUMMARY
from provider.ops.components.service import require_component
from provider.ops.incidents import reviews
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import Review
from provider.ops.incidents.models import ReviewStatus
from provider.ops.workspaces.linking import find_workspace_by_key
from provider.ops.workspaces.models import Workspace
from provider.web import session as web_session
from provider.web.session import MAX_KEY_LENGTH
from provider.web.session import PageBlueprint
from provider.web.session import page as _page

logger = logging.getLogger(__name__)

bp = PageBlueprint("reviews_pages", __name__, url_prefix="/reviews", template_folder="templates")


def _settings() -> Settings:
    return SETTINGS.get()


def _safe_next(value: str | None) -> str:
    return web_session.safe_next(value, url_for(".new_review"))


@bp.get("/new")
def new_review() -> Response:
    session = get_session()
    workspace = web_session.signed_in_workspace(session)
    if workspace is None:
        return _page("reviews/sign_in.html", next=request.full_path.rstrip("?"), error=None)
    incident_id = request.args.get("incident", "")[:64]
    component_id = request.args.get("component", "")[:64]
    incidents: list[Incident] = []
    if incident_id:
        incidents = reviews.require_incidents(session, workspace.id, [incident_id])
    component = require_component(session, workspace.id, component_id) if component_id else None
    recent = _recent_incidents(session, workspace)
    return _page(
        "reviews/form.html",
        workspace=workspace,
        review=None,
        selected={i.public_id for i in incidents},
        incidents=incidents + [i for i in recent if i not in incidents],
        component=component,
        summary=f"Post-incident review: {incidents[0].summary}" if incidents else "",
        description=reviews.prefill_description(session, incidents) if incidents else "",
        status=ReviewStatus.IN_PROGRESS,
        statuses=list(ReviewStatus),
        errors={},
    )


def _recent_incidents(session: Session, workspace: Workspace) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.workspace_id == workspace.id)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(50)
        )
    )


def _form_again(
    session: Session, workspace: Workspace, review: Review | None, error: ValidationFailed
) -> Response:
    """The form as it was sent, with what is wrong next to each field (a 422)."""
    form = request.form
    if review is None:
        incidents, statuses = _recent_incidents(session, workspace), list(ReviewStatus)
    else:
        incidents = reviews.incidents_of(session, review)
        statuses = list(reviews.STATUS_ORDER[reviews.STATUS_ORDER.index(review.status) :])
    return _page(
        "reviews/form.html",
        http_status=error.status,
        workspace=workspace,
        review=review,
        selected=set(form.getlist("incident")),
        incidents=incidents,
        component=None,
        summary=form.get("summary", ""),
        description=form.get("description", ""),
        status=form.get("status", ""),
        statuses=statuses,
        errors=error.details.get("fields", {}),
    )


@bp.get("/sign-in")
def sign_in_form() -> Response:
    """Where the other pages send a person who is not signed in (``?next=`` brings them back)."""
    next_url = _safe_next(request.args.get("next"))
    if web_session.signed_in_workspace(get_session()) is not None:
        return redirect(next_url, code=303)  # type: ignore[return-value]
    return _page("reviews/sign_in.html", next=next_url, error=None)


@bp.post("/sign-in")
def sign_in() -> Response:
    web_session.check_csrf()
    session = get_session()
    key = request.form.get("workspace_key", "").strip()
    workspace = find_workspace_by_key(session, key) if 0 < len(key) <= MAX_KEY_LENGTH else None
    next_url = _safe_next(request.form.get("next"))
    if workspace is None:
        web_session.count_failed_sign_in()
        logger.info("review page sign-in failed addr=%s", web_session.client_addr())
        return _page(
            "reviews/sign_in.html", http_status=401, next=next_url, error="That key is not valid."
        )
    web_session.sign_in_as(session, workspace)
    session.commit()
    return redirect(next_url, code=303)  # type: ignore[return-value]


@bp.post("/sign-out")
def sign_out() -> Response:
    web_session.check_csrf()
    session = get_session()
    web_session.sign_out(session)
    session.commit()
    return redirect(url_for(".new_review"), code=303)  # type: ignore[return-value]


def _form_fields() -> tuple[str, str, ReviewStatus, list[str]]:
    summary = request.form.get("summary", "").strip()
    # Browsers send a textarea's lines ended by CRLF (HTML's form encoding); Jira and every other
    # writer of a description use LF.
    description = request.form.get("description", "").replace("\r\n", "\n").replace("\r", "\n")
    incident_ids = [i[:64] for i in request.form.getlist("incident")][:100]
    errors = {}
    if not summary:
        errors["summary"] = "is required"
    elif len(summary) > MAX_SUMMARY:
        errors["summary"] = f"must be at most {MAX_SUMMARY} characters"
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = f"must be at most {MAX_DESCRIPTION} characters"
    if not incident_ids:
        errors["incident"] = "must name at least one incident"
    try:
        status = ReviewStatus(request.form.get("status", ReviewStatus.IN_PROGRESS.value))
    except ValueError:
        errors["status"] = "is not a review status"
        status = ReviewStatus.IN_PROGRESS
    if errors:
        name, message = next(iter(errors.items()))
        raise ValidationFailed(f"{name} {message}", details={"fields": errors})
    return summary, description, status, incident_ids


@bp.post("")
def create_review() -> Response:
    web_session.check_csrf()
    session = get_session()
    workspace = web_session.require_signed_in(session)
    try:
        summary, description, status, incident_ids = _form_fields()
    except ValidationFailed as e:
        return _form_again(session, workspace, None, e)
    incidents = reviews.require_incidents(session, workspace.id, incident_ids)
    review = reviews.create_review(
        session,
        workspace.id,
        incidents,
        summary=summary,
        description=description or None,
        status=status,
        created_by="review page",
    )
    session.commit()
    web_session.flash("Review saved")
    return redirect(url_for(".show_review", review_id=review.public_id), code=303)  # type: ignore[return-value]


@bp.get("/<review_id>")
def show_review(review_id: str) -> Response:
    session = get_session()
    workspace = web_session.signed_in_workspace(session)
    if workspace is None:
        return _page("reviews/sign_in.html", next=request.path, error=None)
    review = reviews.require_review(session, workspace.id, review_id[:64])
    incidents = reviews.incidents_of(session, review)
    return _page(
        "reviews/form.html",
        notice=web_session.take_notice(),
        workspace=workspace,
        review=review,
        selected={i.public_id for i in incidents},
        incidents=incidents,
        component=None,
        summary=review.summary,
        description=review.description,
        status=review.status,
        statuses=reviews.STATUS_ORDER[reviews.STATUS_ORDER.index(review.status) :],
        errors={},
    )


@bp.post("/<review_id>")
def update_review(review_id: str) -> Response:
    web_session.check_csrf()
    session = get_session()
    workspace = web_session.require_signed_in(session)
    review = reviews.require_review(session, workspace.id, review_id[:64])
    try:
        summary, description, status, incident_ids = _form_fields()
    except ValidationFailed as e:
        return _form_again(session, workspace, review, e)
    incidents = reviews.require_incidents(session, workspace.id, incident_ids)
    reviews.update_review(
        session,
        review,
        summary=summary,
        description=description,
        status=status,
        incidents=incidents,
    )
    session.commit()
    web_session.flash("Review saved")
    return redirect(url_for(".show_review", review_id=review.public_id), code=303)  # type: ignore[return-value]
