"""``/v1/alerts``: reads answer at once; writes record a request and answer 202 once it is durable."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import g
from flask import request

from provider.db import get_session
from provider.db import read_only
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.access.http import api_key_required
from provider.ops.access.http import json_body
from provider.ops.access.http import paginated
from provider.ops.access.http import parse_page
from provider.ops.access.http import principal
from provider.ops.access.http import query_flag
from provider.ops.access.principal import DELETE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.alerts import search as alert_search
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import Priority
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.schemas import DESCRIPTION_MAX
from provider.ops.alerts.schemas import MESSAGE_MAX
from provider.ops.alerts.schemas import NOTE_MAX
from provider.ops.alerts.schemas import RESPONDER_TYPES
from provider.ops.alerts.schemas import SOURCE_MAX
from provider.ops.alerts.schemas import TAG_MAX
from provider.ops.alerts.schemas import TAGS_MAX
from provider.ops.alerts.schemas import USER_MAX
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.schemas import Limiter
from provider.ops.alerts.schemas import alert_to_json
from provider.ops.alerts.schemas import log_to_json
from provider.ops.alerts.schemas import note_to_json
from provider.ops.alerts.schemas import parse_extra_properties
from provider.ops.alerts.schemas import parse_time
from provider.ops.alerts.schemas import request_status_to_json
from provider.ops.alerts.service import AlertRef
from provider.ops.alerts.service import get_request
from provider.ops.alerts.service import list_logs as list_logs_page
from provider.ops.alerts.service import list_notes as list_notes_page
from provider.ops.alerts.service import require_alert
from provider.ops.alerts.service import submit_action
from provider.ops.alerts.service import submit_create
from provider.times import utcnow
from provider.validation import Fields

bp = Blueprint("ops_alerts", __name__, url_prefix="/v1/alerts")

LIST_WINDOW = 20000
Json = tuple[dict[str, Any], int]


def _accepted(req: AlertRequest) -> Json:
    get_session().commit()  # the request is durable before the caller hears 202
    took = round(time.perf_counter() - g.get("started", time.perf_counter()), 3)
    return {"result": "Request will be processed", "requestId": req.public_id, "took": took}, 202


def _ref(identifier: str) -> AlertRef:
    return AlertRef.parse(identifier, request.args.get("identifierType"))


def _strict() -> bool:
    return query_flag("strictValidation")


@bp.get("")
@read_only
@api_key_required(READ)
def list_alerts() -> Json:
    page = parse_page(window=LIST_WINDOW)
    alerts, total = alert_search.search_alerts(
        get_session(),
        g.workspace.id,
        query=request.args.get("query", ""),
        sort=request.args.get("sort"),
        order=request.args.get("order"),
        time_from=request.args.get("from"),
        time_to=request.args.get("to"),
        offset=page.offset,
        size=page.size,
    )
    return paginated([alert_to_json(a) for a in alerts], total, page, window=LIST_WINDOW), 200


@bp.post("")
@api_key_required(WRITE)
def create_alert() -> Json:
    data = AlertCreate.from_json(
        json_body(), strict=_strict(), default_source=request.remote_addr or ""
    )
    return _accepted(submit_create(get_session(), principal(), data))


@bp.get("/requests/<request_id>")
@read_only
@api_key_required(READ)
def request_status(request_id: str) -> Json:
    req = get_request(get_session(), g.workspace.id, request_id)
    # Until processed, a request is "not found" (JSM parity) unless the caller asks to see it.
    if req is None or (req.state is RequestState.PENDING and not query_flag("includePending")):
        raise NotFound("Request does not exist or is not processed yet.", code="request_not_found")
    return request_status_to_json(req), 200


@bp.get("/alias")
@read_only
@api_key_required(READ)
def get_alert_by_alias() -> Json:
    alias = request.args.get("alias", "")
    ref = AlertRef.parse(alias, "alias")
    return alert_to_json(require_alert(get_session(), g.workspace.id, ref)), 200


@bp.get("/<identifier>")
@read_only
@api_key_required(READ)
def get_alert(identifier: str) -> Json:
    return alert_to_json(require_alert(get_session(), g.workspace.id, _ref(identifier))), 200


@bp.delete("/<identifier>")
@api_key_required(DELETE)
def delete_alert(identifier: str) -> Json:
    return _submit(identifier, AlertAction.DELETE, _common_fields)


def _submit(
    identifier: str,
    action: AlertAction,
    parse: Callable[[Fields, Limiter], dict[str, Any]],
    *,
    note_id: str | None = None,
    optional_body: bool = True,
) -> Json:
    ref = _ref(identifier)
    f = Fields(json_body(optional=optional_body))
    lim = Limiter(f, _strict())
    payload = parse(f, lim)
    f.raise_if_errors()
    req = submit_action(
        get_session(),
        principal(),
        action,
        ref,
        payload,
        actor=payload.get("user") or None,
        note_id=note_id,
    )
    return _accepted(req)


def _common_fields(f: Fields, lim: Limiter) -> dict[str, Any]:
    """``user``, ``source`` and ``note``, which every action may carry (Opsgenie clients send them)."""
    out: dict[str, Any] = {}
    if user := lim.text("user", f.optional_str("user"), USER_MAX):
        out["user"] = user
    if source := lim.text("source", f.optional_str("source"), SOURCE_MAX):
        out["source"] = source
    if note := lim.text("note", f.optional_str("note", strip=False), NOTE_MAX):
        out["note"] = note
    return out


def _simple_action(action: AlertAction) -> Callable[[str], Json]:
    def view(identifier: str) -> Json:
        return _submit(identifier, action, _common_fields)

    return view


for _path, _action in (
    ("acknowledge", AlertAction.ACKNOWLEDGE),
    ("unacknowledge", AlertAction.UNACKNOWLEDGE),
    ("close", AlertAction.CLOSE),
):
    bp.add_url_rule(
        f"/<identifier>/{_path}",
        endpoint=_path,
        view_func=api_key_required(WRITE)(_simple_action(_action)),
        methods=["POST"],
    )


def _required(f: Fields, name: str, max_len: int = 255) -> str:
    value = f.required_str(name)
    if len(value) > max_len:
        f.error(name, f"must be at most {max_len} characters")
    return value


@bp.post("/<identifier>/assign")
@api_key_required(WRITE)
def assign(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        return {**_common_fields(f, lim), "accountId": _required(f, "accountId")}

    return _submit(identifier, AlertAction.ASSIGN, parse, optional_body=False)


@bp.post("/<identifier>/responders")
@api_key_required(WRITE)
def add_responder(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        # JSM sends {id, type}; Opsgenie v2 wraps it as {responder: {...}}.
        inner = f.raw.get("responder")
        source = Fields(inner, what="responder") if isinstance(inner, dict) else f
        kind = source.raw.get("type")
        if kind not in RESPONDER_TYPES:
            f.error("type", f"must be one of: {', '.join(RESPONDER_TYPES)}")
        ident = source.raw.get("id") or source.raw.get("name") or source.raw.get("username")
        if not isinstance(ident, str) or not ident.strip() or len(ident) > 255:
            f.error("id", "is required (a string of at most 255 characters)")
            ident = ""
        return {**_common_fields(f, lim), "responder": {"id": ident.strip(), "type": kind}}

    return _submit(identifier, AlertAction.ADD_RESPONDER, parse, optional_body=False)


@bp.post("/<identifier>/extra-properties")
@api_key_required(WRITE)
def add_extra_properties(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        name = "details" if "details" in f.raw and "extraProperties" not in f.raw else None
        props = parse_extra_properties(f, lim, name or "extraProperties", required=True)
        if not props and "extraProperties" not in f.errors and "details" not in f.errors:
            f.error("extraProperties", "must not be empty")
        return {**_common_fields(f, lim), "extraProperties": props}

    return _submit(identifier, AlertAction.ADD_EXTRA_PROPERTIES, parse, optional_body=False)


def _key_list(f: Fields, name: str, max_len: int, max_items: int = 100) -> list[str]:
    values = f.str_list(name, max_items=max_items, max_len=max_len)
    if values is None:
        f.error(name, "is required")
        return []
    cleaned = [v.strip() for v in values if v.strip()]
    if not cleaned:
        f.error(name, "must not be empty")
    return cleaned


def _query_list(name: str) -> list[str]:
    # Opsgenie sends the keys/tags of a DELETE as a comma-separated query parameter.
    raw = request.args.get(name, "")
    return [v.strip() for v in raw.split(",") if v.strip()]


@bp.delete("/<identifier>/extra-properties")
@api_key_required(WRITE)
def delete_extra_properties(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        if "keys" not in f.raw and _query_list("keys"):
            keys = _query_list("keys")
        else:
            keys = _key_list(f, "keys", 128)
        return {**_common_fields(f, lim), "keys": keys}

    return _submit(identifier, AlertAction.DELETE_EXTRA_PROPERTIES, parse)


@bp.post("/<identifier>/tags")
@api_key_required(WRITE)
def add_tags(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        return {**_common_fields(f, lim), "tags": _key_list(f, "tags", TAG_MAX, TAGS_MAX)}

    return _submit(identifier, AlertAction.ADD_TAGS, parse, optional_body=False)


@bp.delete("/<identifier>/tags")
@api_key_required(WRITE)
def remove_tags(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        if "tags" not in f.raw and _query_list("tags"):
            tags = _query_list("tags")
        else:
            tags = _key_list(f, "tags", TAG_MAX, 100)
        return {**_common_fields(f, lim), "tags": tags}

    return _submit(identifier, AlertAction.REMOVE_TAGS, parse)


@bp.post("/<identifier>/escalate")
@api_key_required(WRITE)
def escalate(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        escalation = f.raw.get("escalation")
        if "escalationId" not in f.raw and isinstance(escalation, dict):
            ident = escalation.get("id") or escalation.get("name")
            f = Fields({"escalationId": ident}) if isinstance(ident, str) else f
        return {**_common_fields(f, lim), "escalationId": _required(f, "escalationId")}

    return _submit(identifier, AlertAction.ESCALATE, parse, optional_body=False)


@bp.post("/<identifier>/action")
@api_key_required(WRITE)
def execute_action(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        return {**_common_fields(f, lim), "actionName": _required(f, "actionName", 50)}

    return _submit(identifier, AlertAction.EXECUTE_ACTION, parse, optional_body=False)


@bp.post("/<identifier>/snooze")
@api_key_required(WRITE)
def snooze(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        raw = f.raw.get("endTime")
        if raw is None:
            f.error("endTime", "is required")
            return {}
        end = parse_time(raw, "endTime")
        if end <= utcnow():
            f.error("endTime", "must be in the future")
        return {**_common_fields(f, lim), "endTime": end.isoformat()}

    return _submit(identifier, AlertAction.SNOOZE, parse, optional_body=False)


@bp.get("/<identifier>/notes")
@read_only
@api_key_required(READ)
def list_notes(identifier: str) -> Json:
    session = get_session()
    alert = require_alert(session, g.workspace.id, _ref(identifier))
    page = parse_page()
    notes, total = list_notes_page(session, alert, offset=page.offset, size=page.size)
    return paginated([note_to_json(n) for n in notes], total, page), 200


def _note_body(f: Fields, lim: Limiter) -> dict[str, Any]:
    note = f.required_str("note", strip=False)
    if note and not note.strip():
        f.error("note", "must not be empty")
    return {**_common_fields(f, lim), "note": lim.text("note", note, NOTE_MAX)}


@bp.post("/<identifier>/notes")
@api_key_required(WRITE)
def add_note(identifier: str) -> Json:
    return _submit(identifier, AlertAction.ADD_NOTE, _note_body, optional_body=False)


@bp.patch("/<identifier>/notes/<note_id>")
@api_key_required(WRITE)
def update_note(identifier: str, note_id: str) -> Json:
    return _submit(
        identifier, AlertAction.UPDATE_NOTE, _note_body, note_id=note_id, optional_body=False
    )


@bp.delete("/<identifier>/notes/<note_id>")
@api_key_required(WRITE)
def delete_note(identifier: str, note_id: str) -> Json:
    return _submit(identifier, AlertAction.DELETE_NOTE, _common_fields, note_id=note_id)


@bp.patch("/<identifier>/priority")
@api_key_required(WRITE)
def update_priority(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        if not f.has("priority"):
            f.error("priority", "is required")
            return {}
        priority = f.enum("priority", Priority)
        return {**_common_fields(f, lim), "priority": priority.value if priority else None}

    return _submit(identifier, AlertAction.UPDATE_PRIORITY, parse, optional_body=False)


@bp.patch("/<identifier>/message")
@api_key_required(WRITE)
def update_message(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        message = lim.text("message", f.required_str("message"), MESSAGE_MAX, ellipsis=True)
        return {**_common_fields(f, lim), "message": message}

    return _submit(identifier, AlertAction.UPDATE_MESSAGE, parse, optional_body=False)


@bp.patch("/<identifier>/description")
@api_key_required(WRITE)
def update_description(identifier: str) -> Json:
    def parse(f: Fields, lim: Limiter) -> dict[str, Any]:
        value = f.optional_str("description", strip=False)
        if "description" not in f.raw:
            f.error("description", "is required")
        text = lim.text("description", value, DESCRIPTION_MAX, ellipsis=True)
        return {**_common_fields(f, lim), "description": text}

    return _submit(identifier, AlertAction.UPDATE_DESCRIPTION, parse, optional_body=False)


@bp.get("/<identifier>/logs")
@api_key_required(READ)
def list_logs(identifier: str) -> Json:
    session = get_session()
    alert = require_alert(session, g.workspace.id, _ref(identifier))
    page = parse_page()
    order = request.args.get("order", "asc").lower()
    if order not in ("asc", "desc"):
        raise ValidationFailed(
            "order must be asc or desc", details={"source": {"parameter": "order"}}
        )
    logs, total = list_logs_page(
        session, alert, ascending=order == "asc", offset=page.offset, size=page.size
    )
    return paginated([log_to_json(entry) for entry in logs], total, page), 200
