"""Incidents and post-incident reviews: promotion of alerts, component mapping, Jira payloads.

Part of the ``ops`` domain: may use ``connect`` models, ``jira.schemas`` and ``outbox.queue``.
"""
