"""One small real repository per supported stack (git init + commit), cloned and analysed."""

from __future__ import annotations

import pytest

from scia.planner.analysis import CloneLimits, ReadLimits, analyze_repository
from scia.v1 import common_pb2

T = common_pb2.TraitKind

STACKS: dict[str, dict] = {
    "flask": {
        "files": {
            "requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\n",
            "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/health')\ndef health():\n    return 'ok'\n",
        },
        "expect": ("python", "flask", 5000, "gunicorn --bind 0.0.0.0:5000 app:app"),
        "traits": {T.TRAIT_KIND_HEALTH_ENDPOINT},
    },
    "django": {
        "files": {
            "requirements/base.txt": "Django>=5.0,<6\npsycopg[binary]==3.2.1\n",
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n",
            "shop/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
            "shop/models.py": "from django.db import models\nclass Doc(models.Model):\n    f = models.FileField()\n",
        },
        "expect": ("python", "django", 8000, "gunicorn --bind 0.0.0.0:8000 shop.wsgi"),
        "traits": {T.TRAIT_KIND_FILE_UPLOADS},
    },
    "fastapi-poetry": {
        "files": {
            "pyproject.toml": '[tool.poetry]\nname = "api"\n\n[tool.poetry.dependencies]\npython = "^3.12"\nfastapi = "^0.110"\nuvicorn = {version = "^0.29", extras = ["standard"]}\n\n[tool.poetry.group.dev.dependencies]\npytest = "^8"\n',
            "api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.websocket('/ws')\nasync def ws(socket):\n    pass\n",
        },
        "expect": ("python", "fastapi", 8000, "uvicorn api.main:app --host 0.0.0.0 --port 8000"),
        "traits": {T.TRAIT_KIND_WEBSOCKETS},
    },
    "streamlit-pep621": {
        "files": {
            "pyproject.toml": '[project]\nname = "dash"\nrequires-python = ">=3.11"\ndependencies = ["streamlit>=1.35", "pandas"]\n',
            "dashboard.py": "import streamlit as st\nst.title('hi')\n",
        },
        "expect": ("python", "streamlit", 8501, "streamlit run dashboard.py --server.port 8501 --server.address 0.0.0.0"),
        "traits": set(),
    },
    "celery-worker": {
        "files": {
            "Pipfile": '[packages]\ncelery = "==5.4.0"\nredis = "*"\n\n[dev-packages]\npytest = "*"\n',
            "tasks.py": "from celery import Celery\napp = Celery('tasks', broker='redis://localhost')\n\n@app.task(time_limit=3600)\ndef crunch():\n    pass\n",
        },
        "expect": ("python", "celery", 0, "celery -A tasks worker --loglevel=INFO"),
        "traits": {T.TRAIT_KIND_BACKGROUND_WORKER, T.TRAIT_KIND_LONG_RUNNING_JOBS},
    },
    "express": {
        "files": {
            "package.json": '{\n  "name": "api",\n  "scripts": {"start": "node server.js"},\n  "dependencies": {\n    "express": "^4.19.2",\n    "multer": "^1.4.5"\n  }\n}\n',
            "server.js": "const express = require('express');\nconst app = express();\napp.get('/healthz', (req, res) => res.send('ok'));\napp.listen(process.env.PORT || 4000);\n",
        },
        "expect": ("node", "express", 4000, "npm start"),
        "traits": {T.TRAIT_KIND_HEALTH_ENDPOINT, T.TRAIT_KIND_FILE_UPLOADS},
    },
    "nextjs": {
        "files": {
            "package.json": '{"name": "web", "scripts": {"build": "next build", "start": "next start"}, "dependencies": {"next": "14.2.3", "react": "18.3.1"}}\n',
            "next.config.js": "module.exports = {}\n",
            "pages/index.js": "export default function Home() { return null }\n",
        },
        "expect": ("node", "nextjs", 3000, "npm start"),
        "traits": set(),
    },
    "nestjs": {
        "files": {
            "package.json": '{"name": "svc", "dependencies": {"@nestjs/core": "^10.0.0", "@nestjs/platform-express": "^10.0.0", "@nestjs/websockets": "^10.0.0"}}\n',
            "src/main.ts": "import { NestFactory } from '@nestjs/core';\nasync function bootstrap() { const app = await NestFactory.create(AppModule); await app.listen(3000); }\n",
        },
        "expect": ("node", "nestjs", 3000, ""),
        "traits": {T.TRAIT_KIND_WEBSOCKETS},
    },
    "vite-spa": {
        "files": {
            "package.json": '{"name": "spa", "scripts": {"build": "vite build"}, "devDependencies": {"vite": "^5.2.0"}, "dependencies": {"react": "^18"}}\n',
            "vite.config.js": "export default {}\n",
            "index.html": "<div id=root></div>\n",
        },
        "expect": ("node", "vite", 0, ""),
        "traits": {T.TRAIT_KIND_STATIC_SITE},
    },
    "go-net-http": {
        "files": {
            "go.mod": "module example.com/hello\n\ngo 1.22\n",
            "main.go": 'package main\n\nimport "net/http"\n\nfunc main() {\n\thttp.HandleFunc("/healthz", nil)\n\thttp.ListenAndServe(":9000", nil)\n}\n',
        },
        "expect": ("go", "net-http", 9000, "go build -o /app . && /app"),
        "traits": {T.TRAIT_KIND_HEALTH_ENDPOINT},
    },
    "go-gin": {
        "files": {
            "go.mod": "module example.com/api\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.10.0\n\tgithub.com/lib/pq v1.10.9\n)\n",
            "main.go": 'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.Default()\n\tr.Run(":8081")\n}\n',
        },
        "expect": ("go", "gin", 8081, "go build -o /app . && /app"),
        "traits": set(),
    },
    "go-echo": {
        "files": {
            "go.mod": "module example.com/e\n\ngo 1.21\n\nrequire github.com/labstack/echo/v4 v4.12.0\n",
            "main.go": 'package main\n\nimport "github.com/labstack/echo/v4"\n\nfunc main() {\n\te := echo.New()\n\te.Start(":1323")\n}\n',
        },
        "expect": ("go", "echo", 1323, "go build -o /app . && /app"),
        "traits": set(),
    },
    "go-fiber": {
        "files": {
            "go.mod": "module example.com/f\n\ngo 1.22\n\nrequire github.com/gofiber/fiber/v2 v2.52.4\n",
            "main.go": 'package main\n\nimport "github.com/gofiber/fiber/v2"\n\nfunc main() {\n\tapp := fiber.New()\n\tapp.Listen(":3000")\n}\n',
        },
        "expect": ("go", "fiber", 3000, "go build -o /app . && /app"),
        "traits": set(),
    },
    "spring-maven": {
        "files": {
            "pom.xml": """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.0</version>
  </parent>
  <artifactId>orders</artifactId>
  <properties><java.version>21</java.version></properties>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-actuator</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-test</artifactId>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
""",
            "src/main/java/com/x/App.java": "@SpringBootApplication\npublic class App { public static void main(String[] a) { SpringApplication.run(App.class, a); } }\n",
            "src/main/resources/application.properties": "server.port=8085\n",
        },
        "expect": ("java", "spring-boot", 8085, "java -jar target/*.jar"),
        "traits": {T.TRAIT_KIND_HEALTH_ENDPOINT},
    },
    "spring-gradle-kts": {
        "files": {
            "build.gradle.kts": 'plugins {\n    id("org.springframework.boot") version "3.3.0"\n}\njava { toolchain { languageVersion.set(JavaLanguageVersion.of(17)) } }\ndependencies {\n    implementation("org.springframework.boot:spring-boot-starter-web")\n    testImplementation("org.springframework.boot:spring-boot-starter-test")\n}\n',
            "src/main/kotlin/App.kt": "@SpringBootApplication\nclass App\n",
        },
        "expect": ("java", "spring-boot", 8080, "java -jar build/libs/*.jar"),
        "traits": set(),
    },
    "rails": {
        "files": {
            "Gemfile": "source 'https://rubygems.org'\nruby '3.3.0'\ngem 'rails', '~> 7.1'\ngem 'pg'\ngem 'sidekiq'\ngroup :development, :test do\n  gem 'rspec-rails'\nend\n",
            "config/application.rb": "module Shop\n  class Application < Rails::Application\n  end\nend\n",
            "config/routes.rb": 'Rails.application.routes.draw do\n  get "up" => "rails/health#show"\nend\n',
        },
        "expect": ("ruby", "rails", 3000, "bundle exec rails server -b 0.0.0.0 -p 3000"),
        "traits": {T.TRAIT_KIND_BACKGROUND_WORKER},
    },
    "sinatra": {
        "files": {
            "Gemfile": "source 'https://rubygems.org'\ngem 'sinatra'\ngem 'puma'\n",
            "app.rb": "require 'sinatra'\nset :port, 4567\nget '/' do\n  'hi'\nend\n",
        },
        "expect": ("ruby", "sinatra", 4567, "bundle exec ruby app.rb"),
        "traits": set(),
    },
    "laravel": {
        "files": {
            "composer.json": '{"name": "acme/shop", "require": {"php": "^8.2", "laravel/framework": "^11.0"}, "require-dev": {"phpunit/phpunit": "^11"}}\n',
            "artisan": "#!/usr/bin/env php\n<?php\n",
            "app/Console/Kernel.php": "<?php\nuse Illuminate\\Foundation\\Console\\Kernel;\n$schedule->command('report')->daily();\n",
        },
        "expect": ("php", "laravel", 8000, "php artisan serve --host=0.0.0.0 --port=8000"),
        "traits": {T.TRAIT_KIND_SCHEDULED_JOBS},
    },
    "rust-axum": {
        "files": {
            "Cargo.toml": '[package]\nname = "svc"\nversion = "0.1.0"\n\n[dependencies]\naxum = { version = "0.7", features = ["ws"] }\ntokio = { version = "1", features = ["full"] }\n',
            "src/main.rs": 'use axum::Router;\n#[tokio::main]\nasync fn main() {\n    let app = Router::new();\n    let listener = tokio::net::TcpListener::bind("0.0.0.0:3001").await.unwrap();\n}\n',
        },
        "expect": ("rust", "axum", 3001, "cargo run --release"),
        "traits": set(),
    },
    "rust-actix": {
        "files": {
            "Cargo.toml": '[package]\nname = "act"\nversion = "0.1.0"\n\n[dependencies]\nactix-web = "4"\n',
            "src/main.rs": '#[actix_web::main]\nasync fn main() {\n    HttpServer::new(|| App::new()).bind(("0.0.0.0", 8088)).unwrap();\n}\n',
        },
        "expect": ("rust", "actix", 8088, "cargo run --release"),
        "traits": set(),
    },
    "aspnet-core": {
        "files": {
            "Api.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web">\n  <PropertyGroup>\n    <TargetFramework>net8.0</TargetFramework>\n  </PropertyGroup>\n  <ItemGroup>\n    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="8.0.4" />\n  </ItemGroup>\n</Project>\n',
            "Program.cs": 'var builder = WebApplication.CreateBuilder(args);\nvar app = builder.Build();\napp.MapGet("/healthz", () => "ok");\napp.Run();\n',
        },
        "expect": ("dotnet", "aspnet-core", 8080, "dotnet Api.dll"),
        "traits": {T.TRAIT_KIND_HEALTH_ENDPOINT},
    },
    "static-site": {
        "files": {"index.html": "<html><body>hello</body></html>\n", "style.css": "body{}\n"},
        "expect": ("static", "", 0, ""),
        "traits": {T.TRAIT_KIND_STATIC_SITE},
    },
}


