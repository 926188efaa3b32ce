"""The Ray Serve application: N replicas of ReplicaCore behind Serve's HTTP/WebSocket proxy.

Needs the `cluster` extra (ray[serve]); only `diffhost engine-serve` imports this module.
Routes: GET /info (the served model, the replica), WS /render (one job per socket, see
replica.py and wire.py). Serve routes each new socket to the replica with the fewest jobs;
beyond `max_queued` sockets waiting for a replica it answers HTTP 503, which clients report as
"busy".
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures' annotations
# (Request, WebSocket) at run time, and those are imported inside build_app.
from dataclasses import dataclass
from typing import Any

from diffhost import paths

APP_NAME = "diffhost-engine"
# Ray starts its worker processes at nice 15, below everything else on the machine, so that they
# never starve Ray's own daemons. A replica's worker is the render itself: at nice 15 it renders
# slower than a local engine does whenever anything else runs (the host, a DAW, other jobs), and
# every message waits longer for its turn. Replicas run at the priority Ray itself runs at (a
# RAY_worker_niceness in engine-serve's environment wins).
REPLICA_ENV = {"RAY_worker_niceness": "0"}


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None
    replicas: int = 1
    token: str | None = None
    max_queue: int = 16  # per replica, in its engine: live jobs go ahead of batch ones there
    max_queued: int = 16  # sockets waiting in Serve's router for a replica before it answers 503
    cpus_per_replica: float = 1.0
    gpus_per_replica: float = 0.0
    device: str = "auto"
    torch_threads: int | None = None  # None: torch's default for the CPUs Ray gives the replica


def build_app(config: ServeConfig) -> Any:
    """The bound Serve application (pass to serve.run)."""
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import JSONResponse
    from ray import serve

    api = FastAPI(title="diffhost engine", docs_url=None, redoc_url=None, openapi_url=None)

    @serve.deployment(
        name="engine",
        num_replicas=config.replicas,
        # Every job of a replica must reach its engine, whose queue orders live before batch and
        # answers "busy" when full; Serve's own queue in front of the replicas stays small.
        max_ongoing_requests=config.max_queue + 2,
        max_queued_requests=config.max_queued,
        ray_actor_options={
            "num_cpus": config.cpus_per_replica,
            "num_gpus": config.gpus_per_replica,
            "runtime_env": {"env_vars": {k: paths.env(k) or v for k, v in REPLICA_ENV.items()}},
        },
        health_check_period_s=2.0,
        health_check_timeout_s=10.0,
    )
    @serve.ingress(api)
    class EngineDeployment:
        def __init__(self, cfg: ServeConfig):
            from diffhost.engine.remote.replica import ReplicaCore

            ctx = serve.get_replica_context()
            replica = getattr(getattr(ctx, "replica_id", None), "unique_id", "")
            self.core = ReplicaCore(
                cfg.model,
                token=cfg.token,
                max_queue=cfg.max_queue,
                device=cfg.device,
                replica=replica,
                torch_threads=cfg.torch_threads,
            )

        @api.get("/info")
        def info(self, request: Request) -> Any:
            if not self.core.authorized(request.headers.get("authorization")):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return self.core.info()

        @api.websocket("/render")
        async def render(self, websocket: WebSocket) -> None:
            await self.core.serve_job(websocket)

        def check_health(self) -> None:
            if not self.core.alive():
                raise RuntimeError("the engine worker thread has stopped")

    return EngineDeployment.bind(config)  # type: ignore[attr-defined]  # added by serve.deployment; mypy skips class decorators
