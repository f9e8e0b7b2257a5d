"""Alert actions beyond the printed ones, request status before and after processing, logs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.ops.conftest import Api
from tests.test_app import assert_error


def _do(api: Api, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = api.call(method, path, json=body)
    assert response.status_code == 202, response.get_json()
    request_id = response.get_json()["requestId"]
    api.process()
    return api.get(f"/v1/alerts/requests/{request_id}").get_json()


def test_request_status_is_404_until_processed_unless_pending_requested(api: Api) -> None:
    request_id = api.post("/v1/alerts", json={"message": "m", "alias": "p"}).get_json()["requestId"]
    assert_error(api.get(f"/v1/alerts/requests/{request_id}"), 404, "request_not_found")
    pending = api.get(f"/v1/alerts/requests/{request_id}?includePending=true").get_json()
    assert pending["processedAt"] is None
    assert pending["isSuccess"] is None
    assert pending["alias"] == "p"
    api.process()
    done = api.get(f"/v1/alerts/requests/{request_id}").get_json()
    assert done["status"] == "Created alert"
    assert done["processedAt"] is not None


def test_duplicate_reports_deduplicated_and_keeps_first_fields(api: Api) -> None:
    first = api.create_alert(alias="dup", message="first", priority="P4", tags=["a"])
    status = _do(api, "POST", "/v1/alerts", {"alias": "dup", "message": "second", "priority": "P1"})
    assert status["status"] == "Alert is deduplicated"
    assert status["alertId"] == first["id"]
    again = api.get("/v1/alerts/alias?alias=dup").get_json()
    assert (again["count"], again["message"], again["priority"], again["tags"]) == (
        2,
        "first",
        "P4",
        ["a"],
    )
    logs = api.get(f"/v1/alerts/{first['id']}/logs").get_json()["values"]
    assert [entry["action"] for entry in logs] == ["created", "deduplicated"]
    assert "second" in logs[1]["log"]


def test_a_create_opens_its_alert_in_one_statement(api: Api) -> None:
    """The upsert returns the row whole: a batch of creates reads the alerts table once (to
    load the open alerts of its aliases), not once more per create, and the alerts it opens
    are what the API then shows."""
    bodies = [{"message": f"disk {n}", "alias": f"disk-{n}", "tags": ["a"]} for n in range(5)]
    for body in bodies:
        assert api.post("/v1/alerts", json=body).status_code == 202
    with (
        api.statements_on("FROM alerts", reads=True) as reads,
        api.statements_on("INTO alerts") as writes,
    ):
        assert api.process() == 5  # one batch

    assert len(reads) == 1, reads
    assert len(writes) == 5, writes
    for body in bodies:
        shown = api.get(f"/v1/alerts/{body['alias']}?identifierType=alias").get_json()
        assert (shown["message"], shown["tags"], shown["count"]) == (body["message"], ["a"], 1)


def test_alert_without_alias_uses_its_id(api: Api) -> None:
    alert = api.create_alert(message="no alias")
    assert alert["alias"] == alert["id"]


def test_create_then_act_by_alias_before_processing(api: Api) -> None:
    api.post("/v1/alerts", json={"message": "m", "alias": "soon"})
    response = api.post("/v1/alerts/soon/acknowledge?identifierType=alias")
    assert response.status_code == 202
    api.process()
    assert api.get("/v1/alerts/soon?identifierType=alias").get_json()["status"] == "acked"


def test_ack_unack_snooze_and_close(api: Api) -> None:
    alert = api.create_alert(alias="life")
    path = f"/v1/alerts/{alert['id']}"
    _do(api, "POST", f"{path}/acknowledge", {"user": "alice", "note": "on it"})
    assert api.get(path).get_json()["acknowledged"] is True
    _do(api, "POST", f"{path}/unacknowledge")
    assert api.get(path).get_json()["status"] == "open"
    _do(api, "POST", f"{path}/snooze", {"endTime": "2999-01-01T00:00:00Z"})
    snoozed = api.get(path).get_json()
    assert (snoozed["status"], snoozed["snoozedUntil"]) == ("snoozed", "2999-01-01T00:00:00.000Z")
    _do(api, "POST", f"{path}/close")
    assert api.get(path).get_json()["status"] == "closed"
    failed = _do(api, "POST", f"{path}/acknowledge")
    assert (failed["isSuccess"], failed["status"]) == (False, "Alert is already closed")
    logs = api.get(f"{path}/logs?order=desc").get_json()["values"]
    assert logs[0]["action"] == "closed"
    assert any(e["owner"] == "alice" and e["action"] == "acknowledged" for e in logs)


def test_notes_add_list_update_delete(api: Api) -> None:
    alert = api.create_alert(alias="notes")
    path = f"/v1/alerts/{alert['id']}/notes"
    _do(api, "POST", path, {"note": "first"})
    _do(api, "POST", path, {"note": "second"})
    notes = api.get(path).get_json()
    assert notes["count"] == 2
    note_id = next(n["id"] for n in notes["values"] if n["note"] == "first")
    _do(api, "PATCH", f"{path}/{note_id}", {"note": "edited"})
    assert {n["note"] for n in api.get(path).get_json()["values"]} == {"edited", "second"}
    _do(api, "DELETE", f"{path}/{note_id}")
    assert [n["note"] for n in api.get(path).get_json()["values"]] == ["second"]
    assert_error(api.delete(f"{path}/{note_id}"), 404, "note_not_found")


def test_priority_message_description_updates(api: Api) -> None:
    alert = api.create_alert(alias="upd", priority="P3")
    path = f"/v1/alerts/{alert['id']}"
    _do(api, "PATCH", f"{path}/priority", {"priority": "P1"})
    _do(api, "PATCH", f"{path}/message", {"message": "new message"})
    _do(api, "PATCH", f"{path}/description", {"description": "new description"})
    after = api.get(path).get_json()
    assert (after["priority"], after["message"], after["description"]) == (
        "P1",
        "new message",
        "new description",
    )
    actions = [e["action"] for e in api.get(f"{path}/logs").get_json()["values"]]
    assert actions[-3:] == ["priority_changed", "message_changed", "description_changed"]


def test_custom_action_must_be_defined_on_the_alert(api: Api) -> None:
    alert = api.create_alert(alias="act", actions=["Restart"])
    ok = _do(api, "POST", f"/v1/alerts/{alert['id']}/action", {"actionName": "Restart"})
    assert ok["isSuccess"] is True
    bad = _do(api, "POST", f"/v1/alerts/{alert['id']}/action", {"actionName": "Reboot"})
    assert bad["isSuccess"] is False


def test_tiny_id_and_alias_lookups(api: Api) -> None:
    alert = api.create_alert(alias="look")
    assert (
        api.get(f"/v1/alerts/{alert['tinyId']}?identifierType=tiny").get_json()["id"]
        == (alert["id"])
    )
    assert api.get("/v1/alerts/alias?alias=look").get_json()["id"] == alert["id"]
    assert_error(api.get("/v1/alerts/alias?alias=nothing"), 404, "alert_not_found")
    assert_error(api.get("/v1/alerts/alias"), 422)


def test_delete_tags_by_query_parameter(api: Api) -> None:
    alert = api.create_alert(alias="qtags", tags=["a", "b", "c"])
    _do(api, "DELETE", f"/v1/alerts/{alert['id']}/tags?tags=a,c")
    assert api.get(f"/v1/alerts/{alert['id']}").get_json()["tags"] == ["b"]


def test_an_action_by_alias_finds_the_alert_whose_create_was_applied_meanwhile(api: Api) -> None:
    """The batch applying the create may commit between the action's two reads (no alert yet,
    then no pending create any more): the action finds the alert rather than answering 404."""
    created = api.post("/v1/alerts", json={"message": "disk full", "alias": "disk"})
    assert created.status_code == 202
    bind = api.session_factory.kw["bind"]
    applied: list[int] = []

    def apply_first(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if applied or "alert_requests.alias" not in statement:
            return
        applied.append(0)  # before processing, whose own statements come here too
        applied[0] = api.process()

    event.listen(bind, "before_cursor_execute", apply_first)
    try:
        closed = api.post("/v1/alerts/disk/close?identifierType=alias", json={})
    finally:
        event.remove(bind, "before_cursor_execute", apply_first)
    assert applied == [1]
    assert closed.status_code == 202, closed.get_json()
    api.process()
    assert api.get("/v1/alerts/disk?identifierType=alias").get_json()["status"] == "closed"
