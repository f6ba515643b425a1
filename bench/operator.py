"""Operator benchmark (issue 5): create -> Infrastructure latency, drift repair, memory and idle CPU.

`python -m bench operator` (SCIA_BENCH_OPERATOR_BURST, _TOTAL and _IDLE_SECONDS shrink it
for a quick run, e.g. 10, 30 and 10).

Everything runs as its own process on loopback, as deployed: the embedder, the RAG service (on an
embedded PostgreSQL in a fresh temporary folder under .scia/bench/), the planner (local
repositories allowed), the Kubernetes API emulator (`python -m scia.operator.emulator`) and the
operator (`python -m scia.operator`, standalone, production defaults: a re-check of each
Deployment every 600 s spread over the interval, INFO logs to a file). The benchmark talks to the emulator over HTTP as kubectl would, and watches
Infrastructures (one cluster-wide watch) to time what the operator does.

Each Deployment points at a small git repository made by the benchmark (a copy of
examples/apps/flask-shop, file:/// URL), strategy auto, in one of 10 team namespaces with one
CloudProvider each. The planner clones and analyses the repository and retrieves from the memory
on every plan (it caches nothing).

1. Baseline, same run: Deployments created one at a time, each waited for: create -> Infrastructure.
2. A burst of BURST (100) Deployments created back to back (as `kubectl apply -f dir/`): per
   Deployment, the time from its create call returning to the ADDED event of its Infrastructure.
3. Drift repair, one at a time: an Infrastructure's spec.parameters edited out of band (time to the
   MODIFIED event that restores them) and an Infrastructure deleted (time to its re-creation).
4. Crossplane played: every Infrastructure marked Synced/Ready; the Deployments turn Running and
   their outcome is recorded in the memory (RecordDeployment + UpdateOutcome, embedded for real).
5. Scale to TOTAL (500) Deployments (another burst, also timed), all Running; then the operator's
   RSS at idle and its CPU over an idle window, once the API has been quiet for QUIET_SECONDS.
   The default re-check timers run at a steady Deployments / interval rate from the start (their
   first runs are spread over the first interval), so the window sees that rate. Writes to
   Deployments and Infrastructures during the window are counted (there should be none).
   RSS is also sampled every 0.5 s throughout for the peak.
6. Baseline in the same run: the operator restarted with the former settings (a re-check every
   30 s, all in step), the same idle measurement.
The machine's load average is recorded at each step (other work shares the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.common import free_port, http_ready, percentiles, running_process, service_process
from scia.rag.db import EmbeddedPostgres, create_database

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".scia" / "bench"
EXAMPLE_APP = ROOT / "examples" / "apps" / "flask-shop"
SCIA = "/apis/scia.io/v1alpha1"
TEAMS = 10
SEQUENTIAL = 10
BURST = int(os.environ.get("SCIA_BENCH_OPERATOR_BURST", "100"))
TOTAL = int(os.environ.get("SCIA_BENCH_OPERATOR_TOTAL", "500"))
DRIFT_SAMPLES = 10  # of each kind
RECHECK_SECONDS = 600.0  # the operator's default SCIA_OPERATOR_RECHECK_INTERVAL_SECONDS
FORMER_SETTINGS = {"SCIA_OPERATOR_RECHECK_INTERVAL_SECONDS": "30", "SCIA_OPERATOR_RECHECK_JITTER": "0"}
QUIET_SECONDS = 10.0  # idle = no Deployment or Infrastructure written for this long
RESUME_SECONDS = 45.0  # a restarted operator's resume of every Deployment (reads only) ends within this
IDLE_WINDOW_SECONDS = float(os.environ.get("SCIA_BENCH_OPERATOR_IDLE_SECONDS", "60"))
WAIT_SECONDS = 900.0  # upper bound of any single wait: a stuck run fails instead of hanging
TARGETS = {"rss_mib": 200, "idle_cpu_millicores": 50}


# --- the world ---------------------------------------------------------------------------------


def make_repository(folder: Path) -> str:
    """A one-commit git repository holding the example Flask app; returns its file:/// URL."""
    shutil.copytree(EXAMPLE_APP, folder)
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@scia.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@scia.invalid"}  # fmt: skip
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "flask shop"]):
        subprocess.run(["git", "-C", str(folder), *command], check=True, env=env, capture_output=True)
    return folder.resolve().as_uri()


