"""Import every model module so ``Base.metadata`` is complete (Alembic, tests)."""

from provider.connect import models as connect_models  # noqa: F401
from provider.db import Base
from provider.ops.alerts import models as alert_models  # noqa: F401
from provider.ops.components import models as component_models  # noqa: F401
from provider.ops.heartbeats import models as heartbeat_models  # noqa: F401
from provider.ops.incidents import models as incident_models  # noqa: F401
from provider.ops.integrations import models as integration_models  # noqa: F401
from provider.ops.workspaces import models as workspace_models  # noqa: F401
from provider.outbox import models as outbox_models  # noqa: F401
from provider.web import models as web_models  # noqa: F401

metadata = Base.metadata

# Indexes only PostgreSQL has (an extension's operator class, a collation); the migrations own
# them, and comparisons of the models with a database leave them out.
POSTGRESQL_ONLY_INDEXES = frozenset(
    {"ix_components_name_trgm", "ix_components_workspace_name_bytes"}
)
# SQLite's trigram index of component names (migration 0017): an FTS5 virtual table and the
# shadow tables FTS5 keeps its index in.
SQLITE_ONLY_TABLE_PREFIX = "components_fts"


def include_object(_obj: object, name: str | None, type_: str, *_args: object) -> bool:
    """Alembic's filter for autogenerate and model/database comparisons."""
    if type_ == "table" and name is not None and name.startswith(SQLITE_ONLY_TABLE_PREFIX):
        return False
    return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES)
