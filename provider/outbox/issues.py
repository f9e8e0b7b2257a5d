"""Deliver messages of kind ``jira_issue``: a comment on one Jira issue and perhaps a transition.

The payload (built by ``provider.ops.incidents.issue_sync``) is
``{"issue": key, "comment": <ADF document> | None, "transition": name | None}``. A transition is
named as a person configures it (the transition's name, or the status it leads to, any case);
it is looked up among the issue's transitions at the moment of sending, because the available
ones depend on the issue's current status. An issue that does not exist on the site, or a
transition it does not offer, is a failure of that message kept with the reason (retrying cannot
help); anything else is a failure of the request, retried like every Jira call.

A message is one issue and one event, so a batch holds one message: a retry never repeats a
comment that was already made for another message.
"""

from __future__ import annotations

from typing import Any

from provider.connect.http import JiraHttpError
from provider.jira.client import JiraClient
from provider.outbox.handlers import Batch
from provider.outbox.handlers import Envelope
from provider.outbox.handlers import KindSpec
from provider.outbox.handlers import Outcome
from provider.outbox.kinds import Operation

# Statuses where the issue is absent or the call cannot succeed as sent.
_PERMANENT = frozenset({400, 404})


class IssueRefused(Exception):
    """This message cannot succeed on this site; the reason is kept."""


def find_transition(transitions: list[dict[str, Any]], wanted: str) -> str | None:
    """The id of the transition named ``wanted`` or leading to a status of that name."""
    folded = wanted.strip().casefold()
    for transition in transitions:
        to = transition.get("to")
        target = to.get("name") if isinstance(to, dict) else None
        names = (transition.get("name"), target)
        if any(isinstance(n, str) and n.casefold() == folded for n in names):
            found = transition.get("id")
            return str(found) if found is not None else None
    return None


def _status_of(issue: dict[str, Any] | None) -> str:
    if issue is None:
        raise IssueRefused("the issue does not exist on this site")
    fields = issue.get("fields")
    status = fields.get("status") if isinstance(fields, dict) else None
    name = status.get("name") if isinstance(status, dict) else None
    return name if isinstance(name, str) else ""


def _send_one(client: JiraClient, envelope: Envelope) -> None:
    payload = envelope.payload
    key = str(payload.get("issue") or "")
    if not key:
        raise ValueError("an issue message needs an issue key")
    comment = payload.get("comment")
    if isinstance(comment, dict):
        client.add_comment(key, comment)
    wanted = payload.get("transition")
    if isinstance(wanted, str) and wanted:
        if _status_of(client.get_issue(key)).casefold() == wanted.strip().casefold():
            return  # already there (moved by a person, or an earlier try of this message)
        transitions = client.get_transitions(key)
        transition_id = find_transition(transitions, wanted)
        if transition_id is None:
            offered = ", ".join(str(t.get("name")) for t in transitions) or "none"
            raise IssueRefused(f"{key} offers no transition {wanted!r} (offered: {offered})")
        client.transition_issue(key, transition_id)


def handle_issue(batch: Batch, jira: JiraClient | None) -> Outcome:
    if jira is None:
        raise RuntimeError("this kind needs a Jira client")
    if batch.operation != Operation.SEND:
        raise ValueError(f"unknown operation {batch.operation!r} for {batch.kind}")
    outcome = Outcome()
    for envelope in batch.messages:
        try:
            _send_one(jira, envelope)
        except IssueRefused as e:
            outcome.failed[envelope.entity_id] = str(e)[:2000]
            continue
        except JiraHttpError as e:
            if e.status not in _PERMANENT:
                raise
            reason = "; ".join(e.messages()) or f"HTTP {e.status}"
            outcome.failed[envelope.entity_id] = f"HTTP {e.status}: {reason}"[:2000]
            continue
        outcome.accepted.add(envelope.entity_id)
    return outcome


# After incidents (priority 2) and reviews (3): the issue's comment follows the incident it names.
KIND_SPEC = KindSpec(handle_issue, priority=4, max_batch={Operation.SEND: 1})
