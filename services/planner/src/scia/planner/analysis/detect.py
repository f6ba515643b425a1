"""Pure detectors: RepoFiles -> RepositoryAnalysis. No I/O, no git, no execution.

Every fact is recorded with the Evidence that produced it (a file and line, or the rule that
inferred it), so a user can see why SCIA believes what it believes.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from scia.planner.analysis import containers, deps as depparse
from scia.planner.analysis.files import RepoFiles
from scia.v1 import common_pb2

Evidence = common_pb2.Evidence
TraitKind = common_pb2.TraitKind

# Folders whose manifests are not deployable applications.
NON_APP_DIRS = frozenset(
    {"test", "tests", "docs", "doc", "examples", "example", "fixtures", "samples", "sample", "e2e", "scripts",
     ".github", "testdata", "benchmarks", "bench", "tools"}
)
MAX_APP_DEPTH = 3
CODE_EXTENSIONS = {
    "python": (".py",), "node": (".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx"), "go": (".go",),
    "java": (".java", ".kt", ".properties", ".yml", ".yaml"), "ruby": (".rb", ".ru"), "php": (".php",),
    "rust": (".rs",), "dotnet": (".cs", ".json"), "static": (".html", ".htm"),
}
EXTENSION_LANGUAGE = {".py": "python", ".js": "node", ".ts": "node", ".mjs": "node", ".go": "go", ".java": "java",
                      ".kt": "java", ".rb": "ruby", ".php": "php", ".rs": "rust", ".cs": "dotnet", ".html": "static"}

# --- frameworks -------------------------------------------------------------------------------

# (language, dependency name) -> framework. Names are normalised (PyPI) or exact (others).
FRAMEWORK_DEPS: dict[str, dict[str, str]] = {
    "python": {"django": "django", "flask": "flask", "fastapi": "fastapi", "streamlit": "streamlit",
               "celery": "celery"},
    "node": {"next": "nextjs", "@nestjs/core": "nestjs", "express": "express", "fastify": "fastify", "koa": "koa",
             "vite": "vite", "react-scripts": "create-react-app", "@angular/cli": "angular", "@vue/cli-service": "vue-cli"},
    "go": {"github.com/gin-gonic/gin": "gin", "github.com/labstack/echo/v4": "echo", "github.com/labstack/echo": "echo",
           "github.com/gofiber/fiber/v2": "fiber", "github.com/gofiber/fiber/v3": "fiber", "github.com/gofiber/fiber": "fiber",
           "github.com/go-chi/chi/v5": "net-http", "github.com/gorilla/mux": "net-http"},
    "java": {"org.springframework.boot:spring-boot-starter-web": "spring-boot",
             "org.springframework.boot:spring-boot-starter-webflux": "spring-boot",
             "org.springframework.boot:spring-boot-starter-parent": "spring-boot",
             "org.springframework.boot": "spring-boot"},
    "ruby": {"rails": "rails", "sinatra": "sinatra", "jekyll": "jekyll"},
    "php": {"laravel/framework": "laravel", "symfony/framework-bundle": "symfony"},
    "rust": {"axum": "axum", "actix-web": "actix", "rocket": "rocket"},
    "dotnet": {},
}
# Code that shows a framework is actually used (stronger than a declared dependency).
FRAMEWORK_CODE: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "python": [
        ("flask", re.compile(r"^\s*from\s+flask\s+import\b.*\bFlask\b|\bFlask\(\s*__name__")),
        ("django", re.compile(r"^\s*from\s+django\b|DJANGO_SETTINGS_MODULE")),
        ("fastapi", re.compile(r"^\s*from\s+fastapi\s+import\b.*\bFastAPI\b|\bFastAPI\(")),
        ("streamlit", re.compile(r"^\s*import\s+streamlit\b")),
        ("celery", re.compile(r"\bCelery\(\s*['\"]")),
    ],
    "node": [
        ("express", re.compile(r"require\(\s*['\"]express['\"]\s*\)|from\s+['\"]express['\"]")),
        ("nestjs", re.compile(r"NestFactory\.create")),
        ("fastify", re.compile(r"require\(\s*['\"]fastify['\"]\s*\)|from\s+['\"]fastify['\"]")),
    ],
    "go": [
        ("gin", re.compile(r"gin\.(Default|New)\(\)")),
        ("echo", re.compile(r"echo\.New\(\)")),
        ("fiber", re.compile(r"fiber\.New\(")),
        ("net-http", re.compile(r"http\.ListenAndServe(TLS)?\(")),
    ],
    "java": [("spring-boot", re.compile(r"@SpringBootApplication|SpringApplication\.run"))],
    "ruby": [
        ("rails", re.compile(r"Rails\.application|< Rails::Application")),
        ("sinatra", re.compile(r"require\s+['\"]sinatra(/base)?['\"]|< Sinatra::Base")),
    ],
    "php": [("laravel", re.compile(r"Illuminate\\(Foundation|Support)"))],
    "rust": [
        ("axum", re.compile(r"axum::(serve|Router|Server)|Router::new\(\)")),
        ("actix", re.compile(r"HttpServer::new|#\[actix_web::main\]")),
    ],
    "dotnet": [("aspnet-core", re.compile(r"WebApplication\.CreateBuilder|UseStartup<|MapGet\("))],
}
# Files whose presence is a framework's convention.
FRAMEWORK_FILES: dict[str, str] = {
    "manage.py": "django", "artisan": "laravel", "config/routes.rb": "rails", "config/application.rb": "rails",
    "next.config.js": "nextjs", "next.config.mjs": "nextjs", "next.config.ts": "nextjs", "nest-cli.json": "nestjs",
    "vite.config.js": "vite", "vite.config.ts": "vite", "vite.config.mjs": "vite", "angular.json": "angular",
    "_config.yml": "jekyll",
}
WEB_FRAMEWORKS = {"flask", "django", "fastapi", "streamlit", "express", "nextjs", "nestjs", "fastify", "koa", "gin",
                  "echo", "fiber", "net-http", "spring-boot", "rails", "sinatra", "laravel", "symfony", "axum",
                  "actix", "rocket", "aspnet-core"}
SPA_FRAMEWORKS = {"vite", "create-react-app", "angular", "vue-cli", "jekyll"}
WORKER_FRAMEWORKS = {"celery"}
# A framework built on another is not a conflict with it.
BUILT_ON = {"nestjs": {"express", "fastify"}, "nextjs": {"express"}, "rails": {"sinatra"}, "django": {"celery"},
            "flask": {"celery"}, "fastapi": {"celery"}}
FRAMEWORK_LANGUAGE = {fw: lang for lang, table in FRAMEWORK_DEPS.items() for fw in table.values()}
FRAMEWORK_LANGUAGE.update({"aspnet-core": "dotnet", "net-http": "go"})

DEFAULT_PORTS = {
    "flask": 5000, "django": 8000, "fastapi": 8000, "streamlit": 8501, "express": 3000, "nextjs": 3000,
    "nestjs": 3000, "fastify": 3000, "koa": 3000, "gin": 8080, "echo": 8080, "fiber": 3000, "net-http": 8080,
    "spring-boot": 8080, "rails": 3000, "sinatra": 4567, "laravel": 8000, "symfony": 8000, "axum": 3000,
    "actix": 8080, "rocket": 8000, "aspnet-core": 8080,
}
# Dependency -> backing service the application talks to (when compose does not declare it).
DEP_BACKING = {
    "psycopg2": "postgres", "psycopg2-binary": "postgres", "psycopg": "postgres", "asyncpg": "postgres", "pg": "postgres",
    "postgres": "postgres", "github.com/lib/pq": "postgres", "github.com/jackc/pgx/v5": "postgres",
    "org.postgresql:postgresql": "postgres", "Npgsql.EntityFrameworkCore.PostgreSQL": "postgres", "Npgsql": "postgres",
    "mysqlclient": "mysql", "pymysql": "mysql", "mysql2": "mysql", "mysql": "mysql",
    "github.com/go-sql-driver/mysql": "mysql", "com.mysql:mysql-connector-j": "mysql",
    "redis": "redis", "ioredis": "redis", "github.com/redis/go-redis/v9": "redis", "github.com/go-redis/redis/v8": "redis",
    "django-redis": "redis", "org.springframework.boot:spring-boot-starter-data-redis": "redis", "StackExchange.Redis": "redis",
    "pymongo": "mongodb", "motor": "mongodb", "mongoose": "mongodb", "mongodb": "mongodb", "mongoid": "mongodb",
    "go.mongodb.org/mongo-driver": "mongodb", "pika": "rabbitmq", "amqplib": "rabbitmq", "aio-pika": "rabbitmq",
    "bunny": "rabbitmq", "kafka-python": "kafka", "confluent-kafka": "kafka", "kafkajs": "kafka",
    "github.com/segmentio/kafka-go": "kafka", "elasticsearch": "elasticsearch", "@elastic/elasticsearch": "elasticsearch",
}
_DB_URL = re.compile(r"^\s*(?:DATABASE_URL|DB_URL|REDIS_URL|MONGO_URL|MONGODB_URI|AMQP_URL|BROKER_URL|CELERY_BROKER_URL)\s*=\s*[\"']?(postgres(?:ql)?|mysql|redis|mongodb(?:\+srv)?|amqp)://", re.I)
_URL_KIND = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "redis": "redis", "mongodb": "mongodb",
             "mongodb+srv": "mongodb", "amqp": "rabbitmq"}

# --- traits -----------------------------------------------------------------------------------

WEBSOCKET_DEPS = {"flask-socketio", "flask-sock", "python-socketio", "channels", "websockets", "socket.io", "ws",
                  "@nestjs/websockets", "@nestjs/platform-socket.io", "uwebsockets.js", "github.com/gorilla/websocket",
                  "nhooyr.io/websocket", "github.com/gofiber/websocket/v2", "org.springframework.boot:spring-boot-starter-websocket",
                  "cboden/ratchet", "beyondcode/laravel-websockets", "tokio-tungstenite", "actix-web-actors", "actix-ws",
                  "Microsoft.AspNetCore.SignalR", "anycable", "faye-websocket"}
WEBSOCKET_CODE = re.compile(
    r"@\w+\.websocket\(|@socketio\.on\(|\bWebSocketServer\b|websocket\.Upgrader|WebSocketUpgrade|MapHub<|UseWebSockets\("
    r"|@WebSocketGateway|\bio\.on\(\s*['\"]connection|ActionCable\.server|@ServerEndpoint|\bwebsocket_urlpatterns\b"
)
WORKER_DEPS = {"celery", "rq", "dramatiq", "huey", "arq", "bull", "bullmq", "bee-queue", "agenda", "sidekiq", "resque",
               "good_job", "delayed_job", "delayed_job_active_record", "solid_queue", "laravel/horizon",
               "github.com/hibiken/asynq", "github.com/RichardKnop/machinery", "Hangfire.Core", "Hangfire.AspNetCore",
               "MassTransit", "apalis"}
SCHEDULE_DEPS = {"apscheduler", "schedule", "celery-beat", "django-celery-beat", "node-cron", "cron", "node-schedule",
                 "whenever", "sidekiq-cron", "sidekiq-scheduler", "rufus-scheduler", "clockwork", "github.com/robfig/cron/v3",
                 "github.com/go-co-op/gocron", "tokio-cron-scheduler", "Quartz", "Hangfire.Core", "@nestjs/schedule"}
SCHEDULE_CODE = re.compile(r"beat_schedule|@Scheduled\(|@EnableScheduling|\$schedule->|crontab\(|BackgroundScheduler\(|cron\.schedule\(|@Cron\(")
ML_DEPS = {"torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "transformers", "sentence-transformers",
           "scikit-learn", "xgboost", "lightgbm", "onnxruntime", "onnxruntime-gpu", "diffusers", "vllm", "llama-cpp-python",
           "tensorflow-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "onnxruntime-node", "candle-core", "tch",
           "ort", "Microsoft.ML", "ultralytics", "spacy", "opencv-python"}
GPU_DEPS = {"cupy", "cupy-cuda12x", "cupy-cuda11x", "onnxruntime-gpu", "tensorflow-gpu", "@tensorflow/tfjs-node-gpu",
            "nvidia-cudnn-cu12", "nvidia-cublas-cu12", "vllm", "bitsandbytes", "flash-attn", "xformers", "cudf-cu12"}
GPU_CODE = re.compile(r"\.cuda\(\)|device\s*=\s*['\"]cuda|torch\.cuda\.is_available\(\)|tf\.config\.list_physical_devices\(\s*['\"]GPU")
UPLOAD_DEPS = {"multer", "formidable", "express-fileupload", "busboy", "@fastify/multipart", "python-multipart",
               "django-storages", "carrierwave", "shrine", "activestorage", "actix-multipart", "spatie/laravel-medialibrary"}
UPLOAD_CODE = re.compile(
    r"request\.files\b|request\.FILES\b|\bUploadFile\b|models\.(FileField|ImageField)|\.FormFile\(|MultipartFile\b"
    r"|has_(one|many)_attached|\bIFormFile\b|\$request->file\(|\bMultipart\b|upload\.single\(|upload\.array\(|st\.file_uploader\("
)
UPLOAD_LIMIT = re.compile(
    r"(MAX_CONTENT_LENGTH|DATA_UPLOAD_MAX_MEMORY_SIZE|FILE_UPLOAD_MAX_MEMORY_SIZE|fileSize|maxFileSize|max_upload_size"
    r"|MultipartBodyLengthLimit|BodyLimit|DefaultBodyLimit::max)\s*[=:(]\s*([\d_\s*]+)"
)
SPRING_UPLOAD_LIMIT = re.compile(r"max-(?:file|request)-size\s*[=:]\s*(\d+)\s*(KB|MB|GB)", re.I)
LONG_JOB = re.compile(r"\b(soft_time_limit|time_limit|job_timeout|timeout)\s*[=:]\s*(\d+)")
SQLITE = re.compile(r"sqlite3?:///|\bimport sqlite3\b|django\.db\.backends\.sqlite3|better-sqlite3|gorm\.io/driver/sqlite|go-sqlite3|\brusqlite\b|UseSqlite\(")
SQLITE_DEPS = {"sqlite3", "better-sqlite3", "rusqlite", "gorm.io/driver/sqlite", "github.com/mattn/go-sqlite3",
               "Microsoft.EntityFrameworkCore.Sqlite"}
HEALTH_PATH = re.compile(
    r"[\"'](/(?:api/)?(?:health|healthz|healthcheck|health-check|_health|livez|readyz|ready|ping|status|up)(?:/[a-z]+)?)[\"']"
)
ROUTE_HINT = re.compile(r"route|\.get\b|\.Get\b|\bGET\b|HandleFunc|Handle\(|@app|@router|router|Mapping|MapGet|MapHealthChecks|path\(|get\s|\.route|Route::|\bget\(")


@dataclass
class Signal:
    name: str
    weight: float
    evidence: Evidence


@dataclass
class AppCandidate:
    path: str
    files: RepoFiles
    manifests: list[str] = field(default_factory=list)


# --- entry point ------------------------------------------------------------------------------


def analyze_files(files: RepoFiles, repository: common_pb2.RepositoryRef | None = None) -> common_pb2.RepositoryAnalysis:
    """Every deployable application in `files`, primary first, with compose's backing services."""
    analysis = common_pb2.RepositoryAnalysis(file_count=len(files.paths), size_bytes=files.size_bytes)
    if repository is not None:
        analysis.repository.CopyFrom(repository)
    warnings = list(files.warnings)

    composes: list[containers.ComposeInfo] = []
    for path in sorted(files.texts):
        if _is_compose(path):
            try:
                composes.append(containers.parse_compose(path, files.texts[path]))
            except containers.ComposeError as error:
                warnings.append(str(error))
    analysis.has_compose = bool(composes)

    roots = find_app_roots(files)
    apps: list[tuple[common_pb2.Application, float]] = []
    for root in roots:
        nested = [r for r in roots if r != root and (root == "" or r.startswith(root + "/"))]
        app, rank = detect_application(files.under(root, exclude=nested), root, composes, warnings, repository)
        if app is not None:
            apps.append((app, rank))
    # A workspace root without a framework of its own is not an application when others exist.
    if len(apps) > 1:
        apps = [(a, r) for a, r in apps if a.path or a.framework or a.has_dockerfile]
    apps.sort(key=lambda item: (-item[1], -item[0].confidence, item[0].path.count("/"), item[0].path))
    analysis.applications.extend(app for app, _ in apps)
    if len(apps) > 1:
        warnings.append(
            f"{len(apps)} applications found ({', '.join(a.path or '.' for a, _ in apps)}); "
            f"'{apps[0][0].path or '.'}' taken as the primary one"
        )
    if not apps:
        warnings.append("no deployable application found: no manifest, Dockerfile, source code or index.html recognised")

    analysis.backing_services.extend(detect_backing_services(files, composes, analysis.applications))
    analysis.warnings.extend(dict.fromkeys(warnings))
    return analysis


