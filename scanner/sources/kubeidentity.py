"""Who the scanner is to the cluster, as the API server's authenticator says (SelfSubjectReview).

Unlike ``LEDGERGATE_USER`` or the login, this is proved: the API server reports the
identity it authenticated from the scanner's own credentials (Kubernetes 1.28+).
"""

from __future__ import annotations

from typing import Any

from scanner.sources.kubeclient import KubeClient, KubeRequestError

PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def who_am_i(client: KubeClient) -> dict[str, Any]:
    """The authenticated user of ``client``, or the reason the cluster did not say.

    ``{"value": username, "uid", "groups", "source", "server"}``; on failure ``error``
    instead of ``value``, and the claim counts as not authenticated.
    """
    base = {"source": "SelfSubjectReview", "server": client.connection.server}
    try:
        answer = client.create(PATH, REVIEW)
    except KubeRequestError as exc:
        return {**base, "value": "", "error": exc.describe()}
    info = ((answer or {}).get("status") or {}).get("userInfo") or {}
    if not info.get("username"):
        return {**base, "value": "", "error": "SelfSubjectReview answered without a username"}
    return {
        **base,
        "value": str(info["username"]),
        "uid": str(info.get("uid", "")),
        "groups": sorted(str(g) for g in info.get("groups", ())),
    }
