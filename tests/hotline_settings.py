"""Settings for a hotline under test on free local ports (no fixtures: importable from
fixture modules without importing conftest)."""

from __future__ import annotations

import socket

from gigline.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(database_url: str, port: int, **overrides) -> Settings:
    env = {
        "GIGLINE_DATABASE_URL": database_url,
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GIGLINE_PORT": str(port),
        "GIGLINE_LOCAL_CARRIER_TOKEN": "test-token-0123456789",
        "GIGLINE_DEMO": "1",
        "GIGLINE_SCHEDULER": "0",
    }
    env.update(overrides)
    return Settings.from_env(env)
