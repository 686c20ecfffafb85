"""Photos as evidence: what an accepted image is (its type read from its first bytes, never from the client)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.casework.domain.errors import InvalidInput

# Magic bytes of the image types a phone camera produces; the client's Content-Type is not believed.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True)
class Photo:
    """An accepted image: its bytes, SHA-256, size and type (the only facts an event may record of it)."""

    data: bytes
    sha256: str
    size_bytes: int
    media_type: str

    def reference(self, case_id: str) -> dict[str, object]:
        """The evidence reference a work record carries: digest, size, type and where the bytes are kept."""
        return {"kind": "photo", "sha256": self.sha256, "size_bytes": self.size_bytes, "media_type": self.media_type,
                "location": f"casework:photos/{case_id}/{self.sha256}"}


def media_type_of(data: bytes) -> str | None:
    """The image type by magic bytes (JPEG, PNG, WebP), or None."""
    for magic, media_type in _SIGNATURES:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def accepted_photo(data: bytes, max_bytes: int) -> Photo:
    """The photo if it is a non-empty JPEG/PNG/WebP of at most ``max_bytes``; else InvalidInput naming the rule."""
    if not data:
        raise InvalidInput("照片为空", rule="photo.empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"照片过大：最大 {max_bytes // 1_000_000} MB", rule="photo.too_large")
    media_type = media_type_of(data)
    if media_type is None:
        raise InvalidInput("只接受 JPEG、PNG 或 WebP 照片", rule="photo.type")
    return Photo(data=data, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), media_type=media_type)
