"""The OpenAPI document's examples are real requests: sent as they stand (as schemathesis'
examples phase does), each gets an answer the operation documents, never a 5xx."""
from __future__ import annotations

import re

from tests.support.auth import AUTH

# Writes first, so the reads and the conditional writes meet the example order.
ORDER = {"post": 0, "get": 1, "put": 2, "delete": 3}


def example_of(spec: dict, schema: dict):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "example" in schema:
        return schema["example"]
    if "properties" in schema:
        return {name: example_of(spec, prop) for name, prop in schema["properties"].items()
                if not prop.get("readOnly")}
    if "items" in schema:
        return [example_of(spec, schema["items"])]
    return schema["enum"][0]


def param_example(parameter: dict):
    value = parameter["example"] if "example" in parameter else parameter["schema"]["example"]
    return str(value).lower() if isinstance(value, bool) else value


def example_requests(spec: dict):
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
                  if method in ORDER and not path.startswith("/health")]
    for path, method, op in sorted(operations, key=lambda o: (ORDER[o[1]], o[0])):
        parameters = spec["paths"][path].get("parameters", []) + op.get("parameters", [])
        in_path = {p["name"]: str(param_example(p)) for p in parameters if p["in"] == "path"}
        url = re.sub(r"{(\w+)}", lambda m, in_path=in_path: in_path[m[1]], path)
        query = {p["name"]: param_example(p) for p in parameters if p["in"] == "query"}
        headers = {**AUTH, **{p["name"]: param_example(p) for p in parameters if p["in"] == "header"}}
        body = None
        if "requestBody" in op:
            body = example_of(spec, op["requestBody"]["content"]["application/json"]["schema"])
        yield method, url, query, headers, body, op["responses"]


def test_every_documented_example_request_gets_a_documented_answer(client):
    spec = client.get("/openapi.json").json
    sent = 0
    for method, url, query, headers, body, responses in example_requests(spec):
        response = client.open(url, method=method.upper(), query_string=query, headers=headers, json=body)
        assert response.status_code < 500, (method, url, response.json)
        assert str(response.status_code) in responses, (method, url, response.status_code, response.json)
        sent += 1
    assert sent == 8  # every operation but /health


def test_the_example_order_round_trips(client):
    """The create example is accepted as it stands, and the order it creates reads back as documented."""
    spec = client.get("/openapi.json").json
    body = example_of(spec, spec["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    created = client.post("/orders", json=body, headers=AUTH)
    assert created.status_code == 201, created.json
    documented = spec["paths"]["/orders/{uuid}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    fetched = client.get(f"/orders/{body['uuid']}").json
    changing = {"created_at", "updated_at", "version", "seq"}
    assert {k: v for k, v in fetched.items() if k not in changing} == \
        {k: v for k, v in documented.items() if k not in changing}