async def analyze(path, **limits) -> common_pb2.RepositoryAnalysis:
    return await analyze_repository(common_pb2.RepositoryRef(url=str(path)), allow_local=True,
                                    clone_limits=CloneLimits(timeout_seconds=30), read_limits=ReadLimits(**limits))


@pytest.mark.parametrize("stack", sorted(STACKS))
async def test_each_stack_is_detected_with_evidence(stack, make_repo):
    case = STACKS[stack]
    analysis = await analyze(make_repo(case["files"]))
    assert analysis.applications, analysis.warnings
    app = analysis.applications[0]
    language, framework, port, command = case["expect"]
    assert (app.language, app.framework) == (language, framework), app.framework_evidence
    if port:
        assert app.ports and app.ports[0].number == port, app.ports
        assert app.ports[0].evidence.rule
    if command:
        assert app.start_command == command
        assert app.start_command_evidence.rule.startswith("start.")
    assert case["traits"] <= {t.kind for t in app.traits}, app.traits
    assert len(analysis.repository.commit_sha) == 40
    # Every fact carries its evidence.
    assert all(e.rule for e in app.framework_evidence)
    assert all(d.evidence.file and d.evidence.line for d in app.dependencies if d.evidence.rule != "docker.run-install")
    assert all(t.evidence and all(e.rule for e in t.evidence) for t in app.traits)


async def test_runtime_versions_and_dev_dependencies(make_repo):
    analysis = await analyze(make_repo(STACKS["spring-maven"]["files"]))
    app = analysis.applications[0]
    assert app.runtime_version == "21"
    test_dep = next(d for d in app.dependencies if d.name.endswith("spring-boot-starter-test"))
    assert test_dep.dev and test_dep.ecosystem == "maven"
    rails = (await analyze(make_repo(STACKS["rails"]["files"]))).applications[0]
    assert rails.runtime_version == "3.3.0"
    assert next(d for d in rails.dependencies if d.name == "rspec-rails").dev
    assert {b.kind for b in (await analyze(make_repo(STACKS["aspnet-core"]["files"]))).backing_services} == {"postgres"}
