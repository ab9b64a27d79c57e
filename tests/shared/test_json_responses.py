"""Responses are UTF-8 JSON with Korean left readable, and no client text can turn one into a 500."""
import marshmallow as ma
from flask import Flask
from flask.views import MethodView

from shared.api import Blueprint, ReadableJSONProvider, create_api


class NameSchema(ma.Schema):
    name = ma.fields.String(required=True)


def make_app() -> Flask:
    app = Flask(__name__)
    app.config.update(API_TITLE="names", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    app.json = ReadableJSONProvider(app)
    api = create_api(app)
    blp = Blueprint("names", __name__)

    @blp.route("/names")
    class Names(MethodView):
        @blp.arguments(NameSchema)
        @blp.response(200, NameSchema)
        def post(self, body):
            return body

    api.register_blueprint(blp)
    return app


def test_korean_text_is_sent_as_utf8_not_escaped():
    response = make_app().test_client().post("/names", json={"name": "서울아산병원"})
    assert response.status_code == 200
    assert "서울아산병원".encode() in response.data
    assert response.get_json() == {"name": "서울아산병원"}


def test_a_lone_surrogate_echoed_in_an_error_is_a_422_not_a_500():
    # JSON allows the escape; Python decodes it to a str that has no UTF-8 form.
    body = b'{"name": "x", "\\ud800": 1}'
    response = make_app().test_client().post("/names", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"\ud800": ["Unknown field."]}
    assert b"\\ud800" in response.data


def test_a_lone_surrogate_in_a_value_is_echoed_escaped():
    body = b'{"name": "\\udfff"}'
    response = make_app().test_client().post("/names", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json() == {"name": "\udfff"}
