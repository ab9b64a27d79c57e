"""Swagger UI (/docs) and ReDoc (/redoc) are served by each service itself: every file the pages
load comes from the service, no page names another host, and a policy keeps the browser from
fetching anything elsewhere."""
from __future__ import annotations

import re

import pytest

from shared.api import DOCS_CONTENT_SECURITY_POLICY
from tests.shared.service_apps import SERVICES, service_app, service_config

PAGES = ("/docs", "/redoc")
URL = re.compile(r"https?://[^\s\"'<>)]+", re.IGNORECASE)
ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.fixture(params=SERVICES)
def client(request, migrated_database_for, tmp_path, redis_url):
    service = request.param
    with service_app(service, service_config(service, migrated_database_for(service), tmp_path, redis_url)) as app:
        yield app.test_client()


@pytest.mark.parametrize("page", PAGES)
def test_no_page_names_another_host(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert URL.findall(html) == []
    assert "cdn" not in html.lower()
    assert response.headers["Content-Security-Policy"] == DOCS_CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_loads_is_served_by_the_service(client, page):
    html = client.get(page).get_data(as_text=True)
    assets = ASSET.findall(html)
    assert any(asset.endswith(".js") for asset in assets), html
    for asset in assets:
        assert asset.startswith("/docs/static/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 1000, asset  # the real bundle, not an empty placeholder
        response.close()


def test_only_the_bundled_files_are_served(client):
    bundle = client.get("/docs/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()
    for path in ("/docs/static/other/x.js", "/docs/static/redoc/../../config.py",
                 "/docs/static/swagger-ui/../flask_swagger_ui.py", "/docs/static/redoc/missing.js"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["code"] == 404
    # The policy is for the documentation pages; the API's own answers are left as they were.
    assert "Content-Security-Policy" not in client.get("/openapi.json").headers
