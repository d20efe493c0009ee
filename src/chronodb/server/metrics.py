"""The server's Prometheus metrics, in a registry of its own per app (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
# Finer where a stream's latency lives under load: tens of milliseconds a round of writes.
_LAG_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.015,
    0.02,
    0.025,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
)
_LAG_BUCKETS += (0.25, 0.5, 1, 2.5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.statements = Counter(
            "chronodb_statements",
            "SQL statements run through POST /sql, by outcome",
            ["outcome"],
            registry=r,
        )
        self.statement_seconds = Histogram(
            "chronodb_statement_seconds",
            "Time to run one SQL statement of POST /sql",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "chronodb_stream_connections", "Open WebSocket connections", registry=r
        )
        self.subscriptions = Gauge(
            "chronodb_stream_subscriptions", "Table subscriptions over all connections", registry=r
        )
        self.events_sent = Counter(
            "chronodb_stream_events_sent", "Change events sent to subscribers", registry=r
        )
        self.overflows = Counter(
            "chronodb_stream_overflows",
            "Connections closed because their queue was full",
            registry=r,
        )
        self.delivery_lag = Histogram(
            "chronodb_stream_dispatch_lag_seconds",
            "From a transaction's commit time to its events having been offered to every "
            "subscriber (the end of the feed's round that did)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.last_tx = Gauge(
            "chronodb_stream_last_tx", "The last transaction the change feed has seen", registry=r
        )
        self.reads = Counter(
            "chronodb_reads",
            "Reads routed with --read-url, by where they ran: the standby, or the primary "
            "when the standby had not replayed the primary's newest transaction in time",
            ["server"],
            registry=r,
        )
        self.errors = Counter(
            "chronodb_errors",
            "Errors answered to clients or met by the change feed, by where they happened",
            ["source"],
            registry=r,
        )

        self.open_connections = 0
        # Events written straight to sockets (one count per connection and poll): added to
        # events_sent when the metrics are read, not with a locked increment each time.
        self.events_unflushed = 0

    def connected(self) -> None:
        self.open_connections += 1
        self.connections.inc()

    def disconnected(self) -> None:
        self.open_connections -= 1
        self.connections.dec()

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self.registry)

    def flush(self) -> None:
        unflushed, self.events_unflushed = self.events_unflushed, 0
        if unflushed:
            self.events_sent.inc(unflushed)
