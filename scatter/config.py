"""Environment and ``.env`` loading. Every variable is listed in ``.env.example``."""

from __future__ import annotations

import os

from dotenv import find_dotenv, load_dotenv

DEFAULT_RPC_URL = "http://127.0.0.1:8545"


def load_env() -> None:
    """Load ``.env`` from the working directory upwards; real environment variables win."""
    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


def rpc_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("SCATTER_RPC_URL") or DEFAULT_RPC_URL
