"""Fixtures for the Python SDK suite: a client of the daemon that scripts/test-sdk started.

scripts/test-sdk sets ZTRISK_BASE_URL to the daemon's API root, ZTRISK_TOKEN to an edit token
for all accounts, ZTRISK_READ_TOKEN to a read-only token for all accounts, and
ZTRISK_SCOPED_TOKEN to an edit token for the account ZTRISK_SCOPED_ACCOUNT only.
"""

import os
import secrets
import time

import httpx
import pytest
from cloudflare import Cloudflare, DefaultHttpxClient


@pytest.fixture(scope="session")
def base_url() -> str:
    return os.environ["ZTRISK_BASE_URL"]


@pytest.fixture(scope="session")
def client(base_url: str) -> Cloudflare:
    return Cloudflare(api_token=os.environ["ZTRISK_TOKEN"], base_url=base_url)


@pytest.fixture
def account() -> str:
    """Return a new account tag, so that each test starts with an empty account."""
    return secrets.token_hex(16)


class RequestLog:
    """Records when each request of a client was sent."""

    def __init__(self) -> None:
        self.sent: list[float] = []

    def record(self, request: httpx.Request) -> None:
        self.sent.append(time.monotonic())


@pytest.fixture
def logged_client(base_url: str) -> tuple[Cloudflare, RequestLog]:
    """A client with the SDK's default retries whose requests are recorded."""
    log = RequestLog()
    http_client = DefaultHttpxClient(event_hooks={"request": [log.record]})
    client = Cloudflare(
        api_token=os.environ["ZTRISK_TOKEN"], base_url=base_url, http_client=http_client
    )
    return client, log


def token_client(base_url: str, variable: str) -> Cloudflare:
    """A client without retries that sends the token in the environment variable `variable`."""
    return Cloudflare(api_token=os.environ[variable], base_url=base_url, max_retries=0)