def _is_compose(path: str) -> bool:
    name = posixpath.basename(path).lower()
    depth = path.count("/")
    return depth <= 1 and bool(re.match(r"^(docker-)?compose(\.[\w-]+)?\.ya?ml$", name))


def _is_manifest(path: str) -> bool:
    name = posixpath.basename(path)
    return depparse.parser_for(name) is not None or name.lower() in {"manage.py", "artisan", "setup.py"}


def find_app_roots(files: RepoFiles) -> list[str]:
    """The root, and every folder up to MAX_APP_DEPTH deep with a manifest of its own."""
    roots = {""}
    for path in files.paths:
        folder = posixpath.dirname(path)
        if not folder or not _is_manifest(path) or folder.count("/") >= MAX_APP_DEPTH:
            continue
        parts = folder.split("/")
        if any(p.lower() in NON_APP_DIRS or p.startswith(".") for p in parts):
            continue
        if posixpath.basename(folder) == "requirements":
            continue  # requirements/base.txt belongs to the folder above
        roots.add(folder)
    return sorted(roots)


# --- one application ----------------------------------------------------------------------------


def detect_application(
    files: RepoFiles,
    root: str,
    composes: list[containers.ComposeInfo],
    warnings: list[str],
    repository: common_pb2.RepositoryRef | None = None,
) -> tuple[common_pb2.Application | None, float]:
    """One application rooted at `root`, and its rank for choosing the primary application."""
    prefix = root + "/" if root else ""
    app = common_pb2.Application(path=root)
    local = lambda name: prefix + name  # noqa: E731

    # Manifests and dependencies
    languages: Counter[str] = Counter()
    names: dict[str, str] = {}
    for path in sorted(files.texts):
        relative = path[len(prefix):]
        if "/" in relative and not relative.startswith("requirements/"):
            continue
        found = depparse.parser_for(posixpath.basename(path))
        if not found:
            continue
        language, parser = found
        try:
            parsed = parser(path, files.texts[path])
        except depparse.ManifestError as error:
            warnings.append(str(error))
            continue
        languages[language] += 2
        app.dependencies.extend(parsed)
        names.setdefault(language, _manifest_name(path, files.texts[path]))

    dockerfile = _dockerfile_for(files, root, composes)
    if dockerfile is not None:
        app.has_dockerfile = True
        for ecosystem, package, line in containers.dockerfile_installs(dockerfile):
            if not any(d.name == package for d in app.dependencies):
                app.dependencies.append(common_pb2.Dependency(
                    name=package, ecosystem=ecosystem,
                    evidence=Evidence(file=dockerfile.path, line=line, rule="docker.run-install",
                                      detail=f"installed by a RUN instruction: {package}")))
                languages[_ECOSYSTEM_LANGUAGE.get(ecosystem, "")] += 1
        base_language = _image_language(dockerfile.final_base) or _image_language(
            dockerfile.bases[0][0] if dockerfile.bases else "")
        if base_language:
            languages[base_language] += 1

    code_counts = Counter(
        EXTENSION_LANGUAGE[ext] for p in files.texts if (ext := posixpath.splitext(p)[1]) in EXTENSION_LANGUAGE
    )
    if not languages:
        languages.update({lang: 0.5 for lang, n in code_counts.items() if n and lang != "static"})
    if not languages and files.exists(local("index.html")):
        languages["static"] = 1
    if not languages:
        return None, 0.0

    runtime_deps = [d for d in app.dependencies if not d.dev]
    signals = framework_signals(files, runtime_deps, languages, root)
    framework, chosen_signals, conflict = choose_framework(signals)
    if framework:
        language = FRAMEWORK_LANGUAGE.get(framework, "")
    else:
        language = languages.most_common(1)[0][0]
    if language not in languages and languages:
        language = languages.most_common(1)[0][0] if not framework else language
    app.language = language
    app.framework = framework
    app.framework_evidence.extend(s.evidence for s in chosen_signals)
    if not framework:
        app.framework_evidence.append(
            Evidence(rule="language.manifest", detail=f"language {language} from manifests and sources; no framework recognised"))
    if conflict:
        warnings.append(conflict)
    score = sum(s.weight for s in chosen_signals)
    app.confidence = round(min(0.95, 0.55 + 0.15 * score) - (0.2 if conflict else 0.0), 2) if framework else 0.4
    app.name = names.get(language) or posixpath.basename(root) or _repo_name(repository) or "app"
    app.runtime_version = runtime_version(files, root, language, dockerfile)

    compose_service = _compose_service_for(root, composes)
    app.ports.extend(detect_ports(files, root, framework, language, dockerfile, compose_service))
    command = detect_start_command(files, root, framework, language, dockerfile, app.ports)
    if command:
        app.start_command, evidence = command
        app.start_command_evidence.CopyFrom(evidence)
    app.traits.extend(detect_traits(files, root, app, dockerfile, compose_service, composes))

    rank = 3.0 if framework in WEB_FRAMEWORKS else 2.0 if framework in SPA_FRAMEWORKS else 1.0 if framework else 0.5
    if app.has_dockerfile:
        rank += 0.2
    return app, rank


