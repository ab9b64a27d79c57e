"""The one scheduler process: `python -m services.collector.scheduler`.

APScheduler's BlockingScheduler runs the sources' schedules (each source declares its
own crontab line and time zone, see sources/base.py) plus the collector's maintenance:
the reaper (lost workers) and the retention purge. Scheduled starts go through the same
`tasks.start_task` as the API, with an idempotency key per fire time, so a second
scheduler started by mistake, or a restart that replays a missed fire, starts nothing twice.
"""
from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from services.collector import create_app, tasks
from services.collector.sources import SOURCES

log = logging.getLogger(__name__)


def start_scheduled(app, source_name: str, params: dict, fire_time: datetime | None = None) -> str:
    fire_time = fire_time or datetime.now().astimezone()
    key = f"schedule:{source_name}:{fire_time.isoformat(timespec='minutes')}"
    with app.app_context():
        task, created = tasks.start_task(source_name, {**params, "idempotency_key": key})
    log.info("scheduled %s: task %s %s", source_name, task.id, "started" if created else "already started")
    return task.id


def _maintenance(app, job) -> None:
    with app.app_context():
        try:
            job()
        except Exception:
            log.exception("maintenance job %s failed", getattr(job, "__name__", job))


def build_scheduler(app) -> BlockingScheduler:
    config = app.config
    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    for name, source in SOURCES.items():
        if source.schedule is None:
            continue
        trigger = CronTrigger.from_crontab(source.schedule.cron, timezone=source.schedule.timezone)
        scheduler.add_job(_fire, trigger, args=(app, name, dict(source.schedule.params), trigger),
                          id=f"collect-{name}", name=f"{name} ({source.schedule.cron} {source.schedule.timezone})")
    scheduler.add_job(_maintenance, IntervalTrigger(seconds=config["COLLECTOR_REAP_SECONDS"]),
                      args=(app, tasks.reap), id="reap", name="reap lost tasks")
    scheduler.add_job(_maintenance, IntervalTrigger(minutes=config["COLLECTOR_PURGE_MINUTES"]),
                      args=(app, lambda: tasks.purge(config["COLLECTOR_RETENTION_HOURS"])), id="purge",
                      name="purge finished tasks")
    return scheduler


def _fire(app, name: str, params: dict, trigger: CronTrigger) -> None:
    # The minute this run belongs to: a replay of the same slot reuses its idempotency key.
    slot = datetime.now(trigger.timezone).replace(second=0, microsecond=0)
    try:
        start_scheduled(app, name, params, slot)
    except Exception:
        log.exception("scheduled start of %s failed", name)


def main() -> None:
    app = create_app()
    scheduler = build_scheduler(app)
    for job in scheduler.get_jobs():
        log.info("job %s: %s", job.id, job.name)
    scheduler.start()


if __name__ == "__main__":
    main()
