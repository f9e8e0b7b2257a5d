"""Prometheus Alertmanager, unchanged, against the app: ``opsgenie_configs`` pointed at JSM's
integration URL, and a webhook receiver keeping a heartbeat alive with the Watchdog alert.

Run with Debian's ``prometheus-alertmanager`` (installed by ``.ci/run``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from provider.ops.heartbeats.expiry import expire_due
from tests.clients import alertmanager
from tests.clients.alertmanager import Alertmanager
from tests.clients.conftest import LiveOps

pytestmark = pytest.mark.skipif(
    alertmanager.BINARY is None, reason="prometheus-alertmanager is not installed"
)

CONFIG = """
route:
  receiver: opsgenie
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 3s
  routes:
    - receiver: heartbeat
      matchers: ['alertname="Watchdog"']
      repeat_interval: 5s
receivers:
  - name: opsgenie
    opsgenie_configs:
      - api_key: {key}
        api_url: {url}/jsm/ops/integration/
        message: '{{{{ .CommonLabels.alertname }}}} on {{{{ .CommonLabels.instance }}}}: {{{{ .CommonAnnotations.summary }}}}'
        description: '{{{{ .CommonAnnotations.description }}}}'
        priority: '{{{{ .CommonLabels.severity }}}}'
        tags: 'prometheus,{{{{ .CommonLabels.team }}}}'
        source: prometheus
        details:
          runbook: '{{{{ .CommonAnnotations.runbook }}}}'
        update_alerts: true
        send_resolved: true
  - name: heartbeat
    webhook_configs:
      - url: {url}/v2/heartbeats/watchdog/ping
        send_resolved: false
        http_config:
          authorization:
            type: GenieKey
            credentials: {key}
"""

DISK_FULL = {"alertname": "DiskFull", "instance": "db-1", "severity": "P2", "team": "storage"}


def api(live: LiveOps, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"GenieKey {live.key}"}
    response = requests.request(method, f"{live.url}{path}", headers=headers, timeout=5, **kwargs)
    response.raise_for_status()
    return response.json()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def manager(live_ops: LiveOps, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    # The heartbeat exists before Alertmanager starts pinging it.
    api(live_ops, "POST", "/v2/heartbeats",
        json={"name": "watchdog", "interval": 1, "intervalUnit": "minutes", "enabled": True})  # fmt: skip
    workdir: Path = tmp_path_factory.mktemp("alertmanager")
    running = alertmanager.start(CONFIG.format(key=live_ops.key, url=live_ops.url), workdir)
    running.push({"labels": {"alertname": "Watchdog", "severity": "none"}})
    try:
        yield running
    finally:
        running.stop()


def _alert_with(live: LiveOps, message: str) -> dict[str, Any] | None:
    alerts = api(live, "GET", "/v2/alerts", params={"query": "tag:prometheus"})["data"]
    matching = [a for a in alerts if a["message"] == message]
    if not matching:
        return None
    alert: dict[str, Any] = api(live, "GET", f"/v2/alerts/{matching[0]['id']}")["data"]
    return alert


def test_opsgenie_configs_create_update_and_close_alerts(
    live_ops: LiveOps, manager: Alertmanager
) -> None:
    annotations = {
        "summary": "90% used",
        "description": "volume /data",
        "runbook": "https://rb/disk",
    }
    manager.push({"labels": DISK_FULL, "annotations": annotations})

    first = wait_for(lambda: _alert_with(live_ops, "DiskFull on db-1: 90% used"), "the alert")
    assert first["priority"] == "P2"
    assert first["tags"] == ["prometheus", "storage"]
    assert first["description"] == "volume /data"
    assert first["source"] == "prometheus"
    assert first["details"] == {**DISK_FULL, "runbook": "https://rb/disk"}
    assert first["status"] == "open"

    # The alert changes in Prometheus; Alertmanager re-sends it and updates message and description.
    changed = {**annotations, "summary": "97% used", "description": "volume /data is full"}
    manager.push({"labels": DISK_FULL, "annotations": changed})
    # Two requests (message, then description), each processed in its turn: wait for both.
    updated = wait_for(
        lambda: (
            (a := _alert_with(live_ops, "DiskFull on db-1: 97% used"))
            and a["description"] == "volume /data is full"
            and a
        ),
        "the update of message and description",
    )
    assert updated["id"] == first["id"]
    assert updated["alias"] == first["alias"]
    assert updated["count"] >= 2

    manager.push({"labels": DISK_FULL, "annotations": changed, "endsAt": alertmanager.stamp()})
    closed = wait_for(
        lambda: (
            (a := _alert_with(live_ops, "DiskFull on db-1: 97% used")) and a["status"] == "closed"
        ),
        "the close",
    )
    assert closed

    sent = [e for e in live_ops.recording.seen if e.path.startswith("/jsm/ops/integration/")]
    assert {(e.method, e.path.rsplit("/", 1)[-1]) for e in sent} >= {
        ("POST", "alerts"),
        ("PUT", "message"),
        ("PUT", "description"),
        ("POST", "close"),
    }
    assert [e for e in sent if e.status >= 400] == []
    assert manager.metric("alertmanager_notifications_failed_total", integration="opsgenie") == 0
    assert manager.metric("alertmanager_notifications_total", integration="opsgenie") >= 3


def test_the_watchdog_keeps_a_heartbeat_alive_until_alertmanager_stops(
    live_ops: LiveOps, manager: Alertmanager
) -> None:
    started = time.monotonic()
    while time.monotonic() - started < 65:
        assert expire_due(live_ops.session_factory) == 0
        time.sleep(5)
    beat = api(live_ops, "GET", "/v2/heartbeats/watchdog")["data"]
    assert beat["expired"] is False
    last_ping = datetime.fromisoformat(beat["lastPingTime"].replace("Z", "+00:00"))
    assert datetime.now(UTC) - last_ping < timedelta(seconds=15)
    pings = [e for e in live_ops.recording.seen if e.path == "/v2/heartbeats/watchdog/ping"]
    assert len(pings) >= 10
    assert {e.status for e in pings} == {202}

    manager.stop()

    # Nothing pings it any more: a minute after the last ping, the worker expires it.
    assert expire_due(live_ops.session_factory) == 0
    assert expire_due(live_ops.session_factory, now=last_ping + timedelta(seconds=61)) == 1
    expired = wait_for(lambda: _expiry_alert(live_ops), "the expiry alert")
    assert expired["message"] == "watchdog is expired"
    assert api(live_ops, "GET", "/v2/heartbeats/watchdog")["data"]["expired"] is True


def _expiry_alert(live: LiveOps) -> dict[str, Any] | None:
    alerts = api(live, "GET", "/v2/alerts", params={"query": "message:expired"})["data"]
    return alerts[0] if alerts else None
