"""Prompt understanding without an LLM: traffic, HA, autoscaling, latency, budget, region, cloud,
strategy, node counts, instance types and memory, each with the words it came from.

Pure functions over text. Patterns are deliberately tolerant of phrasing ("10k users",
"1M requests/month", "300 USD per month", "€200", "in Paris", "on k8s") and of negation
("no kubernetes", "doesn't need HA").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from scia.v1 import common_pb2

Evidence = common_pb2.Evidence
Strategy = common_pb2.Strategy
Cloud = common_pb2.Cloud

# A user connected at peak sends about one request to the app every 50 s (a page view and its API
# calls, then reading time), so 15,000 concurrent users are ~300 requests/s.
CONCURRENT_USER_SECONDS_PER_REQUEST = 50.0
# Daily and monthly volumes are averages; the plan sizes for the peak, which for typical
# diurnal web traffic runs about three times the average.
PEAK_FACTOR = 3.0
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800, "month": 2_628_000}
# Fixed conversion rates for budgets given in other currencies (documented, not live).
FX_TO_USD = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a single": 1, "single": 1}

# City/country -> region per cloud.
LOCATIONS: dict[str, tuple[str, str, str]] = {
    "paris": ("eu-west-3", "europe-west9", "francecentral"),
    "france": ("eu-west-3", "europe-west9", "francecentral"),
    "frankfurt": ("eu-central-1", "europe-west3", "germanywestcentral"),
    "germany": ("eu-central-1", "europe-west3", "germanywestcentral"),
    "ireland": ("eu-west-1", "europe-west1", "northeurope"),
    "dublin": ("eu-west-1", "europe-west1", "northeurope"),
    "london": ("eu-west-2", "europe-west2", "uksouth"),
    "uk": ("eu-west-2", "europe-west2", "uksouth"),
    "united kingdom": ("eu-west-2", "europe-west2", "uksouth"),
    "belgium": ("eu-west-1", "europe-west1", "westeurope"),
    "netherlands": ("eu-central-1", "europe-west4", "westeurope"),
    "amsterdam": ("eu-central-1", "europe-west4", "westeurope"),
    "stockholm": ("eu-north-1", "europe-north1", "swedencentral"),
    "sweden": ("eu-north-1", "europe-north1", "swedencentral"),
    "milan": ("eu-south-1", "europe-west8", "italynorth"),
    "italy": ("eu-south-1", "europe-west8", "italynorth"),
    "europe": ("eu-west-1", "europe-west1", "westeurope"),
    "virginia": ("us-east-1", "us-east4", "eastus"),
    "us east": ("us-east-1", "us-east1", "eastus"),
    "east coast": ("us-east-1", "us-east1", "eastus"),
    "ohio": ("us-east-2", "us-east1", "eastus2"),
    "oregon": ("us-west-2", "us-west1", "westus2"),
    "us west": ("us-west-2", "us-west1", "westus2"),
    "west coast": ("us-west-2", "us-west1", "westus2"),
    "california": ("us-west-1", "us-west2", "westus"),
    "united states": ("us-east-1", "us-central1", "eastus"),
    "usa": ("us-east-1", "us-central1", "eastus"),
    "the us": ("us-east-1", "us-central1", "eastus"),
    "canada": ("ca-central-1", "northamerica-northeast1", "canadacentral"),
    "montreal": ("ca-central-1", "northamerica-northeast1", "canadacentral"),
    "tokyo": ("ap-northeast-1", "asia-northeast1", "japaneast"),
    "japan": ("ap-northeast-1", "asia-northeast1", "japaneast"),
    "seoul": ("ap-northeast-2", "asia-northeast3", "koreacentral"),
    "singapore": ("ap-southeast-1", "asia-southeast1", "southeastasia"),
    "sydney": ("ap-southeast-2", "australia-southeast1", "australiaeast"),
    "australia": ("ap-southeast-2", "australia-southeast1", "australiaeast"),
    "mumbai": ("ap-south-1", "asia-south1", "centralindia"),
    "india": ("ap-south-1", "asia-south1", "centralindia"),
    "sao paulo": ("sa-east-1", "southamerica-east1", "brazilsouth"),
    "são paulo": ("sa-east-1", "southamerica-east1", "brazilsouth"),
    "brazil": ("sa-east-1", "southamerica-east1", "brazilsouth"),
}
AZURE_REGIONS = {
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus", "southcentralus", "westeurope",
    "northeurope", "francecentral", "germanywestcentral", "uksouth", "ukwest", "swedencentral", "italynorth",
    "switzerlandnorth", "norwayeast", "canadacentral", "brazilsouth", "japaneast", "koreacentral", "southeastasia",
    "eastasia", "australiaeast", "centralindia",
}
AWS_REGION = re.compile(r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)-(?:east|west|north|south|central|northeast|southeast|northwest|southwest)-\d)\b")
GCP_REGION = re.compile(r"\b((?:us|europe|asia|australia|northamerica|southamerica|me|africa)-(?:east|west|north|south|central|northeast|southeast|southwest|northwest)\d{1,2})\b")
AWS_INSTANCE = re.compile(r"\b([a-z]\d[a-z]{0,3}\.(?:nano|micro|small|medium|large|metal|\d{0,2}xlarge))\b")
GCP_INSTANCE = re.compile(r"\b((?:e2|n1|n2|n2d|n4|c2|c2d|c3|t2d|t2a|g2|a2)-(?:micro|small|medium|(?:standard|highmem|highcpu)-\d+))\b")
AZURE_INSTANCE = re.compile(r"\b(Standard_[A-Z]{1,3}\d{1,3}[a-z]*(?:_v\d)?)\b", re.I)

NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(?:(k|m|thousand|million|mil|bn|billion)\b)?"
_MULTIPLIER = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mil": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
RATE = re.compile(
    NUMBER + r"\s*(?:\+\s*)?(?:requests?|reqs?|hits?|calls?|api calls?|page ?views?|visits|queries|transactions|messages|events|orders)\s*"
    r"(?:/|per|an?|each|every)\s*(second|sec|s|minute|min|hour|hr|h|day|week|month|mo)\b",
    re.I,
)
RPS = re.compile(NUMBER + r"\s*(rps|qps|req/s|requests/s|r/s|tps)\b", re.I)
USERS = re.compile(NUMBER + r"\s*(?:\+\s*)?(concurrent|simultaneous|daily active|monthly active|active|daily|monthly)?\s*(users|visitors|customers|players|clients|people)\b", re.I)
DAU = re.compile(NUMBER + r"\s*(dau|mau)\b", re.I)
BUDGET = re.compile(
    r"(?:(\$|usd\s*|us\$|€|eur\s*|£|gbp\s*)\s*" + NUMBER + r"|" + NUMBER + r"\s*(\$|usd|dollars?|bucks|€|eur|euros?|£|gbp|pounds?))"
    r"(?:\s*(?:/|per|a|an|each)\s*(month|mo|year|yr|week|day))?",
    re.I,
)
# "Budget: 2400 per year": an amount right after the word budget needs no currency (USD assumed).
BUDGET_PLAIN = re.compile(r"budget\s*(?:of|is|:|=)?\s*" + NUMBER + r"(?:\s*(?:/|per|a|an|each)\s*(month|mo|year|yr|week|day))?", re.I)
BUDGET_CONTEXT = re.compile(r"budget|under|below|less than|max(?:imum)?|at most|up to|within|cap|limit|no more than|cost|spend|afford|cheap|month|\bmo\b", re.I)
HARD_BUDGET = re.compile(r"hard (?:budget|limit|cap)|must not exceed|never exceed|cannot exceed|can't exceed|strict(?:ly)?(?: budget| limit)?|absolute(?:ly)? max|not a cent more", re.I)
LATENCY = re.compile(
    r"(?:(p\d{2,3}|latency|response times?|respond)[^.\d]{0,30}?(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|seconds?)\b)"
    r"|(?:(\d+(?:\.\d+)?)\s*(ms|milliseconds?)\s*(?:p\d{2,3}|latency|response))"
    r"|(?:sub-?(\d+)\s*(ms|milliseconds?))",
    re.I,
)
MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(gb|gib|g|mb|mib|m)\b\s*(?:of\s+)?(?:ram|memory|mem)\b|(?:ram|memory)\s*(?:of|:|=)?\s*(\d+(?:\.\d+)?)\s*(gb|gib|mb|mib)\b", re.I)
COUNT = re.compile(r"\b(\d{1,3}|" + "|".join(map(re.escape, WORD_NUMBERS)) + r")\s+(?:worker\s+|app\s+|web\s+|ec2\s+)?(nodes|node|instances|instance|replicas|replica|servers|server|vms|vm|machines|machine|pods|pod)\b", re.I)

# Traffic in words, when no number is given: a user base of the usual size for the phrase (then
# sized like any user count, see derived_rps). First match wins; most specific first.
QUALITATIVE_USERS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"hundreds of thousands of (?:users|visitors|customers)|millions of (?:users|visitors|customers)", re.I), 300_000),
    (re.compile(r"tens of thousands of (?:users|visitors|customers)|heavy (?:traffic|load)|high (?:traffic|load)|large audience|huge audience", re.I), 30_000),
    (re.compile(r"(?:a )?few thousand (?:users|visitors|customers)|thousands of (?:users|visitors|customers)|moderate (?:traffic|load)|medium (?:traffic|load)", re.I), 3_000),
    (re.compile(r"hundreds of (?:users|visitors|customers)", re.I), 300),
    (re.compile(r"handful of|small pilot|\bpilot\b|internal (?:users|tool|team)|low traffic|light traffic|few users|little traffic", re.I), 20),
]

HA_POSITIVE = re.compile(
    r"high[\s-]?availability|highly[\s-]available|\bHA\b|redundan|fault[\s-]toleran|no single point of failure|multi[\s-]?az"
    r"|across (?:\w+ )?(?:availability )?zones|multiple (?:availability )?zones|failover|zero[\s-]downtime|99\.9\d*\s*%|mission[\s-]critical|always (?:up|on|available)",
    re.I,
)
HA_NEGATIVE = re.compile(
    r"(?:no|not|without|don'?t need|doesn'?t need|do not need|does not need|no need for)\s+(?:\w+\s+){0,2}(?:high[\s-]?availability|HA\b|redundancy)"
    r"|(?:high[\s-]?availability|HA)\s+(?:is\s+)?not (?:needed|required|necessary)|downtime is (?:fine|ok|acceptable)",
    re.I,
)
AUTOSCALE_POSITIVE = re.compile(
    r"auto[\s-]?scal|scale (?:up and down|out|automatically|with (?:traffic|load|demand))|elastic|traffic spikes|spiky|bursty|burst|scale to zero|handle spikes|peaks?\b|black friday|viral",
    re.I,
)
AUTOSCALE_NEGATIVE = re.compile(r"(?:no|without|don'?t need|doesn'?t need|not)\s+(?:\w+\s+)?auto[\s-]?scal|fixed (?:size|capacity)", re.I)
# Words that ask for autoscaling itself, not only describe traffic that may want it.
AUTOSCALE_ASKED = re.compile(r"auto[\s-]?scal|scale (?:up and down|out|automatically|with (?:traffic|load|demand))", re.I)
# A description of the traffic: no autoscaling, unless the request asks for it in so many words
# ("4000 users and steady traffic. Scale out automatically under load." asks for it).
STEADY_LOAD = re.compile(r"steady (?:traffic|load)", re.I)

CLOUD_WORDS: list[tuple[int, re.Pattern[str]]] = [
    (Cloud.CLOUD_AWS, re.compile(r"\baws\b|amazon|\bec2\b|\beks\b|\blambda\b|fargate|\brds\b", re.I)),
    (Cloud.CLOUD_GCP, re.compile(r"\bgcp\b|google cloud|\bgke\b|cloud run|compute engine|cloud functions|\bgce\b", re.I)),
    (Cloud.CLOUD_AZURE, re.compile(r"\bazure\b|\baks\b|microsoft cloud", re.I)),
]
NEGATION = r"(?:no|not|never|without|avoid|don'?t use|do not use|don'?t want|rather than|instead of|not on|anything but|except)\s+(?:a\s+|an\s+|the\s+|on\s+|use\s+|using\s+)?"
STRATEGY_WORDS: list[tuple[int, str]] = [
    (Strategy.STRATEGY_SERVERLESS, r"serverless|lambdas?|cloud functions?|azure functions?|cloud run|faas|functions?[\s-]as[\s-]a[\s-]service"),
    (Strategy.STRATEGY_KUBERNETES, r"kubernetes|k8s|\beks\b|\bgke\b|\baks\b|k3s|container orchestration|a cluster|helm"),
    (Strategy.STRATEGY_VM, r"\bvms?\b|virtual machines?|\bec2\b|compute engine|droplets?|a (?:single |plain |simple )?server|bare[\s-]metal|an? instance"),
]


@dataclass
class Understanding:
    """What the prompt and the explicit intent fields say, with evidence for each value."""

    requirements: common_pb2.Requirements = field(default_factory=common_pb2.Requirements)
    cloud: int = Cloud.CLOUD_UNSPECIFIED
    region: str = ""
    # A place named in words, resolved to a region once the cloud is known.
    location: str = ""
    strategy: int = Strategy.STRATEGY_UNSPECIFIED
    excluded_strategies: set[int] = field(default_factory=set)
    budget_usd: float = 0.0
    hard_budget: bool = False
    monthly_requests: float = 0.0

    def note(self, rule: str, detail: str) -> None:
        self.requirements.evidence.append(Evidence(rule=rule, detail=detail[:200]))


def _number(text: str, unit: str | None) -> float:
    value = float(re.sub(r"[,\s]", "", text))
    return value * _MULTIPLIER.get((unit or "").lower(), 1.0)


def _unit_seconds(unit: str) -> int:
    unit = unit.lower()
    for name, seconds in SECONDS.items():
        if unit == name or unit in {"s": ["second", "sec"], "min": ["minute"], "h": ["hour", "hr"], "mo": ["month"]}.get(unit, []) or name.startswith(unit):
            return seconds
    return {"s": 1, "sec": 1, "min": 60, "h": 3600, "hr": 3600, "mo": 2_628_000}.get(unit, 0)


def _quote(text: str, match: re.Match[str]) -> str:
    return f'"{text[match.start():match.end()].strip()}"'


def understand(prompt: str) -> Understanding:
    """Parse a free-text deployment request."""
    u = Understanding()
    req = u.requirements
    text = " ".join(prompt.split())

    # --- traffic ---
    if match := RPS.search(text):
        req.expected_rps = _number(match[1], match[2])
        u.note("intent.traffic.rps", f"{_quote(text, match)} -> {req.expected_rps:g} requests/s at peak")
    elif match := RATE.search(text):
        seconds = _unit_seconds(match[3])
        volume = _number(match[1], match[2])
        if seconds:
            average = volume / seconds
            peak = average if seconds == 1 else average * PEAK_FACTOR
            req.expected_rps = round(peak, 3)
            u.monthly_requests = average * SECONDS["month"]
            u.note("intent.traffic.rate", f"{_quote(text, match)} -> {average:.3g} requests/s on average"
                   + ("" if seconds == 1 else f", x{PEAK_FACTOR:g} for the peak = {peak:.3g} requests/s"))
    users_match = USERS.search(text) or DAU.search(text)
    if users_match:
        req.expected_users = int(_number(users_match[1], users_match[2]))
        u.note("intent.traffic.users", f"{_quote(text, users_match)} -> {req.expected_users} users")
        qualifier = (users_match.re is USERS and users_match[3] or "").lower()
        if qualifier in ("concurrent", "simultaneous") and not req.expected_rps:
            # Users connected at once are all active, unlike a user base of which ~1% is.
            req.expected_rps = round(req.expected_users / CONCURRENT_USER_SECONDS_PER_REQUEST, 3)
            u.note("intent.traffic.concurrent", f"{req.expected_users} users connected at once x 1 request per "
                   f"{CONCURRENT_USER_SECONDS_PER_REQUEST:g} s = {req.expected_rps:g} requests/s at peak")
    if not req.expected_rps and not req.expected_users:
        for pattern, users in QUALITATIVE_USERS:
            if match := pattern.search(text):
                req.expected_users = users
                u.note("intent.traffic.words", f"{_quote(text, match)} -> about {users} users")
                break

    # --- availability and scaling ---
    if match := HA_NEGATIVE.search(text):
        req.high_availability = False
        u.note("intent.ha.negated", f"{_quote(text, match)} -> no high availability")
    elif match := HA_POSITIVE.search(text):
        req.high_availability = True
        u.note("intent.ha", f"{_quote(text, match)} -> high availability")
    if match := AUTOSCALE_NEGATIVE.search(text):
        u.note("intent.autoscaling.negated", f"{_quote(text, match)} -> no autoscaling")
    elif (match := STEADY_LOAD.search(text)) and not AUTOSCALE_ASKED.search(text):
        u.note("intent.autoscaling.negated", f"{_quote(text, match)} -> no autoscaling")
    elif match := AUTOSCALE_POSITIVE.search(text):
        req.autoscaling = True
        u.note("intent.autoscaling", f"{_quote(text, match)} -> autoscaling")

    # --- latency ---
    if match := LATENCY.search(text):
        if match[2]:
            value, unit = float(match[2]), match[3]
        elif match[4]:
            value, unit = float(match[4]), match[5]
        else:
            value, unit = float(match[6]), match[7]
        ms = value if unit.lower().startswith("m") else value * 1000
        req.latency_p99_ms = int(ms)
        u.note("intent.latency", f"{_quote(text, match)} -> p99 latency target {req.latency_p99_ms} ms")

    # --- budget ---
    for match in BUDGET.finditer(text):
        symbol = (match[1] or match[6] or "").strip().lower()
        amount = _number(match[2], match[3]) if match[2] else _number(match[4], match[5])
        context = text[max(0, match.start() - 40): match.end() + 20]
        if not BUDGET_CONTEXT.search(context) and not match[7]:
            continue
        currency = "EUR" if symbol in ("€", "eur", "euro", "euros") else "GBP" if symbol in ("£", "gbp", "pound", "pounds") else "USD"
        period = (match[7] or "month").lower()
        monthly = amount * {"year": 1 / 12, "yr": 1 / 12, "week": 52 / 12, "day": 365 / 12}.get(period, 1.0)
        u.budget_usd = round(monthly * FX_TO_USD[currency], 2)
        u.note("intent.budget", f"{_quote(text, match)} -> {u.budget_usd:g} USD/month"
               + (f" ({currency} at {FX_TO_USD[currency]:g} USD)" if currency != "USD" else ""))
        if hard := HARD_BUDGET.search(text):
            u.hard_budget = True
            u.note("intent.budget.hard", f"{_quote(text, hard)} -> hard budget: plans over it are rejected")
        break
    else:
        if match := BUDGET_PLAIN.search(text):
            period = (match[3] or "month").lower()
            monthly = _number(match[1], match[2]) * {"year": 1 / 12, "yr": 1 / 12, "week": 52 / 12, "day": 365 / 12}.get(period, 1.0)
            u.budget_usd = round(monthly, 2)
            u.note("intent.budget", f"{_quote(text, match)} -> {u.budget_usd:g} USD/month (no currency given: USD assumed)")
            if hard := HARD_BUDGET.search(text):
                u.hard_budget = True
                u.note("intent.budget.hard", f"{_quote(text, hard)} -> hard budget: plans over it are rejected")

    # --- cloud, region, location ---
    for cloud, pattern in CLOUD_WORDS:
        if match := pattern.search(text):
            u.cloud = cloud
            u.note("intent.cloud", f"{_quote(text, match)} -> {Cloud.Name(cloud)}")
            break
    lowered = text.lower()
    region_found = False
    for pattern, cloud in ((AWS_REGION, Cloud.CLOUD_AWS), (GCP_REGION, Cloud.CLOUD_GCP)):
        if match := pattern.search(lowered):
            u.region = match[1]
            region_found = True
            u.note("intent.region", f'"{match[1]}" -> region {match[1]}')
            if u.cloud == Cloud.CLOUD_UNSPECIFIED:
                u.cloud = cloud
                u.note("intent.cloud.from-region", f"{match[1]} is a {Cloud.Name(cloud)} region")
            break
    if not region_found:
        for word in re.findall(r"[a-z0-9]+", lowered):
            if word in AZURE_REGIONS:
                u.region = word
                region_found = True
                u.note("intent.region", f'"{word}" -> region {word}')
                if u.cloud == Cloud.CLOUD_UNSPECIFIED:
                    u.cloud = Cloud.CLOUD_AZURE
                    u.note("intent.cloud.from-region", f"{word} is an Azure region")
                break
    if not region_found:
        best = None
        for place in sorted(LOCATIONS, key=len, reverse=True):
            pattern = r"\b" + re.escape(place) + r"\b"
            if place in ("uk", "usa", "the us"):
                found = re.search(pattern, text, re.I if place != "uk" else 0) if place != "uk" else re.search(r"\bUK\b", text)
            else:
                found = re.search(pattern, lowered)
            if found and (best is None or found.start() < best[1]):
                best = (place, found.start())
        if best:
            u.location = best[0]
            u.note("intent.location", f'"{best[0]}" -> a region near {best[0]}')

    # --- strategy ---
    excluded = set()
    for strategy, words in STRATEGY_WORDS:
        if match := re.search(NEGATION + r"(?:" + words + r")", text, re.I):
            excluded.add(strategy)
            u.note("intent.strategy.excluded", f"{_quote(text, match)} -> not {Strategy.Name(strategy)}")
    u.excluded_strategies = excluded
    for strategy, words in STRATEGY_WORDS:
        if strategy in excluded:
            continue
        if match := re.search(words, text, re.I):
            u.strategy = strategy
            u.note("intent.strategy", f"{_quote(text, match)} -> {Strategy.Name(strategy)}")
            break

    # --- explicit sizes ---
    for pattern, cloud in ((AWS_INSTANCE, Cloud.CLOUD_AWS), (GCP_INSTANCE, Cloud.CLOUD_GCP), (AZURE_INSTANCE, Cloud.CLOUD_AZURE)):
        if match := pattern.search(text):
            req.instance_type = match[1] if cloud != Cloud.CLOUD_AZURE else "Standard_" + match[1][9:]
            u.note("intent.instance-type", f'"{match[1]}" -> instance type {req.instance_type}')
            if u.cloud == Cloud.CLOUD_UNSPECIFIED:
                u.cloud = cloud
                u.note("intent.cloud.from-instance-type", f"{req.instance_type} is a {Cloud.Name(cloud)} type")
            break
    if match := COUNT.search(text):
        raw = match[1].lower()
        count = int(raw) if raw.isdigit() else WORD_NUMBERS[raw]
        if 0 < count <= 500:
            req.node_count = count
            u.note("intent.count", f"{_quote(text, match)} -> {count} {match[2].lower().rstrip('s')}(s)")
    if match := MEMORY.search(text):
        value, unit = (match[1], match[2]) if match[1] else (match[3], match[4])
        mb = float(value) * (1024 if unit.lower().startswith("g") else 1)
        req.memory_mb = int(math.ceil(mb))
        u.note("intent.memory", f"{_quote(text, match)} -> {req.memory_mb} MB of memory")
    return u


def resolve_location(location: str, cloud: int) -> str:
    """The region for a place named in words, for the given cloud."""
    regions = LOCATIONS.get(location)
    if not regions:
        return ""
    index = {Cloud.CLOUD_GCP: 1, Cloud.CLOUD_AZURE: 2}.get(cloud, 0)
    return regions[index]


def derived_rps(requirements: common_pb2.Requirements) -> tuple[float, str]:
    """Peak requests per second to size for, and how it was obtained."""
    if requirements.expected_rps > 0:
        return requirements.expected_rps, f"{requirements.expected_rps:g} requests/s from the intent"
    if requirements.expected_users > 0:
        # At peak about 1% of a user base is active, each sending about one request a second.
        rps = max(1.0, requirements.expected_users * 0.01)
        return rps, f"{requirements.expected_users} users x 1% active at peak x 1 request/s = {rps:g} requests/s"
    return 10.0, "no traffic given: sized for a light 10 requests/s"