_ECOSYSTEM_LANGUAGE = {"pypi": "python", "npm": "node", "go": "go", "rubygems": "ruby", "packagist": "php"}


def _manifest_name(path: str, text: str) -> str:
    base = posixpath.basename(path).lower()
    try:
        if base == "package.json" or base == "composer.json":
            name = depparse.load_json(path, text).get("name", "")
            return str(name).rsplit("/", 1)[-1] if name else ""
        if base in ("pyproject.toml", "cargo.toml"):
            data = tomllib.loads(text)
            return str((data.get("project") or data.get("package") or (data.get("tool") or {}).get("poetry") or {}).get("name", ""))
        if base == "go.mod":
            match = re.search(r"^module\s+(\S+)", text, re.M)
            return match[1].rsplit("/", 1)[-1] if match else ""
        if base == "pom.xml":
            match = re.search(r"</parent>.*?<artifactId>([^<]+)</artifactId>|^\s*<artifactId>([^<]+)</artifactId>", text, re.S | re.M)
            return (match[1] or match[2]) if match else ""
        if base.endswith(".csproj"):
            return posixpath.basename(path)[: -len(".csproj")]
    except (depparse.ManifestError, tomllib.TOMLDecodeError, AttributeError):
        return ""
    return ""


def _repo_name(repository: common_pb2.RepositoryRef | None) -> str:
    if repository is None or not repository.url:
        return ""
    return re.sub(r"\.git$", "", repository.url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])


