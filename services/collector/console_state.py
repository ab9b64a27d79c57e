"""What the console shows besides tasks, read where it lives: the workers and queues from Dramatiq's
Redis broker keys, the 10-slot cap from its leases (limiter.py), the schedules from the sources,
the scheduler's Redis job store and the pause flags (runtime.py); and the console's task filter.

Dramatiq's Redis broker (dramatiq/brokers/redis/dispatch.lua) keeps, under the namespace:
`__heartbeats__` (a sorted set: worker id -> last beat, ms), `__acks__.<worker id>.<queue>` (the
message ids a worker holds), `<queue>` (the ready list), `<queue>.DQ` (delayed), `<queue>.XQ`
(dead-lettered, a sorted set) and `<queue>[.DQ|.XQ].msgs` (the messages by id).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from services.collector import tasks
from services.collector.api_keys import Caller
from services.collector.models import ACTIVE, Task, db
from services.collector.runtime import RUN_TASK, runtime
from services.collector.sealing import unseal
from services.collector.sources import SOURCES
from shared.redact import MASK
from shared.timeutil import utcnow


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _at_ms(score: float) -> datetime:
    return datetime.fromtimestamp(score / 1000, UTC)


# --- tasks ----------------------------------------------------------------------------------------

def filtered_tasks(statuses: list[str], source: str | None, queue: str | None, day_from: date | None,
                   day_to: date | None):
    """tasks.tasks_query with the console's extra filters: the queue and the creation day (UTC, inclusive)."""
    stmt = tasks.tasks_query(statuses, source)
    if queue:
        stmt = stmt.where(Task.queue == queue)
    if day_from:
        stmt = stmt.where(Task.created_at >= datetime.combine(day_from, time.min, UTC))
    if day_to:
        stmt = stmt.where(Task.created_at < datetime.combine(day_to + timedelta(days=1), time.min, UTC))
    return stmt


# --- workers and queues ---------------------------------------------------------------------------

@dataclass
class Held:
    queue: str
    message_id: str
    actor: str
    task_id: str | None


@dataclass
class BrokerWorker:
    """A Dramatiq worker process as its broker's heartbeats show it."""

    id: str
    last_beat: datetime
    alive: bool
    held: list[Held] = field(default_factory=list)


@dataclass
class WorkerProcess:
    """A worker process as the collector's own task heartbeats show it (Task.worker is host:pid:thread:token)."""

    host: str
    pid: str
    running: list[Task] = field(default_factory=list)

    @property
    def threads(self) -> int:
        return len({task.worker.split(":")[2] for task in self.running if task.worker.count(":") >= 2})


def _message(client, namespace: str, queue: str, message_id: str) -> dict:
    raw = client.hget(f"{namespace}:{queue}.msgs", message_id)
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def broker_workers() -> list[BrokerWorker]:
    rt = runtime()
    client, namespace = rt.broker_redis, rt.namespace
    if client is None:
        return []  # RabbitMQ: Dramatiq keeps no worker heartbeats there (the task heartbeats still show)
    timeout_ms = rt.broker.heartbeat_timeout
    now_ms = utcnow().timestamp() * 1000
    found = {}
    for member, score in client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True):
        worker_id = _text(member)
        found[worker_id] = BrokerWorker(worker_id, _at_ms(score), now_ms - score < timeout_ms)
    prefix = f"{namespace}:__acks__."
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        worker_id, _, queue = _text(key)[len(prefix):].partition(".")
        worker = found.get(worker_id)
        if worker is None:
            continue
        for message_id in sorted(_text(m) for m in client.smembers(key)):
            message = _message(client, namespace, queue, message_id)
            args = message.get("args") or [None]
            worker.held.append(Held(queue, message_id, message.get("actor_name", "?"),
                                    args[0] if message.get("actor_name") == RUN_TASK else None))
    return sorted(found.values(), key=lambda w: w.last_beat, reverse=True)


def worker_processes() -> list[WorkerProcess]:
    processes: dict[tuple[str, str], WorkerProcess] = {}
    running = db.session.scalars(select(Task).where(Task.status.in_(ACTIVE)).order_by(Task.started_at)).all()
    for task in running:
        host, pid = [*(task.worker or "?:?").split(":"), "?"][:2]
        processes.setdefault((host, pid), WorkerProcess(host, pid)).running.append(task)
    return list(processes.values())


@dataclass
class QueueState:
    name: str
    ready: int
    delayed: int
    dead: int
    in_flight: int | None


