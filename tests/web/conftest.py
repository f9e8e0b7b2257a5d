from tests.ops.conftest import api  # noqa: F401 - the /v1 client fixtures, shared
from tests.ops.conftest import other_api  # noqa: F401
from tests.web.browsing import shop  # noqa: F401 - the pages in a browser, on a live stack
from tests.web.browsing import shots  # noqa: F401
from tests.web.browsing import sim  # noqa: F401
from tests.web.browsing import stack  # noqa: F401
from tests.web.browsing import tab  # noqa: F401
from tests.web.test_admin_browser import browser  # noqa: F401
