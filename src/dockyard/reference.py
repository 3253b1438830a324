"""Docker's image references (the rules of distribution/reference and go-digest).

    busybox                      -> docker.io/library/busybox:latest
    user/app                     -> docker.io/user/app:latest
    localhost:5000/x:1           -> localhost:5000/x:1
    busybox@sha256:<64 hex>      -> docker.io/library/busybox@sha256:...

The familiar (short) form drops docker.io/ and library/ again for display. Errors carry
Docker's texts, e.g. "invalid reference format: repository name (library/Busybox) must be
lowercase". An image can also be named by its ID: "sha256:<64 hex>", the bare 64 hex
digits, or any unique prefix of the hex digits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_HEX_PREFIX_RE = re.compile(r"^[a-f0-9]{1,64}$")
_DIGEST_RE = re.compile(rf"^{_DIGEST}$")

_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class Reference:
    """A named reference: domain + path, optional tag, optional digest."""
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The fully qualified repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    # kept for callers that think of it as "the repository"
    repository = name

    def __str__(self) -> str:
        return self._with_tag_and_digest(self.name)

    @property
    def familiar(self) -> str:
        return familiar_name(self.name)

    def familiar_string(self) -> str:
        return self._with_tag_and_digest(self.familiar)

    def _with_tag_and_digest(self, name: str) -> str:
        text = f"{name}:{self.tag}" if self.tag else name
        return f"{text}@{self.digest}" if self.digest else text

    @property
    def is_canonical(self) -> bool:
        return self.digest is not None

    @property
    def is_name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def tag_name_only(self) -> "Reference":
        """Docker's TagNameOnly: a bare name gets the default tag."""
        if self.is_name_only:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def with_tag(self, tag: str) -> "Reference":
        if not _TAG_RE.match(tag):
            raise InvalidParameter("invalid tag format")
        return Reference(self.domain, self.path, tag, None)

    def name_only(self) -> "Reference":
        return Reference(self.domain, self.path, None, None)


