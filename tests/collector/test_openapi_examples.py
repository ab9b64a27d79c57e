"""The collector's OpenAPI examples are real requests (schemathesis' examples phase sends them):
each source's start body starts a task of that source, and every other example request gets an
answer its operation documents, in the documented shape, never a 5xx."""
from __future__ import annotations

import re

import schemathesis

from services.collector.sources import SOURCES
from tests.support.collector import task_of

API = "/api/v1/async-collection"
START = f"{API}/{{source}}/start"


def example_of(parameter: dict):
    if "examples" in parameter:
        return next(iter(parameter["examples"].values()))["value"]
    return parameter["example"] if "example" in parameter else parameter["schema"]["example"]


def test_each_source_has_a_start_example_that_starts_a_task_of_it(client):
    raw = client.get("/openapi.json").json
    operation = schemathesis.openapi.from_dict(raw)[START]["POST"]
    [source] = [p for p in raw["paths"][START]["parameters"] if p["name"] == "source"]
    bodies = raw["paths"][START]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert set(bodies) == set(source["examples"]) == set(SOURCES)   # paired by name

    for name, body in bodies.items():
        response = client.post(f"{API}/{source['examples'][name]['value']}/start", json=body["value"])
        assert response.status_code == 202, (name, response.json)
        operation.validate_response(response)
        assert task_of(client, response.json["task_id"])["type"] == f"{name}_collect"


def test_every_other_example_request_gets_a_documented_answer(client):
    raw = client.get("/openapi.json").json
    document = schemathesis.openapi.from_dict(raw)
    sent = 0
    for path, item in raw["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "delete") or path == START or path.startswith("/health"):
                continue
            parameters = item.get("parameters", []) + op.get("parameters", [])
            url = re.sub(r"{(\w+)}", lambda m, ps=parameters: str(next(example_of(p) for p in ps
                                                                      if p["name"] == m[1])), path)
            query = {p["name"]: example_of(p) for p in parameters if p["in"] == "query"}
            body = None
            if "requestBody" in op:   # the dump's: an example on each field
                schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                fields = raw["components"]["schemas"][schema]["properties"]
                body = {name: field["example"] for name, field in fields.items()}
            response = client.open(url, method=method.upper(), query_string=query, json=body)
            assert response.status_code < 500, (method, url, response.json)
            assert str(response.status_code) in op["responses"], (method, url, response.status_code, response.json)
            document[path][method.upper()].validate_response(response)
            sent += 1
    # every operation but the start and /health: 3 of them the labeling task API's, 1 the dump's cancel
    assert sent == 15
