"""The one scheduler process: `python -m services.collector.scheduler`.

APScheduler's BlockingScheduler runs the sources' schedules (each source declares its
own crontab line and time zone, see sources/base.py) plus the collector's maintenance:
the reaper (lost workers) and the retention purge. Scheduled starts go through the same
`tasks.start_task` as the API, with an idempotency key per fire time, so a second
scheduler started by mistake, or a restart that replays a missed fire, starts nothing twice.

The source schedules live in a persistent job store (Redis, beside the broker), so a fire that
came due while the scheduler was down runs once when it is back, if it is less than
COLLECTOR_SCHEDULE_GRACE_SECONDS late (coalesce: several missed fires run once); a later one
is skipped and logged. The maintenance jobs need no memory of their own and stay in memory.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from services.collector import create_app, item_dumps, tasks
from services.collector.runtime import runtime
from services.collector.sources import SOURCES

log = logging.getLogger(__name__)

PERSISTENT = "persistent"
# The app the stored (pickled) jobs run in: a stored job names its function and the source only.
_current: dict = {}


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


def job_store(config) -> RedisJobStore:
    namespace = config["COLLECTOR_NAMESPACE"]
    return RedisJobStore(jobs_key=f"{namespace}:schedule:jobs", run_times_key=f"{namespace}:schedule:run_times",
                         connection_pool=redis.ConnectionPool.from_url(config["REDIS_URL"]))


def build_scheduler(app, scheduler_class=BlockingScheduler):
    _current["app"] = app
    config = app.config
    store = job_store(config)
    scheduler = scheduler_class(jobstores={"default": MemoryJobStore(), PERSISTENT: store}, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": config["COLLECTOR_SCHEDULE_GRACE_SECONDS"]})
    for name, source in SOURCES.items():
        if source.schedule is None:
            continue
        trigger = CronTrigger.from_crontab(source.schedule.cron, timezone=source.schedule.timezone)
        job_id = f"collect-{name}"
        # Adding a job again would compute its next fire from now and forget one missed while down:
        # keep the stored next fire while the schedule is unchanged.
        stored = store.lookup_job(job_id)
        kept = ({"next_run_time": stored.next_run_time}
                if stored is not None and stored.next_run_time and repr(stored.trigger) == repr(trigger) else {})
        scheduler.add_job(fire_source, trigger, args=(name,), id=job_id, jobstore=PERSISTENT, replace_existing=True,
                          name=f"{name} ({source.schedule.cron} {source.schedule.timezone})", **kept)
    scheduler.add_job(_maintenance, IntervalTrigger(seconds=config["COLLECTOR_REAP_SECONDS"]),
                      args=(app, tasks.reap), id="reap", name="reap lost tasks")
    scheduler.add_job(_maintenance, IntervalTrigger(seconds=config["COLLECTOR_REAP_SECONDS"]),
                      args=(app, item_dumps.reap_dumps), id="reap-dumps", name="reap lost dumps")
    scheduler.add_job(_maintenance, IntervalTrigger(minutes=config["COLLECTOR_PURGE_MINUTES"]),
                      args=(app, lambda: tasks.purge(config["COLLECTOR_RETENTION_HOURS"])), id="purge",
                      name="purge finished tasks")
    return scheduler


def fire_source(name: str) -> None:
    """A stored job's function: start `name`'s scheduled task for the fire time this run belongs to."""
    schedule = SOURCES[name].schedule
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    try:
        app = _current["app"]
        with app.app_context():
            if runtime().schedule_paused(name):  # paused from the console (dashboard.py)
                log.info("schedule of %s is paused: fire skipped", name)
                return
        start_scheduled(app, name, dict(schedule.params), due_slot(trigger, app.config))
    except Exception:
        log.exception("scheduled start of %s failed", name)


def due_slot(trigger: CronTrigger, config) -> datetime:
    """The latest fire time of `trigger` not after now, within the grace period (the fire a late
    run catches up), to the minute: its idempotency key is the same however late it runs."""
    now = datetime.now(trigger.timezone)
    fire = trigger.get_next_fire_time(None, now - timedelta(seconds=config["COLLECTOR_SCHEDULE_GRACE_SECONDS"]))
    slot = now
    while fire is not None and fire <= now:
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return slot.replace(second=0, microsecond=0)


def main() -> None:
    app = create_app()
    scheduler = build_scheduler(app)
    for job in scheduler.get_jobs():
        log.info("job %s: %s", job.id, job.name)
    scheduler.start()


if __name__ == "__main__":
    main()
