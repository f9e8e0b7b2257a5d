"""An operations and DevOps-components provider for Jira Cloud.

Importing this package has no side effects; everything is built by ``provider.app.create_app``.
"""

__version__ = "0.1.0"
