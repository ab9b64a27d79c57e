"""The ceiling for HTTP benchmarks: a bare Flask app answering a small JSON body."""
from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/json")
    def json_endpoint():
        return {"trial_id": "C100001", "title": "bare", "target_subjects": 120}

    return app
