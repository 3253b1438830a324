"""Docker's image reference rules: normalisation, validation and familiar names."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?"
                        rf"(?:@({_DIGEST}))?$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    repository: str          # fully qualified: docker.io/library/busybox
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        return familiar_name(self.repository)

    def familiar_string(self) -> str:
        text = self.familiar
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def familiar_name(repository: str) -> str:
    if repository.startswith(DEFAULT_DOMAIN + "/"):
        rest = repository[len(DEFAULT_DOMAIN) + 1:]
        return rest[len("library/"):] if rest.startswith("library/") and \
            rest.count("/") == 1 else rest
    return repository


def parse(text: str, default_tag: bool = True) -> Reference:
    """Normalise like Docker: busybox → docker.io/library/busybox:latest."""
    if _HEX64.match(text):
        raise InvalidParameter(f"invalid repository name ({text}), cannot specify 64-byte "
                               "hexadecimal strings")
    match = _REFERENCE.match(text)
    if not match:
        lowered = text.lower()
        if lowered != text and _REFERENCE.match(lowered):
            name = text.split("@")[0].rsplit(":", 1)[0] if ":" in text.split("/")[-1] \
                else text.split("@")[0]
            raise InvalidParameter(f"invalid reference format: repository name ({name}) must "
                                   "be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.groups()
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
        if domain == "index.docker.io":
            domain = DEFAULT_DOMAIN
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if any(c.isupper() for c in path):
        raise InvalidParameter(f"invalid reference format: repository name ({path}) must be "
                               "lowercase")
    if len(f"{domain}/{path}") > 255:
        raise InvalidParameter("invalid reference format: repository name must not be more "
                               "than 255 characters")
    if tag is None and digest is None and default_tag:
        tag = "latest"
    return Reference(f"{domain}/{path}", tag, digest)