def team(index: int) -> str:
    return f"team-{index % TEAMS:02d}"


def cloud_provider(namespace: str) -> dict:
    return {
        "apiVersion": "scia.io/v1alpha1", "kind": "CloudProvider", "metadata": {"name": "aws-bench", "namespace": namespace},
        "spec": {"type": "aws", "credentialsSecretRef": {"name": "aws-credentials", "key": "credentials"},
                 "defaultRegion": "eu-west-3", "allowedRegions": ["eu-west-3", "eu-west-1"], "tags": {"cost-center": "bench"}},
    }  # fmt: skip


def deployment(index: int, repository_url: str) -> dict:
    namespace = team(index)
    return {
        "apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": f"shop-{index:03d}", "namespace": namespace},
        "spec": {"repository": {"url": repository_url, "ref": "main"},
                 "prompt": f"Flask shop number {index} for {namespace}, small and cheap", "cloudProvider": "aws-bench",
                 "region": "eu-west-3", "strategy": "auto", "budget": {"maxMonthlyCost": 1000}},
    }  # fmt: skip


# --- processes ----------------------------------------------------------------------------------


# --- watching Infrastructures --------------------------------------------------------------------


Key = tuple[str, str]
Predicate = Callable[[str, dict], bool]


@dataclass
class Waiter:
    predicate: Predicate
    future: asyncio.Future


@dataclass
class InfrastructureWatch:
    """One cluster-wide watch of Infrastructures; `expect` registers a predicate on a key BEFORE
    the action it times, and resolves to the perf_counter time of the first matching event."""

    session: aiohttp.ClientSession
    url: str
    waiters: dict[Key, list[Waiter]] = field(default_factory=lambda: defaultdict(list))
    events: int = 0
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, key: Key, predicate: Predicate) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiters[key].append(Waiter(predicate, future))
        return future

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        params = {"watch": "true", "timeoutSeconds": "7200"}
        async with self.session.get(f"{self.url}{SCIA}/infrastructures", params=params, timeout=timeout) as response:
            response.raise_for_status()
            self.opened.set()
            async for line in response.content:
                now = time.perf_counter()
                if not line.strip():
                    continue
                event = json.loads(line)
                body = event.get("object") or {}
                meta = body.get("metadata") or {}
                key = (meta.get("namespace", ""), meta.get("name", ""))
                self.events += 1
                pending = []
                for waiter in self.waiters.get(key, []):
                    if not waiter.future.done() and waiter.predicate(event["type"], body):
                        waiter.future.set_result(now)
                    elif not waiter.future.done():
                        pending.append(waiter)
                if key in self.waiters:
                    self.waiters[key] = pending
        raise RuntimeError("the Infrastructure watch ended")


@dataclass
class EventCounter:
    """Counts the watch events of one kind cluster-wide (writes by anyone, the operator included)."""

    session: aiohttp.ClientSession
    url: str
    plural: str
    events: int = 0
    last: float = field(default_factory=time.perf_counter)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        params = {"watch": "true", "timeoutSeconds": "7200"}
        async with self.session.get(f"{self.url}{SCIA}/{self.plural}", params=params, timeout=timeout) as response:
            response.raise_for_status()
            async for line in response.content:
                if line.strip():
                    self.events += 1
                    self.last = time.perf_counter()


async def until_quiet(counters: list[EventCounter], seconds: float = QUIET_SECONDS, limit: float = 300.0) -> float:
    """Wait until none of `counters` saw an event for `seconds`; returns the time waited."""
    started = time.perf_counter()
    while time.perf_counter() - max(c.last for c in counters) < seconds:
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"the API was never quiet for {seconds:.0f} s within {limit:.0f} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def added(kind: str, _body: dict) -> bool:
    return kind == "ADDED"


# --- the Kubernetes API, as kubectl ---------------------------------------------------------------


