"""The registry pieces that need no registry: endpoints, platform matching, progress text."""
from __future__ import annotations

import pytest

from dockyard.daemon import config
from dockyard import mediatypes, platforms
from dockyard.distribution import manifests
from dockyard.distribution.endpoints import RegistrySettings
from dockyard.distribution.progress import bar
from dockyard.errors import InvalidParameter, NotFound

pytestmark = pytest.mark.unit


def test_endpoints_mirrors_and_insecure_registries() -> None:
    settings = RegistrySettings.from_config({"registry-mirrors": ["https://mirror.example/"],
                                             "insecure-registries": ["10.0.0.0/8",
                                                                     "reg.example:5000"]})
    hub = settings.endpoints("docker.io")
    assert [(e.url, e.mirror) for e in hub] == [("https://mirror.example", True),
                                                ("https://registry-1.docker.io", False)]
    assert hub[1].fallback_http is None
    local = settings.endpoints("127.0.0.1:5000")[0]
    assert (local.url, local.fallback_http) == ("https://127.0.0.1:5000",
                                                "http://127.0.0.1:5000")
    assert settings.endpoints("reg.example:5000")[0].fallback_http == "http://reg.example:5000"
    assert settings.endpoints("10.1.2.3")[0].fallback_http == "http://10.1.2.3"
    assert settings.endpoints("secure.example")[0].fallback_http is None
    info = settings.registry_config()
    assert info["Mirrors"] == ["https://mirror.example"]
    assert info["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "10.0.0.0/8"]
    assert info["IndexConfigs"]["reg.example:5000"]["Secure"] is False
    with pytest.raises(SystemExit):
        RegistrySettings.from_config({"registry-mirrors": ["ftp://x"]})
    with pytest.raises(SystemExit):
        RegistrySettings.from_config({"insecure-registries": ["http://x:5000"]})


def test_daemon_flags_reach_the_registry_settings() -> None:
    cfg = config.load(None, False, {"registry-mirrors": ["http://127.0.0.1:1"],
                                    "insecure-registries": ["10.9.0.0/16"],
                                    "max-concurrent-downloads": 5})
    assert cfg.raw["registry-mirrors"] == ["http://127.0.0.1:1"]
    assert cfg.raw["max-concurrent-downloads"] == 5


def _index(*platforms: dict[str, str]) -> dict:
    return {"manifests": [{"mediaType": mediatypes.OCI_MANIFEST, "digest": f"sha256:{i}",
                           "platform": p} for i, p in enumerate(platforms)]}


def test_platform_selection_follows_dockers_rules() -> None:
    index = _index({"os": "linux", "architecture": "amd64"},
                   {"os": "linux", "architecture": "arm64", "variant": "v8"},
                   {"os": "linux", "architecture": "arm", "variant": "v6"},
                   {"os": "linux", "architecture": "arm", "variant": "v7"})
    assert manifests.select(index, platforms.parse("linux/amd64"))["digest"] == \
        "sha256:0"
    assert manifests.select(index, platforms.parse("linux/aarch64"))["digest"] == \
        "sha256:1"
    assert manifests.select(index, platforms.parse("linux/arm/v7"))["digest"] == \
        "sha256:3"
    only_v6 = _index({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert manifests.select(only_v6, platforms.parse("linux/arm"))["digest"] == \
        "sha256:0"                                     # arm (v7) runs v6 images
    with pytest.raises(NotFound, match="no matching manifest for linux/arm/v5 in the "
                                       "manifest list entries"):
        manifests.select(index, platforms.parse("linux/arm/v5"))
    with pytest.raises(InvalidParameter):
        platforms.parse("linux//amd64")
    assert str(platforms.parse("arm64")) == "linux/arm64"


def test_progress_bar_text() -> None:
    assert bar(0, 0, 0) == ""
    assert bar(1_500_000, 3_000_000, 0) == f"[{'=' * 25}>{' ' * 25}]    1.5MB/3MB"
    assert bar(3_000_000, 3_000_000, 0) == f"[{'=' * 50}>]      3MB/3MB"
    assert bar(2048, 0, 0) == " 2.048kB"
    assert bar(10, 20, 0, width=80) == "     10B/20B"
