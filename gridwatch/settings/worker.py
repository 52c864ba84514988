"""A vision worker's identity, its camera leases and its Prometheus metrics."""
from __future__ import annotations

import os
import socket

from pydantic import Field

from gridwatch.settings.base import Strict


class WorkerSettings(Strict):
    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
        description="This worker's id in camera leases and heartbeats; unset = hostname-pid.",
    )
    lease_ttl_seconds: float = Field(
        default=10.0, ge=1, le=300,
        description="A camera lease lapses this long after its worker stops renewing it (crash takeover time).",
    )
    lease_renew_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often a worker renews its leases and rebalances the cameras."
    )
    metrics_port: int | None = Field(
        default=9108, ge=0, le=65535, description="Port of the worker's Prometheus /metrics (0 = any, unset = off)."
    )
    metrics_host: str = Field(default="0.0.0.0", description="Address the worker's /metrics binds.")

    @property
    def effective_id(self) -> str:
        return self.id or f"{socket.gethostname()}-{os.getpid()}"