class Api:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        async with self.session.request(method, self.url + path, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}: {body}")
            return body

    async def create(self, plural: str, namespace: str, body: dict) -> dict:
        return await self._call("POST", f"{SCIA}/namespaces/{namespace}/{plural}", json=body)

    async def get(self, plural: str, namespace: str, name: str) -> dict:
        return await self._call("GET", f"{SCIA}/namespaces/{namespace}/{plural}/{name}")

    async def list(self, plural: str, namespace: str) -> list[dict]:
        return (await self._call("GET", f"{SCIA}/namespaces/{namespace}/{plural}"))["items"]

    async def patch(self, plural: str, namespace: str, name: str, patch: dict, *, status: bool = False) -> dict:
        path = f"{SCIA}/namespaces/{namespace}/{plural}/{name}{'/status' if status else ''}"
        return await self._call("PATCH", path, json=patch, headers={"Content-Type": "application/merge-patch+json"})

    async def delete(self, plural: str, namespace: str, name: str) -> dict:
        return await self._call("DELETE", f"{SCIA}/namespaces/{namespace}/{plural}/{name}")


async def wait_for_deployments(api: Api, namespaces: list[str], count: int, ok: Callable[[dict], bool], what: str) -> float:
    """Poll until `count` Deployments satisfy `ok` (every 2 s: light on the shared emulator)."""
    started = time.perf_counter()
    while True:
        items = [d for ns in namespaces for d in await api.list("deployments", ns)]
        good = sum(1 for d in items if ok(d))
        if good >= count:
            return time.perf_counter() - started
        if time.perf_counter() - started > WAIT_SECONDS:
            phases = defaultdict(int)
            for d in items:
                phases[(d.get("status") or {}).get("phase")] += 1
            raise RuntimeError(f"{what}: {good}/{count} after {WAIT_SECONDS:.0f} s; phases {dict(phases)}")
        await asyncio.sleep(2)


# --- measurements ---------------------------------------------------------------------------------


