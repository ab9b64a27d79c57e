"""`gangnamunni`: community posts (with comments) of Gangnamunni's five boards."""
from __future__ import annotations

import marshmallow as ma

from services.collector.sources.base import SourceError
from services.collector.sources.community import CommunityParamsSchema, CommunitySource
from services.collector.connectors.community import CommunityError
from services.collector.connectors.gangnamunni import CATEGORIES, GangnamunniClient


class GangnamunniParamsSchema(CommunityParamsSchema):
    categories = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CATEGORIES)),
                                load_default=lambda: list(CATEGORIES), validate=ma.validate.Length(min=1),
                                metadata={"description": "Any of " + ", ".join(CATEGORIES)})
    save_as_reviews = ma.fields.Boolean(load_default=False, metadata={
        "description": "Store the review board's (발품후기) posts as kind 'review' instead of 'post'"})
    token = ma.fields.String(load_default=None, load_only=True, validate=ma.validate.Length(min=1, max=4000),
                             metadata={"description": "Your Gangnamunni token cookie (default GANGNAMUNNI_TOKEN); "
                                                      "kept encrypted, never shown"})


class GangnamunniSource(CommunitySource):
    name = "gangnamunni"
    description = "Gangnamunni community posts (+ comments and replies) of five boards, newest first"
    params_schema = GangnamunniParamsSchema
    secret_params = ("token",)
    pacing_seconds = 1.0

    def client(self, ctx, params, pause, warn):
        try:
            return GangnamunniClient(ctx.config["GANGNAMUNNI_BASE_URL"], ctx.http,
                                     token=params.get("token") or ctx.config["GANGNAMUNNI_TOKEN"],
                                     pause=pause, warn=warn)
        except CommunityError as exc:
            raise SourceError(str(exc)) from exc

    def collect(self, client, params, target):
        return client.collect(target, params["categories"], params.get("limit"),
                              save_as_reviews=bool(params.get("save_as_reviews")))
