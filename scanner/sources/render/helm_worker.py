"""Child process that renders one Helm chart with the Helm engine (``helm-python-sdk``).

Run as ``python -I helm_worker.py`` with a JSON request on stdin: the chart as a base64
``.tgz`` (built by the parent from regular files inside the repository, so templates can
read nothing else), the values, the release name and namespace. It prints one JSON
object: ``{"manifests": {template: text}}`` or ``{"error": message}``. A separate process
keeps a Go panic, a runaway template or the 80 MB native library out of the scanner,
and lets the parent enforce a timeout and an output cap.

Deliberately imports nothing from ``scanner``: it starts in isolated mode.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any


def render(request: dict[str, Any]) -> dict[str, Any]:
    """Render the request's chart offline; Helm errors become ``{"error": ...}``."""
    try:
        from helm_python import Chart
        from helm_python.errors import HelmError
    except ImportError as exc:
        return {"error": f"Helm engine not installed ({exc}): pip install helm-python-sdk"}
    archive = base64.b64decode(request["archive"])
    try:
        with Chart.load_archive(archive) as chart:
            manifests = chart.render(
                values=request.get("values") or {},
                name=request.get("release") or chart.name,
                namespace=request.get("namespace") or None,
                is_install=True,
            )
    except HelmError as exc:
        return {"error": " ".join(str(exc).split())}
    return {"manifests": manifests}


def main() -> None:
    """Read one request from stdin, write one answer to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps(render(request)))


if __name__ == "__main__":
    main()
