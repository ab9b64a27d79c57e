"""Labeling rules: the keyword and regex models, validation, bounded matching."""
from __future__ import annotations

import pytest

from services.collector.labeling import MAX_TEXT, LabelStats, RulesError, compile_rules


def test_no_rules_is_none():
    assert compile_rules(None) is None


def test_keyword_model_matches_case_insensitive_substrings_in_rule_order():
    rules = compile_rules({"model": "keyword", "labels": {
        "swelling": ["붓기", "부기"], "price": ["가격", "비싸"], "botox": ["BOTOX"]}})
    assert rules.labels_of("가격이 비싸요. 붓기도 심해요") == ["swelling", "price"]
    assert rules.labels_of("Botox 처음") == ["botox"]
    assert rules.labels_of("아무 내용") == []
    assert rules.labels_of(None) == []


def test_regex_model_matches_patterns():
    rules = compile_rules({"model": "regex", "labels": {
        "nose": r"코\s*(수술|성형)", "revision": r"(?i)re-?do|재수술", "won": r"\d+\s*만\s*원"}})
    assert rules.labels_of("코 성형 300만원 들었어요") == ["nose", "won"]
    assert rules.labels_of("REDO 고민, 쌍꺼풀 재수술") == ["revision"]


def test_catastrophic_backtracking_pattern_runs_in_linear_time():
    # Under a backtracking engine, (a+)+$ against "aaaa...!" takes exponential time.
    rules = compile_rules({"model": "regex", "labels": {"evil": r"(a+)+$", "bang": r"!"}})
    assert rules.labels_of("a" * 50_000 + "!") == ["bang"]
    assert rules.labels_of("a" * 50_000) == ["evil"]


def test_only_the_first_max_text_characters_are_looked_at():
    rules = compile_rules({"model": "keyword", "labels": {"tail": ["꼬리"]}})
    assert rules.labels_of("가" * MAX_TEXT + "꼬리") == []
    assert rules.labels_of("가" * (MAX_TEXT - 2) + "꼬리") == ["tail"]


@pytest.mark.parametrize("pattern, reason", [
    (r"(a*)\1+b", "invalid escape sequence"),            # backreference: exponential in backtracking engines
    (r"(?=(a+))\1b", "invalid perl operator"),           # lookahead
    (r"((a{100}){100}){100}", "invalid repetition size"),  # a program of a million states
    (r"[", "missing ]"),
])
def test_hostile_or_broken_patterns_are_refused_with_the_label_named(pattern, reason):
    with pytest.raises(RulesError) as refused:
        compile_rules({"model": "regex", "labels": {"fine": "ok", "hostile": pattern}})
    assert list(refused.value.errors) == ["rules.labels.hostile"]
    assert reason in refused.value.errors["rules.labels.hostile"]


def test_overlong_pattern_is_refused():
    with pytest.raises(RulesError, match="limited to 1000"):
        compile_rules({"model": "regex", "labels": {"long": "a" * 1001}})


@pytest.mark.parametrize("spec, field", [
    ("keyword", "rules"),
    ({"model": "bayes", "labels": {"a": ["b"]}}, "rules.model"),
    ({"model": "keyword", "labels": {}}, "rules.labels"),
    ({"model": "keyword", "labels": {"a": "not a list"}}, "rules.labels.a"),
    ({"model": "keyword", "labels": {"a": ["ok", "  "]}}, "rules.labels.a"),
    ({"model": "regex", "labels": {"a": ["not", "a", "pattern"]}}, "rules.labels.a"),
    ({"model": "keyword", "labels": {"a": ["b"]}, "extra": 1}, "rules"),
    ({"model": "keyword", "labels": {f"l{i}": ["x"] for i in range(51)}}, "rules.labels"),
])
def test_malformed_rules_name_the_field(spec, field):
    with pytest.raises(RulesError) as refused:
        compile_rules(spec)
    assert field in refused.value.errors


def test_label_stats_summary():
    rules = compile_rules({"model": "keyword", "labels": {"price": ["가격"], "pain": ["아파"]}})
    stats = LabelStats()
    for author, text in [("a", "가격 좋아요"), ("b", "가격도 아파요"), ("a", "그냥 후기"), (None, "아파요")]:
        stats.add(author, rules.labels_of(text))
    assert stats.summary(rules) == {"unique_authors": 2, "labeled_items": 3,
                                    "rate_of_label": {"price": 0.5, "pain": 0.5}}
    assert LabelStats().summary(None) == {"unique_authors": 0}
