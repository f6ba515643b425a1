"""Dependency manifests, parsed for real (tomllib, json, xml.etree, line-oriented formats).

Each parser takes (path, text) and returns Dependency messages whose evidence points at the
line that declares them. A malformed manifest raises ManifestError; the caller turns it into a
warning so one broken file does not stop the analysis.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable

from scia.v1 import common_pb2

Dependency = common_pb2.Dependency
Evidence = common_pb2.Evidence


class ManifestError(ValueError):
    pass


def line_of(text: str, needle: str, start_line: int = 1) -> int:
    """1-based line of the first occurrence of `needle` at or after `start_line`; 0 when absent."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start_line and needle in line:
            return number
    return 0


def table_line(text: str, header: str) -> int:
    """Line of a TOML table header such as [tool.poetry.dependencies]."""
    pattern = re.compile(r"^\s*\[\s*" + re.escape(header).replace(r"\.", r"\s*\.\s*") + r"\s*\]\s*$")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1


def _dep(name: str, spec: str, ecosystem: str, dev: bool, path: str, line: int, rule: str, detail: str = "") -> Dependency:
    return Dependency(
        name=name,
        version_spec=spec.strip(),
        ecosystem=ecosystem,
        dev=dev,
        evidence=Evidence(file=path, line=line, rule=rule, detail=(detail or f"{name} {spec}".strip())[:200]),
    )


# --- Python -------------------------------------------------------------------------------

_PEP508 = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(\(?[^;]*?\)?)\s*(;.*)?$")


def normalise_pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pep508(requirement: str) -> tuple[str, str] | None:
    match = _PEP508.match(requirement)
    if not match:
        return None
    spec = match.group(3).strip().strip("()").strip()
    if spec.startswith("@"):
        spec = ""  # a direct URL reference: no version constraint
    return normalise_pypi(match.group(1)), spec


def parse_requirements(path: str, text: str) -> list[Dependency]:
    dev = bool(re.search(r"(dev|test|lint|doc)", path.rsplit("/", 1)[-1], re.I))
    deps = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http://", "https://", ".", "/")):
            continue  # comments, options (-r, -e, --hash), URLs and local paths
        parsed = _pep508(line)
        if parsed:
            deps.append(_dep(*parsed, "pypi", dev, path, number, "python.requirements", line))
    return deps


_DEV_GROUPS = {"dev", "develop", "development", "test", "tests", "testing", "lint", "docs", "doc", "typing"}


def parse_pyproject(path: str, text: str) -> list[Dependency]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: invalid TOML ({error})") from None
    deps: list[Dependency] = []
    project = data.get("project") or {}
    start = table_line(text, "project")
    for requirement in project.get("dependencies") or []:
        if isinstance(requirement, str) and (parsed := _pep508(requirement)):
            deps.append(_dep(*parsed, "pypi", False, path, line_of(text, requirement, start) or start, "python.pyproject.pep621", requirement))
    for group, requirements in (project.get("optional-dependencies") or {}).items():
        for requirement in requirements or []:
            if isinstance(requirement, str) and (parsed := _pep508(requirement)):
                deps.append(_dep(*parsed, "pypi", group.lower() in _DEV_GROUPS, path, line_of(text, requirement) or start,
                                 "python.pyproject.pep621", requirement))
    for group, requirements in (data.get("dependency-groups") or {}).items():  # PEP 735
        for requirement in requirements or []:
            if isinstance(requirement, str) and (parsed := _pep508(requirement)):
                deps.append(_dep(*parsed, "pypi", group.lower() in _DEV_GROUPS, path, line_of(text, requirement) or 1,
                                 "python.pyproject.groups", requirement))
    poetry = (data.get("tool") or {}).get("poetry") or {}
    sections: list[tuple[str, dict, bool]] = [("tool.poetry.dependencies", poetry.get("dependencies") or {}, False)]
    sections.append(("tool.poetry.dev-dependencies", poetry.get("dev-dependencies") or {}, True))
    for group, body in (poetry.get("group") or {}).items():
        sections.append((f"tool.poetry.group.{group}.dependencies", (body or {}).get("dependencies") or {}, group.lower() in _DEV_GROUPS))
    for header, table, dev in sections:
        header_line = table_line(text, header)
        for name, value in table.items():
            if name.lower() == "python":
                continue
            spec = value if isinstance(value, str) else (value.get("version", "") if isinstance(value, dict) else "")
            deps.append(_dep(normalise_pypi(name), "" if spec == "*" else spec, "pypi", dev, path,
                             line_of(text, name, header_line) or header_line, "python.pyproject.poetry"))
    return deps


