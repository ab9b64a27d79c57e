"""The trials views parse a query string once per process: a second request with the same query
string gets the same arguments (and the same declared names, which the Link header keeps) without
loading the schema again; an invalid one is refused every time and never kept."""
import marshmallow as ma
import pytest
from flask import Flask
from flask.views import MethodView

from services.trials.query_args import MemoisedQueryParser, TrialsBlueprint
from shared.api import create_api, known_query_args


class CountingArgs(ma.Schema):
    loads = 0
    name = ma.fields.String(validate=ma.validate.Length(max=5))
    size = ma.fields.Integer(load_default=20)

    @ma.pre_load
    def count(self, data, **kwargs):
        type(self).loads += 1
        return data


class CountingBlueprint(TrialsBlueprint):
    ARGUMENTS_PARSER = MemoisedQueryParser()  # its own memo, so other tests' requests do not count


@pytest.fixture
def client():
    CountingArgs.loads = 0
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = CountingBlueprint("counting", __name__)

    @blp.route("/things")
    class Things(MethodView):
        @blp.arguments(CountingArgs, location="query", as_kwargs=True)
        @blp.response(200)
        def get(self, **args):
            answer = {"args": dict(args), "known": sorted(known_query_args())}
            args["size"] = -1  # a view changing its arguments must not change what is kept
            return answer

    create_api(app).register_blueprint(blp)
    return app.test_client()


def test_the_same_query_string_is_loaded_once(client):
    first = client.get("/things?name=ab&size=3")
    second = client.get("/things?name=ab&size=3")
    assert first.status_code == second.status_code == 200
    assert first.json == second.json == {"args": {"name": "ab", "size": 3}, "known": ["name", "size"]}
    assert CountingArgs.loads == 1
    assert client.get("/things?name=ab&size=4").json["args"] == {"name": "ab", "size": 4}
    assert CountingArgs.loads == 2


def test_an_invalid_query_is_refused_every_time_and_not_kept(client):
    for _ in range(2):
        response = client.get("/things?name=toolong")
        assert response.status_code == 422
        assert "name" in response.json["errors"]["query"]
    assert CountingArgs.loads == 2
