"""`trials`: a full odcloud snapshot, page by page, into the trials service.

Each page goes to the trials service's `PUT /trials/batch` under one snapshot id; at the
end `POST /trials/snapshots/{id}/complete` withdraws the trials the snapshot lacked.
After each delivered page the next page number is saved, so a re-run after a lost worker
resumes there (same snapshot id) instead of sending the pages again.
"""
from __future__ import annotations

import marshmallow as ma

from services.collector.sources.base import Schedule, Source, SourceError
from shared.connectors.odcloud import OdcloudClient, OdcloudError

SUMMARY_KEYS = ("received", "created", "updated", "unchanged", "rejected", "withdrawn")


class TrialsParamsSchema(ma.Schema):
    per_page = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=1000),
                                 metadata={"description": "Rows per odcloud page (default ODCLOUD_PER_PAGE)"})
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Complete the snapshot even if it holds few trials (TRIALS_MIN_SNAPSHOT_RATIO)"})
    service_key = ma.fields.String(load_default=None, load_only=True, validate=ma.validate.Length(min=1, max=500),
                                   metadata={"description": "A data.go.kr key for this run "
                                                            "(default ODCLOUD_SERVICE_KEY)"})


class TrialsSource(Source):
    name = "trials"
    description = "Clinical-trial projects from odcloud (data.go.kr dataset 3074271), as one full snapshot"
    params_schema = TrialsParamsSchema
    secret_params = ("service_key",)
    pacing_seconds = 0.5
    schedule = Schedule("0 0 * * *", timezone="Asia/Seoul")

    def run(self, ctx, params):
        config = ctx.config
        state = dict(ctx.state)
        snapshot_id = state.setdefault("snapshot_id", f"collector-{ctx.task_id}")
        start_page = state.get("next_page", 1)
        if start_page > 1:
            ctx.log(f"Resuming snapshot {snapshot_id} at page {start_page} (attempt {ctx.attempt})")
        else:
            ctx.log(f"Starting snapshot {snapshot_id}")
        try:
            client = OdcloudClient(config["ODCLOUD_BASE_URL"],
                                   params.get("service_key") or config["ODCLOUD_SERVICE_KEY"], ctx.http,
                                   per_page=params.get("per_page") or config["ODCLOUD_PER_PAGE"])
            first = True
            for page in client.pages(start_page=start_page):
                if first:
                    ctx.set_total(page.total_pages)
                    first = False
                else:
                    ctx.pace()
                ctx.checkpoint()
                batch = ctx.service_call("PUT", "TRIALS_URL", "/trials/batch",
                                         json={"snapshot_id": snapshot_id, "records": page.records})
                rejected = len(batch.get("rejected", []))
                ctx.count(received=len(page.records), written=len(page.records) - rejected, rejected=rejected)
                state["next_page"] = page.page + 1
                ctx.save_state(state)
                ctx.progress(page.page, step=f"page {page.page}/{page.total_pages}")
                ctx.log(f"Page {page.page}/{page.total_pages}: {len(page.records)} records, "
                        f"created {batch.get('created', 0)}, updated {batch.get('updated', 0)}, "
                        f"unchanged {batch.get('unchanged', 0)}, rejected {rejected}")
        except OdcloudError as exc:
            raise SourceError(str(exc)) from exc
        ctx.checkpoint()
        ctx.progress(state.get("next_page", 1) - 1, step="completing the snapshot")
        snapshot = ctx.service_call("POST", "TRIALS_URL", f"/trials/snapshots/{snapshot_id}/complete",
                                    params={"force": "true" if params.get("force") else "false"})
        summary = {"snapshot_id": snapshot_id, **{key: snapshot.get(key, 0) for key in SUMMARY_KEYS}}
        ctx.log("Snapshot completed: " + ", ".join(f"{key} {summary[key]}" for key in SUMMARY_KEYS))
        return summary

