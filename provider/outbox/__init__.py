"""Durable pushes to Jira: the transactional outbox and the worker that drains it.

It moves opaque ``(kind, operation, entity, payload)`` messages and never imports ``ops`` or ``web``.
"""
