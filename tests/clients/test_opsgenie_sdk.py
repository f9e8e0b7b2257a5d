"""The Python ``opsgenie-sdk`` (PyPI, 2.1.5), unchanged but for its host, against the app.

Every call must return without an exception (the SDK checks Opsgenie's envelopes as it reads
them) and read back what was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import opsgenie_sdk
import pytest
from opsgenie_sdk.rest import ApiException

from tests.clients.conftest import LiveOps

T = TypeVar("T")


@pytest.fixture
def sdk(live_ops: LiveOps) -> opsgenie_sdk.AlertApi:
    conf = opsgenie_sdk.configuration.Configuration()
    conf.host = live_ops.url
    conf.api_key["Authorization"] = live_ops.key
    conf.retry_enabled = False
    return opsgenie_sdk.AlertApi(api_client=opsgenie_sdk.api_client.ApiClient(configuration=conf))


def eventually(call: Callable[[], T], timeout: float = 20) -> T:
    """``call`` once the request it reads is processed (404 until then, as in Opsgenie)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def done(sdk: opsgenie_sdk.AlertApi, response: Any) -> Any:
    """Wait for a write's request to be processed; its status, as the SDK reads it."""
    assert response.result == "Request will be processed"
    status = eventually(lambda: sdk.get_request_status(request_id=response.request_id)).data
    assert status.is_success, status
    return status


def test_the_sdk_round_trip(sdk: opsgenie_sdk.AlertApi) -> None:
    payload = opsgenie_sdk.CreateAlertPayload(
        message="Payment API latency",
        alias="payments-latency",
        description="p99 above 2s",
        responders=[{"name": "payments", "type": "team"}],
        tags=["payments", "latency"],
        details={"region": "eu-west-1"},
        entity="payments-api",
        source="sdk",
        priority="P2",
    )
    created = done(sdk, sdk.create_alert(create_alert_payload=payload))
    assert created.action == "Create"

    by_id = sdk.get_alert(identifier=created.alert_id, identifier_type="id").data
    by_alias = sdk.get_alert(identifier="payments-latency", identifier_type="alias").data
    by_tiny = sdk.get_alert(identifier=by_id.tiny_id, identifier_type="tiny").data
    for alert in (by_id, by_alias, by_tiny):
        assert alert.id == created.alert_id
        assert alert.message == "Payment API latency"
        assert alert.priority == "P2"
        assert alert.tags == ["payments", "latency"]
        assert alert.details == {"region": "eu-west-1"}
        assert alert.responders[0].type == "team"

    listed = sdk.list_alerts(query="tag:payments", limit=10, offset=0, sort="createdAt")
    assert [a.alias for a in listed.data] == ["payments-latency"]
    assert sdk.count_alerts(query="tag:payments").data.count == 1

    ack = opsgenie_sdk.AcknowledgeAlertPayload(user="jane", note="looking")
    done(sdk, sdk.acknowledge_alert(identifier="payments-latency", identifier_type="alias",
                                    acknowledge_alert_payload=ack))  # fmt: skip
    note = opsgenie_sdk.AddNoteToAlertPayload(user="jane", note="rolled back")
    done(sdk, sdk.add_note(identifier=created.alert_id, add_note_to_alert_payload=note))
    notes = sdk.list_notes(identifier=created.alert_id, identifier_type="id", limit=10).data
    assert [n.note for n in notes] == ["rolled back", "looking"]

    tags = opsgenie_sdk.AddTagsToAlertPayload(tags=["rollback"])
    done(sdk, sdk.add_tags(identifier=created.alert_id, add_tags_to_alert_payload=tags))
    details = opsgenie_sdk.AddDetailsToAlertPayload(details={"build": "1042"})
    done(sdk, sdk.add_details(identifier=created.alert_id, add_details_to_alert_payload=details))
    close = opsgenie_sdk.CloseAlertPayload(note="fixed")
    closed = done(sdk, sdk.close_alert(identifier="payments-latency", identifier_type="alias",
                                       close_alert_payload=close))  # fmt: skip
    assert closed.action == "Close"

    final = sdk.get_alert(identifier=created.alert_id).data
    assert final.status == "closed"
    assert final.acknowledged is True
    assert final.tags == ["payments", "latency", "rollback"]
    assert final.details == {"region": "eu-west-1", "build": "1042"}
    assert final.report.closed_by == "api-key"


def test_the_sdk_reads_opsgenies_error_body(sdk: opsgenie_sdk.AlertApi) -> None:
    with pytest.raises(ApiException) as raised:
        sdk.get_alert(identifier="no-such-alert", identifier_type="alias")
    assert raised.value.status == 404
    assert "Alert does not exist" in str(raised.value.body)
