"""Golden tests of the OCI runtime spec that oci/spec.py builds from a container record:
pure (no root, no daemon), so a change to any option function shows up as a diff of
config.json. After an intended change: DOCKYARD_UPDATE_GOLDEN=1 pytest this file, then
review the diff of tests/data/spec/."""
from __future__ import annotations

import copy
import hashlib
import json
import os
from typing import Any

import pytest

from dockyard.engine.containers.model import DEFAULT_HOST_CONFIG
from dockyard.linux import cgroupfs
from dockyard.oci.spec import build_spec

pytestmark = pytest.mark.unit

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "spec")
CID = "c0ffee" + "0" * 58

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (Config overrides, HostConfig overrides)
    "default": ({}, {}),
    "hardened": ({"User": "nobody", "WorkingDir": "/srv", "Env": ["A=1", "PATH=/bin"],
                  "StopSignal": "SIGINT", "Tty": True},
                 {"ReadonlyRootfs": True, "CapDrop": ["ALL"], "CapAdd": ["NET_BIND_SERVICE"],
                  "SecurityOpt": ["no-new-privileges"], "Memory": 64 << 20,
                  "PidsLimit": 50, "CpuShares": 512,
                  "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]}),
    "privileged_host_network": ({"Hostname": "box", "Domainname": "example.org"},
                                {"Privileged": True, "NetworkMode": "host", "Init": True,
                                 "ShmSize": 1 << 20}),
}


def _rootfs(tmp_path: Any) -> str:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/home:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return str(root)


def _normalised(spec: dict[str, Any], rootfs: str) -> dict[str, Any]:
    """What differs between machines goes: the temp rootfs path, the host's cgroup version
    (v2 adds a cgroup namespace), and the seccomp profile (big; its digest stands for it)."""
    text = json.dumps(spec, sort_keys=True).replace(rootfs, "<rootfs>")
    spec = json.loads(text)
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                   if n["type"] != "cgroup"]
    seccomp = spec["linux"].pop("seccomp", None)
    if seccomp is not None:
        spec["linux"]["seccomp"] = "sha256:" + hashlib.sha256(
            json.dumps(seccomp, sort_keys=True).encode()).hexdigest()
    return spec


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_matches_golden(case: str, tmp_path: Any) -> None:
    config_overrides, host_overrides = CASES[case]
    config = {"Hostname": CID[:12], "Env": None, "Cmd": ["sh"], **config_overrides}
    host_config = {**copy.deepcopy(DEFAULT_HOST_CONFIG), **host_overrides}
    record = {"Id": CID, "Path": "sh", "Args": ["-c", "true"], "Config": config,
              "HostConfig": host_config}
    rootfs = _rootfs(tmp_path)
    spec = build_spec(record, {"config": {}}, rootfs=rootfs, cgroups_path=f"/dockyard/{CID}",
                      files={"/etc/hostname": "/run/h", "/etc/hosts": "/run/hosts",
                             "/etc/resolv.conf": "/run/resolv.conf"},
                      init_binary="/usr/libexec/dockyard-init",
                      mounts=[{"destination": "/data", "type": "bind", "source": "/srv/data",
                               "options": ["rbind", "ro"]}])
    got = _normalised(spec, rootfs)
    if cgroupfs.unified():
        assert {"type": "cgroup"} in spec["linux"]["namespaces"]
    path = os.path.join(GOLDEN, f"{case}.json")
    if os.environ.get("DOCKYARD_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
    with open(path) as f:
        assert got == json.load(f), f"spec for {case} differs from {path}"
