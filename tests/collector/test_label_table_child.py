"""What the label_table job's labeling process imports (label_table/child.py): the rules, not the app. A
spawned child imports afresh the module of each function it runs and every package above it, so an import
of Flask or SQLAlchemy anywhere on that path costs every worker's labeling process its start.
"""
from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from services.collector.label_table import child

RULES = {"model": "keyword", "labels": {"price": ["가격"]}}
# Evaluated in the child (eval pickles by name, so it brings no module of its own along).
HEAVY = ("sorted(name for name in __import__('sys').modules if name.split('.')[0] in ('flask', 'sqlalchemy', "
         "'flask_smorest', 'redis', 'marshmallow') or name in ('services.collector.models', 'shared.app'))")


def test_the_spawned_child_labels_without_importing_the_app():
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=child.watch_parent,
                             initargs=(os.getpid(),)) as pool:
        found, per_label, *_timing = pool.submit(child.label_in_child, json.dumps(RULES),
                                                 ["가격 문의", "후기"]).result(timeout=60)
        imported = pool.submit(eval, HEAVY).result(timeout=60)

    assert (found, per_label) == ({0: {"price": ["가격"]}}, {"price": 1})
    assert imported == []
