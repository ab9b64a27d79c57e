"""docs/openapi/ holds each service's current OpenAPI document (`make openapi` rewrites them)."""
import pytest

from deploy.openapi import OUT, SERVICES, document


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_current(service):
    kept = (OUT / f"{service}.json").read_text()
    assert document(service) == kept, f"docs/openapi/{service}.json is stale: run `make openapi`"
