"""PostgreSQL client connections and their TLS mode, as facts (parsing kept out of CEL).

libpq's default ``sslmode`` is ``prefer``: it falls back to clear text without a word.
A connection demands TLS only with ``require``, ``verify-ca`` or ``verify-full``. Clients
declare connections in several shapes, each read here once:

- ``facts.postgresClient`` on workloads: per container, the ``PGSSLMODE``/``DB_SSLMODE``
  values, the ``sslmode`` of every ``postgres://`` URL in a literal env value, and a
  ``PGHOST`` without ``PGSSLMODE``;
- ``facts.postgresOperatorConnections`` on operator clusters: CloudNativePG ``Cluster``
  ``spec.externalClusters[].connectionParameters`` (the sources of replica clusters,
  ``pg_basebackup`` and ``import`` bootstraps) and Zalando ``postgresql``
  ``spec.standby.standby_host`` (streamed without a TLS setting: libpq's ``prefer``).
  Crunchy ``PostgresCluster`` standbys stream with the operator's own certificates
  (``verify-ca``), so they are not connection maps to judge;
- ``facts.cnpgHba`` on CloudNativePG ``Cluster``: the first pg_hba rule that admits a
  TCP connection without TLS. The operator writes the user's ``spec.postgresql.pg_hba``
  lines between its own ``hostssl`` rules and a closing ``host all all all <method>``, and
  PostgreSQL takes the first line that matches, so clear text is refused only where a
  ``hostnossl all all all reject`` (or ``0.0.0.0/0`` and ``::/0``) comes before any line
  that admits plain connections; ``hostssl`` lines alone leave the closing rule open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, containers_of_resource
from scanner.kinds import WORKLOAD_KINDS

REQUIRED = ("require", "verify-ca", "verify-full")
SSLMODE_NAMES = ("PGSSLMODE", "DB_SSLMODE")
_URL = re.compile(r"^postgres(ql)?://")
_URL_SSLMODE = re.compile(r"[?&]sslmode=(require|verify-ca|verify-full)(&|$)")
_ANY_SSLMODE = re.compile(r"[?&]sslmode=([^&]*)")
CNPG = ("postgresql.cnpg.io", "Cluster")
ZALANDO = ("acid.zalan.do", "postgresql")


def is_client(env: list[dict[str, str]]) -> bool:
    """A container that talks to PostgreSQL: PG* variables or a postgres connection string."""
    return any(
        e["name"] in ("PGSSLMODE", "PGHOST", "DB_SSLMODE") or bool(_URL.search(e.get("value", "")))
        for e in env
    )


def _container_problems(env: list[dict[str, str]]) -> list[str]:
    """Why one container's connections do not demand TLS (empty: they all do)."""
    problems: list[str] = []
    for e in env:
        if "value" not in e:
            continue  # valueFrom: not readable here
        value = e["value"]
        if e["name"] in SSLMODE_NAMES:
            if value not in REQUIRED:
                problems.append(f"{e['name']}={value}")
        elif _URL.search(value) and not _URL_SSLMODE.search(value):
            found = _ANY_SSLMODE.search(value)
            problems.append(
                f"{e['name']}: postgres URL sslmode="
                + (found.group(1) if found else "(unset: prefer)")
            )
    names = {e["name"] for e in env}
    if "PGHOST" in names and "PGSSLMODE" not in names:
        problems.append("PGHOST without PGSSLMODE (prefer)")
    return problems


def _client_fact(resource: Any) -> dict[str, Any]:
    weak = []
    for c in containers_of_resource(resource):
        env = c["_env"]
        problems = _container_problems(env)
        if problems:
            sslmode = [e["value"] for e in env if e["name"] == "PGSSLMODE" and "value" in e]
            weak.append(
                {
                    "name": str(c.get("name", "")),
                    "path": c["_path"],
                    "pgsslmode": sslmode[0] if sslmode else "",
                    "problems": problems,
                }
            )
    clients = any(is_client(c["_env"]) for c in containers_of_resource(resource))
    return {"client": clients, "weakContainers": weak}


def _sslmode_of(params: Any) -> str:
    if not isinstance(params, Mapping):
        return ""
    return str(params.get("sslmode") or "")


