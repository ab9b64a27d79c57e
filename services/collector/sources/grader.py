"""`grader`: student attempts from the code grader's statistics API into the grader service.

The range is pulled in windows (GRADER_WINDOW_MINUTES, 60 by default): each window is one
upstream request, parsed and validated by `shared.connectors.grader`, then sent to the grader
service's `POST /attempts/batch` in chunks. A failing window is retried on its own; after each
delivered window the next start is saved (a re-run resumes there) and the watermark
`grader-statistics` in the grader service advances, so the scheduled run continues where the
last one ended. Re-pulling a window is harmless: the service ignores attempts it already has.

Start body: `{"start", "end"}` (ISO 8601), or `{"target_date"}` (a UTC day), or nothing (the
scheduled form: from the watermark, or yesterday if there is none, up to today 00:00 UTC).
A day's report (`POST /reports/daily`) follows for target_date and scheduled runs.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import marshmallow as ma

from services.collector.sources.base import Schedule, Source, SourceError
from shared.connectors.grader import (
    GraderApiError,
    GraderClient,
    attempt_to_json,
    day_bounds,
    parse_records,
    windows,
)
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

WATERMARK = "grader-statistics"
# The sandbox's stand-in and its public demo credentials (deploy/sandbox/grader.py), used only
# when the collector has no GRADER_API_URL: not secrets, they open nothing outside this machine.
SANDBOX_URL, SANDBOX_CLIENT, SANDBOX_CLIENT_KEY = "http://127.0.0.1:5199", "Skillfactory", "sandbox-grader-key"
MAX_RANGE = timedelta(days=366)
REJECTIONS_LOGGED_PER_TASK = 20  # the task log shows the first ones; the service log has every one
FATAL_STATUSES = (400, 401, 403, 404)  # retrying the same window cannot help


class GraderParamsSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # the stored params also carry the collector's own fields

    start = ma.fields.AwareDateTime(default_timezone=UTC, metadata={"description": "Range start (ISO 8601; UTC "
                                                                                   "without an offset), with end"})
    end = ma.fields.AwareDateTime(default_timezone=UTC, metadata={"description": "Range end (excluded)"})
    target_date = ma.fields.Date(metadata={"description": "One UTC day, YYYY-MM-DD (then its report is sent)"})
    window_minutes = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=1440), metadata={
        "description": "Window length (default GRADER_WINDOW_MINUTES, 60)"})
    report = ma.fields.Boolean(load_default=None, metadata={
        "description": "POST /reports/daily for each whole day pulled (default: yes for target_date and "
                       "scheduled runs, no for start/end)"})
    client = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=200),
                              metadata={"description": "Upstream client name (default GRADER_CLIENT)"})
    client_key = ma.fields.String(load_default=None, load_only=True, validate=ma.validate.Length(min=1, max=500),
                                  metadata={"description": "Upstream client key (default GRADER_CLIENT_KEY)"})

    @ma.validates_schema
    def one_range(self, data, **kwargs):
        explicit = "start" in data or "end" in data
        if explicit and "target_date" in data:
            raise ma.ValidationError("give start and end, or target_date, not both", "target_date")
        if explicit and ("start" not in data or "end" not in data):
            raise ma.ValidationError("start and end go together", "start")
        if explicit and data["start"] >= data["end"]:
            raise ma.ValidationError("start must be before end", "start")
        if explicit and data["end"] - data["start"] > MAX_RANGE:
            raise ma.ValidationError(f"a range is at most {MAX_RANGE.days} days", "end")


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


class GraderSource(Source):
    name = "grader"
    description = "Student attempts from the code grader's statistics API, window by window, into the grader service"
    params_schema = GraderParamsSchema
    secret_params = ("client_key",)
    pacing_seconds = 0.2
    schedule = Schedule("15 0 * * *", timezone="UTC")  # after 00:00 UTC: yesterday, then its report

    def run(self, ctx, params):
        options = GraderParamsSchema().load({k: v for k, v in params.items() if v is not None})
        config = ctx.config
        start, end, report, scheduled = self._range(ctx, options)
        window = timedelta(minutes=options.get("window_minutes") or int(config.get("GRADER_WINDOW_MINUTES", 60)))
        api_url, client_name, client_key = self._upstream(ctx)
        try:
            client = GraderClient(api_url, options.get("client") or client_name,
                                  options.get("client_key") or client_key, ctx.http)
        except GraderApiError as exc:
            raise SourceError(f"{exc} (or pass client and client_key in the start body)") from exc

        state = dict(ctx.state)
        if state.get("range") != [start.isoformat(), end.isoformat()]:
            state = {"range": [start.isoformat(), end.isoformat()]}
        resume_at = datetime.fromisoformat(state["next_start"]) if state.get("next_start") else start
        if resume_at > start:
            ctx.log(f"Resuming at {_stamp(resume_at)} (attempt {ctx.attempt})")
        parts = list(windows(start, end, window))
        ctx.set_total(len(parts))
        watermark = self._watermark(ctx)
        totals = Counter()
        ctx.log(f"Pulling {_stamp(start)} .. {_stamp(end)} UTC in {len(parts)} windows of {window}")
        for number, (low, high) in enumerate(parts, 1):
            if high <= resume_at:
                continue
            ctx.checkpoint()
            if totals["windows"]:
                ctx.pace()
            self._window(ctx, client, low, high, totals)
            state["next_start"] = high.isoformat()
            ctx.save_state(state)
            if watermark is None or low <= watermark < high:
                # Contiguous with what is loaded: the watermark may move (the service keeps the maximum).
                watermark = datetime.fromisoformat(
                    ctx.service_call("PUT", "GRADER_URL", f"/watermarks/{WATERMARK}",
                                     json={"position": high.isoformat()})["position"])
            totals["windows"] += 1
            ctx.progress(number, step=f"window {number}/{len(parts)} ({_stamp(low)} .. {_stamp(high)})")

        reports = self._reports(ctx, start, end, report)
        summary = {"start": start.isoformat(), "end": end.isoformat(), "windows": len(parts),
                   "received": totals["received"], "inserted": totals["inserted"],
                   "duplicates": totals["duplicates"], "rejected": totals["rejected"],
                   "warnings": totals["warnings"], "reports": len(reports),
                   "watermark": watermark.isoformat() if watermark else None, "scheduled": scheduled}
        ctx.log("Done: " + ", ".join(f"{k} {summary[k]}" for k in ("received", "inserted", "duplicates", "rejected")))
        return summary

    @staticmethod
    def _upstream(ctx) -> tuple[str, str, str]:
        """The statistics API and its credentials from the collector's config; without
        GRADER_API_URL there, the sandbox stand-in with its demo credentials (as `make up` runs it)."""
        config = ctx.config
        if config.get("GRADER_API_URL"):
            return config["GRADER_API_URL"], config.get("GRADER_CLIENT") or "", config.get("GRADER_CLIENT_KEY") or ""
        ctx.log(f"GRADER_API_URL is not configured: pulling from the sandbox stand-in at {SANDBOX_URL}")
        return SANDBOX_URL, SANDBOX_CLIENT, SANDBOX_CLIENT_KEY

    # --- the range -------------------------------------------------------------------------
    def _range(self, ctx, options) -> tuple[datetime, datetime, bool, bool]:
        if "start" in options:
            return options["start"], options["end"], bool(options.get("report")), False
        if "target_date" in options:
            start, end = day_bounds(options["target_date"])
            return start, end, options.get("report") is not False, False
        end = day_bounds(utcnow().date())[0]
        stored = self._watermark(ctx)
        start = stored if stored is not None else end - timedelta(days=1)
        if end - start > MAX_RANGE:
            start = end - MAX_RANGE
        if start >= end:  # already loaded: nothing to pull, but the report still goes out
            ctx.log(f"Watermark {_stamp(start)} is already at today 00:00 UTC; nothing to pull")
            start = end
        return start, end, options.get("report") is not False, True

    @staticmethod
    def _watermark(ctx) -> datetime | None:
        position = ctx.service_call("GET", "GRADER_URL", f"/watermarks/{WATERMARK}")["position"]
        return datetime.fromisoformat(position) if position else None

    # --- one window --------------------------------------------------------------------------
    def _window(self, ctx, client: GraderClient, low: datetime, high: datetime, totals: Counter) -> None:
        attempts_allowed = max(1, int(ctx.config.get("GRADER_WINDOW_ATTEMPTS", 3)))
        for attempt in range(1, attempts_allowed + 1):
            ctx.log(f"Download {_stamp(low)} .. {_stamp(high)} started")
            try:
                download = client.fetch_window(low, high)
                break
            except GraderApiError as exc:
                status = f"HTTP {exc.status}" if exc.status else "no HTTP answer"
                ctx.log(f"Download {_stamp(low)} .. {_stamp(high)} failed ({status}, try {attempt}/"
                        f"{attempts_allowed}): {exc}", level="ERROR")
                if exc.status in FATAL_STATUSES or attempt == attempts_allowed:
                    raise SourceError(f"window {_stamp(low)} .. {_stamp(high)}: {exc}") from exc
                ctx.pace(max(self.pacing(ctx.config), 1.0) * attempt)
        ctx.log(f"Download {_stamp(low)} .. {_stamp(high)} finished: {len(download.records)} rows "
                f"in {download.seconds:.2f} s")

        def rejected(index: int, reason: str) -> None:
            log.warning("grader record rejected (window %s, row %d): %s", _stamp(low), index, reason)
            if totals["rejections_logged"] < REJECTIONS_LOGGED_PER_TASK:
                totals["rejections_logged"] += 1
                ctx.log(f"Rejected row {index} of {_stamp(low)}: {reason}", level="WARNING")

        parsed = parse_records(download.records, on_reject=rejected)
        warnings = sum(parsed.warnings.values())
        if parsed.warnings:
            ctx.log("Warnings: " + ", ".join(f"{k} {v}" for k, v in sorted(parsed.warnings.items())),
                    level="WARNING")
        loaded = self._load(ctx, parsed.attempts)
        rejected_total = len(parsed.rejected) + loaded["rejected"]
        ctx.count(received=parsed.received, written=loaded["inserted"], rejected=rejected_total)
        totals.update(received=parsed.received, inserted=loaded["inserted"], duplicates=loaded["duplicates"],
                      rejected=rejected_total, warnings=warnings)

    def _load(self, ctx, attempts: list[dict]) -> Counter:
        chunk = max(1, int(ctx.config.get("GRADER_SINK_CHUNK", 5000)))
        began = time.perf_counter()
        ctx.log(f"Loading {len(attempts)} attempts started")
        loaded = Counter(inserted=0, duplicates=0, rejected=0)
        for offset in range(0, len(attempts), chunk):
            ctx.checkpoint()
            records = [attempt_to_json(a) for a in attempts[offset:offset + chunk]]
            result = ctx.service_call("POST", "GRADER_URL", "/attempts/batch", json={"records": records})
            loaded.update(inserted=result["inserted"], duplicates=result["duplicates"],
                          rejected=len(result["rejected"]))
            for rejected in result["rejected"]:
                log.warning("grader service rejected an attempt: %s", rejected["reason"])
        ctx.log(f"Loading finished: {loaded['inserted']} inserted, {loaded['duplicates']} already stored, "
                f"{loaded['rejected']} rejected by the service, in {time.perf_counter() - began:.2f} s")
        return loaded

    # --- reports -------------------------------------------------------------------------------
    def _reports(self, ctx, start: datetime, end: datetime, wanted: bool) -> list[dict]:
        """POST /reports/daily for each UTC day the range touched that is over by `end`
        (for the scheduled run at least yesterday, even when there was nothing left to pull)."""
        if not wanted:
            return []
        days: list[date] = []
        # Every day the range touched is complete once it ends by `end` (earlier pulls hold the rest).
        day = start.date() if start < end else end.date() - timedelta(days=1)
        while day_bounds(day)[1] <= end:
            days.append(day)
            day += timedelta(days=1)
        reports = []
        for day in days:
            ctx.checkpoint()
            report = ctx.service_call("POST", "GRADER_URL", "/reports/daily", json={"date": day.isoformat()})
            ctx.log(f"Report {day}: {report['stats']['attempts']} attempts; Google Sheets {report['sheets_status']}, "
                    f"e-mail {report['email_status']}")
            reports.append(report)
        return reports
