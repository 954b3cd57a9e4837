import os

import pytest


@pytest.fixture
def update_golden() -> bool:
    return os.environ.get("GIGLINE_UPDATE_GOLDEN") == "1"
