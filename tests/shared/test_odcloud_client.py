"""The odcloud client judges success by the body, not the status alone."""
import pytest

from deploy.sandbox import create_app
from shared.connectors.odcloud import OdcloudClient, OdcloudError
from shared.http import HttpSession
from tests.support.http_server import serve


@pytest.fixture
def gateway():
    """The sandbox served over real HTTP from a thread."""
    with serve(create_app({"ODCLOUD_KEYS": ["k"], "ODCLOUD_TRIALS": 23, "ODCLOUD_SEED": 2})) as url:
        yield url + "/api"


def test_pages_until_total_count(gateway):
    client = OdcloudClient(gateway, "k", HttpSession(retries=0), per_page=10)
    pages = list(client.pages())
    assert [len(p.records) for p in pages] == [10, 10, 3]
    assert pages[0].total_pages == 3


def test_error_body_raises_with_code(gateway):
    client = OdcloudClient(gateway, "wrong", HttpSession(retries=0))
    with pytest.raises(OdcloudError) as caught:
        client.fetch_page(1)
    assert (caught.value.status, caught.value.code) == (400, -4)


def test_connection_refused_is_an_odcloud_error():
    client = OdcloudClient("http://127.0.0.1:9/api", "k", HttpSession(retries=0, timeout=2))
    with pytest.raises(OdcloudError, match="ConnectionError"):
        client.fetch_page(1)


def test_missing_key_is_refused_before_any_request():
    with pytest.raises(OdcloudError, match="ODCLOUD_SERVICE_KEY"):
        OdcloudClient("http://127.0.0.1:9/api", "", HttpSession())
