"""The clinical-trials service."""
from __future__ import annotations

from pathlib import Path

from flask import Flask


def create_app(config=None) -> Flask:
    from services.trials.api import blp
    from services.trials.cache import ResponseCache
    from services.trials.cli import pull
    from services.trials.config import Config
    from services.trials.models import db, migrate
    from services.trials.reads import RowSerialiser, Totals
    from services.trials.schemas import TrialSchema
    from services.trials.trials import EXPORT_COLUMNS
    from shared.app import build_service_app

    app, _ = build_service_app(__name__, config, Config, db, migrate,
                               Path(__file__).parent / "migrations", [blp])
    app.cli.add_command(pull)
    app.extensions["trials_totals"] = Totals()
    app.extensions["trials_json"] = RowSerialiser(TrialSchema(), EXPORT_COLUMNS)
    ResponseCache({"trials.Trials", "trials.TrialById", "trials.RecentTrials", "trials.RecentTrialsAlias",
                   "trials.TrialHistory"}).init_app(app)
    return app
