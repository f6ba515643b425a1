"""`scia-dev`: the local stack.

    scia-dev up [--once]          start every service on loopback, wait for health, run the walkthrough
    scia-dev up --kubeconfig PATH the same against that kubeconfig's cluster instead of the emulator
    scia-dev embed TEXT [TEXT...] embed texts with the running embedder
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path

from scia.devstack import demo
from scia.devstack.kubeconfig import KubeconfigError, resolve
from scia.devstack.stack import LocalStack, default_services
from scia.devstack.webui import UI_PATH, ensure_ui


async def walkthrough(stack: LocalStack, repository: str, token: str) -> None:
    target = {spec.name: spec.target for spec in stack.specs}
    texts = [demo.EXAMPLE_PROMPT, "Django web shop needing two instances across zones", "static marketing site on a CDN"]
    response, seconds = await demo.embed(target["embedder"], texts)
    print("\n1. Embed (embedder)\n" + demo.describe_embeddings(response, texts, seconds))
    print(f"\n2. Plan {demo.EXAMPLE_APP} for {demo.EXAMPLE_PROMPT!r} (planner, with the memory)")
    planned = await demo.plan_example(target["planner"], repository)
    print(demo.describe_plan(planned))
    print("\n3. Deploy it: GraphQL (gateway) -> Deployment resource -> operator -> Infrastructure")
    # Against a cluster (--kubeconfig) its Crossplane provisions; the stand-in plays it only locally.
    kubernetes_url = f"http://{target['kubernetes']}" if "kubernetes" in target else ""
    await demo.deploy_through_gateway(f"http://{target['gateway']}", token, kubernetes_url, repository)
    print("\n4. What the memory learned (rag): the operator recorded the outcome")
    for _ in range(50):  # the outcome is written right after the phase turns Running
        lines = await demo.remembered_outcomes(target["rag"])
        if any("outcome success" in line for line in lines):
            break
        await asyncio.sleep(0.2)
    print("\n".join(lines))
    print(await demo.recall(f"http://{target['gateway']}", token, "flask api with postgres and redis"))


def up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    repository = args.repository or demo.repository_root()
    cluster = None
    if args.kubeconfig:
        try:  # checked before anything starts: the gateway's needs are narrower than kubectl's
            cluster = resolve(Path(args.kubeconfig))
        except KubeconfigError as error:
            print(f"scia-dev up: {error}", file=sys.stderr)
            return 2
        print(f"SCIA local stack against context {cluster.context!r} of {cluster.kubeconfig} ({cluster.server});")
        print(f"  the cluster needs the SCIA CRDs (crds/) and a namespace {demo.NAMESPACE}; nothing is emulated")
    else:
        print("SCIA local stack (embedded defaults, no cluster needed)")
    ui_dir = None if args.no_ui else ensure_ui(Path(repository) / UI_PATH)
    stack = LocalStack(default_services(state_dir, args.base_port, args.metrics_base_port, ui_dir, cluster), state_dir)
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    try:
        stack.start()
        token = demo.issue_token(stack.spec("gateway").env)
        asyncio.run(walkthrough(stack, repository, token))
    except Exception as error:  # StartupError, or a step of the walkthrough failing
        print(f"\nstart-up failed: {error}", file=sys.stderr)
        stack.stop()
        return 1
    gateway = stack.spec("gateway")
    print("\nServices:")
    for spec in stack.specs:
        where = f"http://{spec.target}" if spec.ready_url else f"gRPC {spec.target}"
        metrics = f"   metrics http://127.0.0.1:{spec.metrics_port}/metrics" if spec.metrics_port else ""
        print(f"  {spec.name:<10} {where}{metrics}")
    print(f"  logs       {stack.log_dir}/<service>.log (JSON lines)")
    if cluster is None:
        print("  kubernetes is an in-memory API (no cluster): it forgets everything when the stack stops")
    else:
        print(f"  kubernetes is {cluster.server} (context {cluster.context!r}): what was applied stays there")
    if ui_dir:
        print(f"\nWeb UI:  http://{gateway.target}/   sign in with the demo token below")
    else:
        print(f"\nWeb UI:  not built (see above); http://{gateway.target}/ says how to build it")
    print(f"GraphQL: http://{gateway.target}/graphql   token for demo (admin of {demo.NAMESPACE}):\n  {token}")
    print("\nTry:")
    query = '{"query": "{ deployments(namespace: \\"team-demo\\") { edges { node { name phase cost { estimatedMonthly } } } } }"}'
    print(f"  curl -s http://{gateway.target}/graphql -H 'Authorization: Bearer <token>' \\")
    print(f"       -H 'Content-Type: application/json' -d '{query}'")
    print('  .venv/bin/scia-plan . "FastAPI service with websockets, 2000 users, in Frankfurt" --target 127.0.0.1:50053')
    print('  .venv/bin/scia-dev embed "a FastAPI service with websockets" "a Go API on Kubernetes"')
    if args.once:
        print("\n--once: stopping")
    else:
        print("\nPress Ctrl-C to stop.")
        while not stop_requested.wait(0.5):
            if dead := stack.exited():
                for service in dead:
                    print(f"{service.spec.name} exited with {service.process.returncode}:\n{service.tail()}", file=sys.stderr)
                stack.stop()
                return 1
    codes = stack.stop()
    clean = {spec.name: codes[spec.name] in spec.clean_exit_codes for spec in stack.specs}
    print("stopped: " + ", ".join(f"{name} ({'clean' if clean[name] else f'exit {code}'})" for name, code in codes.items()))
    return 0 if all(clean.values()) else 1


def embed_command(args: argparse.Namespace) -> int:
    response, seconds = asyncio.run(demo.embed(args.target, args.texts))
    print(demo.describe_embeddings(response, args.texts, seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scia-dev", description="SCIA's local stack")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start every service and wait for Ctrl-C")
    up_parser.add_argument("--once", action="store_true", help="stop right after the walkthrough")
    up_parser.add_argument("--base-port", type=int, default=50051, help="gRPC port of the first service")
    up_parser.add_argument("--metrics-base-port", type=int, default=9101)
    up_parser.add_argument("--state-dir", default=".scia", help="logs and local data (the memory's database)")
    up_parser.add_argument("--repository", help="SCIA checkout holding the example app (default: this one)")
    up_parser.add_argument("--no-ui", action="store_true", help="do not build or serve the web UI")
    up_parser.add_argument(
        "--kubeconfig", metavar="PATH",
        help="run the operator and the gateway against this kubeconfig's current context instead of the in-memory emulator",
    )
    up_parser.set_defaults(handler=up)
    embed_parser = commands.add_parser("embed", help="embed texts with the running embedder")
    embed_parser.add_argument("texts", nargs="+")
    embed_parser.add_argument("--target", default="127.0.0.1:50051")
    embed_parser.set_defaults(handler=embed_command)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
