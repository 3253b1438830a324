"""`dockyard manifest inspect`: a registry's manifest or manifest list, as `docker manifest
inspect` prints it. Like the docker CLI this talks to the registry itself (with the
credentials `login` stored), so it imports the registry client — only in this command."""
from __future__ import annotations

import sys
from typing import Any

from .common import Context
from .flags import Bool, Opts, command


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def _site_packages() -> None:
    """The installed launcher starts Python without site-packages (scripts/cli-launcher.py:
    start-up time); this command alone needs them, for the registry client's aiohttp."""
    if sys.flags.no_site:
        import site
        site.main()


async def _inspect(name: str, verbose: bool, insecure: bool) -> Any:
    import base64
    import json

    _site_packages()
    from .. import mediatypes
    from ..distribution import pull
    from ..distribution.auth import decode_registry_auth
    from ..distribution.client import Repository, new_session
    from ..distribution.endpoints import RegistrySettings
    from .. import reference
    from ..reference import Reference
    from .credentials import registry_auth_header

    ref = reference.parse_normalized_named(name).tag_name_only()
    if ref.tag and ref.digest:
        ref = Reference(ref.domain, ref.path, None, ref.digest)
    settings = RegistrySettings.from_config(
        {"insecure-registries": [ref.domain]} if insecure else {})
    auth = decode_registry_auth(registry_auth_header(ref.domain))
    async with new_session() as session:
        repo = Repository(session, settings, ref, auth)
        await repo.connect(settings.endpoints(ref.domain)[-1])
        try:
            raw, media_type, digest = await pull.fetch_manifest(repo, ref.digest or ref.tag)
        except pull.RegistryError as exc:
            if exc.http_status == 404:
                _fail(f"no such manifest: {ref}")
            raise
        doc = json.loads(raw)
        if not verbose:
            return doc

        async def entry(raw: bytes, media_type: str, digest: str,
                        platform: dict[str, Any] | None, named: str) -> dict[str, Any]:
            manifest = json.loads(raw)
            if platform is None:
                config = json.loads(await pull.fetch_blob(repo, manifest["config"]["digest"]))
                platform = {"architecture": config.get("architecture", ""),
                            "os": config.get("os", "")}
            key = "SchemaV2Manifest" if media_type == mediatypes.DOCKER_MANIFEST \
                else "OCIManifest"
            return {"Ref": named, "Descriptor": {"mediaType": media_type, "digest": digest,
                                                 "size": len(raw), "platform": platform},
                    "Raw": base64.b64encode(raw).decode(), key: manifest}

        if media_type not in mediatypes.INDEXES:
            return await entry(raw, media_type, digest, None, str(ref))
        out = []
        for item in doc.get("manifests") or []:
            sub, sub_type, sub_digest = await pull.fetch_manifest(repo, item["digest"])
            out.append(await entry(sub, sub_type, sub_digest, item.get("platform") or {},
                                   f"{ref.name}@{sub_digest}"))
        return out


@command("[OPTIONS] [MANIFEST_LIST] MANIFEST",
         Bool("--insecure", "Allow communication with an insecure registry"),
         Bool("-v, --verbose", "Output additional info including layers and platform"),
         args=(1, 2))
def inspect(ctx: Context, o: Opts, args: list[str]) -> None:
    import asyncio
    import json

    from ..errors import DockyardError

    try:
        result = asyncio.run(_inspect(args[-1], o.verbose, o.insecure))
    except DockyardError as exc:
        _fail(exc.message)
    print(json.dumps(result, indent="\t"))

