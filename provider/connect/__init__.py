"""The Atlassian Connect protocol: descriptor, lifecycle, JWT, install keys and signed HTTP.

It knows nothing of operations, Jira's Operations APIs or the outbox; it imports only the foundation.
"""