def _cnpg_connections(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for i, source in enumerate(spec.get("externalClusters") or ()):
        if not isinstance(source, Mapping):
            continue
        params = source.get("connectionParameters")
        if not isinstance(params, Mapping) or not params.get("host"):
            continue  # an object-store source (barmanObjectStore / plugin): no connection
        mode = _sslmode_of(params)
        found.append(
            {
                "name": str(source.get("name") or ""),
                "path": f"spec.externalClusters[{i}].connectionParameters.sslmode",
                "host": str(params.get("host")),
                "sslmode": mode or "(unset: prefer)",
                "tls": mode in REQUIRED,
            }
        )
    return found


def _zalando_connections(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    standby = spec.get("standby")
    if not isinstance(standby, Mapping) or not standby.get("standby_host"):
        return []
    return [
        {
            "name": "standby",
            "path": "spec.standby.standby_host",
            "host": str(standby["standby_host"]),
            "sslmode": "(not settable: prefer)",
            "tls": False,
        }
    ]


#: The operator's closing pg_hba rule, which admits clear text unless a user line refused it.
CNPG_CLOSING_RULE = "host all all all (the operator's closing rule)"
_EVERY_V4 = ("0.0.0.0/0", "0.0.0.0 0.0.0.0")
_EVERY_V6 = ("::/0", "::0/0")
_MASK = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def cnpg_plain_hba(lines: list[str]) -> tuple[str, int]:
    """(the first rule admitting a TCP connection without TLS, its index; -1 for the
    operator's closing rule), or ("", -1) when a user line refuses every such connection."""
    v4 = v6 = False
    for index, line in enumerate(lines):
        fields = line.split("#", 1)[0].split()
        if len(fields) < 4 or fields[0] not in ("host", "hostnossl"):
            continue  # local, hostssl, hostgssenc: never clear-text TCP
        database, user, rest = fields[1], fields[2], fields[3:]
        masked = len(rest) > 2 and _MASK.match(rest[1]) is not None  # "IP MASK METHOD"
        address = " ".join(rest[:2]) if masked else rest[0]
        method = rest[2 if masked else 1] if len(rest) > (2 if masked else 1) else ""
        if method != "reject":
            return line.strip(), index
        if database == "all" and user == "all":
            v4 = v4 or address == "all" or address in _EVERY_V4
            v6 = v6 or address == "all" or address in _EVERY_V6
        if v4 and v6:
            return "", -1
    return CNPG_CLOSING_RULE, -1


def _cnpg_hba(spec: Mapping[str, Any]) -> dict[str, Any]:
    postgresql = spec.get("postgresql")
    hba = postgresql.get("pg_hba") if isinstance(postgresql, Mapping) else None
    lines = [str(line) for line in hba] if isinstance(hba, list) else []
    plain, index = cnpg_plain_hba(lines)
    path = f"spec.postgresql.pg_hba[{index}]" if index >= 0 else "spec.postgresql.pg_hba"
    return {"plain": plain, "path": path if lines else "spec"}


class PostgresAnalyzer(Analyzer):
    """Judges every declared PostgreSQL connection's TLS mode once."""

    name = "postgres"
    provides = ("postgresClient", "postgresOperatorConnections", "cnpgHba")
    #: Nothing beyond the judged object itself (a workload's env, a cluster's own maps).
    reads = ()

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """``postgresClient`` on workloads, ``postgresOperatorConnections`` on clusters."""
        result = AnalyzerResult()
        workload_kinds = set(WORKLOAD_KINDS)
        for index, resource in enumerate(inventory.resources):
            kind = resource.ref.kind
            spec = resource.body.get("spec")
            spec = spec if isinstance(spec, Mapping) else {}
            if (resource.ref.group, kind) == CNPG:
                connections = _cnpg_connections(spec)
                result.facts[index] = {"cnpgHba": _cnpg_hba(spec)}
            elif (resource.ref.group, kind) == ZALANDO:
                connections = _zalando_connections(spec)
            elif (resource.ref.group, kind) in workload_kinds:
                result.facts[index] = {"postgresClient": _client_fact(resource)}
                continue
            else:
                continue
            result.facts.setdefault(index, {})["postgresOperatorConnections"] = connections
        return result
