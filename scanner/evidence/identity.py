"""Who and what made a bundle, each value marked with how far it can be trusted.

``authenticated`` values come from a source that proved them (the API server's
SelfSubjectReview of the scanner's own credentials, an OIDC token Fulcio verified);
``asserted`` values are whatever the environment said (``LEDGERGATE_USER``, the login,
``GITHUB_*`` variables) and an auditor should corroborate them elsewhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from scanner.evidence.manifest import run_by

ASSERTED = "asserted"
AUTHENTICATED = "authenticated"


@cache
def scanner_identity() -> dict[str, Any]:
    """The scanner's own identity: version, sha256 over its code, and an image digest if given.

    ``codeSha256`` is over every ``.py`` file of the installed package (path and
    sha256, sorted), so it can be recomputed from the released wheel.
    """
    from scanner import __version__

    package = Path(__file__).resolve().parent.parent
    lines = []
    for path in sorted(package.rglob("*.py")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{path.relative_to(package).as_posix()}\x1f{digest}\n")
    out: dict[str, Any] = {
        "version": __version__,
        "codeSha256": hashlib.sha256("".join(lines).encode()).hexdigest(),
    }
    image = os.environ.get("LEDGERGATE_IMAGE_DIGEST", "")
    if image:
        out["imageDigest"] = {"value": image, "assurance": ASSERTED}
    return out


def identity_doc(
    authenticated: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The manifest's ``identity``: each claim with its source and assurance."""
    who = run_by(env)
    claims: dict[str, Any] = {
        "operator": {"value": who["user"], "source": "environment", "assurance": ASSERTED},
        "ci": None
        if who["ci"] is None
        else {**who["ci"], "source": "environment", "assurance": ASSERTED},
    }
    for name, claim in (authenticated or {}).items():
        proved = claim.get("value") and not claim.get("error")
        claims[name] = {**claim, "assurance": AUTHENTICATED if proved else ASSERTED}
    return {"claims": claims, "scanner": scanner_identity()}