def _image_language(image: str) -> str:
    name = image.lower().rsplit("/", 1)[-1].split(":")[0]
    table = (("python", "python"), ("node", "node"), ("golang", "go"), ("temurin", "java"), ("openjdk", "java"),
             ("maven", "java"), ("gradle", "java"), ("corretto", "java"), ("ruby", "ruby"), ("php", "php"),
             ("rust", "rust"), ("aspnet", "dotnet"), ("dotnet", "dotnet"), ("nginx", "static"), ("httpd", "static"),
             ("caddy", "static"))
    if "mcr.microsoft.com/dotnet" in image.lower():
        return "dotnet"
    for needle, language in table:
        if needle in name:
            return language
    return ""


def _dockerfile_for(files: RepoFiles, root: str, composes: list[containers.ComposeInfo]) -> containers.DockerfileInfo | None:
    prefix = root + "/" if root else ""
    candidates = [prefix + n for n in ("Dockerfile", "Containerfile", "dockerfile")]
    for compose in composes:
        for service in compose.services:
            if service.build_context is not None and _norm(posixpath.dirname(compose.path), service.build_context) == root and service.dockerfile:
                candidates.insert(0, posixpath.normpath(posixpath.join(prefix, service.dockerfile)))
    for path in candidates:
        if path in files.texts:
            return containers.parse_dockerfile(path, files.texts[path])
    return None


def _norm(base: str, context: str) -> str:
    path = posixpath.normpath(posixpath.join(base, context))
    return "" if path == "." else path


def _compose_service_for(root: str, composes: list[containers.ComposeInfo]) -> containers.ComposeService | None:
    for compose in composes:
        for service in compose.services:
            if service.build_context is not None and _norm(posixpath.dirname(compose.path), service.build_context) == root:
                return service
    return None


# --- framework ------------------------------------------------------------------------------------


def framework_signals(files: RepoFiles, runtime_deps: Iterable[common_pb2.Dependency], languages: Counter[str], root: str) -> list[Signal]:
    prefix = root + "/" if root else ""
    signals: list[Signal] = []
    for dep in runtime_deps:
        for language, table in FRAMEWORK_DEPS.items():
            framework = table.get(dep.name)
            if framework and (language in languages or dep.evidence.rule == "docker.run-install"):
                evidence = Evidence()
                evidence.CopyFrom(dep.evidence)
                evidence.rule = f"framework.dependency.{language}"
                signals.append(Signal(framework, 1.0, evidence))
    # .NET: the web SDK is the framework, read from the project file.
    for path, text in files.texts.items():
        if path.lower().endswith(".csproj"):
            sdk, _target = depparse.csproj_info(text)
            if sdk == "Microsoft.NET.Sdk.Web":
                signals.append(Signal("aspnet-core", 1.5, Evidence(file=path, line=depparse.line_of(text, "Sdk="), rule="framework.dotnet-web-sdk", detail=f'Sdk="{sdk}"')))
    seen: set[str] = set()
    for path in sorted(files.texts):
        ext = posixpath.splitext(path)[1]
        for language, patterns in FRAMEWORK_CODE.items():
            if ext not in CODE_EXTENSIONS[language] or ext in (".yml", ".yaml", ".properties", ".json"):
                continue
            for framework, pattern in patterns:
                if framework in seen:
                    continue
                for number, line in files.lines(path):
                    if pattern.search(line):
                        signals.append(Signal(framework, 1.5, Evidence(file=path, line=number, rule=f"framework.code.{framework}", detail=line.strip()[:160])))
                        seen.add(framework)
                        break
    for name, framework in FRAMEWORK_FILES.items():
        if files.exists(prefix + name):
            if framework == "jekyll" and "ruby" not in languages:
                continue
            signals.append(Signal(framework, 1.0, Evidence(file=prefix + name, rule="framework.convention-file", detail=f"{name} is a {framework} convention")))
    return signals


