"""The test registries themselves: anonymous and htpasswd-protected ones answer /v2/."""
import base64
import urllib.error
import urllib.request

import pytest

from registry import Registry


def test_anonymous_registry_answers(registry) -> None:
    with urllib.request.urlopen(f"{registry.url}/v2/", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_basic_auth_registry_checks_passwords() -> None:
    reg = Registry(users={"alice": "s3cret"}).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{reg.url}/v2/", timeout=5)
        assert err.value.code == 401
        assert err.value.headers["WWW-Authenticate"].startswith("Basic realm=")
        req = urllib.request.Request(f"{reg.url}/v2/", headers={
            "Authorization": "Basic " + base64.b64encode(b"alice:s3cret").decode()})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
    finally:
        reg.stop()
