"""Analysts' labeling rules: which labels a collected post, review or comment gets.

Two models, given in a start body under `rules`:

    {"model": "keyword", "labels": {"swelling": ["붓기", "부기"], "price": ["가격", "비싸"]}}
    {"model": "regex",   "labels": {"nose": "코\\s*(수술|성형)", "revision": "(?i)re-?do|재수술"}}

A keyword matches as a case-insensitive substring. A pattern is compiled by RE2
(`google-re2`), whose matching time is linear in the text: there is no backtracking, so
a "catastrophic" pattern such as `(a+)+$` cannot hang a worker, whatever the text.
RE2 refuses what it cannot run in linear time (backreferences, lookaround) and patterns
whose compiled program would exceed `PATTERN_MEMORY`: those are rejected at start with
the label and the reason, as is any malformed rule. We chose RE2 over the `regex`
package's `timeout=`: a timeout bounds the damage per text but still burns up to the
timeout on every item and silently drops labels; RE2 bounds it by construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2

MODELS = ("keyword", "regex")
MAX_LABELS = 50
MAX_LABEL_LENGTH = 64
MAX_KEYWORDS = 200
MAX_KEYWORD_LENGTH = 200
MAX_PATTERN_LENGTH = 1000
PATTERN_MEMORY = 4 << 20          # bytes RE2 may use for one compiled pattern
MAX_TEXT = 100_000                # characters of an item looked at; long posts are cut, not skipped


class RulesError(ValueError):
    """The rules are malformed; `errors` maps each offending field to its reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _re2_options():
    options = re2.Options()
    options.max_mem = PATTERN_MEMORY
    options.never_capture = True
    options.log_errors = False     # RE2 would otherwise print every rejected pattern on stderr
    return options


@dataclass(frozen=True)
class LabelRules:
    model: str
    keywords: dict[str, tuple[str, ...]]
    patterns: dict[str, Any]

    @property
    def label_names(self) -> list[str]:
        return list(self.keywords or self.patterns)

    def labels_of(self, text: str | None) -> list[str]:
        """The labels `text` earns, in the order the rules list them."""
        text = (text or "")[:MAX_TEXT]
        if self.model == "keyword":
            folded = text.casefold()
            return [label for label, words in self.keywords.items() if any(w in folded for w in words)]
        return [label for label, pattern in self.patterns.items() if pattern.search(text)]

    def matched_terms(self, text: str | None) -> dict[str, list[str]]:
        """Each label `text` earns, with what earned it (the keywords found, or the pattern's
        first match), in the order the rules list them: the same decisions as `labels_of`."""
        text = (text or "")[:MAX_TEXT]
        if self.model == "keyword":
            folded = text.casefold()
            found = {label: [w for w in words if w in folded] for label, words in self.keywords.items()}
            return {label: words for label, words in found.items() if words}
        matches = {label: pattern.search(text) for label, pattern in self.patterns.items()}
        return {label: [match.group()] for label, match in matches.items() if match}


def compile_rules(spec: Any) -> LabelRules | None:
    """Validate and compile a `rules` object; None when there are no rules.

    Raises `RulesError` naming every bad field, so a start request gets one clear 422."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise RulesError({"rules": "must be an object {\"model\": ..., \"labels\": {...}}"})
    errors: dict[str, str] = {}
    unknown = set(spec) - {"model", "labels"}
    if unknown:
        errors["rules"] = f"unknown keys {sorted(unknown)}"
    model = spec.get("model")
    if model not in MODELS:
        errors["rules.model"] = f"must be one of {list(MODELS)}"
    labels = spec.get("labels")
    if not isinstance(labels, dict) or not labels:
        errors["rules.labels"] = "must be a non-empty object {label: ...}"
        raise RulesError(errors)
    if len(labels) > MAX_LABELS:
        errors["rules.labels"] = f"at most {MAX_LABELS} labels"
    keywords: dict[str, tuple[str, ...]] = {}
    patterns: dict[str, Any] = {}
    for label, rule in labels.items():
        field = f"rules.labels.{label}"
        if not label.strip() or len(label) > MAX_LABEL_LENGTH:
            errors[field] = f"a label name must be 1 to {MAX_LABEL_LENGTH} characters"
        elif model == "keyword":
            problem = _keyword_problem(rule)
            if problem:
                errors[field] = problem
            else:
                keywords[label] = tuple(w.strip().casefold() for w in rule)
        elif model == "regex":
            compiled = _compile_pattern(rule)
            if isinstance(compiled, str):
                errors[field] = compiled
            else:
                patterns[label] = compiled
    if errors:
        raise RulesError(errors)
    return LabelRules(model=model, keywords=keywords, patterns=patterns)


def _keyword_problem(rule: Any) -> str | None:
    if not isinstance(rule, list) or not rule:
        return "must be a non-empty list of keywords"
    if len(rule) > MAX_KEYWORDS:
        return f"at most {MAX_KEYWORDS} keywords"
    if not all(isinstance(w, str) and w.strip() and len(w) <= MAX_KEYWORD_LENGTH for w in rule):
        return f"each keyword must be non-blank text of at most {MAX_KEYWORD_LENGTH} characters"
    return None


def _compile_pattern(rule: Any):
    """The compiled pattern, or the reason it is refused (a str)."""
    if not isinstance(rule, str) or not rule:
        return "must be a non-empty pattern string"
    if len(rule) > MAX_PATTERN_LENGTH:
        return f"patterns are limited to {MAX_PATTERN_LENGTH} characters"
    try:
        return re2.compile(rule, _re2_options())
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return (f"refused by the linear-time regex engine (RE2): {reason}. Backreferences, lookaround "
                "and huge repetitions are not supported")


@dataclass
class LabelStats:
    """What the task's statistics gain from labeling: labeled items, rate per label, authors."""

    items: int = 0
    labeled: int = 0
    per_label: dict[str, int] | None = None
    authors: set | None = None

    def __post_init__(self):
        self.per_label = self.per_label or {}
        self.authors = self.authors or set()

    def add(self, author: str | None, labels: list[str]) -> None:
        self.items += 1
        if author:
            self.authors.add(author)
        if labels:
            self.labeled += 1
        for label in labels:
            self.per_label[label] = self.per_label.get(label, 0) + 1

    def summary(self, rules: LabelRules | None) -> dict[str, Any]:
        result: dict[str, Any] = {"unique_authors": len(self.authors)}
        if rules is not None:
            result["labeled_items"] = self.labeled
            result["rate_of_label"] = {label: round(self.per_label.get(label, 0) / self.items, 4) if self.items else 0.0
                                       for label in rules.label_names}
        return result
