"""A benchmark stopped with SIGTERM (`kill`, a CI timeout) stops the services it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A benchmark in miniature: a child process run through `running_process`, then waiting.
RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bench.common import exit_on_sigterm, running_process
    exit_on_sigterm()
    log = Path(sys.argv[1])
    with running_process(["-c", "import time; time.sleep(300)"], {}, lambda: True, log) as child:
        print(child.pid, flush=True)
        time.sleep(300)
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent, which is gone) has stopped too.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_stops_the_services_a_benchmark_started(tmp_path):
    run = subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path / "child.log")], cwd=REPO,
                           stdout=subprocess.PIPE, text=True)
    child = int(run.stdout.readline())
    assert alive(child)
    run.send_signal(signal.SIGTERM)
    assert run.wait(30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 30
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)
