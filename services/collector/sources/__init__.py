"""The registry of collection sources: one line per source.

To add a source, write `services/collector/sources/<name>.py` with a `Source` subclass
(see base.py) and add it below; name it in `config.PACED_SOURCES` too, so that
COLLECTOR_PACING_<NAME> is read for it (config.py reads every setting).
"""
from __future__ import annotations

from services.collector.sources.babitalk import BabitalkSource
from services.collector.sources.base import Source
from services.collector.sources.gangnamunni import GangnamunniSource
from services.collector.sources.grader import GraderSource
from services.collector.sources.label_table import LabelTableSource
from services.collector.sources.naver import NaverSource
from services.collector.sources.trials import TrialsSource

SOURCES: dict[str, Source] = {source.name: source for source in (
    TrialsSource(),
    GraderSource(),
    BabitalkSource(), GangnamunniSource(), NaverSource(),
    LabelTableSource(),
)}
