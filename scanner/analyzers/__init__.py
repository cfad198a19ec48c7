"""Analyzer registry: every analyzer the engine runs, in order."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from scanner.analyzers.base import Analyzer, AnalyzerResult

if TYPE_CHECKING:
    from scanner.analyzers.provenance import ChangeLookup
    from scanner.images.settings import ImageScanSettings


def default_analyzers(
    now: datetime | None = None,
    ledger: ChangeLookup | None = None,
    images: ImageScanSettings | None = None,
) -> list[Analyzer]:
    """The analyzers of a scan; adding one is one line here.

    ``now`` is when run ages (backups, restores) are judged; default the clock.
    ``ledger`` answers whether a synced GitOps revision passed change control
    (``scan cluster --repo``). ``images`` are the image settings the CLI validated
    (default: built from ``params`` when the analyzer runs).
    """
    from scanner.analyzers.backup import BackupAnalyzer
    from scanner.analyzers.backup_runs import BackupRunsAnalyzer
    from scanner.analyzers.cached import PerObjectCached
    from scanner.analyzers.changes import ChangeAnalyzer
    from scanner.analyzers.gate import GateAnalyzer
    from scanner.analyzers.gateway import GatewayRouteAnalyzer
    from scanner.analyzers.image_report import ImageAnalyzer
    from scanner.analyzers.network import NetworkPolicyAnalyzer
    from scanner.analyzers.postgres import PostgresAnalyzer
    from scanner.analyzers.provenance import ProvenanceAnalyzer
    from scanner.analyzers.rbac import RbacAnalyzer
    from scanner.analyzers.redis_args import RedisArgsAnalyzer
    from scanner.analyzers.redis_clients import RedisClientAnalyzer
    from scanner.analyzers.redis_mounts import RedisMountAnalyzer
    from scanner.analyzers.redis_operator import RedisOperatorAnalyzer
    from scanner.analyzers.registries import RegistryApprovalAnalyzer
    from scanner.analyzers.retention import RetentionAnalyzer
    from scanner.analyzers.secrets import SecretLiteralsAnalyzer
    from scanner.analyzers.storage import StorageAnalyzer
    from scanner.analyzers.traefik import TraefikAnalyzer
    from scanner.analyzers.traefik_static import TraefikStaticAnalyzer

    return [
        TraefikStaticAnalyzer(),
        RedisArgsAnalyzer(),
        RedisMountAnalyzer(),
        RedisOperatorAnalyzer(),
        PerObjectCached(SecretLiteralsAnalyzer()),  # per object: warm scans reuse it
        RedisClientAnalyzer(),  # after secrets: its facts, judged objects' alone, stay out of
        # the secrets cache's keys
        BackupAnalyzer(),
        BackupRunsAnalyzer(now),
        RetentionAnalyzer(),
        TraefikAnalyzer(),
        GatewayRouteAnalyzer(),
        NetworkPolicyAnalyzer(),
        StorageAnalyzer(),
        PostgresAnalyzer(),
        RbacAnalyzer(),
        RegistryApprovalAnalyzer(),
        ImageAnalyzer(settings=images),
        GateAnalyzer(),
        ChangeAnalyzer(),
        ProvenanceAnalyzer(ledger),
    ]


def kinds_read_by_analyzers() -> tuple[tuple[str, str], ...]:
    """(API group, kind) pairs the default analyzers read (a cluster scan lists them)."""
    return tuple(sorted({pair for analyzer in default_analyzers() for pair in analyzer.reads}))


def kinds_synthesised_by_analyzers() -> tuple[tuple[str, str], ...]:
    """(API group, kind) pairs the default analyzers make in any scan (e.g. RBAC subjects)."""
    return tuple(sorted({pair for a in default_analyzers() for pair in a.synthesises}))


__all__ = [
    "Analyzer",
    "AnalyzerResult",
    "default_analyzers",
    "kinds_read_by_analyzers",
    "kinds_synthesised_by_analyzers",
]
