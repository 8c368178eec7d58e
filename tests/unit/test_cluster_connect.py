"""`connect`'s error when a driver cannot join a cluster: Ray says only that it failed, we say what to set."""

from __future__ import annotations

import pytest
import ray

from qa.cluster import connect
from qa.config import ClusterSettings
from qa.errors import UsageError


def refuse(*args, **kwargs) -> None:
    # What ray.init raises for a cluster that refused this driver's (missing) token, after its retries.
    raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.7:6379")


def test_a_refused_driver_is_told_about_token_authentication(monkeypatch) -> None:
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(UsageError, match="RAY_AUTH_MODE=token") as refused:
        connect(ClusterSettings(ray_address="10.0.0.7:6379"), cpus=2)
    assert "'10.0.0.7:6379'" in str(refused.value) and "ray start --head" in str(refused.value)


def test_a_driver_with_token_authentication_is_not_told_to_set_it(monkeypatch) -> None:
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    with pytest.raises(UsageError, match="no Ray cluster there") as refused:
        connect(ClusterSettings(ray_address="10.0.0.7:6379"), cpus=2)
    assert "RAY_AUTH_MODE" not in str(refused.value)
