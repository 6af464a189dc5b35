import pytest

from tests.integration.emulator.client import Arr


@pytest.fixture
def arr(emulator) -> Arr:
    return Arr(emulator.url, emulator.account_id, emulator.account_key)
