"""The product domain: workspaces, components, alerts, integrations, incidents and reviews.

It may use ``connect`` (installations, auth), ``jira.schemas`` (types) and ``outbox.queue.enqueue``;
it never calls Jira itself.
"""
