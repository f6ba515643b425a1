"""Configuration from the environment: defaults, prefixes and errors that name the variable."""

from __future__ import annotations

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from scia.runtime.config import ConfigError, ServiceSettings, load_settings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_DEMO_")

    database_dsn: str
    workers: int = Field(4, ge=1, le=32)


def test_values_come_from_prefixed_variables(monkeypatch):
    monkeypatch.setenv("SCIA_DEMO_DATABASE_DSN", "postgresql://db/scia")
    monkeypatch.setenv("SCIA_DEMO_GRPC_PORT", "6000")
    monkeypatch.setenv("SCIA_OTHER_WORKERS", "9")  # another service's prefix is ignored
    settings = load_settings(DemoSettings)
    assert (settings.database_dsn, settings.grpc_port, settings.workers) == ("postgresql://db/scia", 6000, 4)
    assert settings.shutdown_grace_seconds == 10.0 and settings.log_level == "INFO"


def test_every_bad_variable_is_named_with_its_problem(monkeypatch):
    monkeypatch.setenv("SCIA_DEMO_WORKERS", "64")
    monkeypatch.setenv("SCIA_DEMO_GRPC_PORT", "70000")
    monkeypatch.setenv("SCIA_DEMO_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as error:
        load_settings(DemoSettings)
    message = str(error.value)
    assert "SCIA_DEMO_DATABASE_DSN: is required but not set" in message
    assert "SCIA_DEMO_WORKERS: Input should be less than or equal to 32 (got '64')" in message
    assert "SCIA_DEMO_GRPC_PORT: Input should be less than or equal to 65535 (got '70000')" in message
    assert "SCIA_DEMO_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got 'LOUD')" in message


def test_settings_are_immutable_once_loaded(monkeypatch):
    monkeypatch.setenv("SCIA_DEMO_DATABASE_DSN", "x")
    settings = load_settings(DemoSettings)
    with pytest.raises(Exception, match="frozen"):
        settings.workers = 8


def test_an_empty_variable_means_the_default(monkeypatch):
    monkeypatch.setenv("SCIA_DEMO_DATABASE_DSN", "x")
    monkeypatch.setenv("SCIA_DEMO_WORKERS", "")
    assert load_settings(DemoSettings).workers == 4
