"""docs/openapi/ holds each service's current OpenAPI document (`make openapi` rewrites them),
and every document is complete: each operation, parameter, body, response and error is
described and carries an example a reader of the Swagger page can copy."""
import json

import pytest

from deploy.openapi import OUT, SERVICES, document

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_current(service):
    kept = (OUT / f"{service}.json").read_text(encoding="utf-8")
    assert document(service) == kept, f"docs/openapi/{service}.json is stale: run `make openapi`"


class Audit:
    def __init__(self, spec: dict):
        self.spec = spec
        self.gaps: list[str] = []

    def resolve(self, obj: dict) -> dict:
        while "$ref" in obj:
            section, name = obj["$ref"].split("/")[-2:]
            obj = self.spec["components"][section][name]
        return obj

    def exampled(self, schema: dict) -> bool:
        """A schema Swagger UI can render as a realistic value: an example at this level or at every leaf."""
        schema = self.resolve(schema)
        if "example" in schema or "enum" in schema:
            return True
        for key in ("allOf", "oneOf", "anyOf"):
            if key in schema:
                return all(self.exampled(s) for s in schema[key])
        if "properties" in schema:
            return all(self.exampled(s) for s in schema["properties"].values())
        if schema.get("type") == "array" or "items" in schema:
            return self.exampled(schema.get("items", {}))
        return False

    def media(self, where: str, content: dict) -> None:
        for content_type, media in content.items():
            if not ("example" in media or "examples" in media or self.exampled(media.get("schema", {}))):
                self.gaps.append(f"{where} {content_type}: no example")

    def operation(self, where: str, op: dict, shared_parameters: list) -> None:
        if not op.get("summary"):
            self.gaps.append(f"{where}: no summary")
        for parameter in map(self.resolve, shared_parameters + op.get("parameters", [])):
            name = f"{where} parameter {parameter['name']}"
            if not parameter.get("description"):
                self.gaps.append(f"{name}: no description")
            if not ("example" in parameter or "examples" in parameter or self.exampled(parameter.get("schema", {}))):
                self.gaps.append(f"{name}: no example")
        if "requestBody" in op:
            self.media(f"{where} body", self.resolve(op["requestBody"]).get("content", {}))
        responses = op.get("responses", {})
        for status, documented in responses.items():
            response = self.resolve(documented)
            if not response.get("description"):
                self.gaps.append(f"{where} {status}: no description")
            self.media(f"{where} {status}", response.get("content", {}))
        if not any(status.startswith(("2", "3")) for status in responses):
            self.gaps.append(f"{where}: no success response")
        if not any(status.startswith(("4", "5")) for status in responses):
            self.gaps.append(f"{where}: no error response")
        if "{" in where and "404" not in responses:
            self.gaps.append(f"{where}: a path parameter but no 404")
        if op.get("security") and not {"401", "403"} <= responses.keys():
            self.gaps.append(f"{where}: needs a token but 401/403 are not documented")

    def run(self) -> list[str]:
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                if method in item:
                    self.operation(f"{method.upper()} {path}", item[method], item.get("parameters", []))
        return self.gaps


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_complete(service):
    gaps = Audit(json.loads((OUT / f"{service}.json").read_text(encoding="utf-8"))).run()
    assert not gaps, f"{service}: {len(gaps)} gaps in its OpenAPI document:\n" + "\n".join(gaps)