def choose_framework(signals: list[Signal]) -> tuple[str, list[Signal], str]:
    """(framework, its signals, conflict warning or '')."""
    if not signals:
        return "", [], ""
    scores: dict[str, float] = defaultdict(float)
    for signal in signals:
        scores[signal.name] += signal.weight

    def tier(name: str) -> int:
        return 3 if name in WEB_FRAMEWORKS else 2 if name in SPA_FRAMEWORKS else 1

    ordered = sorted(scores, key=lambda n: (-tier(n), -scores[n], n))
    best = ordered[0]
    # Frameworks built on the chosen one, workers beside a web framework and SPA tooling
    # inside a server framework (e.g. Vite assets in Laravel) are expected, not conflicts.
    rivals = [n for n in ordered[1:] if tier(n) == tier(best) and n not in BUILT_ON.get(best, set())
              and best not in BUILT_ON.get(n, set()) and scores[n] >= 1.0]
    conflict = ""
    if rivals:
        described = "; ".join(
            f"{n} ({', '.join(_where(s.evidence) for s in signals if s.name == n)})" for n in [best, *rivals]
        )
        conflict = f"conflicting framework signals: {described}; chose {best} (strongest evidence: score {scores[best]:g})"
    return best, [s for s in signals if s.name == best], conflict


def _where(evidence: Evidence) -> str:
    return f"{evidence.file}:{evidence.line}" if evidence.line else (evidence.file or evidence.rule)


# --- runtime version ------------------------------------------------------------------------------


def runtime_version(files: RepoFiles, root: str, language: str, dockerfile: containers.DockerfileInfo | None) -> str:
    prefix = root + "/" if root else ""
    text = lambda name: files.texts.get(prefix + name, "")  # noqa: E731
    candidates: list[str] = []
    if language == "python":
        candidates += [text(".python-version").strip(), re.sub(r"^python-", "", text("runtime.txt").strip())]
        match = re.search(r"requires-python\s*=\s*[\"'][^\d]*([\d.]+)", text("pyproject.toml"))
        candidates.append(match[1] if match else "")
        match = re.search(r"^python\s*=\s*[\"'][^\d]*([\d.]+)", text("pyproject.toml"), re.M)
        candidates.append(match[1] if match else "")
    elif language == "node":
        match = re.search(r"\"node\"\s*:\s*\"[^\d]*(\d+(?:\.\d+)*)", text("package.json"))
        candidates += [text(".nvmrc").strip().lstrip("v"), text(".node-version").strip().lstrip("v"), match[1] if match else ""]
    elif language == "go":
        match = re.search(r"^go\s+([\d.]+)", text("go.mod"), re.M)
        candidates.append(match[1] if match else "")
    elif language == "java":
        candidates.append(depparse.pom_java_version(text("pom.xml")))
        gradle = text("build.gradle") + text("build.gradle.kts")
        match = re.search(r"JavaLanguageVersion\.of\((\d+)\)|VERSION_(\d+)|sourceCompatibility\s*=\s*['\"]?(\d+)", gradle)
        candidates.append(next((g for g in match.groups() if g), "") if match else "")
    elif language == "ruby":
        candidates += [text(".ruby-version").strip().removeprefix("ruby-"), depparse.gemfile_ruby_version(text("Gemfile"))]
    elif language == "php":
        match = re.search(r"\"php\"\s*:\s*\"[^\d]*([\d.]+)", text("composer.json"))
        candidates.append(match[1] if match else "")
    elif language == "dotnet":
        for path, content in files.texts.items():
            if path.endswith(".csproj"):
                candidates.append(depparse.csproj_info(content)[1])
    elif language == "rust":
        match = re.search(r"rust-version\s*=\s*\"([\d.]+)\"", text("Cargo.toml"))
        candidates.append(match[1] if match else "")
    if dockerfile is not None:
        for image, _line in dockerfile.bases:
            if _image_language(image) == language:
                match = re.search(r":(\d+(?:\.\d+)*)", image)
                candidates.append(match[1] if match else "")
    return next((c for c in candidates if c and re.match(r"^\d", c)), "")


# --- ports --------------------------------------------------------------------------------------

CODE_PORTS: dict[str, list[re.Pattern[str]]] = {
    "python": [re.compile(r"\.run\([^)]*\bport\s*=\s*(\d{2,5})"), re.compile(r"--port[= ](\d{2,5})"),
               re.compile(r"--bind[= ]\S*:(\d{2,5})"), re.compile(r"server\.port\s*=\s*(\d{2,5})"),
               re.compile(r"environ(?:\.get\(|\[)\s*['\"]PORT['\"]\s*(?:\]|,\s*['\"]?(\d{2,5}))")],
    "node": [re.compile(r"\.listen\(\s*(\d{2,5})\b"), re.compile(r"PORT\s*(?:\|\||\?\?)\s*['\"]?(\d{2,5})")],
    "go": [re.compile(r"(?:ListenAndServe(?:TLS)?|\.Run|\.Start|\.Listen|Addr:)\s*\(?\s*\"[\w.]*:(\d{2,5})\""),
           re.compile(r"os\.Getenv\(\"PORT\"\).*\"(\d{4,5})\"")],
    "java": [re.compile(r"^\s*server\.port\s*[=:]\s*\$?\{?[A-Z_:]*?(\d{2,5})"), re.compile(r"^\s{2,}port:\s*\$?\{?[A-Z_:]*?(\d{2,5})")],
    "ruby": [re.compile(r"port\s+ENV\.fetch\(\s*['\"]PORT['\"]\s*\)\s*\{\s*(\d{2,5})"), re.compile(r"set\s+:port\s*,\s*(\d{2,5})")],
    "php": [re.compile(r"--port[= ](\d{2,5})")],
    "rust": [re.compile(r"(?:bind|TcpListener::bind|serve)\s*\(\s*\(?\s*\"[\w.\[\]:]*:(\d{2,5})\""),
             re.compile(r"bind\(\(\s*\"[^\"]+\"\s*,\s*(\d{2,5})\s*\)\)"), re.compile(r"SocketAddr::from\(\(\[[^\]]*\],\s*(\d{2,5})\)\)")],
    "dotnet": [re.compile(r"UseUrls\(\s*\"https?://[^:\"]+:(\d{2,5})"), re.compile(r"\"applicationUrl\"\s*:\s*\"https?://[^:\"]+:(\d{2,5})")],
}
_ENV_PORT = re.compile(r"^\s*(?:PORT|APP_PORT|HTTP_PORT|SERVER_PORT|WEB_PORT)\s*=\s*[\"']?(\d{2,5})")
_COMMAND_PORT = re.compile(r"(?:--port[= ]|-p\s+|--bind[= ]\S*:|-b\s+\S*:|--server\.port[= ]|--urls[= ]\S*:)(\d{2,5})")


