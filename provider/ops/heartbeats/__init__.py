"""Heartbeats: a workspace expects a ping every interval; a missed one opens an alert.

Reaches alerts only through ``provider.ops.alerts.service``; imports no other context's models.
"""
