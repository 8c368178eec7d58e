"""Past one machine: a Ray cluster (`--ray`, `QA_RAY_ADDRESS`) for preparing and serving; needs the `scale` extra.

Nothing here is imported unless Ray is asked for, so `qa` without Ray installed works as before and
`--ray` without it stops with the command that installs it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

from ..config import ClusterSettings
from ..distribution import missing_extra
from ..errors import UsageError

LOCAL = "local"
# Ray Data needs a free CPU slot beside an actor pool for its own tasks, or a pool that fills the
# cluster waits forever (ray-project/ray#44687, seen here: 2 one-CPU actors on 2 CPUs never start).
SPARE_CPUS = 1

# True while this process is connected by `connect` (not by its caller, e.g. a test holding a cluster).
_connected_here = False


def require_ray(feature: str = "--ray (QA_RAY_ADDRESS)") -> ModuleType:
    """The `ray` module, or a UsageError naming the extra that installs it."""
    if missing := missing_extra("scale", feature):
        raise UsageError(missing)
    import ray

    return ray


def cpus_needed(workers: int, threads: int) -> int:
    """Logical CPUs a pool of `workers` actors of `threads` torch threads each needs, Ray Data's own slot included."""
    return workers * threads + SPARE_CPUS


def connect(settings: ClusterSettings, cpus: int) -> ModuleType:
    """Join (or, for `local`, start) the Ray cluster `settings.ray_address` names; `cpus` is what the job needs."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    global _connected_here
    import qa

    # The workers import this copy of `qa`, whether it is installed on the nodes or a checkout here.
    runtime_env = {"py_modules": [str(Path(qa.__file__).parent)], "env_vars": {"HF_HUB_OFFLINE": "1"}}
    logging.getLogger("ray").setLevel(logging.WARNING)
    options = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": logging.WARNING, "include_dashboard": False}
    if settings.ray_address == LOCAL:
        # address="local" starts a new cluster even where `ray start` runs one. Logical CPUs, not
        # cores: Ray only counts them, and the pool needs its spare slot even on a 2-core machine.
        ray.init(address=LOCAL, num_cpus=max(cpus, os.cpu_count() or 1), **options)
    else:
        try:
            ray.init(address=settings.ray_address, **options)
        except ConnectionError as error:
            raise UsageError(f"QA_RAY_ADDRESS={settings.ray_address!r}: no Ray cluster there ({error}). "
                             f"Start one with `ray start --head`, or use --ray local.{auth_hint()}") from error
        have = int(ray.cluster_resources().get("CPU", 0))
        if have < cpus:
            ray.shutdown()
            raise UsageError(f"the Ray cluster at {settings.ray_address} has {have} CPUs; this job needs {cpus} "
                             f"({cpus - SPARE_CPUS} for the workers and {SPARE_CPUS} for Ray Data, which otherwise waits forever): "
                             "use fewer --workers or add nodes")
    _connected_here = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def auth_hint() -> str:
    """What to set when a driver without token authentication fails to join: Ray says only that it cannot connect."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return ""
    # Seen with Ray 2.60: a cluster `ray start` made refuses such a driver ("InvalidAuthToken" in
    # Ray's log), and ray.init reports a failure to connect.
    return (" If `ray start` made that cluster, it uses token authentication: set RAY_AUTH_MODE=token, with the head's "
            "token in ~/.ray/auth_token or RAY_AUTH_TOKEN (docs/scaling.md).")


def disconnect() -> None:
    """Leave the cluster `connect` joined; a `local` one stops with it."""
    global _connected_here
    if _connected_here:
        import ray

        ray.shutdown()
    _connected_here = False
