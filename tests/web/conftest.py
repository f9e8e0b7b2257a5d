from tests.ops.conftest import api  # noqa: F401 - the /v1 client fixtures, shared
from tests.ops.conftest import other_api  # noqa: F401
