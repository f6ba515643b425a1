"""Dockerfile and compose parsing: what the repository's own packaging says about how it runs."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import yaml

# Image name -> backing service kind. Matched against the image's last path segment.
BACKING_IMAGES: tuple[tuple[str, str], ...] = (
    ("postgis", "postgres"), ("timescaledb", "postgres"), ("postgres", "postgres"), ("mariadb", "mysql"),
    ("mysql", "mysql"), ("redis", "redis"), ("valkey", "redis"), ("keydb", "redis"), ("rabbitmq", "rabbitmq"),
    ("cp-kafka", "kafka"), ("kafka", "kafka"), ("redpanda", "kafka"), ("mongo", "mongodb"),
    ("elasticsearch", "elasticsearch"), ("opensearch", "elasticsearch"), ("memcached", "memcached"),
    ("minio", "object-storage"), ("nats", "nats"), ("cassandra", "cassandra"), ("zookeeper", "zookeeper"),
    ("mssql", "sqlserver"), ("sqlserver", "sqlserver"), ("localstack", "aws-emulator"), ("clickhouse", "clickhouse"),
)


def backing_kind(image: str) -> str:
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0].lower()
    for needle, kind in BACKING_IMAGES:
        if needle in name:
            return kind
    return ""


@dataclass
class DockerfileInfo:
    path: str
    # (image, line) of every FROM, in order; the last is the runtime stage.
    bases: list[tuple[str, int]] = field(default_factory=list)
    # Only the final stage's values count for how the image runs.
    expose: list[tuple[int, str, int]] = field(default_factory=list)  # (port, protocol, line)
    cmd: tuple[str, int] | None = None
    entrypoint: tuple[str, int] | None = None
    healthcheck: tuple[str, int] | None = None
    volumes: list[tuple[str, int]] = field(default_factory=list)
    env: dict[str, tuple[str, int]] = field(default_factory=dict)
    # (command, line) of RUN instructions of every stage (package installs are read from them).
    runs: list[tuple[str, int]] = field(default_factory=list)

    @property
    def final_base(self) -> str:
        return self.bases[-1][0] if self.bases else ""

    def start_command(self) -> tuple[str, int] | None:
        parts = [p for p in (self.entrypoint, self.cmd) if p]
        if not parts:
            return None
        return " ".join(p[0] for p in parts), parts[0][1]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; keep the first physical line's number."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        out.append((start, buffer + stripped))
        buffer = ""
    if buffer:
        out.append((start, buffer))
    return out


def _exec_or_shell(argument: str) -> str:
    argument = argument.strip()
    if argument.startswith("["):
        try:
            parts = json.loads(argument)
            if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                return shlex.join(parts) if not (len(parts) >= 3 and parts[:2] in (["sh", "-c"], ["/bin/sh", "-c"])) else parts[2]
        except json.JSONDecodeError:
            pass
    return argument


def parse_dockerfile(path: str, text: str) -> DockerfileInfo:
    info = DockerfileInfo(path)
    args: dict[str, str] = {}
    for line, content in _logical_lines(text):
        instruction, _, argument = content.partition(" ")
        instruction = instruction.upper()
        argument = argument.strip()
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif instruction == "FROM":
            words = [w for w in argument.split() if not w.startswith("--")]
            image = words[0] if words else ""
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), image)
            info.bases.append((image, line))
            # A new stage: what the previous one exposed or ran no longer applies.
            info.expose, info.cmd, info.entrypoint, info.healthcheck, info.volumes = [], None, None, None, []
        elif instruction == "EXPOSE":
            for token in argument.split():
                match = re.match(r"^(\d{1,5})(?:/(tcp|udp))?$", token)
                if match and 0 < int(match[1]) < 65536:
                    info.expose.append((int(match[1]), match[2] or "tcp", line))
        elif instruction == "CMD":
            info.cmd = (_exec_or_shell(argument), line)
        elif instruction == "ENTRYPOINT":
            info.entrypoint = (_exec_or_shell(argument), line)
        elif instruction == "HEALTHCHECK" and argument.upper() != "NONE":
            info.healthcheck = (argument, line)
        elif instruction == "VOLUME":
            for volume in re.findall(r"[^\s\[\]\",]+", argument):
                info.volumes.append((volume, line))
        elif instruction == "ENV":
            for name, value in re.findall(r"(\w+)[= ]\"?([^\s\"]*)\"?", argument):
                info.env[name] = (value, line)
        elif instruction == "RUN":
            info.runs.append((argument, line))
    return info


# Packages installed by RUN lines ("Dockerfile only" repositories declare nothing else).
_INSTALL = re.compile(r"\b(pip3?|python3? -m pip|npm|yarn|pnpm|gem|composer|go)\s+(install|add|require|get)\s+([^&|;]+)")


def dockerfile_installs(info: DockerfileInfo) -> list[tuple[str, str, int]]:
    """(ecosystem, package, line) for packages named on RUN install lines."""
    ecosystems = {"pip": "pypi", "pip3": "pypi", "python -m pip": "pypi", "python3 -m pip": "pypi", "npm": "npm",
                  "yarn": "npm", "pnpm": "npm", "gem": "rubygems", "composer": "packagist", "go": "go"}
    found = []
    for command, line in info.runs:
        for match in _INSTALL.finditer(command):
            for token in match[3].split():
                if token.startswith(("-", ".", "/", "$")) or "=" in token and not token.startswith(tuple("abcdefghijklmnopqrstuvwxyz")):
                    continue
                name = re.split(r"[=<>~!\[@]", token, maxsplit=1)[0] if match[1] != "go" else token.split("@")[0]
                if name and not token.startswith("-r") and not name.endswith((".txt", ".json")):
                    found.append((ecosystems[match[1]], name.lower() if match[1] != "go" else name, line))
    return found


@dataclass
class ComposeService:
    name: str
    line: int
    file: str = ""
    image: str = ""
    build_context: str | None = None
    dockerfile: str = ""
    # (container port, protocol, line)
    ports: list[tuple[int, str, int]] = field(default_factory=list)
    command: str = ""
    volumes: list[str] = field(default_factory=list)
    gpu: bool = False
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class ComposeInfo:
    path: str
    services: list[ComposeService]
    named_volumes: list[str]


class ComposeError(ValueError):
    pass


def parse_compose(path: str, text: str) -> ComposeInfo:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ComposeError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ComposeError(f"{path}: no services mapping")
    lines = text.splitlines()

    def line_of(name: str, after: int = 0) -> int:
        pattern = re.compile(r"^\s+[\"']?" + re.escape(name) + r"[\"']?\s*:")
        for number, content in enumerate(lines[after:], start=after + 1):
            if pattern.match(content):
                return number
        return 0

    services_line = next((i for i, l in enumerate(lines, 1) if re.match(r"^services\s*:", l)), 1)
    services = []
    for name, body in data["services"].items():
        body = body if isinstance(body, dict) else {}
        service = ComposeService(name=str(name), line=line_of(str(name), services_line) or services_line, file=path)
        service.image = str(body.get("image") or "")
        build = body.get("build")
        if isinstance(build, str):
            service.build_context = build
        elif isinstance(build, dict):
            service.build_context = str(build.get("context") or ".")
            service.dockerfile = str(build.get("dockerfile") or "")
        for entry in body.get("ports") or []:
            port, protocol = _container_port(entry)
            if port:
                service.ports.append((port, protocol, line_of_value(lines, str(entry), service.line)))
        for entry in body.get("expose") or []:
            port, protocol = _container_port(entry)
            if port:
                service.ports.append((port, protocol, line_of_value(lines, str(entry), service.line)))
        command = body.get("command")
        service.command = shlex.join(command) if isinstance(command, list) else str(command or "")
        for volume in body.get("volumes") or []:
            service.volumes.append(volume if isinstance(volume, str) else str((volume or {}).get("source", "")))
        environment = body.get("environment")
        if isinstance(environment, dict):
            service.environment = {str(k): str(v) for k, v in environment.items()}
        elif isinstance(environment, list):
            service.environment = dict(str(e).partition("=")[::2] for e in environment)
        service.gpu = bool(re.search(r"driver:\s*nvidia|capabilities:\s*\[?\s*[\"']?gpu|runtime:\s*nvidia", yaml.safe_dump(body)))
        services.append(service)
    named = [str(v) for v in (data.get("volumes") or {})] if isinstance(data.get("volumes"), dict) else []
    return ComposeInfo(path=path, services=services, named_volumes=named)


def line_of_value(lines: list[str], value: str, after: int) -> int:
    for number, content in enumerate(lines[after:], start=after + 1):
        if value in content:
            return number
    return after


def _container_port(entry: object) -> tuple[int, str]:
    if isinstance(entry, dict):
        target = entry.get("target")
        return (int(target), str(entry.get("protocol") or "tcp")) if str(target).isdigit() else (0, "")
    text = str(entry)
    text, _, protocol = text.partition("/")
    last = text.rsplit(":", 1)[-1]
    last = last.split("-")[0]  # a range: its first port
    return (int(last), protocol or "tcp") if last.isdigit() and 0 < int(last) < 65536 else (0, "")
