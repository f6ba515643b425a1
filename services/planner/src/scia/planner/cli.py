"""`scia-plan`: plan a repository from the command line against a running planner.

    scia-plan https://github.com/org/shop.git "Flask API with HA under $300/month" --region eu-west-3
    scia-plan ./shop "serverless, 100k requests a day" --target 127.0.0.1:50053 --json

A local path is sent as an absolute path: the planner must run on the same machine and allow
local paths (SCIA_PLANNER_ALLOW_LOCAL_PATHS=true, as the local stack does). Exit codes: 0 a plan,
1 the planner refused or failed (its gRPC status and message are printed), 2 bad arguments,
3 a plan that is rejected (hard budget, forbidden region, quota).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

import grpc
from google.protobuf import json_format

from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc

DEFAULT_TARGET = "127.0.0.1:50053"
CLOUDS = {"aws": common_pb2.CLOUD_AWS, "gcp": common_pb2.CLOUD_GCP, "azure": common_pb2.CLOUD_AZURE}
STRATEGIES = {"vm": common_pb2.STRATEGY_VM, "kubernetes": common_pb2.STRATEGY_KUBERNETES, "serverless": common_pb2.STRATEGY_SERVERLESS}
STRATEGY_DISPLAY = {common_pb2.STRATEGY_VM: "VM", common_pb2.STRATEGY_KUBERNETES: "Kubernetes", common_pb2.STRATEGY_SERVERLESS: "Serverless"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3
WIDTH = 100


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scia-plan",
        description="Plan the infrastructure of a repository with SCIA's planner: analysis with evidence, strategy, "
                    "configuration, itemised monthly cost, budget verdict, alternatives and the past deployments cited.",
        epilog="Exit codes: 0 plan, 1 planner error, 2 bad arguments, 3 plan rejected.")
    p.add_argument("repository", help="https/ssh git URL, or a local path (the planner must allow local paths)")
    p.add_argument("prompt", help='what you want, in plain words ("Flask API with HA under $300/month in Paris")')
    p.add_argument("--target", default=os.environ.get("SCIA_PLANNER_TARGET", DEFAULT_TARGET),
                   help=f"planner host:port (default $SCIA_PLANNER_TARGET or {DEFAULT_TARGET})")
    p.add_argument("--ref", default="", help="branch, tag or commit (default: the default branch)")
    p.add_argument("--subdirectory", default="", help="plan only this folder of a monorepo")
    p.add_argument("--cloud", choices=sorted(CLOUDS), help="cloud (default: from the prompt, else aws)")
    p.add_argument("--region", default="", help="region, e.g. eu-west-3 (default: from the prompt or the cloud's default)")
    p.add_argument("--budget", type=float, default=0.0, help="monthly budget in USD (default: from the prompt; 0 = none)")
    p.add_argument("--hard-budget", action="store_true", help="reject a plan over the budget instead of warning")
    p.add_argument("--strategy", choices=sorted(STRATEGIES), help="force a strategy (default: the planner chooses)")
    p.add_argument("--policy", action="append", default=[], metavar="NAME",
                   help="policy to enforce: require-https, enable-monitoring (repeatable)")
    p.add_argument("--tenant", default=os.environ.get("SCIA_TENANT", ""),
                   help="tenant (namespace) whose past deployments are consulted (default $SCIA_TENANT; none: no retrieval)")
    p.add_argument("--no-retrieval", action="store_true", help="do not consult past deployments")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the plan, clone included (default 180)")
    p.add_argument("--json", action="store_true", help="print the PlanResponse as JSON instead of the summary")
    return p


def build_request(args: argparse.Namespace) -> planner_pb2.PlanRequest:
    url = args.repository
    path = Path(url).expanduser()
    # Local folders go as absolute paths: the planner's working directory is not the user's.
    if "://" not in url and not url.startswith("git@") and path.exists():
        url = str(path.resolve())
    intent = common_pb2.DeploymentIntent(prompt=args.prompt, region=args.region, policies=args.policy)
    if args.cloud:
        intent.cloud = CLOUDS[args.cloud]
    if args.strategy:
        intent.strategy = STRATEGIES[args.strategy]
    if args.budget:
        intent.budget.max_monthly_cost_usd = args.budget
    if args.hard_budget:
        intent.budget.enforcement = common_pb2.BUDGET_ENFORCEMENT_HARD
    return planner_pb2.PlanRequest(
        tenant=args.tenant, repository=common_pb2.RepositoryRef(url=url, ref=args.ref, subdirectory=args.subdirectory),
        intent=intent, disable_retrieval=args.no_retrieval)


# --- the summary ------------------------------------------------------------------------------------


def _where(e: common_pb2.Evidence) -> str:
    if e.file:
        return f"{e.file}:{e.line}" if e.line else e.file
    return e.rule


def _wrap(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def _name(enum, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower().replace("_", " ")


def format_analysis(analysis: common_pb2.RepositoryAnalysis) -> list[str]:
    repo = analysis.repository
    lines = [f"Repository: {repo.url}" + (f" @ {repo.commit_sha[:12]}" if repo.commit_sha else "")
             + f" ({analysis.file_count} files read, {analysis.size_bytes / 1024:,.1f} KiB)"]
    for i, app in enumerate(analysis.applications):
        title = "Application" if i == 0 else "Other application"
        where = f" in {app.path}/" if app.path else ""
        version = f" {app.runtime_version}" if app.runtime_version else ""
        lines.append(f"{title}: {app.name}{where}: {app.framework or 'no framework'} ({app.language}{version}), confidence {app.confidence:.2f}")
        for e in app.framework_evidence[:3]:
            lines.append(f"    evidence: {_where(e)}  {e.detail}".rstrip())
        if app.ports:
            lines.append("    ports: " + ", ".join(f"{p.number} ({_where(p.evidence)})" for p in app.ports))
        if app.start_command:
            lines.append(f"    start: {app.start_command}" + (f" ({_where(app.start_command_evidence)})" if app.start_command_evidence.ListFields() else ""))
        runtime = [d.name for d in app.dependencies if not d.dev]
        if runtime:
            shown = ", ".join(runtime[:12]) + (f" and {len(runtime) - 12} more" if len(runtime) > 12 else "")
            lines += _wrap(f"dependencies ({len(runtime)}): {shown}")
        for t in app.traits:
            value = f" {t.value}" if t.value else ""
            lines.append(f"    trait: {_name(common_pb2.TraitKind, t.kind, 'TRAIT_KIND_')}{value}"
                         + (f" ({_where(t.evidence[0])})" if t.evidence else ""))
        if app.has_dockerfile:
            lines.append("    Dockerfile: yes")
        if i == 0 and len(analysis.applications) > 3:
            lines.append(f"    ({len(analysis.applications) - 1} other applications in the repository)")
            break
    for b in analysis.backing_services:
        lines.append(f"Backing service: {b.kind}" + (f" {b.version}" if b.version else "") + f" ({_where(b.evidence)})")
    for w in analysis.warnings:
        lines += _wrap(f"analysis warning: {w}", "  ")
    return lines


def format_configuration(config: common_pb2.Configuration) -> list[str]:
    cloud = _name(common_pb2.Cloud, config.cloud, "CLOUD_").upper()
    lines = [f"Configuration: {cloud} {config.region}"]
    workload = config.WhichOneof("workload")
    if workload == "vm":
        v = config.vm
        scaling = f", autoscaling {v.min_count}-{v.max_count}" if v.max_count != v.min_count else ""
        lines.append(f"    {v.instance_count} x {v.instance_type}{scaling}, {v.volume_size_gb} GB volume each, zones {', '.join(v.zones)}")
    elif workload == "kubernetes":
        k = config.kubernetes
        lines.append(f"    {k.desired_nodes} x {k.node_type} nodes ({k.min_nodes}-{k.max_nodes}), {k.node_volume_size_gb} GB each")
        lines.append(f"    {k.replicas} replica(s) of {k.pod_cpu_millicores}m CPU / {k.pod_memory_mb} MB")
    elif workload == "serverless":
        f = config.serverless
        warm = f", {f.provisioned_concurrency} pre-warmed" if f.provisioned_concurrency else ""
        lines.append(f"    functions {f.memory_mb} MB, timeout {f.timeout_seconds} s{warm}")
    for m in config.managed_services:
        lines.append(f"    managed {m.kind}: {m.instance_class}" + (f", {m.storage_gb} GB" if m.storage_gb else "")
                     + (", high availability" if m.high_availability else ""))
    extras = [f"port {config.app_port}" if config.app_port else "", "HTTPS" if config.https else "",
              "monitoring" if config.monitoring else "", f"start: {config.start_command}" if config.start_command else ""]
    if any(extras):
        lines.append("    " + "; ".join(e for e in extras if e))
    return lines


def format_cost(cost: common_pb2.CostEstimate) -> list[str]:
    lines = ["Monthly cost (USD):"]
    for item in cost.items:
        lines.append(f"    {item.name:<24} {item.description:<52.52} {item.monthly_usd:>10,.2f}")
    lines.append(f"    {'total':<24} {'':<52} {cost.monthly_total_usd:>10,.2f}")
    if cost.pricing_source:
        lines += _wrap(f"prices: {cost.pricing_source}")
    return lines


def format_plan(response: planner_pb2.PlanResponse) -> str:
    plan = response.plan
    lines = format_analysis(response.analysis)
    lines.append("")
    lines.append(f"{'REJECTED plan' if plan.rejected else 'Plan'}: {STRATEGY_DISPLAY.get(plan.strategy, '?')}, "
                 f"confidence {plan.confidence:.2f} (engine {plan.provenance.engine or '?'})")
    if plan.rejected:
        lines += _wrap(f"rejected because: {plan.rejection_reason}")
    lines += _wrap(f"reason: {plan.reason}")
    lines.append("")
    lines += format_configuration(plan.configuration)
    lines.append("")
    lines += format_cost(plan.cost)
    verdict = _name(common_pb2.BudgetVerdict.Status, plan.budget.status, "STATUS_")
    lines += _wrap(f"Budget: {verdict}: {plan.budget.message}", "")
    if plan.alternatives:
        lines.append("")
        lines.append("Alternatives:")
        for a in plan.alternatives:
            lines += _wrap(f"{STRATEGY_DISPLAY.get(a.strategy, '?')} (confidence {a.confidence:.2f}, "
                           f"${a.cost.monthly_total_usd:,.2f}/month): {a.reason}")
    lines.append("")
    if plan.citations:
        lines.append("Past deployments cited:")
        for c in plan.citations:
            outcome = _name(common_pb2.Outcome, c.outcome, "OUTCOME_")
            lines += _wrap(f"[{outcome}] {c.summary} (record {c.record_id}, similarity {c.score:.2f}) -> {c.influence}")
    else:
        lines.append("Past deployments cited: none")
    if plan.provenance.retrieval_note:
        lines += _wrap(f"Retrieval: {plan.provenance.retrieval_note}", "")
    if plan.provenance.llm_model:
        used = "used" if plan.provenance.engine == "llm" else f"answer rejected: {plan.provenance.llm_rejection_reason}"
        lines += _wrap(f"LLM {plan.provenance.llm_model}: {used}", "")
    if plan.warnings:
        lines.append("Warnings:")
        for w in plan.warnings:
            lines += _wrap(f"- {w}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.timeout <= 0:
        parser().error("--timeout must be > 0")
    if args.budget < 0:
        parser().error("--budget must be >= 0")
    request = build_request(args)
    try:
        with grpc.insecure_channel(args.target) as channel:
            response = planner_pb2_grpc.PlannerStub(channel).Plan(request, timeout=args.timeout, wait_for_ready=False)
    except grpc.RpcError as error:
        code = error.code().name if hasattr(error, "code") else "ERROR"
        details = error.details() if hasattr(error, "details") else str(error)
        print(f"scia-plan: the planner at {args.target} answered {code}: {details}", file=sys.stderr)
        if code == "UNAVAILABLE":
            print("scia-plan: is the planner running? Start the local stack or pass --target host:port.", file=sys.stderr)
        elif "local repository paths are disabled" in (details or ""):
            print("scia-plan: set SCIA_PLANNER_ALLOW_LOCAL_PATHS=true on the planner to plan local folders.", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json_format.MessageToJson(response, preserving_proto_field_name=True))
    else:
        print(format_plan(response))
    return EXIT_REJECTED if response.plan.rejected else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