def detect_ports(
    files: RepoFiles,
    root: str,
    framework: str,
    language: str,
    dockerfile: containers.DockerfileInfo | None,
    compose_service: containers.ComposeService | None,
) -> list[common_pb2.Port]:
    """Every port the app is seen to listen on, the most authoritative first.

    Order: the image's EXPOSE, the compose service, the Procfile, the code, env examples, and
    the framework's default only when nothing else says.
    """
    prefix = root + "/" if root else ""
    found: list[common_pb2.Port] = []

    def add(number: int, protocol: str, file: str, line: int, rule: str, detail: str) -> None:
        if 0 < number < 65536 and not any(p.number == number for p in found):
            found.append(common_pb2.Port(number=number, protocol=protocol or "tcp", evidence=Evidence(file=file, line=line, rule=rule, detail=detail[:160])))

    if dockerfile is not None:
        for number, protocol, line in dockerfile.expose:
            add(number, protocol, dockerfile.path, line, "port.dockerfile-expose", f"EXPOSE {number}")
        if "PORT" in dockerfile.env and dockerfile.env["PORT"][0].isdigit():
            value, line = dockerfile.env["PORT"]
            add(int(value), "tcp", dockerfile.path, line, "port.dockerfile-env", f"ENV PORT={value}")
    if compose_service is not None:
        for number, protocol, line in compose_service.ports:
            add(number, protocol, compose_service.file, line, "port.compose", f"service {compose_service.name} publishes {number}")
    procfile = prefix + "Procfile"
    for number, line in files.lines(procfile):
        if line.startswith("web:") and (match := _COMMAND_PORT.search(line)):
            add(int(match[1]), "tcp", procfile, number, "port.procfile", line.strip())
    extensions = CODE_EXTENSIONS.get(language, ())
    patterns = CODE_PORTS.get(language, [])
    for path in sorted(files.texts):
        if not path.endswith(extensions) or "/test" in path or path.startswith("test"):
            continue
        if language == "java" and path.endswith((".yml", ".yaml", ".properties")) and "application" not in path:
            continue
        for number, line in files.lines(path):
            for pattern in patterns:
                if (match := pattern.search(line)) and match.group(1):
                    add(int(match[1]), "tcp", path, number, f"port.code.{language}", line.strip())
    for path in sorted(files.texts):
        if posixpath.basename(path).lower() in (".env.example", ".env.sample", ".env.template", ".env.dist", ".env"):
            for number, line in files.lines(path):
                if match := _ENV_PORT.match(line):
                    add(int(match[1]), "tcp", path, number, "port.env-example", line.strip())
    if not found and framework in DEFAULT_PORTS:
        add(DEFAULT_PORTS[framework], "tcp", "", 0, "port.framework-default", f"{framework} listens on {DEFAULT_PORTS[framework]} by default")
    return found


# --- start command ----------------------------------------------------------------------------------


def detect_start_command(
    files: RepoFiles,
    root: str,
    framework: str,
    language: str,
    dockerfile: containers.DockerfileInfo | None,
    ports: list[common_pb2.Port],
) -> tuple[str, Evidence] | None:
    prefix = root + "/" if root else ""
    procfile = prefix + "Procfile"
    for number, line in files.lines(procfile):
        if line.startswith("web:"):
            return line[4:].strip(), Evidence(file=procfile, line=number, rule="start.procfile", detail=line.strip())
    if dockerfile is not None and (command := dockerfile.start_command()):
        return command[0], Evidence(file=dockerfile.path, line=command[1], rule="start.dockerfile", detail="ENTRYPOINT/CMD of the final stage")
    package = prefix + "package.json"
    if language == "node" and package in files.texts:
        try:
            scripts = depparse.load_json(package, files.texts[package]).get("scripts") or {}
        except depparse.ManifestError:
            scripts = {}
        if isinstance(scripts, dict) and framework not in SPA_FRAMEWORKS:
            for name in ("start", "serve", "start:prod"):
                if name in scripts:
                    line = depparse.line_of(files.texts[package], f'"{name}"')
                    command = "npm start" if name == "start" else f"npm run {name}"
                    return command, Evidence(file=package, line=line, rule="start.package-json-script", detail=f"{name}: {scripts[name]}")
    port = ports[0].number if ports else DEFAULT_PORTS.get(framework, 8080)
    convention = _conventional_command(files, root, framework, language, port)
    if convention:
        return convention, Evidence(rule=f"start.convention.{framework or language}", detail=f"{framework or language} convention")
    return None


def _find_module(files: RepoFiles, root: str, pattern: str) -> tuple[str, str]:
    """(module path, variable) of the first Python file assigning `var = Pattern(`."""
    prefix = root + "/" if root else ""
    regex = re.compile(r"^(\w+)\s*=\s*" + pattern)
    for path in sorted(files.texts, key=lambda p: (p.count("/"), p)):
        if path.endswith(".py"):
            for _number, line in files.lines(path):
                if match := regex.match(line):
                    module = path[len(prefix):-3].replace("/", ".")
                    return module, match[1]
    return "", ""


