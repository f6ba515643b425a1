"""`python -m scia.operator`'s log filters: kopf's routine success lines and settings copies."""

from __future__ import annotations

import io
import json
import logging

from scia.operator.__main__ import _DropKopfSettings, _SkipRoutineSuccesses
from scia.runtime.logs import JsonFormatter


def record(message: str, level: int = logging.INFO, **extra) -> logging.LogRecord:
    item = logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)
    item.__dict__.update(extra)
    return item


def test_routine_successes_are_dropped_at_info_and_everything_else_kept():
    skip = _SkipRoutineSuccesses()
    assert not skip.filter(record("Timer 'recheck' succeeded."))
    assert not skip.filter(record("Handler 'infrastructure' succeeded."))
    assert skip.filter(record("Handler 'reconcile' succeeded."))  # a spec change: worth a line
    assert skip.filter(record("Timer 'recheck' failed with an exception. Will retry.", logging.ERROR))
    assert skip.filter(record("Timer 'recheck' succeeded.", logging.WARNING))


def test_kopf_settings_do_not_reach_the_json_lines():
    class Settings:
        def __repr__(self) -> str:
            return "OperatorSettings(" + "x" * 2000 + ")"

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("operator"))
    handler.addFilter(_DropKopfSettings())
    handler.handle(record("Handler 'reconcile' succeeded.", settings=Settings(), k8s_ref={"name": "api"}))
    line = json.loads(stream.getvalue())
    assert "settings" not in line and line["k8s_ref"] == {"name": "api"}
    assert len(stream.getvalue()) < 500
