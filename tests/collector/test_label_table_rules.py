"""LabelRules.matched_terms (what label_table writes) decides exactly as labels_of does, and
reports every keyword found, also when keywords overlap or one is a prefix of another."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.collector.labeling import compile_rules

# A tiny alphabet, so keywords overlap, contain and prefix one another often.
words = st.text(alphabet="abAB가", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(labels=st.dictionaries(st.sampled_from(["x", "y", "z"]), st.lists(words, min_size=1, max_size=4),
                              min_size=1),
       text=st.text(alphabet="abAB가 ", max_size=40))
def test_matched_terms_agree_with_labels_of_and_find_every_keyword(labels, text):
    rules = compile_rules({"model": "keyword", "labels": labels})
    terms = rules.matched_terms(text)

    assert list(terms) == rules.labels_of(text)
    folded = text.casefold()
    for label, keywords in rules.keywords.items():
        assert terms.get(label, []) == [w for w in keywords if w in folded]


def test_regex_rules_report_their_first_match():
    rules = compile_rules({"model": "regex", "labels": {"nose": r"코\s*(수술|성형)", "redo": r"(?i)re-?do"}})
    assert rules.matched_terms("코 성형 후 Re-do 했어요") == {"nose": ["코 성형"], "redo": ["Re-do"]}
    assert rules.matched_terms(None) == {} and rules.matched_terms("") == {}
