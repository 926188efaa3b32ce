"""`diffhost engine-serve`: diffhost's engine as a Ray Serve application, for hosts elsewhere.

Starts a local Ray instance (or joins a cluster with --address), deploys N replicas that each
load the model once (on a GPU when the node has one) and serves them at http://HOST:PORT until
Ctrl-C. Hosts use it with `--engine http://HOST:PORT` (render, serve, gui). Needs the `cluster`
extra: pip install 'diffhost[cluster]'.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from diffhost.commands.serve import ignore_signals, wait_for_signal
from diffhost.engine.remote.access import DEFAULT_PORT, TOKEN_ENV, check_bind, read_token


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "engine-serve",
        help="serve the render engine to other machines (Ray Serve)",
        description="Deploy diffhost's engine on Ray Serve; hosts render on it with --engine http://HOST:PORT.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help=f"address to listen on (default 127.0.0.1, this machine only); any other needs a token ({TOKEN_ENV} or --token-file)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument("--replicas", type=int, default=1, help="engine replicas, each with its own model (default 1)")
    p.add_argument("--model", default=None, help="model every replica serves: default, a folder or a Hugging Face id")
    p.add_argument(
        "--address",
        default=None,
        metavar="auto|RAY_ADDRESS",
        help="join a running Ray cluster ('auto' finds a local `ray start`); default: start a local Ray instance",
    )
    p.add_argument("--token-file", type=Path, default=None, help=f"file whose first line is the token (else {TOKEN_ENV})")
    p.add_argument("--max-queue", type=int, default=16, help="renders that may wait per replica (default 16)")
    p.add_argument("--cpus-per-replica", type=float, default=1.0, help="Ray CPUs each replica reserves (default 1)")
    p.add_argument(
        "--gpus-per-replica",
        type=float,
        default=None,
        help="Ray GPUs each replica reserves (default: 1 when the cluster has GPUs, else 0)",
    )
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch CPU threads per replica (default: its CPUs, at least 1); CPU renders are bit-identical "
        "to a local engine's with the same thread count",
    )
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    p.set_defaults(func=run)


def validate(args: argparse.Namespace) -> str | None:
    """Check every flag before Ray starts (Ray takes seconds); returns the token."""
    if not 1 <= args.port <= 65535:
        raise ValueError(f"port: {args.port} is out of range; valid is 1..65535")
    if not 1 <= args.replicas <= 64:
        raise ValueError(f"replicas: {args.replicas} is out of range; valid is 1..64")
    if args.max_queue < 1:
        raise ValueError(f"max-queue: {args.max_queue} is out of range; valid is 1 or more")
    if not 0 < args.cpus_per_replica <= 256:
        raise ValueError(f"cpus-per-replica: {args.cpus_per_replica} is out of range; valid is >0..256")
    if args.gpus_per_replica is not None and not 0 <= args.gpus_per_replica <= 16:
        raise ValueError(f"gpus-per-replica: {args.gpus_per_replica} is out of range; valid is 0..16")
    if args.torch_threads is not None and not 1 <= args.torch_threads <= 256:
        raise ValueError(f"torch-threads: {args.torch_threads} is out of range; valid is 1..256")
    token = read_token(args.token_file)
    check_bind(args.host, token)
    return token


def run(args: argparse.Namespace) -> int:
    token = validate(args)
    try:
        import ray
        from ray import serve
    except ImportError:
        raise ValueError(
            "engine-serve needs Ray Serve: pip install 'diffhost[cluster]' (see docs/remote.md)"
        ) from None
    from diffhost.engine.remote.serve_app import APP_NAME, REPLICA_ENV, ServeConfig, build_app

    if args.address is None:
        _export_checkout_path()
        print("starting a local Ray instance ...", file=sys.stderr, flush=True)
        # Serve's proxy relays every message: it runs at this process's priority, not Ray's
        # default nice 15 for workers (see REPLICA_ENV); a user's own setting wins.
        os.environ.setdefault("RAY_worker_niceness", REPLICA_ENV["RAY_worker_niceness"])
        # No dashboard; Ray's own ports require Ray's auth token (on by default since Ray 2.5x).
        ray.init(
            num_cpus=args.num_cpus,
            include_dashboard=False,
            dashboard_host="127.0.0.1",
            logging_level="WARNING",
            log_to_driver=False,
        )
    else:
        print(f"joining the Ray cluster at {args.address} ...", file=sys.stderr, flush=True)
        ray.init(address=args.address, logging_level="WARNING", log_to_driver=False)
    try:
        gpus = args.gpus_per_replica
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        serve.start(
            proxy_location="HeadOnly",  # one entry point; worker nodes open no HTTP port
            http_options={"host": args.host, "port": args.port},
        )
        config = ServeConfig(
            model=args.model,
            replicas=args.replicas,
            token=token,
            max_queue=args.max_queue,
            cpus_per_replica=args.cpus_per_replica,
            gpus_per_replica=gpus,
            torch_threads=args.torch_threads or max(1, round(args.cpus_per_replica)),
        )
        print(
            f"deploying {args.replicas} replica(s) of {args.model or 'the default model'}"
            f" ({'GPU' if gpus else 'CPU'}) ...",
            file=sys.stderr,
            flush=True,
        )
        serve.run(build_app(config), name=APP_NAME, route_prefix="/")
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"diffhost engine listening on http://{shown}:{args.port}", file=sys.stderr)
        print(f"  hosts: diffhost gui|render|serve --engine http://{shown}:{args.port}", file=sys.stderr)
        if token:
            print(f"  clients must send the token: set {TOKEN_ENV} on them", file=sys.stderr)
        print("Ctrl-C stops.", file=sys.stderr, flush=True)
        wait_for_signal()
    finally:
        ignore_signals()  # a second Ctrl-C or SIGTERM must not cut the cleanup short
        print("stopping ...", file=sys.stderr, flush=True)
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    return 0


def _export_checkout_path() -> None:
    """Ray's worker processes import diffhost by name. Installed, they find it; run from a checkout
    (python -m diffhost), they need the checkout on PYTHONPATH, which the local instance passes on."""
    import diffhost

    root = str(Path(diffhost.__file__).resolve().parents[1])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *parts])
