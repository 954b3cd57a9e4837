import os

import pytest

from tests.flows import harness


@pytest.fixture
def update_golden() -> bool:
    return os.environ.get("GIGLINE_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True, params=harness.CHANNELS)
def played_over(request, monkeypatch):
    """Every flow test, golden transcripts included, as the flow gives its commands and
    through each carrier's channel: what a caller hears must not depend on the carrier."""
    monkeypatch.setitem(harness.PLAYED_OVER, "channel", request.param)
    return request.param
