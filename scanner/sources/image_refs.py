"""Image references given on the command line, as Pods that run each image unmodified.

``ledgergate scan image REF`` judges an image as a bare Pod would run it (no
securityContext), so the image rules read the image's own signature, vulnerabilities
and default user.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from scanner.model import Origin, Resource, ResourceRef
from scanner.sources.base import Source, SourceItem


class ImageSource(Source):
    """One synthetic Pod per image reference, in the order given (duplicates dropped)."""

    name = "image"

    def __init__(self, images: Sequence[str]) -> None:
        self.images = list(dict.fromkeys(images))

    def collect(self) -> Iterator[SourceItem]:
        """Yield a Pod per reference; the registry is read later, by the images analyzer."""
        for image in self.images:
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": image},
                "spec": {"containers": [{"name": "image", "image": image}]},
            }
            yield Resource(ResourceRef("v1", "Pod", "", image), body, Origin(image_digest=image))

    def target(self) -> dict[str, str]:
        """What was scanned: the references, as given."""
        return {"type": "image", "images": ", ".join(self.images)}
