"""Packages the app does not import to start arrive in the background, and import as usual."""

import pytest

from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser


def test_pandas_is_not_imported_at_start_but_imports_later(page, site, requests_log):
    wait_ready(page, site.url)
    assert python(page, "import sys\n'pandas' in sys.modules") is False
    shape = python(page, "import pandas, PIL.Image\nlist(pandas.DataFrame({'a': [1, 2, 3]}).shape)")
    assert shape == [3, 1]
    assert requests_log.foreign == []
