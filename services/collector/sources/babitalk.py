"""`babitalk`: reviews, community talks (with comments) and event-ask memos from Babitalk."""
from __future__ import annotations

import marshmallow as ma

from services.collector.sources.community import CommunityParamsSchema, CommunitySource
from services.collector.connectors.babitalk import CATEGORIES, BabitalkClient


class BabitalkParamsSchema(CommunityParamsSchema):
    categories = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CATEGORIES)),
                                load_default=lambda: list(CATEGORIES), validate=ma.validate.Length(min=1),
                                metadata={"description": "Any of " + ", ".join(CATEGORIES)})


class BabitalkSource(CommunitySource):
    name = "babitalk"
    description = "Babitalk reviews, community talks (+ comments) and event-ask memos, newest first"
    params_schema = BabitalkParamsSchema
    pacing_seconds = 1.0          # the reference scraper's pause between pages

    def client(self, ctx, params, pause, warn):
        return BabitalkClient(ctx.config["BABITALK_BASE_URL"], ctx.http, pause=pause, warn=warn)

    def collect(self, client, params, target):
        return client.collect(target, params["categories"], params.get("limit"))