def parse_pipfile(path: str, text: str) -> list[Dependency]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: invalid TOML ({error})") from None
    deps = []
    for section, dev in (("packages", False), ("dev-packages", True)):
        header_line = table_line(text, section)
        for name, value in (data.get(section) or {}).items():
            spec = value if isinstance(value, str) else (value.get("version", "") if isinstance(value, dict) else "")
            deps.append(_dep(normalise_pypi(name), "" if spec == "*" else spec, "pypi", dev, path,
                             line_of(text, name, header_line) or header_line, "python.pipfile"))
    return deps


# --- Node ---------------------------------------------------------------------------------

def load_json(path: str, text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: invalid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a JSON object")
    return data


def parse_package_json(path: str, text: str) -> list[Dependency]:
    data = load_json(path, text)
    deps = []
    for section, dev in (("dependencies", False), ("devDependencies", True), ("optionalDependencies", False)):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        start = line_of(text, f'"{section}"') or 1
        for name, spec in table.items():
            deps.append(_dep(name, str(spec), "npm", dev, path, line_of(text, f'"{name}"', start) or start, "node.package-json"))
    return deps


# --- Go -----------------------------------------------------------------------------------

_GO_REQUIRE = re.compile(r"^\s*(?:require\s+)?([A-Za-z0-9.\-_~/]+\.[A-Za-z0-9.\-_~/]+)\s+(v[^\s]+)(\s*//\s*indirect)?")


def parse_go_mod(path: str, text: str) -> list[Dependency]:
    deps = []
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("require ("):
            in_block = True
            continue
        if in_block and line.startswith(")"):
            in_block = False
            continue
        if in_block or line.startswith("require "):
            match = _GO_REQUIRE.match(line)
            if match:
                deps.append(_dep(match[1], match[2], "go", False, path, number, "go.mod",
                                 line + ("" if not match[3] else "")))
    return deps


# --- Java ---------------------------------------------------------------------------------

def parse_pom(path: str, text: str) -> list[Dependency]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ManifestError(f"{path}: invalid XML ({error})") from None
    ns = {"m": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    q = (lambda tag: f"m:{tag}") if ns else (lambda tag: tag)  # noqa: E731
    deps = []
    parent = root.find(q("parent"), ns)
    if parent is not None:
        group, artifact = parent.findtext(q("groupId"), "", ns), parent.findtext(q("artifactId"), "", ns)
        deps.append(_dep(f"{group}:{artifact}", parent.findtext(q("version"), "", ns), "maven", False, path,
                         line_of(text, f"<artifactId>{artifact}</artifactId>"), "java.maven.parent"))
    for dependency in root.iterfind(f"{q('dependencies')}/{q('dependency')}", ns):
        group, artifact = dependency.findtext(q("groupId"), "", ns), dependency.findtext(q("artifactId"), "", ns)
        scope = dependency.findtext(q("scope"), "", ns)
        deps.append(_dep(f"{group}:{artifact}", dependency.findtext(q("version"), "", ns), "maven", scope == "test", path,
                         line_of(text, f"<artifactId>{artifact}</artifactId>"), "java.maven"))
    for plugin in root.iterfind(f"{q('build')}/{q('plugins')}/{q('plugin')}", ns):
        group, artifact = plugin.findtext(q("groupId"), "", ns), plugin.findtext(q("artifactId"), "", ns)
        deps.append(_dep(f"{group}:{artifact}", plugin.findtext(q("version"), "", ns), "maven", True, path,
                         line_of(text, f"<artifactId>{artifact}</artifactId>"), "java.maven.plugin"))
    return deps


def pom_java_version(text: str) -> str:
    match = re.search(r"<(?:java\.version|maven\.compiler\.release|maven\.compiler\.target)>\s*([\d.]+)\s*<", text)
    return match[1] if match else ""


_GRADLE_DEP = re.compile(
    r"^\s*(implementation|api|compileOnly|runtimeOnly|testImplementation|testRuntimeOnly|developmentOnly|annotationProcessor|kapt)"
    r"\s*\(?\s*(?:platform\s*\()?\s*[\"']([^\"':]+):([^\"':]+)(?::([^\"']+))?[\"']"
)
_GRADLE_PLUGIN = re.compile(r"""^\s*id\s*\(?\s*["']([^"']+)["']\s*\)?(?:\s*version\s*\(?\s*["']([^"']+)["'])?""")


def parse_gradle(path: str, text: str) -> list[Dependency]:
    deps = []
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _GRADLE_DEP.match(line):
            configuration = match[1]
            deps.append(_dep(f"{match[2]}:{match[3]}", match[4] or "", "maven", configuration.startswith("test"), path,
                             number, "java.gradle", line.strip()))
        elif match := _GRADLE_PLUGIN.match(line):
            deps.append(_dep(match[1], match[2] or "", "gradle-plugin", True, path, number, "java.gradle.plugin", line.strip()))
    return deps


# --- Ruby, PHP, Rust, .NET ------------------------------------------------------------------

_GEM = re.compile(r"""^\s*gem\s+["']([^"']+)["'](?:\s*,\s*["']([^"']+)["'])?(?:\s*,\s*["']([^"']+)["'])?""")
_GEM_GROUP = re.compile(r"^\s*group\s+(.+?)\s+do\b")


def parse_gemfile(path: str, text: str) -> list[Dependency]:
    deps = []
    group_stack: list[bool] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _GEM_GROUP.match(line):
            group_stack.append(not re.search(r":production|:default", match[1]))
            continue
        if re.match(r"^\s*end\b", line) and group_stack:
            group_stack.pop()
            continue
        if match := _GEM.match(line):
            spec = ", ".join(s for s in (match[2], match[3]) if s)
            inline_dev = bool(re.search(r"group:\s*\[?\s*:(development|test)", line))
            deps.append(_dep(match[1], spec, "rubygems", any(group_stack) or inline_dev, path, number, "ruby.gemfile", line.strip()))
    return deps


def gemfile_ruby_version(text: str) -> str:
    match = re.search(r"""^\s*ruby\s+["']([\d.]+)""", text, re.M)
    return match[1] if match else ""


def parse_composer(path: str, text: str) -> list[Dependency]:
    data = load_json(path, text)
    deps = []
    for section, dev in (("require", False), ("require-dev", True)):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        start = line_of(text, f'"{section}"') or 1
        for name, spec in table.items():
            if name == "php" or name.startswith("ext-"):
                continue
            deps.append(_dep(name, str(spec), "packagist", dev, path, line_of(text, f'"{name}"', start) or start, "php.composer"))
    return deps


def parse_cargo(path: str, text: str) -> list[Dependency]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: invalid TOML ({error})") from None
    deps = []
    for section, dev in (("dependencies", False), ("dev-dependencies", True), ("build-dependencies", True)):
        header_line = table_line(text, section)
        for name, value in (data.get(section) or {}).items():
            spec = value if isinstance(value, str) else (value.get("version", "") if isinstance(value, dict) else "")
            features = value.get("features", []) if isinstance(value, dict) else []
            detail = f"{name} {spec}" + (f" features={features}" if features else "")
            deps.append(_dep(name, spec, "cargo", dev, path, line_of(text, name, header_line) or header_line, "rust.cargo", detail))
    return deps


def parse_csproj(path: str, text: str) -> list[Dependency]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ManifestError(f"{path}: invalid XML ({error})") from None
    deps = []
    for reference in root.iter():
        if reference.tag.split("}")[-1] != "PackageReference":
            continue
        name = reference.get("Include") or reference.get("Update") or ""
        version = reference.get("Version") or (reference.findtext("Version") or "")
        if name:
            deps.append(_dep(name, version, "nuget", False, path, line_of(text, f'"{name}"') or 1, "dotnet.csproj"))
    return deps


def csproj_info(text: str) -> tuple[str, str]:
    """(Sdk attribute, target framework) of a project file."""
    sdk = re.search(r"<Project\s+[^>]*Sdk\s*=\s*\"([^\"]+)\"", text)
    target = re.search(r"<TargetFrameworks?>\s*net(?:coreapp)?([\d.]+)", text)
    return (sdk[1] if sdk else ""), (target[1] if target else "")


# Manifest file name -> (language, parser). Checked by exact basename, then by suffix rules.
PARSERS: dict[str, tuple[str, Callable[[str, str], list[Dependency]]]] = {
    "pyproject.toml": ("python", parse_pyproject),
    "pipfile": ("python", parse_pipfile),
    "package.json": ("node", parse_package_json),
    "go.mod": ("go", parse_go_mod),
    "pom.xml": ("java", parse_pom),
    "build.gradle": ("java", parse_gradle),
    "build.gradle.kts": ("java", parse_gradle),
    "gemfile": ("ruby", parse_gemfile),
    "composer.json": ("php", parse_composer),
    "cargo.toml": ("rust", parse_cargo),
}


def parser_for(basename: str) -> tuple[str, Callable[[str, str], list[Dependency]]] | None:
    lower = basename.lower()
    if lower in PARSERS:
        return PARSERS[lower]
    if re.match(r"^requirements.*\.(txt|in)$", lower):
        return "python", parse_requirements
    if lower.endswith((".csproj", ".fsproj")):
        return "dotnet", parse_csproj
    return None
