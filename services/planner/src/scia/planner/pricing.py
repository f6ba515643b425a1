"""The pricing catalogue (data/pricing.json) and the monthly cost functions.

Formulas (documented in docs/planner.md):
- VM: count x hourly x 730 + count x volume GB x block storage price (+ load balancer when several instances)
- Kubernetes: nodes x hourly x 730 + nodes x node volume + control plane fee x 730 + load balancer
- serverless: requests x duration x memory GB-s x GB-s price + requests x request fee (+ gateway, provisioned concurrency)
- managed services: class hourly x 730 (x2 for a high-availability standby) + storage
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from scia.v1 import common_pb2

Cloud = common_pb2.Cloud
CLOUD_KEYS = {Cloud.CLOUD_AWS: "aws", Cloud.CLOUD_GCP: "gcp", Cloud.CLOUD_AZURE: "azure"}
DEFAULT_ALERT_THRESHOLD = 0.8


class PricingError(ValueError):
    """The catalogue does not price something the planner asked for."""


@dataclass(frozen=True)
class Catalogue:
    data: dict

    @property
    def hours(self) -> float:
        return float(self.data["hours_per_month"])

    def cloud(self, cloud: int) -> dict:
        return self.data["clouds"][CLOUD_KEYS[cloud]]

    def source(self, cloud: int) -> str:
        c = self.cloud(cloud)
        return f"{c['source']} (as of {c['as_of']}); catalogue as of {self.data['as_of']}"

    def regions(self, cloud: int) -> list[str]:
        return list(self.cloud(cloud)["regions"])

    def has_region(self, cloud: int, region: str) -> bool:
        return region in self.cloud(cloud)["regions"]

    def region_prices(self, cloud: int, region: str) -> tuple[dict, str]:
        """Prices of `region`, or of the cloud's default region with a note when it is not catalogued."""
        c = self.cloud(cloud)
        if region in c["regions"]:
            return c["regions"][region], ""
        fallback = c["default_region"]
        return c["regions"][fallback], f"no prices for region {region!r} in the catalogue; estimated with {fallback} prices"

    def spec(self, cloud: int, instance_type: str) -> dict | None:
        return self.cloud(cloud)["instance_types"].get(instance_type)

    def find_type(self, instance_type: str) -> tuple[int, dict] | None:
        """The cloud and spec of an instance type named anywhere in the catalogue."""
        for cloud in CLOUD_KEYS:
            if (spec := self.spec(cloud, instance_type)) is not None:
                return cloud, spec
        return None

    def ladder(self, cloud: int) -> list[str]:
        return list(self.cloud(cloud)["ladder"])

    def memory_gb(self, cloud: int, instance_type: str) -> float:
        spec = self.spec(cloud, instance_type)
        return float(spec["memory_gb"]) if spec else 0.0

    def zones(self, cloud: int, region: str, count: int) -> list[str]:
        c = self.cloud(cloud)
        return [c["zone_format"].format(region=region, zone=z) for z in c["zones"][: max(1, min(count, len(c["zones"])))]]


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The bundled catalogue, or the one at `path`; validated so a bad file fails at start-up."""
    if path is None:
        text = resources.files("scia.planner").joinpath("data/pricing.json").read_text()
    else:
        text = Path(path).read_text()
    data = json.loads(text)
    for key in ("as_of", "source", "hours_per_month", "clouds"):
        if key not in data:
            raise PricingError(f"pricing catalogue has no {key!r}")
    for name, cloud in data["clouds"].items():
        for key in ("source", "as_of", "default_region", "ladder", "instance_types", "regions"):
            if key not in cloud:
                raise PricingError(f"pricing catalogue: cloud {name!r} has no {key!r}")
        if cloud["default_region"] not in cloud["regions"]:
            raise PricingError(f"pricing catalogue: {name} default region {cloud['default_region']!r} has no prices")
        for region, prices in cloud["regions"].items():
            missing = set(cloud["instance_types"]) - set(prices["instances"])
            if missing:
                raise PricingError(f"pricing catalogue: {name}/{region} has no price for {sorted(missing)}")
    return Catalogue(data)


@cache
def bundled_catalogue() -> Catalogue:
    return load_catalogue()


def _item(name: str, description: str, quantity: float, unit: str, unit_price: float) -> common_pb2.CostItem:
    return common_pb2.CostItem(
        name=name, description=description, quantity=round(quantity, 4), unit=unit,
        unit_price_usd=unit_price, monthly_usd=round(quantity * unit_price, 2),
    )


def _estimate(catalogue: Catalogue, cloud: int, items: list[common_pb2.CostItem], note: str) -> common_pb2.CostEstimate:
    source = catalogue.source(cloud) + (f"; {note}" if note else "")
    return common_pb2.CostEstimate(items=items, monthly_total_usd=round(sum(i.monthly_usd for i in items), 2), pricing_source=source)


def instance_price(catalogue: Catalogue, cloud: int, region: str, instance_type: str) -> float:
    prices, _ = catalogue.region_prices(cloud, region)
    if instance_type not in prices["instances"]:
        raise PricingError(f"instance type {instance_type!r} is not in the {CLOUD_KEYS[cloud]} pricing catalogue")
    return float(prices["instances"][instance_type])


def _load_balancer(catalogue: Catalogue, prices: dict) -> list[common_pb2.CostItem]:
    h = catalogue.hours
    return [
        _item("load balancer", f"1 load balancer x {h:g} h", h, "hour", prices["load_balancer_hour"]),
        _item("load balancer capacity", f"1 capacity unit x {h:g} h", h, "LCU-hour", prices["load_balancer_capacity_unit_hour"]),
    ]


def vm_cost(catalogue: Catalogue, cloud: int, region: str, vm: common_pb2.VmConfig, *, load_balancer: bool, monitoring: bool = False) -> common_pb2.CostEstimate:
    prices, note = catalogue.region_prices(cloud, region)
    h, count = catalogue.hours, vm.instance_count
    hourly = instance_price(catalogue, cloud, region, vm.instance_type)
    items = [
        _item("compute", f"{count} x {vm.instance_type} x {h:g} h", count * h, "hour", hourly),
        _item("block storage", f"{count} x {vm.volume_size_gb} GB", count * vm.volume_size_gb, "GB-month", prices["block_storage_gb_month"]),
    ]
    if load_balancer:
        items += _load_balancer(catalogue, prices)
    if monitoring and prices.get("monitoring_per_instance_month"):
        items.append(_item("monitoring", f"detailed monitoring for {count} instance(s)", count, "instance-month", prices["monitoring_per_instance_month"]))
    return _estimate(catalogue, cloud, items, note)


def kubernetes_cost(catalogue: Catalogue, cloud: int, region: str, k8s: common_pb2.KubernetesConfig, *, monitoring: bool = False) -> common_pb2.CostEstimate:
    prices, note = catalogue.region_prices(cloud, region)
    h, nodes = catalogue.hours, k8s.desired_nodes
    hourly = instance_price(catalogue, cloud, region, k8s.node_type)
    items = [
        _item("nodes", f"{nodes} x {k8s.node_type} x {h:g} h", nodes * h, "hour", hourly),
        _item("node storage", f"{nodes} x {k8s.node_volume_size_gb} GB", nodes * k8s.node_volume_size_gb, "GB-month", prices["block_storage_gb_month"]),
        _item("control plane", f"managed control plane x {h:g} h", h, "hour", prices["kubernetes_control_plane_hour"]),
        *_load_balancer(catalogue, prices),
    ]
    if monitoring and prices.get("monitoring_per_instance_month"):
        items.append(_item("monitoring", f"detailed monitoring for {nodes} node(s)", nodes, "instance-month", prices["monitoring_per_instance_month"]))
    return _estimate(catalogue, cloud, items, note)


def serverless_cost(
    catalogue: Catalogue, cloud: int, region: str, config: common_pb2.ServerlessConfig, *, monthly_requests: float, duration_ms: float
) -> common_pb2.CostEstimate:
    prices, note = catalogue.region_prices(cloud, region)
    gb = config.memory_mb / 1024
    gb_seconds = monthly_requests * (duration_ms / 1000) * gb
    millions = monthly_requests / 1e6
    items = [
        _item("function compute", f"{monthly_requests:,.0f} requests x {duration_ms:g} ms x {gb:g} GB", gb_seconds, "GB-second", prices["function_gb_second"]),
        _item("function requests", f"{monthly_requests:,.0f} requests", millions, "million requests", prices["function_per_million_requests"]),
    ]
    if prices.get("gateway_per_million_requests"):
        items.append(_item("HTTP gateway", f"{monthly_requests:,.0f} requests", millions, "million requests", prices["gateway_per_million_requests"]))
    if config.provisioned_concurrency:
        seconds = catalogue.hours * 3600
        items.append(_item("provisioned concurrency", f"{config.provisioned_concurrency} warm x {gb:g} GB x {catalogue.hours:g} h",
                           config.provisioned_concurrency * gb * seconds, "GB-second", prices["function_provisioned_gb_second"]))
    return _estimate(catalogue, cloud, items, note)


def static_site_cost(catalogue: Catalogue, cloud: int, region: str, *, monthly_requests: float, site_gb: float = 1.0) -> common_pb2.CostEstimate:
    """Object storage + CDN: 50 KB transferred per request on average."""
    prices, note = catalogue.region_prices(cloud, region)
    transfer_gb = monthly_requests * 50 / 1024 / 1024
    items = [
        _item("object storage", f"{site_gb:g} GB of site files", site_gb, "GB-month", prices["object_storage_gb_month"]),
        _item("CDN transfer", f"{monthly_requests:,.0f} requests x 50 KB", transfer_gb, "GB", prices["cdn_per_gb"]),
    ]
    return _estimate(catalogue, cloud, items, note)


MANAGED_KEYS = {"postgres": "database_postgres", "mysql": "database_mysql", "redis": "cache_redis"}


def managed_service_items(catalogue: Catalogue, cloud: int, region: str, service: common_pb2.ManagedService) -> list[common_pb2.CostItem]:
    prices, _ = catalogue.region_prices(cloud, region)
    key = MANAGED_KEYS.get(service.kind)
    if key is None or service.instance_class not in prices.get(key, {}):
        raise PricingError(f"managed {service.kind} class {service.instance_class!r} is not in the {CLOUD_KEYS[cloud]} pricing catalogue")
    copies = 2 if service.high_availability else 1
    h = catalogue.hours
    items = [_item(f"managed {service.kind}", f"{copies} x {service.instance_class} x {h:g} h" + (" (HA standby)" if copies == 2 else ""),
                   copies * h, "hour", prices[key][service.instance_class])]
    if service.storage_gb and key.startswith("database"):
        items.append(_item(f"{service.kind} storage", f"{copies} x {service.storage_gb} GB", copies * service.storage_gb, "GB-month", prices["database_storage_gb_month"]))
    return items


def add_items(estimate: common_pb2.CostEstimate, items: list[common_pb2.CostItem]) -> None:
    estimate.items.extend(items)
    estimate.monthly_total_usd = round(sum(i.monthly_usd for i in estimate.items), 2)


def budget_verdict(estimated: float, budget: float, alert_threshold: float, enforcement: int) -> common_pb2.BudgetVerdict:
    """How `estimated` compares with `budget`; enforcement only matters when over."""
    Status = common_pb2.BudgetVerdict.Status
    threshold = alert_threshold if 0 < alert_threshold <= 1 else DEFAULT_ALERT_THRESHOLD
    enforcement = enforcement or common_pb2.BUDGET_ENFORCEMENT_SOFT
    verdict = common_pb2.BudgetVerdict(budget_usd=budget, estimated_usd=round(estimated, 2), enforcement=enforcement)
    if budget <= 0:
        verdict.status = Status.STATUS_NO_BUDGET
        verdict.message = f"no budget given; estimated ${estimated:,.2f}/month"
    elif estimated > budget:
        verdict.status = Status.STATUS_OVER
        mode = "hard budget: plan rejected" if enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD else "soft budget: warning only"
        verdict.message = f"estimated ${estimated:,.2f}/month is over the budget of ${budget:,.2f} by ${estimated - budget:,.2f} ({mode})"
    elif estimated >= threshold * budget:
        verdict.status = Status.STATUS_ALERT
        verdict.message = f"estimated ${estimated:,.2f}/month is {estimated / budget:.0%} of the ${budget:,.2f} budget (alert at {threshold:.0%})"
    else:
        verdict.status = Status.STATUS_WITHIN
        verdict.message = f"estimated ${estimated:,.2f}/month is within the ${budget:,.2f} budget ({estimated / budget:.0%})"
    return verdict


def round_function_memory(mb: float) -> int:
    """Function memory in 128 MB steps within 128..10240."""
    return int(min(10240, max(128, math.ceil(mb / 128) * 128)))
