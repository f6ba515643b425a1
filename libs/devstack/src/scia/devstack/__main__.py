"""`scia-dev`: the local stack.

    scia-dev up [--once]          start every service on loopback, wait for health, run the walkthrough
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
from scia.devstack.stack import LocalStack, default_services


async def walkthrough(stack: LocalStack, repository: str, token: str) -> None:
    target = {spec.name: spec.target for spec in stack.specs}
    texts = [demo.EXAMPLE_PROMPT, "Django web shop needing two instances across zones", "static marketing site on a CDN"]
    response, seconds = await demo.embed(target["embedder"], texts)
    print("\n1. Embed (embedder)\n" + demo.describe_embeddings(response, texts, seconds))
    print(f"\n2. Plan {demo.EXAMPLE_APP} for {demo.EXAMPLE_PROMPT!r} (planner, with the memory)")
    planned = await demo.plan_example(target["planner"], repository)
    print(demo.describe_plan(planned))
    print("\n3. Deploy it: GraphQL (gateway) -> Deployment resource -> operator -> Infrastructure")
    await demo.deploy_through_gateway(
        f"http://{target['gateway']}", token, f"http://{target['kubernetes']}", repository
    )
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
    stack = LocalStack(default_services(state_dir, args.base_port, args.metrics_base_port), state_dir)
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    print("SCIA local stack (embedded defaults, no cluster needed)")
    try:
        stack.start()
        token = demo.issue_token(stack.spec("gateway").env)
        asyncio.run(walkthrough(stack, args.repository or demo.repository_root(), token))
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
    print("  kubernetes is an in-memory API (no cluster): it forgets everything when the stack stops")
    print(f"\nGraphQL: http://{gateway.target}/graphql   token for demo (admin of {demo.NAMESPACE}):\n  {token}")
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
    up_parser.set_defaults(handler=up)
    embed_parser = commands.add_parser("embed", help="embed texts with the running embedder")
    embed_parser.add_argument("texts", nargs="+")
    embed_parser.add_argument("--target", default="127.0.0.1:50051")
    embed_parser.set_defaults(handler=embed_command)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
