"""The production topology on paper: docker-compose.yml and the Dockerfile agree with the project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dotenv import dotenv_values

from core.runtime.settings import Settings
from tests.unit.test_settings import _env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
APP_SERVICES = {"migrate": "migrate", "api": "api", "worker": "worker"}
# What the app cannot run without in production (defaults are for the dev stack only).
REQUIRED_SETTINGS = {
    "REKINDLE_DATABASE__URL",
    "REKINDLE_TEMPORAL__ADDRESS",
    "REKINDLE_TEMPORAL__NAMESPACE",
    "REKINDLE_SECURITY__CODEC_KEYS",
    "REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID",
    "REKINDLE_SECURITY__CODEC_TOKENS",
    "REKINDLE_SECURITY__UNSUBSCRIBE_SECRET",
    "REKINDLE_SECURITY__SESSION_SECRET",
    "REKINDLE_SECURITY__SUPPRESSION_HASH_SECRET",
    "REKINDLE_API__PUBLIC_BASE_URL",
    "REKINDLE_API__CORS_ORIGINS",
    "REKINDLE_SMTP__HOST",
    "REKINDLE_SMTP__FROM_ADDRESS",
    "REKINDLE_SMTP__POSTAL_ADDRESS",
}
SECRET_NAME = re.compile(r"(PASSWORD|PWD|SECRET|TOKEN|_KEY$|_KEYS$|API_KEY)", re.IGNORECASE)


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _env_files(service: dict[str, Any]) -> list[Path]:
    files = service.get("env_file", [])
    return [
        ROOT / (f if isinstance(f, str) else f["path"])
        for f in ([files] if isinstance(files, str) else files)
    ]


def _example(path: Path) -> dict[str, str | None]:
    example = path.with_name(path.name + ".example")
    assert example.exists(), f"{example.relative_to(ROOT)} documents {path.relative_to(ROOT)}"
    return dotenv_values(example)


def test_deploy_compose_services_are_healthchecked_or_one_shot() -> None:
    for name, service in SERVICES.items():
        assert "healthcheck" in service or _one_shot(service), f"{name}: no healthcheck and not one-shot"
        if _one_shot(service):
            assert "healthcheck" not in service
        else:
            assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name


def test_deploy_compose_depends_on_conditions_are_sane() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            if _one_shot(SERVICES[target]):
                assert condition == "service_completed_successfully", f"{name} -> {target}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}"
                assert "healthcheck" in SERVICES[target]


def test_deploy_compose_images_are_pinned() -> None:
    version = PYPROJECT["project"]["version"]
    for name, service in SERVICES.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert re.match(r"^\d+(\.\d+)+(-[a-z0-9]+)?$", tag), f"{name}: {image} is not an exact version"
        assert "auto-setup" not in repository, f"{name}: the auto-setup image is deprecated"
        if name in APP_SERVICES:
            assert service["build"]["context"] == "."
            assert image == f"rekindle:{version}"


def test_deploy_compose_one_image_runs_every_role() -> None:
    assert {name: SERVICES[name]["command"] for name in APP_SERVICES} == {
        name: [cmd] for name, cmd in APP_SERVICES.items()
    }
    assert len({SERVICES[name]["image"] for name in APP_SERVICES}) == 1


def test_deploy_compose_holds_no_secrets() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            flag = str(value).lower() in {"true", "false"}
            assert flag or not SECRET_NAME.search(key), f"{name}: {key} belongs in an env file"
            assert "change-me" not in str(value)
        for path in _env_files(service):
            assert path.parent == ROOT / "deploy"
            assert path.suffix == ".env"
    assert "deploy/*.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_deploy_compose_provides_every_setting_the_app_needs() -> None:
    known = _env_names(Settings, "REKINDLE_")
    for name in APP_SERVICES:
        service = SERVICES[name]
        provided: dict[str, str | None] = {}
        for path in _env_files(service):
            provided |= _example(path)
        provided |= {k: str(v) for k, v in (service.get("environment") or {}).items()}
        assert set(provided) >= REQUIRED_SETTINGS, f"{name}: missing {REQUIRED_SETTINGS - set(provided)}"
        unknown = {k for k in provided if k.startswith("REKINDLE_")} - known
        assert unknown == set(), f"{name}: unknown settings {unknown}"
    assert SERVICES["api"]["environment"]["REKINDLE_API__HOST"] == "0.0.0.0"
    assert SERVICES["worker"]["environment"]["REKINDLE_WORKER__METRICS_HOST"] == "0.0.0.0"


def test_deploy_compose_example_env_parses_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _example(ROOT / "deploy" / "rekindle.env").items():
        monkeypatch.setenv(key, value or "")
    settings = Settings(_env_file=None)
    assert settings.temporal.address == "temporal:7233"
    assert settings.database.url.startswith("postgresql+psycopg://")


def test_deploy_compose_web_ui_decodes_through_the_api() -> None:
    ui = SERVICES["temporal-ui"]["environment"]
    endpoint = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.path == "/codec"
    assert endpoint.port == int(SERVICES["api"]["ports"][0].split(":")[0])
    ui_origin = "http://localhost:" + SERVICES["temporal-ui"]["ports"][0].split(":")[0]
    cors = _example(ROOT / "deploy" / "rekindle.env")["REKINDLE_API__CORS_ORIGINS"] or ""
    assert ui_origin in cors
    # Credentials the UI actually has: the dashboard's session cookie, sent because the UI and the
    # API share a site (and scheme); there is no OIDC provider, so no access token to pass.
    assert (ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"], ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"]) == (
        "true",
        "false",
    )
    assert (endpoint.scheme, endpoint.hostname) == (urlsplit(ui_origin).scheme, urlsplit(ui_origin).hostname)
    assert "TEMPORAL_AUTH_ENABLED" not in ui
    for script in ("setup-schema.sh", "setup-namespace.sh"):
        assert (ROOT / "deploy" / "temporal" / script).exists()


def test_deploy_dockerfile_matches_the_lock_file() -> None:
    base = re.search(r"^FROM\s+python:(\d+)\.(\d+)\.(\d+)-slim\S*\s*$", DOCKERFILE, re.MULTILINE)
    assert base, "the base image must be python:X.Y.Z-slim..., an exact version"
    minimum = re.match(r">=\s*(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum
    assert (int(base[1]), int(base[2])) >= (int(minimum[1]), int(minimum[2]))
    assert f"{base[1]}.{base[2]}" == PYPROJECT["tool"]["mypy"]["python_version"]
    makefile_uv = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    docker_uv = re.search(r"^ARG UV_VERSION=(\S+)", DOCKERFILE, re.MULTILINE)
    assert makefile_uv
    assert docker_uv
    assert docker_uv[1] == makefile_uv[1]
    assert 'pip install --no-cache-dir "uv==${UV_VERSION}"' in DOCKERFILE
    syncs = re.findall(r"^RUN uv sync ([^\n]+)", DOCKERFILE, re.MULTILINE)
    assert syncs
    assert all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert re.search(r"^COPY pyproject.toml uv.lock", DOCKERFILE, re.MULTILINE)


def test_deploy_dockerfile_copies_every_package() -> None:
    packages = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = set(re.findall(r"^COPY (\S+) \./\1$", DOCKERFILE, re.MULTILINE))
    assert set(packages) | {"migrations"} <= copied
    assert "COPY alembic.ini ./" in DOCKERFILE
    compiled = re.search(r"^RUN python -m compileall -q (.+)$", DOCKERFILE, re.MULTILINE)
    assert compiled, "our packages need bytecode in the image (the workflow sandbox re-imports them)"
    assert set(packages) <= set(compiled[1].split())
    makefile = re.search(r"^PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert makefile
    assert set(packages) <= set(makefile[1].split())  # `make install` compiles them too
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", "data", ".git"} <= set(ignored)


def test_deploy_image_carries_the_build_id_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker compose build` passes REKINDLE_BUILD_ID into the image as the worker's build id;
    an image built without it carries an empty value, which means "unset", not a bad id."""
    assert re.search(r'^ARG BUILD_ID=""$', DOCKERFILE, re.MULTILINE)
    assert re.search(r"^ENV REKINDLE_WORKER__BUILD_ID=\$\{BUILD_ID\}$", DOCKERFILE, re.MULTILINE)
    build_ids = {SERVICES[name]["build"]["args"]["BUILD_ID"] for name in APP_SERVICES}
    assert build_ids == {"${REKINDLE_BUILD_ID:-}"}
    monkeypatch.setenv("REKINDLE_WORKER__BUILD_ID", "")
    assert Settings(_env_file=None).worker.build_id is None
    monkeypatch.setenv("REKINDLE_WORKER__BUILD_ID", "3f2c1ab")
    assert Settings(_env_file=None).worker.build_id == "3f2c1ab"