def validate_digest(text: str) -> str:
    """go-digest's Parse: returns the digest or raises with its error text."""
    algorithm, sep, encoded = text.partition(":")
    if not sep or not algorithm or not encoded:
        raise InvalidParameter("invalid checksum digest format")
    if algorithm not in _DIGEST_LENGTHS:
        if not _DIGEST_RE.match(text):
            raise InvalidParameter("invalid checksum digest format")
        raise InvalidParameter("unsupported digest algorithm")
    if len(encoded) != _DIGEST_LENGTHS[algorithm]:
        raise InvalidParameter("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidParameter("invalid checksum digest format")
    return text


def is_digest(text: str) -> bool:
    try:
        validate_digest(text)
        return True
    except InvalidParameter:
        return False


def _parse(text: str) -> Reference:
    """reference.Parse: the regular expression match plus length and digest checks."""
    match = _REFERENCE_RE.match(text)
    if not match:
        if not text:
            raise InvalidParameter("repository name must have at least one component")
        if _REFERENCE_RE.match(text.lower()):
            raise InvalidParameter("repository name must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter("repository name must not be more than 255 characters")
    name_match = _ANCHORED_NAME_RE.match(name)
    domain, path = (name_match.group(1) or "", name_match.group(2)) if name_match else ("", name)
    if digest is not None:
        validate_digest(digest)
    return Reference(domain, path, tag, digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    maybe_domain, sep, remainder = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + name
    if maybe_domain == "localhost":
        domain = maybe_domain
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    elif "." in maybe_domain or ":" in maybe_domain:
        domain = maybe_domain
    elif maybe_domain.lower() != maybe_domain:
        domain = maybe_domain           # upper case is not allowed on Docker Hub: a domain
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse_normalized_named(text: str) -> Reference:
    """ParseNormalizedNamed: busybox -> docker.io/library/busybox (no default tag added)."""
    if _IDENTIFIER_RE.match(text):
        raise InvalidParameter(f"invalid repository name ({text}), cannot specify 64-byte "
                               "hexadecimal strings")
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidParameter(f"invalid reference format: repository name ({remote}) must "
                               "be lowercase")
    return _parse(f"{domain}/{remainder}")


def parse(text: str, default_tag: bool = True) -> Reference:
    """Normalise like Docker; with default_tag a bare name gets ":latest"."""
    ref = parse_normalized_named(text)
    return ref.tag_name_only() if default_tag else ref


def parse_any(text: str) -> Reference | str:
    """ParseAnyReference: an image ID ("sha256:<hex>" or 64 hex) comes back as the digest
    string; anything else as a normalised (untagged-if-bare) Reference."""
    if _IDENTIFIER_RE.match(text):
        return f"sha256:{text}"
    if is_digest(text):
        return text
    return parse_normalized_named(text)


def id_prefix(text: str) -> str | None:
    """The hex digits when `text` could name an image by (a prefix of) its ID."""
    hexpart = text[len("sha256:"):] if text.startswith("sha256:") else text
    return hexpart if _HEX_PREFIX_RE.match(hexpart) else None


def is_image_id_prefix(image_id: str, possible_prefix: str) -> bool:
    """moby's isImageIDPrefix (used by rmi to tell "by ID" from "by name")."""
    if image_id.startswith(possible_prefix):
        return True
    _, sep, hexpart = image_id.partition(":")
    return bool(sep) and hexpart.startswith(possible_prefix)


def familiar_name(name: str) -> str:
    """docker.io/library/busybox -> busybox; docker.io/user/app -> user/app."""
    if name.startswith(DEFAULT_DOMAIN + "/"):
        path = name[len(DEFAULT_DOMAIN) + 1:]
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX):]:
            return path[len(OFFICIAL_PREFIX):]
        return path
    return name


def familiar_string(ref: Reference | str) -> str:
    if isinstance(ref, str):
        ref = parse_normalized_named(ref)
    return ref.familiar_string()


def repo_tag_reference(repo: str, tag: str | None) -> Reference:
    """httputils.RepoTagReference: the target of POST /images/{name}/tag and of import."""
    if not repo:
        raise InvalidParameter("repository name must have at least one component")
    ref = parse_normalized_named(repo)
    if ref.digest:
        raise InvalidParameter("cannot tag using a digest reference")
    return ref.with_tag(tag) if tag else ref.tag_name_only()


def split_repo_tag(text: str) -> tuple[str, str | None]:
    """Split "repo[:tag]" the way the docker CLI does (a ':' after the last '/' starts the
    tag), keeping "host:port/name" intact."""
    name, sep, digest = text.partition("@")
    if sep:
        return text, None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, None


def _translate_path_pattern(pattern: str) -> re.Pattern[str]:
    """Go's path.Match as a regular expression ('*' and '?' never match '/')."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= len(pattern):
                raise InvalidParameter("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            j = i + 1
            negate = j < len(pattern) and pattern[j] == "^"
            if negate:
                j += 1
            items = []
            first = True
            while True:
                if j >= len(pattern):
                    raise InvalidParameter("syntax error in pattern")
                c = pattern[j]
                if c == "]" and not first:
                    break
                first = False
                if c == "\\":
                    j += 1
                    if j >= len(pattern):
                        raise InvalidParameter("syntax error in pattern")
                    c = pattern[j]
                lo = c
                j += 1
                if j + 1 < len(pattern) and pattern[j] == "-" and pattern[j + 1] != "]":
                    hi = pattern[j + 1]
                    if hi == "\\":
                        j += 1
                        hi = pattern[j + 1] if j + 1 < len(pattern) else ""
                        if not hi:
                            raise InvalidParameter("syntax error in pattern")
                    if hi < lo:
                        raise InvalidParameter("syntax error in pattern")
                    items.append(f"{re.escape(lo)}-{re.escape(hi)}")
                    j += 2
                else:
                    items.append(re.escape(lo))
            body = "".join(items)
            out.append(f"(?!/)[^{body}]" if negate else f"(?!/)[{body}]")
            i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def path_match(pattern: str, name: str) -> bool:
    return bool(_translate_path_pattern(pattern).match(name))


def familiar_match(pattern: str, ref: Reference) -> bool:
    """reference.FamiliarMatch: the pattern against "name:tag", then against the name."""
    regex = _translate_path_pattern(pattern)
    return bool(regex.match(ref.familiar_string()) or regex.match(ref.familiar))
