"""Signature verification images and evidence bundles share.

An image's Sigstore bundle (``scanner.images.sigstore_bundle`` finds it on a registry) and
an evidence manifest's keyless signature (``scanner.evidence.keyless``) are checked by the
same code against the same kind of trusted identity, offline against a trusted root.
"""
