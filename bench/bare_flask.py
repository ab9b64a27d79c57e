"""The ceiling for HTTP benchmarks: a bare Flask app answering a small JSON body, and the orders
push's peer: a POST that reads the order and answers 201, an empty change feed."""
from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/json")
    def json_endpoint():
        return {"trial_id": "C100001", "title": "bare", "target_subjects": 120}

    @app.post("/orders")
    def create_order():
        return {**request.get_json(), "version": 1}, 201

    @app.get("/orders")
    def order_feed():
        return {"count": 0, "data": []}

    return app
