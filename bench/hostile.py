"""The costliest configuration a workspace may save, for the storm scenario and its tests.

Every pattern is one a backtracking engine never finishes on the text it meets, ``(a|aa)+$``
against ``"a" * 129 + "!"`` (what the outside review used), and every count is at the limit the
API enforces: outgoing actions of fifty such conditions, entityRegex component mappings, incident
rules whose filters hold fifty such conditions, and an incoming action whose templates are all
``extract()`` calls. Built through the API only, so it is what a tenant could do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provider.ops.incidents.configuration import MAX_MAPPINGS_PER_WORKSPACE
from provider.ops.incidents.configuration import MAX_RULES_PER_WORKSPACE
from provider.ops.integrations.action_inputs import MAX_PROPERTIES_CHARS
from provider.ops.integrations.service import MAX_OUTGOING_ACTIONS_PER_WORKSPACE
from provider.ops.lang.filters import MAX_CONDITIONS
from provider.ops.lang.templates import MAX_EXPRESSIONS

CATASTROPHIC = "(a|aa)+$"
#: The text those patterns meet: the alert's message and entity.
POISON = "a" * 129 + "!"

#: ``call(method, path, body)`` → ``(status, answer)``: a test client or an HTTP session, with
#: the workspace's key.
Call = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]


def conditions(field: str = "message") -> list[dict[str, Any]]:
    return [
        {"field": field, "operation": "matches", "expectedValue": CATASTROPHIC}
        for _ in range(MAX_CONDITIONS)
    ]


def worst_filter(*, holds: bool = False) -> dict[str, Any]:
    """Fifty patterns, every one tried (match-any); ``holds``: the last, plain, condition holds,
    so that what the filter guards (an action's templates) runs after them."""
    patterns = conditions()
    if holds:
        patterns[-1] = {"field": "message", "operation": "contains", "expectedValue": "!"}
    return {"conditionMatchType": "match-any-condition", "conditions": patterns}


def extracts() -> str:
    return "{{message.extract(/" + CATASTROPHIC + "/)}}" * MAX_EXPRESSIONS


def outgoing_action(n: int, url: str) -> dict[str, Any]:
    return {
        "type": "postToUrl",
        "name": f"forward {n}",
        "domain": "alert",
        "direction": "outgoing",
        "filter": worst_filter(),
        "typeSpecificProperties": {"url": url},
        "actionMapping": {"type": "create"},
    }


def incoming_action() -> dict[str, Any]:
    """A create action whose filter and templates hold as many patterns as the limits allow.

    The field mappings as a whole are capped in size (``MAX_PROPERTIES_CHARS``), so as many
    ``extract()`` templates as fit.
    """
    template = extracts()
    mappings: dict[str, Any] = {}
    fields = ("message", "description", "entity", "note", "source", "alias")
    for name in fields:
        if len(str({**mappings, name: template})) > MAX_PROPERTIES_CHARS:
            break
        mappings[name] = template
    return {
        "type": "create",
        "name": "Create, the costly way",
        "domain": "alert",
        "direction": "incoming",
        "filter": worst_filter(holds=True),
        "fieldMappings": mappings,
    }


def _created(answer: tuple[int, Any], what: str) -> Any:
    status, body = answer
    if status not in (200, 201):
        raise RuntimeError(f"cannot add {what}: {status} {body}")
    return body.get("data", body) if isinstance(body, dict) else body


def configure(
    call: Call, *, component_id: str, url: str, copies: int | None = None
) -> dict[str, Any]:
    """Save the worst configuration; returns the integration (its ``id`` and ``apiKey``).

    ``component_id``: a component of the workspace the mappings name. ``url``: where the
    outgoing actions would post (they never match). ``copies``: how many outgoing actions,
    rules and mappings to save, when not as many as the limits allow.
    """

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return call("POST", path, body)

    integration = _created(
        post("/v1/integrations", {"name": "Everything at the limit", "type": "API"}), "integration"
    )
    base = f"/v1/integrations/{integration['id']}/actions"
    # The default actions would take every event before the costly one is reached.
    status, listed = call("GET", base, None)
    for action in listed["values"] if status == 200 else ():
        if action["direction"] == "incoming":
            call("DELETE", f"{base}/{action['id']}", None)
    _created(post(base, incoming_action()), "the incoming action")
    for n in range(copies or MAX_OUTGOING_ACTIONS_PER_WORKSPACE):
        _created(post(base, outgoing_action(n, url)), "an outgoing action")
    for n in range(copies or MAX_RULES_PER_WORKSPACE):
        rule = {"name": f"rule {n}", "filter": worst_filter()}
        _created(post("/v1/incident-rules", rule), "an incident rule")
    for _ in range(copies or MAX_MAPPINGS_PER_WORKSPACE):
        mapping = {"type": "entityRegex", "value": CATASTROPHIC, "componentId": component_id}
        _created(post("/v1/component-mappings", mapping), "a component mapping")
    return dict(integration)


def poisoned_alert(n: int, **extra: Any) -> dict[str, Any]:
    """An alert whose message and entity every pattern above meets."""
    return {"message": POISON, "entity": POISON, "alias": f"poison-{n}", **extra}
