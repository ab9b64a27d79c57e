"""The grader analytics service: student attempts, daily statistics, published reports."""
from __future__ import annotations

from pathlib import Path

from flask import Flask


def create_app(config=None) -> Flask:
    from services.grader.api import blp as attempts_blp
    from services.grader.api_reports import blp as reports_blp
    from services.grader.api_watermarks import blp as watermarks_blp
    from services.grader.cli import pull, report, stats, watermark_move_back
    from services.grader.config import Config
    from services.grader.models import db, migrate
    from shared.app import build_service_app

    app, _ = build_service_app(__name__, config, Config, db, migrate,
                               Path(__file__).parent / "migrations", [attempts_blp, reports_blp, watermarks_blp])
    app.cli.add_command(pull)
    app.cli.add_command(report)
    app.cli.add_command(stats)
    app.cli.add_command(watermark_move_back)
    return app