def _conventional_command(files: RepoFiles, root: str, framework: str, language: str, port: int) -> str:
    prefix = root + "/" if root else ""
    if framework == "flask":
        module, var = _find_module(files, root, r"Flask\(")
        return f"gunicorn --bind 0.0.0.0:{port} {module or 'app'}:{var or 'app'}"
    if framework == "fastapi":
        module, var = _find_module(files, root, r"FastAPI\(")
        return f"uvicorn {module or 'main'}:{var or 'app'} --host 0.0.0.0 --port {port}"
    if framework == "django":
        wsgi = next((p for p in sorted(files.texts) if p.endswith("/wsgi.py")), "")
        project = posixpath.basename(posixpath.dirname(wsgi)) if wsgi else "project"
        return f"gunicorn --bind 0.0.0.0:{port} {project}.wsgi"
    if framework == "streamlit":
        script = next((p[len(prefix):] for p in sorted(files.texts) if p.endswith(".py") and "import streamlit" in files.texts[p]), "app.py")
        return f"streamlit run {script} --server.port {port} --server.address 0.0.0.0"
    if framework == "celery":
        module, _var = _find_module(files, root, r"Celery\(")
        return f"celery -A {module or 'tasks'} worker --loglevel=INFO"
    if framework == "nextjs":
        return "npx next start"
    if language == "go":
        return "go build -o /app . && /app"
    if framework == "spring-boot":
        return "java -jar target/*.jar" if files.exists(prefix + "pom.xml") else "java -jar build/libs/*.jar"
    if framework == "rails":
        return f"bundle exec rails server -b 0.0.0.0 -p {port}"
    if framework == "sinatra":
        return f"bundle exec rackup --host 0.0.0.0 -p {port}" if files.exists(prefix + "config.ru") else "bundle exec ruby app.rb"
    if framework == "laravel":
        return f"php artisan serve --host=0.0.0.0 --port={port}"
    if language == "rust":
        return "cargo run --release"
    if framework == "aspnet-core":
        project = next((posixpath.basename(p)[:-7] for p in files.texts if p.endswith(".csproj")), "App")
        return f"dotnet {project}.dll"
    if framework in ("express", "fastify", "koa"):
        main = next((n for n in ("server.js", "index.js", "app.js", "src/index.js", "src/server.js") if files.exists(prefix + n)), "index.js")
        return f"node {main}"
    return ""


# --- traits -------------------------------------------------------------------------------------


def _dep_evidence(app: common_pb2.Application, names: set[str], rule: str) -> list[Evidence]:
    out = []
    for dep in app.dependencies:
        if not dep.dev and dep.name in names:
            evidence = Evidence()
            evidence.CopyFrom(dep.evidence)
            evidence.rule = rule
            evidence.detail = f"depends on {dep.name}"
            out.append(evidence)
    return out


def _code_evidence(files: RepoFiles, pattern: re.Pattern[str], rule: str, extensions: tuple[str, ...], limit: int = 3) -> list[Evidence]:
    out = []
    for path in sorted(files.texts):
        if not path.endswith(extensions) or re.search(r"(^|/)(tests?|spec|__tests__)/|_test\.|\.test\.|\.spec\.", path):
            continue
        for number, line in files.lines(path):
            if pattern.search(line):
                out.append(Evidence(file=path, line=number, rule=rule, detail=line.strip()[:160]))
                if len(out) >= limit:
                    return out
                break
    return out


def _size_expression(expression: str) -> int:
    """Evaluate "16 * 1024 * 1024" or "10_000_000" without eval."""
    value = 1
    factors = [f.strip().replace("_", "") for f in expression.split("*") if f.strip()]
    if not factors or not all(f.isdigit() for f in factors):
        return 0
    for factor in factors:
        value *= int(factor)
    return value


def detect_traits(
    files: RepoFiles,
    root: str,
    app: common_pb2.Application,
    dockerfile: containers.DockerfileInfo | None,
    compose_service: containers.ComposeService | None,
    composes: list[containers.ComposeInfo],
) -> list[common_pb2.Trait]:
    prefix = root + "/" if root else ""
    code_ext = tuple(ext for lang in {app.language, "python", "node", "go", "java", "ruby", "php", "rust", "dotnet"} for ext in CODE_EXTENSIONS.get(lang, ()) if ext not in (".json", ".yml", ".yaml"))
    traits: list[common_pb2.Trait] = []

    def add(kind: int, evidence: list[Evidence], value: str = "") -> None:
        if evidence:
            traits.append(common_pb2.Trait(kind=kind, value=value, evidence=evidence[:5]))

    add(TraitKind.TRAIT_KIND_WEBSOCKETS, _dep_evidence(app, WEBSOCKET_DEPS, "trait.websockets.dependency")
        + _code_evidence(files, WEBSOCKET_CODE, "trait.websockets.code", code_ext))

    procfile = prefix + "Procfile"
    proc_worker = [Evidence(file=procfile, line=n, rule="trait.worker.procfile", detail=l.strip())
                   for n, l in files.lines(procfile) if re.match(r"^(worker|jobs|queue)\w*:", l)]
    compose_worker = [Evidence(file=c.path, line=s.line, rule="trait.worker.compose", detail=f"service {s.name}: {s.command}")
                      for c in composes for s in c.services if re.search(r"\bworker\b|sidekiq|queue:work|rq worker", s.command)]
    worker = _dep_evidence(app, WORKER_DEPS, "trait.worker.dependency") + proc_worker + compose_worker
    add(TraitKind.TRAIT_KIND_BACKGROUND_WORKER, worker)

    proc_clock = [Evidence(file=procfile, line=n, rule="trait.schedule.procfile", detail=l.strip())
                  for n, l in files.lines(procfile) if re.match(r"^(clock|beat|scheduler|cron)\w*:", l)]
    compose_beat = [Evidence(file=c.path, line=s.line, rule="trait.schedule.compose", detail=f"service {s.name}: {s.command}")
                    for c in composes for s in c.services if re.search(r"\bbeat\b|\bcron\b|schedule:work", s.command)]
    crontab = [Evidence(file=p, rule="trait.schedule.crontab", detail="crontab file") for p in files.paths if posixpath.basename(p) == "crontab"]
    add(TraitKind.TRAIT_KIND_SCHEDULED_JOBS, _dep_evidence(app, SCHEDULE_DEPS, "trait.schedule.dependency")
        + _code_evidence(files, SCHEDULE_CODE, "trait.schedule.code", code_ext) + proc_clock + compose_beat + crontab)

    gpu = _dep_evidence(app, GPU_DEPS, "trait.gpu.dependency") + _code_evidence(files, GPU_CODE, "trait.gpu.code", (".py",), 2)
    if dockerfile is not None:
        gpu += [Evidence(file=dockerfile.path, line=line, rule="trait.gpu.base-image", detail=f"FROM {image}")
                for image, line in dockerfile.bases if re.search(r"nvidia|cuda", image, re.I)]
    gpu += [Evidence(file=c.path, line=s.line, rule="trait.gpu.compose", detail=f"service {s.name} reserves a GPU")
            for c in composes for s in c.services if s.gpu and (s is compose_service or compose_service is None)]
    add(TraitKind.TRAIT_KIND_GPU, gpu)
    add(TraitKind.TRAIT_KIND_ML_INFERENCE, _dep_evidence(app, ML_DEPS, "trait.ml.dependency"))

    state = _dep_evidence(app, SQLITE_DEPS, "trait.state.sqlite") + _code_evidence(files, SQLITE, "trait.state.sqlite", code_ext, 2)
    if dockerfile is not None:
        state += [Evidence(file=dockerfile.path, line=line, rule="trait.state.dockerfile-volume", detail=f"VOLUME {v}") for v, line in dockerfile.volumes]
    if compose_service is not None:
        compose_path = compose_service.file
        for volume in compose_service.volumes:
            source = volume.split(":")[0]
            if source and not source.startswith((".", "/", "~")) and ":" in volume:  # a named volume: data that must survive
                state.append(Evidence(file=compose_path, line=compose_service.line, rule="trait.state.compose-volume", detail=f"named volume {volume}"))
    add(TraitKind.TRAIT_KIND_PERSISTENT_STATE, state)

    health, path_value = _health(files, app, dockerfile, code_ext)
    add(TraitKind.TRAIT_KIND_HEALTH_ENDPOINT, health, path_value)

    uploads = _dep_evidence(app, UPLOAD_DEPS, "trait.uploads.dependency") + _code_evidence(files, UPLOAD_CODE, "trait.uploads.code", code_ext)
    if uploads:
        limit_bytes, limit_evidence = 0, []
        for path in sorted(files.texts):
            for number, line in files.lines(path):
                if (match := UPLOAD_LIMIT.search(line)) and (value := _size_expression(match[2])):
                    limit_bytes, limit_evidence = value, [Evidence(file=path, line=number, rule="trait.uploads.limit", detail=line.strip()[:160])]
                elif match := SPRING_UPLOAD_LIMIT.search(line):
                    limit_bytes = int(match[1]) * {"KB": 1024, "MB": 1024**2, "GB": 1024**3}[match[2].upper()]
                    limit_evidence = [Evidence(file=path, line=number, rule="trait.uploads.limit", detail=line.strip()[:160])]
                if limit_evidence:
                    break
            if limit_evidence:
                break
        value = f"{limit_bytes / 1024 / 1024:g}MB" if limit_bytes else ""
        add(TraitKind.TRAIT_KIND_FILE_UPLOADS, uploads + limit_evidence, value)

    if worker or any(t.kind == TraitKind.TRAIT_KIND_SCHEDULED_JOBS for t in traits):
        longest, long_evidence = 0, []
        for path in sorted(files.texts):
            if not path.endswith(code_ext):
                continue
            for number, line in files.lines(path):
                if (match := LONG_JOB.search(line)) and int(match[2]) > 900 and re.search(r"task|job|worker|queue|celery|timeout", line, re.I):
                    if int(match[2]) > longest:
                        longest = int(match[2])
                        long_evidence = [Evidence(file=path, line=number, rule="trait.long-running.time-limit", detail=line.strip()[:160])]
        add(TraitKind.TRAIT_KIND_LONG_RUNNING_JOBS, long_evidence, f"{longest}s" if longest else "")

    if app.framework in SPA_FRAMEWORKS or app.language == "static":
        output = {"vite": "dist", "create-react-app": "build", "angular": "dist", "vue-cli": "dist", "jekyll": "_site"}.get(app.framework, ".")
        evidence = [Evidence(rule="trait.static.spa-build", detail=f"{app.framework} builds static files into {output}/")] if app.framework else [
            Evidence(file=prefix + "index.html", rule="trait.static.index-html", detail="plain static site")]
        add(TraitKind.TRAIT_KIND_STATIC_SITE, evidence, output)
    return traits


