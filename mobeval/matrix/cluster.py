"""The Ray cluster a matrix runs on: a local one started here (loopback, no dashboard), or an existing
one joined with --address. Devices are Ray custom resources, `device:<name>`, of 1 unit per device: a
job asks for the whole unit, so two jobs never share a device and its latency figures stand alone."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from mobeval.core.errors import MobevalError

LOCAL_OBJECT_STORE = 128 * 1024 * 1024  # jobs pass only small dicts through Ray


@dataclass
class Cluster:
    address: str  # "local" for the one started here
    started_here: bool
    resources: dict[str, float] = field(default_factory=dict)
    nodes: int = 1
    driver_node: str | None = None

    def describe(self) -> str:
        where = "a local Ray cluster on this machine" if self.started_here else f"the Ray cluster at {self.address}"
        return f"{where}: {self.nodes} node(s), {self.resources.get('CPU', 0):g} CPUs"


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise MobevalError("mobeval matrix runs on Ray, which is not installed: pip install -e '.[distributed]' "
                           f"(ray==2.60.0) ({exc})") from exc
    return ray


def _loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _token_available() -> bool:
    """A Ray authentication token where Ray looks for one (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    return os.path.isfile(path)


def connect(address: str | None, devices: list[str], num_cpus: int | None = None) -> Cluster:
    """Start a local cluster offering one unit of each device (no address), or join `address`."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home from a benchmark machine
    if (address is None or _loopback(address)) and "ray" not in sys.modules:
        # Ray turns 127.0.0.1 into the machine's routable address unless it believes it is single-node
        # (its switch for Windows/macOS): a local cluster then listens on loopback only
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address is not None and "RAY_AUTH_MODE" not in os.environ and _token_available():
        # `ray start --head` (2.60) requires its token; ray.init sends it to an explicit address only in
        # token mode (a cluster without authentication accepts such a client too)
        os.environ["RAY_AUTH_MODE"] = "token"
    ray = _import_ray()
    if address is None:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                 resources={f"device:{d}": 1 for d in devices}, include_dashboard=False,
                 _node_ip_address="127.0.0.1", object_store_memory=LOCAL_OBJECT_STORE,
                 log_to_driver=False, configure_logging=False)
    else:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise MobevalError(f"--address {address}: cannot join the Ray cluster ({exc}); start one with "
                               "`ray start --head`, or leave out --address for a local one; a cluster with token "
                               "authentication needs its token here (RAY_AUTH_TOKEN or ~/.ray/auth_token)") from exc
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return Cluster(address=address or "local", started_here=address is None, resources=ray.cluster_resources(),
                   nodes=len(nodes), driver_node=ray.get_runtime_context().get_node_id())


def check_devices(cluster: Cluster, devices: list[str]) -> None:
    """Every device the plan names is offered by some node; else an error saying how to offer it."""
    missing = [d for d in devices if cluster.resources.get(f"device:{d}", 0) < 1]
    if missing:
        res = json.dumps({f"device:{missing[0]}": 1})
        raise MobevalError(f"no node of {cluster.describe()} offers the device(s) {', '.join(missing)}; start a "
                           f"node that reaches it with: ray start --address {cluster.address} --resources '{res}'")


def shutdown() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def task_options(resource: str, max_retries: int, exceptions: list[type]) -> dict[str, Any]:
    """A job's Ray options: one unit of its device, one CPU of the node, retried on a lost worker or node
    and on a child killed by a signal (never on a run's own error)."""
    return {"num_cpus": 1, "resources": {resource: 1}, "max_retries": max_retries,
            "retry_exceptions": exceptions}
