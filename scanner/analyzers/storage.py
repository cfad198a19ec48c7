"""Storage encryption facts: what each StorageClass declares, and which class each volume uses.

Whether a volume is encrypted at rest is a cross-object question (the PVC names a class, the
class names a provisioner and its parameters), so it is answered once here:

- ``storageClass`` on every StorageClass: ``provisioner``, ``capable`` (the driver can
  encrypt and says so in parameters), ``encryption`` (``encrypted`` | ``unencrypted`` |
  ``unknown``) and ``evidence`` (why);
- ``volumeStorage`` on PersistentVolumeClaims, PersistentVolumes, StatefulSets (claim
  templates) and CloudNativePG Clusters: one entry per volume with its ``path``, the
  resolved ``class`` (an unset class resolves to the inventory's default StorageClass),
  ``encrypted`` and ``reason``.

A class counts as encrypted when it is on ``params.encryptedStorageClasses`` (the
organisation vouches for it; LG-ENC-007 checks that it declares encryption) or when its own
parameters or its provisioner's platform guarantee it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.model import Resource

#: Drivers that encrypt only when a parameter says so.
_OPT_IN = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs", "driver.longhorn.io", "rbd.csi.ceph.com")
#: Drivers whose platform encrypts every disk at rest (provider-managed keys by default).
_ALWAYS = (
    "pd.csi.storage.gke.io",
    "kubernetes.io/gce-pd",
    "disk.csi.azure.com",
    "kubernetes.io/azure-disk",
    "file.csi.azure.com",
    "kubernetes.io/azure-file",
)
#: Drivers that keep data in clear on a node or a share.
_NEVER = ("kubernetes.io/no-provisioner", "rancher.io/local-path", "nfs.csi.k8s.io", "hostpath")
#: Parameters that name a key or switch encryption on, whatever the driver.
_KEY_PARAMS = ("kmsKeyId", "disk-encryption-kms-key", "diskEncryptionSetID", "encryptionKMSID")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _driver_in(provisioner: str, drivers: tuple[str, ...]) -> bool:
    return any(
        provisioner == d or provisioner.endswith("." + d) or d in provisioner for d in drivers
    )


def class_encryption(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a StorageClass's own provisioner and parameters say about encryption at rest."""
    provisioner = str(body.get("provisioner") or "")
    params = {str(k): str(v) for k, v in _mapping(body.get("parameters")).items()}
    capable = _driver_in(provisioner, _OPT_IN)
    key = next((k for k in _KEY_PARAMS if params.get(k)), "")
    if params.get("encrypted", "").lower() == "true" or key:
        state, evidence = "encrypted", f"parameters.{key or 'encrypted'}"
    elif _driver_in(provisioner, _ALWAYS):
        state, evidence = "encrypted", f"{provisioner} encrypts every disk at rest"
    elif capable:
        state, evidence = "unencrypted", f'{provisioner} encrypts only with encrypted: "true"'
    elif _driver_in(provisioner, _NEVER):
        state, evidence = "unencrypted", f"{provisioner} keeps data in clear"
    else:
        state, evidence = "unknown", f"{provisioner or '(no provisioner)'} is not known to encrypt"
    return {
        "provisioner": provisioner,
        "capable": capable,
        "encryption": state,
        "evidence": evidence,
    }


class StorageAnalyzer(Analyzer):
    """``facts.storageClass`` and ``facts.volumeStorage``."""

    name = "storage"
    provides = ("storageClass", "volumeStorage")
    reads = (("storage.k8s.io", "StorageClass"),)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Describe every class, then resolve every volume's class."""
        result = AnalyzerResult()
        classes: dict[str, dict[str, Any]] = {}
        default = ""
        for i in inventory.of_kind("StorageClass", groups=("storage.k8s.io",)):
            resource = inventory.resources[i]
            fact = class_encryption(resource.body)
            classes[resource.ref.name] = fact
            result.facts[i] = {"storageClass": fact}
            annotations = _mapping(_mapping(resource.body.get("metadata")).get("annotations"))
            if str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true":
                default = default or resource.ref.name
        trusted = {str(n) for n in params.get("encryptedStorageClasses") or ()}
        resolver = _Resolver(classes, trusted, default)
        for i, resource in enumerate(inventory.resources):
            volumes = _volumes(resource)
            if volumes is not None:
                result.facts[i] = {
                    "volumeStorage": [resolver.entry(path, name) for path, name in volumes]
                }
        return result


class _Resolver:
    """Resolves a volume's class name and decides whether it is encrypted."""

    def __init__(self, classes: dict[str, dict[str, Any]], trusted: set[str], default: str):
        self.classes, self.trusted, self.default = classes, trusted, default

    def entry(self, path: str, name: str | None) -> dict[str, Any]:
        if name is None:
            if not self.default:
                return {
                    "path": path,
                    "class": "(unset)",
                    "encrypted": False,
                    "reason": "no storageClassName and no default StorageClass in scope",
                }
            name = self.default
        if name == "":
            return {
                "path": path,
                "class": '""',
                "encrypted": False,
                "reason": 'storageClassName "" binds a pre-provisioned volume (encryption unknown)',
            }
        if name in self.trusted:
            return {
                "path": path,
                "class": name,
                "encrypted": True,
                "reason": "listed in params.encryptedStorageClasses",
            }
        fact = self.classes.get(name)
        if fact is None:
            return {
                "path": path,
                "class": name,
                "encrypted": False,
                "reason": "StorageClass not in scope and not in params.encryptedStorageClasses",
            }
        return {
            "path": path,
            "class": name,
            "encrypted": fact["encryption"] == "encrypted",
            "reason": fact["evidence"],
        }


def _class_name(spec: Mapping[str, Any], key: str = "storageClassName") -> str | None:
    value = spec.get(key)
    return str(value) if isinstance(value, str) else None


def _volumes(resource: Resource) -> list[tuple[str, str | None]] | None:
    """(field path, class name or None when unset) of each volume an object asks for."""
    ref, body = resource.ref, resource.body
    spec = _mapping(body.get("spec"))
    if ref.kind in ("PersistentVolumeClaim", "PersistentVolume") and ref.group == "":
        return [("spec.storageClassName", _class_name(spec))]
    if ref.kind == "StatefulSet" and isinstance(spec.get("volumeClaimTemplates"), list):
        return [
            (
                f"spec.volumeClaimTemplates[{n}].spec.storageClassName",
                _class_name(_mapping(_mapping(t).get("spec"))),
            )
            for n, t in enumerate(spec["volumeClaimTemplates"])
        ]
    if ref.kind == "Cluster" and ref.group == "postgresql.cnpg.io":
        found = [
            (
                "spec.storage.storageClass",
                _class_name(_mapping(spec.get("storage")), "storageClass"),
            )
        ]
        if isinstance(spec.get("walStorage"), Mapping):
            found.append(
                ("spec.walStorage.storageClass", _class_name(spec["walStorage"], "storageClass"))
            )
        return found
    return None
