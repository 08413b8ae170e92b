import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cost_cache(tmp_path_factory):
    # The planner caches measured costs (recq-compile --cost-cache); tests
    # keep theirs in a directory of the session, never in ~/.cache.
    old = os.environ.get("RECQ_CACHE_DIR")
    os.environ["RECQ_CACHE_DIR"] = str(tmp_path_factory.mktemp("recq-cache"))
    yield
    if old is None:
        del os.environ["RECQ_CACHE_DIR"]
    else:
        os.environ["RECQ_CACHE_DIR"] = old
