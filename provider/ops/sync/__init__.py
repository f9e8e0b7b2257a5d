"""The one seam from the domain to Jira: what a site is sent, for every site that should see it.

Contexts call :mod:`provider.ops.sync.service` when an entity changes; it owns the query of
the sites linked to a workspace, the ``updateSequenceNumber`` bump and the enqueue, and
:mod:`provider.ops.sync.payloads` holds the one transform per entity into Jira's wire shape.
The links in those payloads come from :class:`~provider.ops.sync.links.Links`, built once by
the composition root.
"""
