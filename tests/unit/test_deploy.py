"""The team deployment recipe (deploy/compose.yaml): a schema check where `docker compose config` is unavailable,
plus the wiring each service needs (settings names, hosts, ports, volumes, the proxy's upstream)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from policyqa.settings import Settings
from policyqa.store.backends import unpaired_reason

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MIN_REPLICAS = 2

_STRINGS = {"type": "array", "items": {"type": "string"}}
_DURATION = {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"}
# The subset of the Compose specification this recipe uses; unknown keys are errors, so typos fail.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/service"}},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
    "$defs": {
        "service": {
            "type": "object",
            "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
            "properties": {
                "image": {"type": "string", "pattern": r"^[\w./-]+(:[\w.-]+)?$"},
                "build": {
                    "type": "object", "required": ["context"], "additionalProperties": False,
                    "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
                },
                "command": {"oneOf": [{"type": "string"}, _STRINGS]},
                "environment": {
                    "type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                },
                "ports": {"type": "array", "items": {"type": "string", "pattern": r"^[^:]+:\d+$"}},
                "expose": {"type": "array", "items": {"type": "string", "pattern": r"^\d+$"}},
                "volumes": {"type": "array", "items": {"type": "string", "pattern": r"^[^:]+:/[^:]*(:ro|:rw)?$"}},
                "depends_on": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object", "required": ["condition"], "additionalProperties": False,
                        "properties": {"condition": {"enum": ["service_started", "service_healthy",
                                                              "service_completed_successfully"]}},
                    },
                },
                "healthcheck": {
                    "type": "object", "required": ["test"], "additionalProperties": False,
                    "properties": {"test": _STRINGS, "interval": _DURATION, "timeout": _DURATION,
                                   "retries": {"type": "integer", "minimum": 1}, "start_period": _DURATION},
                },
                "deploy": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"replicas": {"type": ["integer", "string"]}},
                },
                "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                "profiles": _STRINGS,
            },
            "additionalProperties": False,
        }
    },
}

ENV = {"POSTGRES_PASSWORD": "s3cret"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return _VARIABLE.sub(sub, value)


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file with its variables resolved from ``env`` (default: just the required password)."""
    raw = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return interpolate(raw, ENV if env is None else env)


def problems(compose: dict[str, Any]) -> list[str]:
    """Everything wrong with ``compose``: schema errors, then wiring errors."""
    found = [f"{'/'.join(map(str, e.path))}: {e.message}"
             for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(compose)]
    if found:
        return found
    services = compose["services"]
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dep, rule in (service.get("depends_on") or {}).items():
            if dep not in services:
                found.append(f"{name} depends on unknown service {dep}")
            elif rule["condition"] == "service_healthy" and "healthcheck" not in services[dep]:
                found.append(f"{name} waits for {dep} to be healthy but {dep} has no healthcheck")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in declared:
                found.append(f"{name} mounts undeclared volume {source}")
            elif source.startswith(".") and not (DEPLOY / source).exists():
                found.append(f"{name} mounts {source}, which is not in the repository")
        for key in service.get("environment") or {}:
            if key.startswith("POLICYQA_") and key[len("POLICYQA_"):].lower() not in Settings.model_fields:
                found.append(f"{name} sets {key}, which is no setting")
        build = service.get("build")
        if build and not (DEPLOY / build["context"] / build.get("dockerfile", "Dockerfile")).exists():
            found.append(f"{name} builds from a Dockerfile that does not exist")
    return found


def test_the_compose_file_passes_the_schema_and_wiring_checks() -> None:
    assert problems(load_compose()) == [], "deploy/compose.yaml is invalid"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["services"]["app"].update(enviroment={}), "Additional properties"),
        (lambda c: c["services"]["proxy"]["depends_on"].update(cache={"condition": "service_started"}), "unknown service"),
        (lambda c: c["services"]["chroma"].update(volumes=["chroma-store:/data"]), "undeclared volume"),
        (lambda c: c["services"]["app"]["environment"].update(POLICYQA_CHROMA_ADDR="x"), "no setting"),
        (lambda c: c["services"]["postgres"].pop("healthcheck"), "no healthcheck"),
        (lambda c: c["services"]["chroma"].pop("image"), "is not valid under any"),
    ],
)
def test_the_checks_catch_broken_recipes(change: Any, expected: str) -> None:
    broken = copy.deepcopy(load_compose())
    change(broken)
    found = problems(broken)
    assert any(expected in p for p in found), f"{expected!r} not reported: {found}"


def test_every_app_replica_is_configured_for_the_shared_pair() -> None:
    compose = load_compose()
    services = compose["services"]
    replicas = int(services["app"]["deploy"]["replicas"])
    assert replicas >= MIN_REPLICAS, f"the recipe runs {replicas} app replica(s)"
    for name in ("app", "ingest"):
        env = services[name]["environment"]
        settings = Settings(**{k[len("POLICYQA_"):].lower(): v for k, v in env.items() if k.startswith("POLICYQA_")})
        assert unpaired_reason(settings) is None, f"{name}: {unpaired_reason(settings)}"
        chroma, db = urlsplit(settings.chroma_url or ""), urlsplit(settings.database_url or "")
        assert chroma.hostname == "chroma" and chroma.port == 8000, f"{name} points at {settings.chroma_url}"
        pg = services["postgres"]["environment"]
        assert (db.hostname, db.username, db.password, db.path.lstrip("/")) == (
            "postgres", pg["POSTGRES_USER"], ENV["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
        ), f"{name}'s database URL does not match the postgres service"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        load_compose({})


def test_the_proxy_sends_one_port_to_the_app_replicas_with_websockets_and_sticky_sessions() -> None:
    compose = load_compose()
    services = compose["services"]
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream (\w+) \{([^}]*)\}", conf)
    assert upstream, "no upstream block"
    port = services["app"]["expose"][0]
    assert f"server app:{port};" in upstream.group(2), "the upstream is not the app service's port"
    assert "ip_hash;" in upstream.group(2), "sessions are not sticky (Streamlit uploads go to the session's replica)"
    assert f"proxy_pass http://{upstream.group(1)};" in conf and "Upgrade $http_upgrade" in conf, "no websocket proxy"
    assert services["proxy"]["ports"] == ["8501:80"] and "listen 80;" in conf, "the one public port is not the proxy's"
    assert "ports" not in services["app"], "app replicas publish their own ports (only the proxy should)"
    assert "8501" in " ".join(services["app"]["command"]) and (ROOT / "streamlit_app.py").exists()
