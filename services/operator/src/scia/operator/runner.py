"""Run kopf inside an event loop that other things share (the tests, the in-process emulator).

`kopf.operator()` ends by cancelling every task created after it started, assuming they are all
its own; in a shared loop that includes the caller's unrelated tasks (a test's fixture teardown,
a gRPC server started later), which then fail or crash on shutdown. Here kopf's task spawning is
the same (`kopf.spawn_tasks`), but only tasks running kopf's or this package's code count as the
operator's when it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterator
from typing import Any

import kopf

from scia.operator.handlers import Operator, operator_kwargs

log = logging.getLogger("scia.operator")

_OWN_CODE = ("/kopf/", "/scia/operator/")


def _is_operators(task: asyncio.Task) -> bool:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    filename = getattr(code, "co_filename", "") or ""
    if filename.endswith("/scia/operator/emulator.py"):
        return False  # an emulator in the same loop (tests, --emulator) outlives the operator
    return any(part in filename for part in _OWN_CODE)


class _NotOperatorTasks(Collection):
    """The `ignored` set of kopf.run_tasks: tasks that existed before, and any task that is not
    running kopf's or the operator's code."""

    def __init__(self, existing: Collection[asyncio.Task]) -> None:
        self._existing = set(existing)

    def __contains__(self, task: object) -> bool:
        return task in self._existing or (isinstance(task, asyncio.Task) and not _is_operators(task))

    def __iter__(self) -> Iterator[asyncio.Task]:
        return iter(self._existing)

    def __len__(self) -> int:
        return len(self._existing)


async def run_operator(
    operator: Operator, *, stop_flag: asyncio.Event, ready_flag: asyncio.Event | None = None, **overrides: Any
) -> None:
    existing = asyncio.all_tasks()
    kwargs = {**operator_kwargs(operator.settings), **overrides}
    if not kwargs.get("standalone"):
        # Which replica is active is decided by this number: worth one line at start.
        log.info("peering %r with priority %s", kwargs.get("peering_name"), kwargs.get("priority"))
    tasks = await kopf.spawn_tasks(registry=operator.registry, stop_flag=stop_flag, ready_flag=ready_flag, **kwargs)
    await kopf.run_tasks(tasks, ignored=_NotOperatorTasks(existing))
