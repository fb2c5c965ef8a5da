"""MCP server configuration: transports, names, allowlists and the backoff policy."""

from __future__ import annotations

import random

import pytest

from tars_tools.mcp_config import BackoffPolicy, McpServerConfig


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        McpServerConfig(name="x")  # neither command nor url
    with pytest.raises(ValueError):
        McpServerConfig(name="x", command="a", url="http://127.0.0.1:1/mcp")
    with pytest.raises(ValueError):
        McpServerConfig(name="bad__name", command="a")
    assert McpServerConfig(name="w", url="http://127.0.0.1:1/mcp", allow_tools=["*"]).allows("x")


def test_backoff_grows_caps_and_jitters() -> None:
    policy = BackoffPolicy(initial_s=0.5, max_s=4.0, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(6)]
    for n, delay in enumerate(delays):
        base = min(4.0, 0.5 * 2**n)
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({round(d, 6) for d in delays[3:]}) == 3  # jitter spreads the capped retries
