"""Shards on Ray actors: each shard's `Store` lives on a worker of the cluster, written and searched there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from ..shards import Pending, Shard, ShardSearcher
from ..store import Store
from . import connect, cpus_needed


class ShardActor:
    """One shard's store on a Ray worker: its writer while indexing (`apply`), its searcher otherwise."""

    def __init__(self, folder: Path, open_store: Callable[[Path], Store]) -> None:
        self.searcher = ShardSearcher(open_store(folder))

    def call(self, method: str, *args: Any) -> Any:
        """`ShardSearcher.call` on this worker."""
        return self.searcher.call(method, *args)


class _ObjectRef:
    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def result(self) -> Any:
        import ray

        return ray.get(self.ref)


class ActorShard:
    """The driver's handle on a `ShardActor`: calls to several shards run at once."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def submit(self, method: str, *args: Any) -> Pending:
        return _ObjectRef(self.actor.call.remote(method, *args))

    def close(self) -> None:
        import ray

        if ray.is_initialized():
            ray.kill(self.actor)


def open_shard_actors(settings: Settings, folders: Sequence[Path], open_store: Callable[[Path], Store]) -> list[Shard]:
    """A `ShardActor` per shard folder, spread over the cluster's nodes (which must all see `settings.index_dir`)."""
    ray = connect(settings.cluster, cpus_needed(settings.indexing.workers, settings.cluster.worker_threads))
    # Resolved here: a worker's working directory is not the driver's (on a `ray start` cluster it is
    # where `ray start` ran), and a relative folder there is a new, empty shard.
    folders = [folder.resolve() for folder in folders]
    # No CPU reserved: a shard writer waits for batches most of the time, and a reserved CPU would
    # take a slot from the encoders. A writer that dies comes back and its commit runs again: a
    # commit is one transaction, and applying the same changes twice leaves the same index.
    remote = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, scheduling_strategy="SPREAD")(ShardActor)
    shards: list[Shard] = [ActorShard(remote.remote(folder, open_store)) for folder in folders]
    for shard in shards:
        shard.submit("chunk_count").result()  # opened (and checked) before anything is sent to it
    return shards
