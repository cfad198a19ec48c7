"""Audit-evidence bundles: file layout, hash manifest, DSSE signature, verification, diff."""
