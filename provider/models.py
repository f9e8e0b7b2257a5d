"""Import every model module so ``Base.metadata`` is complete (Alembic, tests). Nothing else."""

from provider.connect import models as connect_models  # noqa: F401
from provider.db import Base
from provider.ops import alert_models  # noqa: F401
from provider.ops import association_models  # noqa: F401
from provider.ops import integration_models  # noqa: F401
from provider.ops import models as ops_models  # noqa: F401
from provider.ops.incidents import models as incident_models  # noqa: F401
from provider.outbox import models as outbox_models  # noqa: F401

metadata = Base.metadata
