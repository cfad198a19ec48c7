"""Container images: references, an OCI registry client, signatures and vulnerabilities."""