def queues() -> list[QueueState]:
    rt = runtime()
    client, namespace = rt.broker_redis, rt.namespace
    names = list(dict.fromkeys([*rt.config["COLLECTOR_QUEUES"], rt.config["COLLECTOR_DUMP_QUEUE"]]))
    if client is None:  # RabbitMQ: its counts, without the messages workers hold (in flight: unknown)
        return [QueueState(name, *rt.queue_counts(name), in_flight=None) for name in names]
    in_flight = dict.fromkeys(names, 0)
    for key in client.scan_iter(match=f"{namespace}:__acks__.*", count=500):
        queue = _text(key).rsplit(".", 1)[-1] if not _text(key).endswith(".DQ") else None
        if queue in in_flight:
            in_flight[queue] += client.scard(key)
    pipe = client.pipeline()
    for name in names:
        pipe.llen(f"{namespace}:{name}")
        pipe.llen(f"{namespace}:{name}.DQ")
        pipe.zcard(f"{namespace}:{name}.XQ")
    counts = pipe.execute()
    return [QueueState(name, counts[3 * i], counts[3 * i + 1], counts[3 * i + 2], in_flight[name])
            for i, name in enumerate(names)]


# --- the cap --------------------------------------------------------------------------------------

@dataclass
class Slot:
    task_id: str
    token: str
    expires_at: datetime
    task: Task | None = None


def slots(dumps: bool = False) -> tuple[int, list[Slot]]:
    """(limit, the leases held): who holds a slot of the cap, and until when unless renewed."""
    rt = runtime()
    limiter = rt.dump_limiter if dumps else rt.limiter
    now_ms = utcnow().timestamp() * 1000
    held = []
    for member, score in rt.redis.zrange(limiter.key, 0, -1, withscores=True):
        if score <= now_ms:
            continue  # expired: the next acquire drops it
        task_id, _, token = _text(member).partition("#")
        held.append(Slot(task_id, token, _at_ms(score)))
    if not dumps:
        by_id = {task.id: task for task in db.session.scalars(select(Task).where(Task.id.in_(
            [slot.task_id for slot in held])))} if held else {}
        for slot in held:
            slot.task = by_id.get(slot.task_id)
    return limiter.limit, held


# --- schedules ------------------------------------------------------------------------------------

@dataclass
class ScheduleState:
    source: str
    cron: str
    timezone: str
    params: dict
    paused: bool
    next_run: datetime | None
    next_from_store: bool        # False: computed here, the scheduler has not stored this job (yet)
    last: Task | None


def _job_id(source_name: str) -> str:
    return f"collect-{source_name}"  # the scheduler's job id (scheduler.build_scheduler)


def schedule_key_prefix(source_name: str) -> str:
    return f"schedule:{source_name}:"  # the idempotency key of a scheduled start (scheduler.start_scheduled)


def schedules() -> list[ScheduleState]:
    rt = runtime()
    run_times = f"{rt.namespace}:schedule:run_times"  # the scheduler's job store (scheduler.job_store)
    states = []
    for name, source in SOURCES.items():
        schedule = source.schedule
        if schedule is None:
            continue
        score = rt.redis.zscore(run_times, _job_id(name))
        if score is not None:
            next_run = datetime.fromtimestamp(score, UTC)
        else:
            trigger = CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
            next_run = trigger.get_next_fire_time(None, datetime.now(trigger.timezone))
        last = db.session.scalars(select(Task).where(Task.source == name, Task.idempotency_key.startswith(
            schedule_key_prefix(name), autoescape=True)).order_by(Task.created_at.desc()).limit(1)).first()
        states.append(ScheduleState(name, schedule.cron, schedule.timezone, dict(schedule.params),
                                    rt.schedule_paused(name), next_run, score is not None, last))
    return states


def set_paused(source_name: str, paused: bool, by: Caller | None) -> None:
    rt = runtime()
    if paused:
        rt.redis.set(rt.schedule_paused_key(source_name), by.describe() if by else "console")
    else:
        rt.redis.delete(rt.schedule_paused_key(source_name))


def run_now(source_name: str, by: Caller | None) -> Task:
    """Start the source's scheduled params now, keyed as a scheduled start (so it is its schedule's last run)."""
    schedule = SOURCES[source_name].schedule
    key = f"{schedule_key_prefix(source_name)}now-{uuid.uuid4().hex[:12]}"
    task, _created = tasks.start_task(source_name, {**schedule.params, "idempotency_key": key}, by=by)
    return task


def rerun_body(task: Task) -> dict | None:
    """The body that starts `task` again with the same params (its sealed secrets put back), or None
    when a secret cannot be put back (a masked password inside a URL): then the form asks for it."""
    params = dict(task.params)
    for name, value in unseal(runtime().config, task.secrets_sealed).items():
        if params.get(name) == MASK:
            params[name] = value
    if MASK in json.dumps(params, ensure_ascii=False):
        return None
    return {**params, "queue": task.queue}
