"""Jira Software's Operations and DevOps Components REST APIs (outbound only).

``schemas`` is pure (types and payload rules); anything may import it. ``client`` is used only by the
outbox worker.
"""
