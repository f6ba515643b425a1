"""`scia-operator` / `python -m scia.operator`: run the operator.

- `SCIA_OPERATOR_KUBERNETES_URL=http://127.0.0.1:6443` (e.g. `python -m scia.operator.emulator`):
  run against that API server without credentials;
- `--emulator`: start the in-memory emulator in this process (port SCIA_OPERATOR_EMULATOR_PORT)
  and run against it; it forgets everything on exit;
- otherwise in-cluster (service account) or the kubeconfig ($KUBECONFIG, ~/.kube/config, or
  SCIA_OPERATOR_KUBECONFIG).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from scia.operator.config import OperatorSettings
from scia.operator.handlers import Operator
from scia.operator.runner import run_operator
from scia.runtime.config import ConfigError, load_settings
from scia.runtime.logs import configure_logging
from scia.runtime.telemetry import configure_tracing, start_metrics_server

log = logging.getLogger("scia.operator")

# kopf logs one INFO line per handler call. For the per-Deployment re-check and the Infrastructure
# watch that is a line per Deployment per interval and per event, saying nothing; failures are
# still logged (at WARNING/ERROR, other messages).
ROUTINE_SUCCESSES = frozenset({"Timer 'recheck' succeeded.", "Handler 'infrastructure' succeeded."})


class _SkipRoutineSuccesses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.getMessage() in ROUTINE_SUCCESSES)


class _DropKopfSettings(logging.Filter):
    """kopf attaches its whole settings object to each object-log record (`settings`), which the
    JSON formatter would print as a ~2 KB repr on every line. Dropped at the output handler, after
    kopf's own handlers (event posting) have read it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("settings", None)
        return True


def quiet_kopf_logs() -> None:
    logging.getLogger("kopf.objects").addFilter(_SkipRoutineSuccesses())
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropKopfSettings())


async def run(settings: OperatorSettings, *, emulator: bool = False, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    emulated = None
    if emulator:
        from scia.operator import emulator as emulator_module

        emulated = await emulator_module.serve(port=settings.emulator_port, namespaces=["default", *settings.namespaces])
        url = str(emulated[1].url).rstrip("/")
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per kopf request otherwise
        settings = settings.model_copy(update={"kubernetes_url": url, "standalone": True})
        log.info("in-memory Kubernetes API on %s: it forgets everything on exit", url)
    operator = Operator(settings)
    try:
        await run_operator(operator, stop_flag=stop)
    finally:
        if emulated is not None:
            await emulated[1].__aexit__(None, None, None)
            await emulated[0].__aexit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scia-operator", description="Reconcile scia.io Deployments into plans and Infrastructures.")
    parser.add_argument("--emulator", action="store_true", help="run against an in-memory Kubernetes API started in this process")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--namespace", "-n", action="append", default=None, help="watch only this namespace (repeatable)")
    parser.add_argument("--standalone", action="store_true", help="no peering (a single replica)")
    args = parser.parse_args(argv)
    overrides: dict = {}
    if args.kubeconfig:
        overrides["kubeconfig"] = args.kubeconfig
    if args.namespace:
        overrides["namespaces"] = args.namespace
    if args.standalone:
        overrides["standalone"] = True
    try:
        settings = load_settings(OperatorSettings, **overrides)
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    configure_logging("operator", settings.log_level)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        quiet_kopf_logs()
    configure_tracing("scia-operator")
    port = start_metrics_server(settings.metrics_host, settings.metrics_port)
    if port:
        log.info("metrics on :%s/metrics", port)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(settings, emulator=args.emulator, stop=stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