def _health(files: RepoFiles, app: common_pb2.Application, dockerfile: containers.DockerfileInfo | None, code_ext: tuple[str, ...]) -> tuple[list[Evidence], str]:
    evidence: list[Evidence] = []
    value = ""
    for path in sorted(files.texts):
        if not path.endswith(code_ext) or re.search(r"(^|/)tests?/|_test\.|\.test\.|\.spec\.", path):
            continue
        for number, line in files.lines(path):
            if (match := HEALTH_PATH.search(line)) and ROUTE_HINT.search(line):
                evidence.append(Evidence(file=path, line=number, rule="trait.health.route", detail=line.strip()[:160]))
                value = value or match[1]
                break
        if len(evidence) >= 2:
            break
    actuator = _dep_evidence(app, {"org.springframework.boot:spring-boot-starter-actuator"}, "trait.health.spring-actuator")
    if actuator:
        evidence += actuator
        value = value or "/actuator/health"
    if dockerfile is not None and dockerfile.healthcheck:
        command, line = dockerfile.healthcheck
        evidence.append(Evidence(file=dockerfile.path, line=line, rule="trait.health.dockerfile", detail=f"HEALTHCHECK {command}"[:160]))
        match = re.search(r"https?://[^/\s]+(/[\w/-]*)", command)
        value = value or (match[1] if match else "")
    return evidence, value


# --- backing services -------------------------------------------------------------------------------


def detect_backing_services(
    files: RepoFiles, composes: list[containers.ComposeInfo], apps: Iterable[common_pb2.Application]
) -> list[common_pb2.BackingService]:
    services: list[common_pb2.BackingService] = []
    kinds: set[str] = set()
    for compose in composes:
        for service in compose.services:
            if service.build_context is not None or not service.image:
                continue
            kind = containers.backing_kind(service.image)
            if not kind or any(s.name == service.name for s in services):
                continue
            version = service.image.rsplit(":", 1)[-1] if ":" in service.image.rsplit("/", 1)[-1] else ""
            services.append(common_pb2.BackingService(kind=kind, name=service.name, version=version, evidence=Evidence(
                file=compose.path, line=service.line, rule="backing.compose-image", detail=f"{service.name}: image {service.image}")))
            kinds.add(kind)
    for app in apps:
        for dep in app.dependencies:
            kind = DEP_BACKING.get(dep.name)
            if kind and not dep.dev and kind not in kinds:
                evidence = Evidence()
                evidence.CopyFrom(dep.evidence)
                evidence.rule = "backing.dependency"
                evidence.detail = f"{dep.name} is a {kind} client"
                services.append(common_pb2.BackingService(kind=kind, evidence=evidence))
                kinds.add(kind)
    for path in sorted(files.texts):
        if posixpath.basename(path).lower().startswith(".env"):
            for number, line in files.lines(path):
                if (match := _DB_URL.match(line)) and (kind := _URL_KIND[match[1].lower()]) not in kinds:
                    services.append(common_pb2.BackingService(kind=kind, evidence=Evidence(
                        file=path, line=number, rule="backing.env-url", detail=line.split("=", 1)[0].strip() + f"={match[1]}://...")))
                    kinds.add(kind)
    return services
