"""The sandbox: one Flask app standing in for every external API (described in docs/upstreams.md).

It reproduces each upstream's paths, parameters, auth, paging, response bodies and
errors, with deterministic generated data. `/_sandbox/...` routes let tests and
demos change the data between pulls and switch on failure modes.
"""
from __future__ import annotations

import os

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    from deploy.sandbox import babitalk, gangnamunni, grader, naver, odcloud

    app = Flask(__name__)
    app.config.update(
        ODCLOUD_KEYS=[k for k in os.environ.get("SANDBOX_ODCLOUD_KEYS", "sandbox-key").split(",") if k],
        ODCLOUD_TRIALS=int(os.environ.get("SANDBOX_ODCLOUD_TRIALS", "145")),
        ODCLOUD_SEED=int(os.environ.get("SANDBOX_SEED", "3074271")),
    )
    app.config.update(
        GRADER_CLIENT=os.environ.get("SANDBOX_GRADER_CLIENT", "Skillfactory"),
        GRADER_CLIENT_KEY=os.environ.get("SANDBOX_GRADER_CLIENT_KEY", "sandbox-grader-key"),
        GRADER_ATTEMPTS_PER_DAY=int(os.environ.get("SANDBOX_GRADER_ATTEMPTS_PER_DAY", "5000")),
        GRADER_SEED=int(os.environ.get("SANDBOX_SEED", "3074271")),
    )
    app.config.update(  # the community-platform stand-ins (babitalk, gangnamunni, naver)
        COMMUNITY_ANCHOR=os.environ.get("SANDBOX_COMMUNITY_ANCHOR", ""),
        COMMUNITY_SEED=int(os.environ.get("SANDBOX_SEED", "3074271")),
        GANGNAMUNNI_TOKENS=[t for t in os.environ.get("SANDBOX_GANGNAMUNNI_TOKENS", "sandbox-token").split(",") if t],
        NAVER_NID_AUT=os.environ.get("SANDBOX_NAVER_NID_AUT", "sandbox-aut"),
        NAVER_NID_SES=os.environ.get("SANDBOX_NAVER_NID_SES", "sandbox-ses"),
    )
    app.config.update(config or {})
    app.register_blueprint(grader.blp)
    for community in (babitalk, gangnamunni, naver):
        app.register_blueprint(community.blp)
    app.register_blueprint(odcloud.blp)

    @app.get("/health")
    def health():
        return {"status": "ok", "service": "sandbox"}

    return app
