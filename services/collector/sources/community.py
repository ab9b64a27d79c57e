"""What the three community sources (babitalk, gangnamunni, naver) share: the common start-body
fields (target_date, limit, rules) and the run loop that stores items as they come, labels them
and keeps the task's statistics."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import marshmallow as ma

from services.collector import items
from services.collector.connectors.community import KST, CollectedItem, CommunityError
from services.collector.labeling import LabelStats, RulesError, compile_rules
from services.collector.schemas import RulesCheckedSchema
from services.collector.sources.base import Source, SourceError, TaskCancelled

STORE_EVERY = 20          # items per upsert: small enough that a sample shows progress early


class RulesField(ma.fields.Dict):
    """The rules object; also accepted as its JSON text (what a plain form field sends)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                raise ma.ValidationError("Not valid JSON: give the rules as an object.") from None
            if value is None:
                return None
        return super()._deserialize(value, attr, data, **kwargs)


class CommunityParamsSchema(RulesCheckedSchema):
    target_date = ma.fields.Date(required=True, metadata={
        "description": "Oldest day collected (YYYY-MM-DD, Korean time); pages stop past it"})
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0, max=100_000), metadata={
        "description": "Most posts/reviews per category (their comments come along); 0 or null: no limit, "
                       "as the async collection guide uses it"})
    rules = RulesField(load_default=None, allow_none=True, metadata={
        "description": 'Labeling rules: {"model": "keyword", "labels": {label: [keywords]}} or '
                       '{"model": "regex", "labels": {label: pattern}} (RE2 syntax)'})

    @ma.post_load
    def no_limit(self, data, **kwargs):
        if data.get("limit") == 0:
            data["limit"] = None
        return data


class RecordProgress:
    """Progress in the records a category lists (posts, reviews, articles, talks, memos; their
    comments ride along), so a long category moves the guide's polling loop page by page.

    The total is an upper bound with a `limit` (the finished categories' counts plus `limit` for
    each one left, tightening as categories end short), and an estimate without one (the finished
    categories' average for each one left; the current category's count plus one page before any
    has finished); `step()` says which."""

    def __init__(self, categories: list[str], limit: int | None):
        self.categories, self.limit = categories, limit
        self.finished: list[int] = []
        self.current = 0
        self.category: str | None = None

    def start(self, category: str) -> None:
        if self.category is not None:
            self.finished.append(self.current)
        self.category, self.current = category, 0

    def add(self, item: CollectedItem) -> None:
        if item.kind != "comment":
            self.current += 1

    @property
    def done(self) -> int:
        return sum(self.finished) + self.current

    @property
    def total(self) -> int:
        left = max(0, len(self.categories) - len(self.finished) - 1)     # after the current one
        if self.limit:
            return sum(self.finished) + self.limit * (left + 1)
        if self.finished:
            average = sum(self.finished) / len(self.finished)
            return max(self.done, round(sum(self.finished) + max(average, self.current) + average * left))
        return self.current * (left + 1) + STORE_EVERY

    def step(self) -> str:
        kind = f"at most, limit {self.limit} per category" if self.limit else "estimated"
        return f"{self.category}: collecting ({self.done}/{self.total} records, total {kind})"


class CommunitySource(Source):
    """Subclasses give `client(ctx, params, pause, warn)` and `collect(client, params, target_date)`."""

    def categories(self, params) -> list[str]:
        return list(params.get("categories") or ["all"])

    def run(self, ctx, params):
        # The task keeps the body as given: load it again for the defaults and types.
        try:
            params = self.params_schema(unknown=ma.EXCLUDE).load(params)
            rules = compile_rules(params.get("rules"))
        except (ma.ValidationError, RulesError) as exc:   # validated at start; only masking can land here
            raise SourceError(f"start params no longer valid: {exc}") from None
        target = _date(params.get("target_date"))
        categories = self.categories(params)
        progress = RecordProgress(categories, params.get("limit"))
        ctx.set_total(progress.total)
        ctx.log(f"Collecting {self.name} back to {target.isoformat()}: {', '.join(categories)}"
                + (f", limit {params['limit']} per category" if params.get("limit") else ""))
        labels = LabelStats()
        pending: list[CollectedItem] = []
        seen_categories: list[str] = []
        skipped_before = 0
        client = self.client(ctx, params, pause=ctx.pace, warn=lambda message: ctx.log(message, "WARNING"))

        def store() -> None:
            nonlocal skipped_before
            if not pending:
                return
            for item, item_labels in zip(pending, items.store_items(ctx.task_id, pending, rules), strict=False):
                labels.add(item.author, item_labels)
            skipped = client.stats.skipped - skipped_before
            skipped_before = client.stats.skipped
            ctx.count(received=len(pending) + skipped, written=len(pending), rejected=skipped)
            pending.clear()
            ctx.progress(progress.done, total=progress.total, step=progress.step())

        try:
            for item in self.collect(client, params, target):
                if item.category and item.category not in seen_categories:
                    store()
                    seen_categories.append(item.category)
                    progress.start(item.category)
                    ctx.progress(progress.done, total=progress.total, step=progress.step())
                progress.add(item)
                pending.append(item)
                if len(pending) >= STORE_EVERY:
                    store()
                    ctx.checkpoint()
            store()
        except TaskCancelled:
            store()                      # a cancelled pull keeps what it had collected
            raise
        except CommunityError as exc:
            store()                      # keep what was collected before the failure
            raise SourceError(str(exc)) from exc
        ctx.progress(progress.done, total=progress.done, step="done")
        summary = self.summary(client.stats, labels, rules, target)
        ctx.log(f"Collected {summary['total_items']} items ({summary['skipped']} malformed skipped) "
                f"in {client.stats.requests} requests")
        return summary

    def summary(self, stats, labels: LabelStats, rules, target: date) -> dict:
        summary = {"status": "success", "target_date": target.isoformat(),
                   "total_items": sum(stats.by_kind.values()), "skipped": stats.skipped, "requests": stats.requests,
                   **{f"total_{kind}s": count for kind, count in sorted(stats.by_kind.items())},
                   **{f"category_{name}_count": count for name, count in sorted(stats.by_category.items())}}
        summary.update(labels.summary(rules))
        return summary

    def client(self, ctx, params, pause, warn):
        raise NotImplementedError

    def collect(self, client, params, target: date):
        raise NotImplementedError


def _date(value) -> date:
    if isinstance(value, date):
        return value
    if value:
        return date.fromisoformat(str(value))
    return (datetime.now(KST) - timedelta(days=1)).date()   # naver's target_date is optional: yesterday
