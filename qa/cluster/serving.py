"""`qa serve --ray`: Ray Serve replicas of the whole app; a sharded index gets a searcher deployment per shard.

Every replica is the app of `qa serve` (API, chat, widget: same JSON, same pages) with its own
encoder. For a sharded index each replica's `QA` reads a `ShardedStore` whose shards are Serve
deployments (one per shard folder, opened where it runs): the replica is the coordinator that fans
each question out to them and merges their hits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..config import Settings
from ..engine import QA
from ..shards import Manifest, Pending, Shard, ShardedStore, store_opener
from ..store import MODEL_PROBE_TEXT
from . import connect, cpus_needed, disconnect
from .shards import ShardActor

APP_NAME = "qa"


class DeploymentShard:
    """A shard searcher deployment seen from a replica: its calls run while the replica waits on others."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def submit(self, method: str, *args: Any) -> Pending:
        response: Pending = self.handle.call.remote(method, *args)
        return response

    def close(self) -> None:
        """The deployment outlives a replica: nothing to release."""


class AppReplica:
    """One replica of the app: the engine (its own encoder) and the FastAPI + Gradio app over it."""

    def __init__(self, settings: Settings, manifest: Manifest | None, shard_handles: list[Any]) -> None:
        from ..engine import QA

        shards: list[Shard] = [DeploymentShard(handle) for handle in shard_handles]
        store = ShardedStore(settings.index_dir, manifest, shards) if manifest else None
        self.qa = QA(settings, store=store)

    def __serve_build_asgi_app__(self) -> Any:
        """The same app `qa serve` runs in one process."""
        from ..web.server import create_app

        # Serve calls this on the replica's event loop, where a shard's answer cannot be waited for;
        # building the chat reads the index (document list, example questions), so it runs in a thread.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(create_app, self.qa).result()


def serve_on_ray(settings: Settings, prepare: Callable[[Settings], QA]) -> None:
    """Index the docs folder if needed (on the cluster), deploy the app, and serve until interrupted."""
    from ray import serve

    threads = settings.cluster.worker_threads
    connect(settings.cluster, max(cpus_needed(settings.indexing.workers, threads), cpus_needed(settings.cluster.replicas, threads)))
    try:
        qa = prepare(settings)
        qa.store.close()  # its shard writers stop; the searchers deployed next open the same folders
        url = deploy(settings, qa)
        print(f"Serving on {url} with Ray Serve (chat /, widget /widget.js, API /docs); Ctrl-C stops it", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
        disconnect()


def deploy(settings: Settings, qa: QA) -> str:
    """Run `settings.cluster.replicas` replicas of the app over the index `qa` opened (and a searcher per shard); its URL."""
    from ray import serve

    manifest = qa.store.manifest if isinstance(qa.store, ShardedStore) else None
    signature = {"model": qa.encoder.model_id, "chunking": settings.chunking.signature}
    probe = qa.encoder.encode([MODEL_PROBE_TEXT])[0]
    # Replicas embed uploads themselves and never start a cluster of their own; they open the index
    # by its absolute path, since a worker's working directory is not the driver's.
    replica_settings = settings.with_(ray_address="", index_dir=settings.index_dir.resolve())
    shard_handles = []
    if manifest is not None:
        searcher = serve.deployment(ray_actor_options={"num_cpus": 0})(ShardActor)
        open_store = store_opener(replica_settings, qa.encoder.dimension, signature, probe)
        shard_handles = [searcher.options(name=f"shard-{n:03d}").bind(folder, open_store)
                         for n, folder in enumerate(manifest.folders(replica_settings.index_dir))]
    replicas = settings.cluster.replicas
    ingress = serve.deployment(num_replicas=replicas, ray_actor_options={"num_cpus": settings.cluster.worker_threads})(
        serve.ingress()(AppReplica))
    host, port = settings.server.host, settings.server.port
    serve.start(http_options={"host": host, "port": port})
    serve.run(ingress.bind(replica_settings, manifest, shard_handles), name=APP_NAME, route_prefix="/")
    return f"http://{host}:{port}"