class RssSampler:
    """The operator's RSS every 0.5 s, for the peak (idle RSS is measured separately)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.peak = process, 0

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.5)


def say(message: str) -> None:
    """Progress on stderr: the full run takes several minutes."""
    print(f"[bench operator {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mib(value: float) -> float:
    return round(value / 2**20, 1)


def cpu_mark(process: psutil.Process) -> tuple[float, float]:
    """(wall clock, user+system CPU seconds) of a process, to compute its CPU use since."""
    times = process.cpu_times()
    return time.perf_counter(), times.user + times.system


def cpu_since(process: psutil.Process, mark: tuple[float, float]) -> float:
    """Millicores (1000 = one core busy) used since `mark`."""
    times = process.cpu_times()
    return round((times.user + times.system - mark[1]) / (time.perf_counter() - mark[0]) * 1000, 1)


async def create_and_time(api: Api, watch: InfrastructureWatch, indexes: list[int], repository_url: str, *, one_at_a_time: bool) -> list[float]:
    """Create Deployments; per Deployment, seconds from its create call returning to the ADDED
    event of its Infrastructure (named like the Deployment)."""
    futures, created = {}, {}
    for index in indexes:
        body = deployment(index, repository_url)
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        futures[key] = watch.expect(key, added)
        await api.create("deployments", key[0], body)
        created[key] = time.perf_counter()
        if one_at_a_time:
            await asyncio.wait_for(asyncio.shield(futures[key]), WAIT_SECONDS)
    await asyncio.wait_for(asyncio.gather(*futures.values()), WAIT_SECONDS)
    return [futures[key].result() - created[key] for key in futures]


async def drift_repairs(api: Api, watch: InfrastructureWatch, keys: list[Key]) -> dict:
    changed, deleted = [], []
    for sample, key in enumerate(keys):
        ns, name = key
        original = (await api.get("infrastructures", ns, name))["spec"]["parameters"]
        if sample % 2 == 0:
            # An out-of-band edit of a parameter the operator owns (kubectl edit, a console).
            restored = watch.expect(key, lambda kind, body, want=original: kind == "MODIFIED" and body["spec"]["parameters"] == want)
            wrong = "rails" if original.get("framework") != "rails" else "django"
            await api.patch("infrastructures", ns, name, {"spec": {"parameters": {"framework": wrong}}})
            started = time.perf_counter()
            changed.append(await asyncio.wait_for(restored, 60) - started)
        else:
            recreated = watch.expect(key, added)
            await api.delete("infrastructures", ns, name)
            started = time.perf_counter()
            deleted.append(await asyncio.wait_for(recreated, 60) - started)
        await asyncio.sleep(0.5)  # one repair at a time: latency, not throughput
    return {
        "changed": {"samples": len(changed), **percentiles(changed), "max_ms": round(max(changed) * 1000, 2)},
        "deleted": {"samples": len(deleted), **percentiles(deleted), "max_ms": round(max(deleted) * 1000, 2)},
    }


async def play_crossplane(api: Api, keys: list[Key]) -> None:
    """What Crossplane does once the cloud resources exist: Synced and Ready on the XR."""
    status = {"conditions": [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "True", "reason": "Available", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]}  # fmt: skip
    for ns, name in keys:
        await api.patch("infrastructures", ns, name, {"status": {**status, "url": f"https://{name}.{ns}.example.com"}}, status=True)


def running_and_recorded(body: dict) -> bool:
    status = body.get("status") or {}
    return status.get("phase") == "Running" and status.get("lastOutcome") == "Success"


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """A Prometheus endpoint as {'name{label=value,...}': value}."""
    async with session.get(url) as response:
        text = await response.text()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def summed(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k.startswith(prefix)}


async def idle_measurement(operator: psutil.Process, emulator: psutil.Process, counters: list[EventCounter], after: float = 0.0) -> dict:
    """CPU of the operator (and the emulator) over IDLE_WINDOW_SECONDS once the API is quiet (and
    at least `after` seconds from now: a restarted operator re-reads every object first, without
    writing anything)."""
    started = time.perf_counter()
    await asyncio.sleep(after)
    settled = await until_quiet(counters) + (time.perf_counter() - started)
    mark, emulator_mark = cpu_mark(operator), cpu_mark(emulator)
    before = [c.events for c in counters]
    load_before = load_average()
    await asyncio.sleep(IDLE_WINDOW_SECONDS)
    return {
        "settled_after_s": round(settled, 1),
        "cpu_millicores": cpu_since(operator, mark), "window_s": IDLE_WINDOW_SECONDS,
        "emulator_cpu_millicores": cpu_since(emulator, emulator_mark),
        **{f"{c.plural}_written_in_window": c.events - b for c, b in zip(counters, before, strict=True)},
        "load_average_1m": [load_before, load_average()],
    }  # fmt: skip


async def measure(kube_url: str, operator: psutil.Process, emulator: psutil.Process, operator_metrics: str, planner_metrics: str,
                  repository_url: str, restart_operator: Callable[[dict[str, str]], psutil.Process]) -> dict:  # fmt: skip
    namespaces = [team(i) for i in range(TEAMS)]
    results: dict = {"load_average_1m": {"start": load_average()}}
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = Api(session, kube_url)
        watch = InfrastructureWatch(session, kube_url)
        watcher = asyncio.create_task(watch.run())
        await asyncio.wait_for(watch.opened.wait(), 30)
        counters = [EventCounter(session, kube_url, "deployments"), EventCounter(session, kube_url, "infrastructures")]
        counting = [asyncio.create_task(c.run()) for c in counters]
        sampler = RssSampler(operator)
        sampling = asyncio.create_task(sampler.run())
        try:
            await asyncio.sleep(3)
            empty_rss = operator.memory_info().rss
            results["rss_empty_mib"] = mib(empty_rss)
            for ns in namespaces:
                await api.create("cloudproviders", ns, cloud_provider(ns))

            say(f"{SEQUENTIAL} Deployments one at a time")
            sequential = await create_and_time(api, watch, list(range(SEQUENTIAL)), repository_url, one_at_a_time=True)
            say(f"{BURST} Deployments in a burst")
            started = time.perf_counter()
            burst = await create_and_time(api, watch, list(range(SEQUENTIAL, SEQUENTIAL + BURST)), repository_url, one_at_a_time=False)
            burst_seconds = time.perf_counter() - started
            results["create_to_infrastructure"] = {
                "one_at_a_time": {"deployments": SEQUENTIAL, **percentiles(sequential)},
                "burst": {"deployments": BURST, **percentiles(burst), "max_ms": round(max(burst) * 1000, 2),
                          "seconds_to_all": round(burst_seconds, 1), "deployments_per_s": round(BURST / burst_seconds, 2)},
            }  # fmt: skip
            results["create_to_infrastructure"]["p50_ratio_burst_vs_one_at_a_time"] = round(
                statistics.median(burst) / statistics.median(sequential), 2
            )
            first = SEQUENTIAL + BURST
            await wait_for_deployments(api, namespaces, first, lambda d: (d.get("status") or {}).get("phase") == "Provisioning", "applied")
            results["rss_after_burst_mib"] = mib(operator.memory_info().rss)

            # Drift: spread over teams, none of the ones timed above are still being handled.
            keys = [(team(i), f"shop-{i:03d}") for i in range(SEQUENTIAL, SEQUENTIAL + min(2 * DRIFT_SAMPLES, BURST))]
            say(f"drift repair, {len(keys)} samples")
            repairs_before = summed(await scrape(session, operator_metrics), "scia_operator_drift_repairs_total")
            results["drift_repair"] = await drift_repairs(api, watch, keys)
            repairs_after = summed(await scrape(session, operator_metrics), "scia_operator_drift_repairs_total")
            results["drift_repair"]["operator_repairs_counted"] = {k: v - repairs_before.get(k, 0) for k, v in repairs_after.items()}

            # Crossplane answers for the first batch; then scale to TOTAL.
            say(f"Crossplane marks {first} Infrastructures Ready")
            started = time.perf_counter()
            await play_crossplane(api, [(team(i), f"shop-{i:03d}") for i in range(first)])
            await wait_for_deployments(api, namespaces, first, running_and_recorded, "running and recorded")
            results["ready_to_running_and_recorded"] = {"deployments": first, "seconds_to_all": round(time.perf_counter() - started, 1)}

            results["load_average_1m"]["after_first_burst"] = load_average()
            say(f"scaling to {TOTAL} Deployments")
            started = time.perf_counter()
            scale = await create_and_time(api, watch, list(range(first, TOTAL)), repository_url, one_at_a_time=False)
            results["create_to_infrastructure"]["scale_burst"] = {
                "deployments": TOTAL - first, **percentiles(scale), "max_ms": round(max(scale) * 1000, 2),
                "seconds_to_all": round(time.perf_counter() - started, 1),
            }  # fmt: skip
            await play_crossplane(api, [(team(i), f"shop-{i:03d}") for i in range(first, TOTAL)])
            await wait_for_deployments(api, namespaces, TOTAL, running_and_recorded, "all running and recorded")
            infrastructures = sum([len(await api.list("infrastructures", ns)) for ns in namespaces])
            assert infrastructures == TOTAL, f"{infrastructures} Infrastructures for {TOTAL} Deployments"
            peak = sampler.peak

            results["load_average_1m"]["all_running"] = load_average()

            # Idle: nothing changes; the re-check timers are the only work.
            say(f"idle: waiting for {QUIET_SECONDS:.0f} quiet seconds, then measuring over {IDLE_WINDOW_SECONDS:.0f} s")
            idle = await idle_measurement(operator, emulator, counters)
            rss = operator.memory_info()
            results["idle"] = {
                "deployments": TOTAL, "infrastructures": infrastructures,
                "rss_mib": mib(rss.rss), "peak_rss_mib": mib(max(peak, sampler.peak)),
                "rss_per_deployment_kib": round((rss.rss - empty_rss) / TOTAL / 1024, 1),
                "recheck": f"every {RECHECK_SECONDS:.0f} s, spread", **idle,
            }  # fmt: skip
            metrics = await scrape(session, operator_metrics)
            planner = await scrape(session, planner_metrics)
            results["operator_counters"] = {
                **summed(metrics, "scia_operator_plans_total"), **summed(metrics, "scia_operator_drift_repairs_total"),
                **summed(metrics, "scia_operator_memory_writes_total"),
            }  # fmt: skip
            analysis_n = planner.get("scia_planner_analysis_seconds_count", 0)
            retrieval_n = planner.get("scia_planner_retrieval_seconds_count", 0)
            results["planner"] = {
                "plans": int(sum(summed(planner, "scia_planner_plans_total").values())),
                "mean_clone_and_analysis_ms": round(planner.get("scia_planner_analysis_seconds_sum", 0) / analysis_n * 1000, 1) if analysis_n else None,
                "mean_retrieval_ms": round(planner.get("scia_planner_retrieval_seconds_sum", 0) / retrieval_n * 1000, 1) if retrieval_n else None,
            }  # fmt: skip

            # Baseline, same run: the former settings (re-check every 30 s, all in step).
            say(f"baseline: operator restarted with {FORMER_SETTINGS}")
            sampling.cancel()
            former = await asyncio.to_thread(restart_operator, FORMER_SETTINGS)
            idle = await idle_measurement(former, emulator, counters, after=RESUME_SECONDS)
            results["idle_former_settings"] = {"recheck": "every 30 s, in step (the former default)", "rss_mib": mib(former.memory_info().rss), **idle}
            results["load_average_1m"]["end"] = load_average()
        finally:
            sampling.cancel()
            watcher.cancel()
            for task in counting:
                task.cancel()
            await asyncio.gather(sampling, watcher, *counting, return_exceptions=True)
    return results


def run() -> dict:
    # SIGTERM (a stopped `make bench`) unwinds like Ctrl-C: the finally blocks stop the service
    # processes and the embedded PostgreSQL instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    # A fresh folder per run: another benchmark may be using .scia/bench/postgres right now.
    work = Path(tempfile.mkdtemp(prefix="operator-", dir=BENCH_DIR))
    postgres = EmbeddedPostgres(work / "postgres")
    try:
        repository_url = make_repository(work / "flask-shop")
        base = asyncio.run(postgres.start())
        asyncio.run(create_database(base, "bench_operator"))
        dsn = postgres._server.get_uri(database="bench_operator")
        planner_metrics_port = free_port()
        kube_port, health_port, metrics_port = free_port(), free_port(), free_port()
        kube_url = f"http://127.0.0.1:{kube_port}"
        with contextlib.ExitStack() as stack:
            embedder_target = stack.enter_context(service_process("scia.embedder", "SCIA_EMBEDDER_"))
            rag_target = stack.enter_context(service_process(
                "scia.rag", "SCIA_RAG_", dsn=dsn, embedder_target=embedder_target, reranker_enabled="false"))  # fmt: skip
            planner_target = stack.enter_context(service_process(
                "scia.planner", "SCIA_PLANNER_", allow_local_paths="true", rag_target=rag_target,
                metrics_host="127.0.0.1", metrics_port=str(planner_metrics_port)))  # fmt: skip
            namespaces = [arg for i in range(TEAMS) for arg in ("--namespace", team(i))]
            emulator = stack.enter_context(running_process(
                ["-m", "scia.operator.emulator", "--port", str(kube_port), *namespaces], {},
                http_ready(f"{kube_url}/version"), work / "emulator.log", timeout=90))  # fmt: skip
            operator_env = {
                "SCIA_OPERATOR_KUBERNETES_URL": kube_url, "SCIA_OPERATOR_PLANNER_TARGET": planner_target,
                "SCIA_OPERATOR_RAG_TARGET": rag_target, "SCIA_OPERATOR_STANDALONE": "true",
                "SCIA_OPERATOR_METRICS_HOST": "127.0.0.1", "SCIA_OPERATOR_METRICS_PORT": str(metrics_port),
                "SCIA_OPERATOR_HEALTH_HOST": "127.0.0.1", "SCIA_OPERATOR_HEALTH_PORT": str(health_port),
            }  # fmt: skip
            operator = stack.enter_context(running_process(
                ["-m", "scia.operator"], operator_env, http_ready(f"http://127.0.0.1:{health_port}/healthz"),
                work / "operator.log", timeout=90))  # fmt: skip

            def restart_operator(overrides: dict[str, str]) -> psutil.Process:
                operator.send_signal(signal.SIGTERM)
                operator.wait(60)
                again = stack.enter_context(running_process(
                    ["-m", "scia.operator"], {**operator_env, **overrides}, http_ready(f"http://127.0.0.1:{health_port}/healthz"),
                    work / "operator-former.log", timeout=90))  # fmt: skip
                return psutil.Process(again.pid)

            results = asyncio.run(measure(
                kube_url, psutil.Process(operator.pid), psutil.Process(emulator.pid),
                f"http://127.0.0.1:{metrics_port}/metrics", f"http://127.0.0.1:{planner_metrics_port}/metrics", repository_url,
                restart_operator))  # fmt: skip
    finally:
        asyncio.run(postgres.stop())
        shutil.rmtree(work, ignore_errors=True)
    return {
        "setup": {
            "teams": TEAMS, "one_at_a_time": SEQUENTIAL, "burst": BURST, "total": TOTAL, "drift_samples_per_kind": DRIFT_SAMPLES,
            "kubernetes": "python -m scia.operator.emulator (kmock, in memory, loopback HTTP)",
            "operator": "python -m scia.operator, standalone, default settings (re-check every 600 s spread over the interval, INFO logs to a file)",
            "planner": "python -m scia.planner, local repositories allowed, no LLM, clones on every plan",
            "memory": "python -m scia.rag on embedded PostgreSQL + pgvector (fresh), python -m scia.embedder, no re-ranker",
            "repository": "one-commit git copy of examples/apps/flask-shop, file:/// URL, strategy auto",
        },  # fmt: skip
        **results,
        "targets": TARGETS,
    }


def summary(results: dict) -> str:
    c, d, idle = results["create_to_infrastructure"], results["drift_repair"], results["idle"]
    former = results["idle_former_settings"]
    one, burst, scale = c["one_at_a_time"], c["burst"], c["scale_burst"]
    return "\n".join(
        [
            "| operator | measured | target |",
            "|---|---|---|",
            f"| create -> Infrastructure, {burst['deployments']} Deployments in a burst: p50 / p99 | "
            f"{burst['p50_ms'] / 1000:.2f} s / **{burst['p99_ms'] / 1000:.2f} s** (all in {burst['seconds_to_all']} s, "
            f"{burst['deployments_per_s']}/s) | |",
            f"| same, one at a time (baseline, same run, {one['deployments']}) | {one['p50_ms']} ms / {one['p99_ms']} ms | |",
            f"| p50 ratio burst vs one at a time | {c['p50_ratio_burst_vs_one_at_a_time']}x | |",
            f"| create -> Infrastructure, next {scale['deployments']} in a burst (to {idle['deployments']}) | "
            f"{scale['p50_ms'] / 1000:.2f} s / {scale['p99_ms'] / 1000:.2f} s (all in {scale['seconds_to_all']} s) | |",
            f"| drift repair, spec edited out of band: p50 / max ({d['changed']['samples']}) | "
            f"{d['changed']['p50_ms']} ms / {d['changed']['max_ms']} ms | detected < 10 s |",
            f"| drift repair, Infrastructure deleted: p50 / max ({d['deleted']['samples']}) | "
            f"{d['deleted']['p50_ms']} ms / {d['deleted']['max_ms']} ms | detected < 10 s |",
            f"| operator RSS at idle, {idle['deployments']} Deployments Running (peak during the run) | "
            f"**{idle['rss_mib']} MiB** ({idle['peak_rss_mib']} MiB; empty {results['rss_empty_mib']} MiB) "
            f"| < {results['targets']['rss_mib']} Mi |",
            f"| operator CPU at idle over {idle['window_s']:.0f} s, {idle['deployments']} Deployments | "
            f"**{idle['cpu_millicores']} m** (emulator {idle['emulator_cpu_millicores']} m; "
            f"{idle['deployments_written_in_window']} Deployment and {idle['infrastructures_written_in_window']} Infrastructure writes) "
            f"| < {results['targets']['idle_cpu_millicores']} m |",
            f"| same, former settings (re-check every 30 s), same run | {former['cpu_millicores']} m "
            f"(emulator {former['emulator_cpu_millicores']} m; {former['deployments_written_in_window']} Deployment writes) | |",
        ]
    )


if __name__ == "__main__":
    from bench.common import write_results

    path = write_results("operator", run())
    print(path)
