from __future__ import annotations

from typing import Any

from provider.ops.integrations.engine import ActionSpec
from provider.ops.integrations.engine import decide
from provider.ops.integrations.engine import render_fields
from provider.ops.lang.filter_schemas import parse_filter

EMAIL_MAPPINGS = {
    "note": "",
    "description": "{{message}}",
    "source": "Email",
    "message": "{{subject}}",
    "priority": "{{priority}}",
    "tags": [],
    "alias": "",
    "details": {"From": "{{from_address}}"},
    "user": "",
    "actions": [],
    "entity": "",
}


def action(
    id: str,
    type: str,
    *,
    order: float = 0,
    conditions: list[dict[str, Any]] | None = None,
    mappings: dict[str, Any] | None = None,
    props: dict[str, Any] | None = None,
    enabled: bool = True,
) -> ActionSpec:
    flt = parse_filter(
        {"conditionMatchType": "match-all-conditions", "conditions": conditions}
        if conditions
        else {"conditionMatchType": "match-all"}
    )
    return ActionSpec(
        id=id,
        name=f"{type} {id}",
        type=type,
        order=order,
        filter=flt,
        field_mappings=mappings or {},
        type_specific_properties=props or {},
        enabled=enabled,
    )


def contains(field: str, value: str) -> dict[str, Any]:
    return {"field": field, "operation": "contains", "expectedValue": value}


def test_seed_email_example_creates_an_alert_from_subject_and_sender() -> None:
    payload = {
        "subject": "Database db02 is down",
        "message": "Connection refused on port 5432",
        "from_address": "monitor@example.com",
        "priority": "P1",
    }
    decision = decide([action("1", "create", mappings=EMAIL_MAPPINGS)], payload)
    assert decision.action_type == "create"
    fields = decision.rendered.fields
    assert fields["message"] == "Database db02 is down"
    assert fields["description"] == "Connection refused on port 5432"
    assert fields["source"] == "Email"
    assert fields["priority"] == "P1"
    assert fields["details"] == {"From": "monitor@example.com"}
    assert decision.rendered.errors == []


def test_ignore_wins_over_create_whatever_the_order() -> None:
    actions = [
        action("c", "create", order=0),
        action("i", "ignore", order=99, conditions=[contains("message", "test")]),
    ]
    decision = decide(actions, {"message": "a test alert"})
    assert decision.action_type == "ignore"
    assert decision.rendered is None
    assert decision.status == "Ignored by action 'ignore i'"
    assert decide(actions, {"message": "real"}).action_type == "create"


def test_type_precedence_is_create_close_acknowledge_add_note() -> None:
    actions = [
        action("n", "addNote"),
        action("a", "acknowledge"),
        action("x", "close", conditions=[contains("status", "resolved")]),
        action("c", "create", conditions=[contains("status", "firing")]),
    ]
    assert decide(actions, {"status": "firing"}).action_type == "create"
    assert decide(actions, {"status": "resolved"}).action_type == "close"
    assert decide(actions, {"status": "other"}).action_type == "acknowledge"


def test_within_a_type_the_lowest_order_wins_and_only_one_action_runs() -> None:
    actions = [
        action("late", "create", order=2),
        action("early", "create", order=1),
    ]
    decision = decide(actions, {"message": "x"})
    assert decision.action.id == "early"
    assert [entry[0].id for entry in decision.trace] == ["early"]


def test_disabled_actions_are_skipped_and_explained() -> None:
    actions = [action("off", "create", enabled=False), action("on", "create", order=5)]
    decision = decide(actions, {"message": "x"})
    assert decision.action.id == "on"
    assert decision.to_json()["evaluated"][0]["skipped"] == "disabled"


def test_no_match_means_nothing_happens() -> None:
    decision = decide(
        [action("c", "create", conditions=[contains("message", "zzz")])], {"message": "a"}
    )
    assert decision.action is None
    assert decision.status == "No matching action; ignored"
    assert decision.to_json()["evaluated"][0]["filter"]["matched"] is False


def test_outgoing_actions_are_not_incoming_candidates() -> None:
    decision = decide([action("p", "postToUrl")], {"message": "x"})
    assert decision.action is None


def test_keep_flags_merge_payload_values_with_mapped_ones() -> None:
    spec = action(
        "c",
        "create",
        mappings={
            "tags": ["mapped", "{{env}}"],
            "actions": ["page"],
            "details": {"k": "{{env}}"},
            "responders": [{"type": "team", "id": "t-1"}],
        },
    )
    payload = {
        "message": "m",
        "env": "prod",
        "tags": ["from-payload", "mapped"],
        "actions": ["restart"],
        "details": {"region": "eu"},
        "responders": [{"type": "user", "id": "u-1"}],
    }
    fields = render_fields(spec, payload).fields
    assert fields["tags"] == ["from-payload", "mapped", "prod"]
    assert fields["actions"] == ["restart", "page"]
    assert fields["details"] == {"region": "eu", "k": "prod"}
    # keepRespondersFromPayload defaults to false.
    assert fields["responders"] == [{"type": "team", "id": "t-1"}]


def test_keep_flags_off_use_only_mapped_values() -> None:
    spec = action(
        "c",
        "create",
        mappings={"tags": ["mapped"]},
        props={
            "keepTagsFromPayload": False,
            "keepActionsFromPayload": False,
            "keepExtraPropertiesFromPayload": False,
            "keepRespondersFromPayload": True,
        },
    )
    payload = {
        "message": "m",
        "tags": ["t"],
        "actions": ["a"],
        "details": {"d": "1"},
        "responders": [{"type": "team", "id": "x"}, {"type": "bogus", "id": "y"}],
    }
    fields = render_fields(spec, payload).fields
    assert fields["tags"] == ["mapped"]
    assert fields["actions"] == []
    assert fields["details"] == {}
    assert fields["responders"] == [{"type": "team", "id": "x"}]


def test_a_whole_list_template_expands_into_items() -> None:
    spec = action(
        "c", "create", mappings={"tags": ["{{labels}}"]}, props={"keepTagsFromPayload": False}
    )
    fields = render_fields(spec, {"message": "m", "labels": ["a", "b"]}).fields
    assert fields["tags"] == ["a", "b"]


def test_limits_are_applied_after_rendering() -> None:
    spec = action(
        "c", "create", mappings={"tags": ["{{many}}"]}, props={"keepTagsFromPayload": False}
    )
    payload = {"message": "m" * 500, "many": [f"t{i}" for i in range(40)], "alias": "a" * 600}
    rendered = render_fields(spec, payload)
    assert len(rendered.fields["message"]) == 130
    assert rendered.fields["message"].endswith("…")
    assert len(rendered.fields["alias"]) == 512
    assert len(rendered.fields["tags"]) == 20
    assert set(rendered.truncated) >= {"message", "alias", "tags"}


def test_bad_priority_and_empty_message_fall_back_visibly() -> None:
    spec = action("c", "create", mappings={"message": "{{nothing}}", "priority": "urgent"})
    rendered = render_fields(spec, {})
    assert rendered.fields["priority"] == "P3"
    assert rendered.fields["message"].startswith("[no message")
    assert any("priority" in e for e in rendered.errors)


def test_template_errors_do_not_drop_the_alert() -> None:
    spec = action("c", "create", mappings={"message": "Alert {{ ''.__class__ }}"})
    decision = decide([spec], {"x": 1})
    assert decision.action_type == "create"
    assert decision.rendered.fields["message"].startswith("Alert [template error:")
    assert decision.rendered.errors
