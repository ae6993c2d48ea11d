"""The docker images and compose files, checked by reading them as docker would (docker
cannot run here): what they copy, run, expose and publish, the env examples as
``--env-file`` reads them, and what ``.dockerignore`` keeps out of the build context."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from web3 import Web3

from scatter.hoster.config import HosterConfig
from scatter.validator.config import ValidatorConfig
from tests.integration.toolchain.docker_files import (
    DOCKER,
    REPO,
    ROLES,
    commented_settings,
    dockerfile,
    dockerignored,
    env_file,
    exec_form,
    image_env,
    stage,
)

SETTINGS: dict[str, type[HosterConfig] | type[ValidatorConfig]] = {
    "hoster": HosterConfig,
    "validator": ValidatorConfig,
}
PORTS = {"hoster": "8080", "validator": "8090"}
#: What an operator fills in: empty in the examples (then the daemon says what to set).
FILL_IN = {"SCATTER_PRIVATE_KEY", "SCATTER_MARKET"}


def compose(role: str) -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / role / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def example(role: str) -> Path:
    return DOCKER / role / f"{role}.env.example"


def check_common(name: str, value: str) -> None:
    """The variables every daemon reads besides its own settings (scatter.chain.wallet, deployments)."""
    if name == "SCATTER_RPC_URL":
        assert value.startswith(("http://", "https://")), value
    elif name == "SCATTER_PRIVATE_KEY":
        assert value == "" or re.fullmatch(r"0x[0-9a-fA-F]{64}", value), value
    elif name in ("SCATTER_MARKET", "SCATTER_FILE_REGISTRY"):
        assert value == "" or Web3.is_address(value), value
    elif name in ("SCATTER_KEYSTORE", "SCATTER_DEPLOYMENTS"):
        assert value.startswith(("/config/", "https://")), f"{name}={value}: mount it under /config"
    elif name == "SCATTER_KEYSTORE_PASSWORD":
        assert value
    else:
        raise AssertionError(f"unknown variable {name}")


@pytest.mark.parametrize("role", ROLES)
def test_env_example_values_are_valid_settings_as_docker_reads_them(role: str) -> None:
    env = env_file(example(role))
    settings = SETTINGS[role]
    prefix = settings.env_prefix
    for name, value in env.items():
        assert not re.search(r"\s#", value), f"{name}: a comment after the value is part of it"
        assert value == value.strip() and not value.startswith(('"', "'")), f"{name}: quotes or spaces"
        assert value or name in FILL_IN, f"{name} is empty"
        if not name.startswith(prefix):
            check_common(name, value)
    ours = {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}
    assert set(ours) <= settings.setting_names(), set(ours) - settings.setting_names()
    # every value parses with its unit, together with the image's own ENV
    full = {**image_env(stage(dockerfile(role), -1)), **env}
    config = settings.load(environ=full)
    assert config.public_endpoint == env[prefix + "ENDPOINT"]
    assert config.stake >= 5 * 10**16  # the testnet preset's minimum stake (0.05 ETH)


@pytest.mark.parametrize("role", ROLES)
def test_commented_settings_are_valid_when_uncommented(role: str) -> None:
    settings = SETTINGS[role]
    for name, value in commented_settings(example(role)).items():
        if name.startswith(settings.env_prefix):
            key = name[len(settings.env_prefix) :].lower()
            assert key in settings.setting_names(), name
            if "..." not in value:
                settings.load(environ={name: value})
        elif "..." not in value:
            check_common(name, value)


def test_an_inline_comment_would_be_caught(tmp_path: Path) -> None:
    bad = tmp_path / "v.env"
    bad.write_text("SCATTER_VALIDATOR_STAKE=0.05  # ETH\n")
    assert env_file(bad) == {"SCATTER_VALIDATOR_STAKE": "0.05  # ETH"}
    with pytest.raises(Exception, match="invalid amount"):
        ValidatorConfig.load(environ=env_file(bad))


@pytest.mark.parametrize("role", ROLES)
def test_image_runs_the_daemon_as_a_non_root_user_with_its_state_in_a_volume(role: str) -> None:
    final = stage(dockerfile(role), -1)
    assert exec_form(final, "ENTRYPOINT") == ["scatter", role, "run"]
    users = [i.args for i in final if i.name == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = image_env(final)
    prefix = SETTINGS[role].env_prefix
    assert env[prefix + "STATE_DIR"] == "/data"
    assert any(i.name == "VOLUME" and "/data" in i.args for i in final)
    assert [i.args for i in final if i.name == "EXPOSE"] == [PORTS[role]]
    assert env[prefix + "PORT"] == PORTS[role]
    health = " ".join(i.args for i in final if i.name == "HEALTHCHECK")
    assert f"127.0.0.1:{PORTS[role]}/healthz" in health
    # no key, password or deployment baked in
    assert not {k for k in env if "KEY" in k or "PASSWORD" in k or k == "SCATTER_MARKET"}


@pytest.mark.parametrize("role", ROLES)
def test_image_copies_only_what_dockerignore_lets_in(role: str) -> None:
    build = stage(dockerfile(role), 0)
    copied = [p for i in build if i.name == "COPY" for p in i.args.split()[:-1] if not p.startswith("--")]
    assert {"pyproject.toml", "setup.py", "README.md", "scatter"} <= set(copied)
    for source in copied:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), f"{source} is copied but .dockerignore keeps it out"
    shipped_files = ("scatter/chain/artifacts/Market.json", "scatter/formats/_merkle/merkle.wasm",
                     "scatter/formats/_merkle/_native.c", "scatter/web/dapp/index.html")  # fmt: skip
    for shipped in shipped_files:
        assert not dockerignored(shipped)


@pytest.mark.parametrize(
    "path",
    [".env", "docker/hoster/.env", "docker/validator/.env", "docker/hoster/config/keystore.json",
     ".venv/bin/python", "node_modules/solc/index.js", ".scatter/deployments.json",
     ".scatter/dev/anvil-state.json", "build/solcx/x", "cache/solidity-files-cache.json",
     "dapp/node_modules/vite/index.js", "scatter/__pycache__/x.pyc", ".git/HEAD",
     "scatter/formats/_merkle/_native.cpython-311-x86_64-linux-gnu.so"],
)  # fmt: skip
def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context(path: str) -> None:
    assert dockerignored(path)


def test_dockerignore_matcher_reads_patterns_like_docker() -> None:
    patterns = ["**/.env", "build", "!build/keep"]
    assert dockerignored("a/b/.env", patterns) and dockerignored(".env", patterns)
    assert dockerignored("build/x", patterns) and not dockerignored("build/keep", patterns)
    assert not dockerignored("scatter/build.py", patterns)


@pytest.mark.parametrize("role", ROLES)
def test_compose_builds_the_image_and_reads_the_env_file_and_config_mount(role: str) -> None:
    service = compose(role)["services"][role]
    assert service["build"]["dockerfile"] == f"docker/{role}/Dockerfile"
    assert (DOCKER / role / service["build"]["context"]).resolve() == REPO
    assert service["env_file"] == ".env"  # the example copied: `cp <role>.env.example .env`
    assert "./config:/config:ro" in service["volumes"]
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert f"{PORTS[role]}:{PORTS[role]}" in service["ports"]
    env = service["environment"]
    prefix = SETTINGS[role].env_prefix
    # listening on all interfaces, so the endpoint registered on chain comes from the env file
    assert env[prefix + "HOST"] == "0.0.0.0" and env_file(example(role))[prefix + "ENDPOINT"]
    assert service["restart"] == "unless-stopped"


def test_hoster_compose_keeps_kubo_rpc_private() -> None:
    data = compose("hoster")
    kubo = data["services"]["kubo"]
    published = [str(p) for p in kubo["ports"]]
    assert all(p.split(":")[-1].split("/")[0] == "4001" for p in published), published
    assert data["networks"]["ipfs"]["internal"] is True
    hoster_env = data["services"]["hoster"]["environment"]
    assert hoster_env["SCATTER_HOSTER_IPFS_API"].startswith("http://172.28.0.10:")
    HosterConfig.load(environ={k: str(v) for k, v in hoster_env.items()})
