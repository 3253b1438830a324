"""Hypothesis strategies for the API fuzz test (test_fuzz_api.py): JSON bodies shaped like the
Go structs of dockyard.api.schema (mostly the right kind, with values the engine must judge:
empty, negative, huge, malformed), bodies unlike them (any JSON, broken bytes, deep nesting),
query strings, and tar streams with hostile member names."""
from __future__ import annotations

import gzip
import io
import tarfile
import urllib.parse
from typing import Any

from hypothesis import strategies as st

from dockyard.api import schema

ESCAPE = "dyfuzz-escaped"   # a file by this name outside a container is an escape

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)

# Values for string fields (and list items, map keys) by field name: what reaches the
# engine's own parsing once the type is right.
HINTS: dict[str, list[str]] = {
    "image": ["busybox", "busybox:latest", "nosuch", "", "UPPER", "a:b:c", "sha256:0",
              "busybox@sha256:" + "0" * 64, "localhost:1/x"],
    "user": ["", "0", "nobody", "1000:1000", "root:nosuch", "nosuch", ":", "-1", "99999999999"],
    "workingdir": ["", "/", "relative", "/tmp/../..", "/nonexistent/dir"],
    "stopsignal": ["", "SIGKILL", "KILL", "9", "0", "999", "SIGNOPE", "-1"],
    "hostname": ["", "a", "x" * 300, "bad host", "-"],
    "macaddress": ["", "zz", "02:42:ac:11:00:02"],
    "env": ["A=1", "A", "=x", "", "PATH="],
    "cmd": ["true", "", "sh", "/nonexistent"],
    "entrypoint": ["", "true", "/nonexistent"],
    "shell": ["", "sh", "/bin/sh"],
    "binds": ["/tmp:/x", "/tmp:/x:ro", "/tmp:/x:zz", "/nonexistent:/y", "vol:/z", "/tmp",
              ":", "/tmp:relative", "/tmp:/x:ro:extra", ""],
    "networkmode": ["", "host", "none", "bridge", "default", "container:nosuch", "nosuch"],
    "ipcmode": ["", "host", "private", "shareable", "none", "container:nosuch", "bogus"],
    "pidmode": ["", "host", "container:nosuch", "bogus"],
    "utsmode": ["", "host", "bogus"],
    "usernsmode": ["", "host", "bogus"],
    "cgroupnsmode": ["", "host", "private", "bogus"],
    "cgroupparent": ["", "/", "../..", "x/y", "/nonexistent"],
    "cpusetcpus": ["", "0", "0-1", "0-", "1-0", "a", " ", "4096", "0,,1"],
    "cpusetmems": ["", "0", "0-", "4096", "x"],
    "name": ["", "no", "always", "on-failure", "unless-stopped", "bogus", "json-file", "local",
             "none", "nofile", "nproc", "cpu", "bogus-ulimit"],
    "type": ["", "bind", "volume", "tmpfs", "npipe", "bogus", "json-file", "local", "none",
             "syslog", "journald"],
    "source": ["", "/tmp", "/nonexistent", "relative", "vol"],
    "target": ["", "/x", "relative", "/", "/proc"],
    "propagation": ["", "rprivate", "shared", "bogus"],
    "capadd": ["ALL", "NET_ADMIN", "CAP_SYS_ADMIN", "bogus", ""],
    "capdrop": ["ALL", "CHOWN", "bogus", ""],
    "securityopt": ["no-new-privileges", "no-new-privileges:false", "seccomp=unconfined",
                    "seccomp=/nonexistent", "seccomp={", "apparmor=x", "label=disable",
                    "bogus", "=", ""],
    "dns": ["", "1.1.1.1", "bogus"],
    "extrahosts": ["a:1.2.3.4", "a", "a:host-gateway", ":", ""],
    "groupadd": ["", "0", "nosuch", "-1"],
    "links": ["nosuch:alias", ""],
    "volumesfrom": ["nosuch", "nosuch:ro", ""],
    "devicecgrouprules": ["c 1:3 rwm", "bogus", "", "a *:* rwm"],
    "pathonhost": ["/dev/null", "/dev/nonexistent", "", "/etc/passwd"],
    "pathincontainer": ["/dev/x", "", "relative"],
    "cgrouppermissions": ["rwm", "", "xyz"],
    "path": ["/dev/null", "/dev/sda", "", "bogus"],
    "portbindings": ["80/tcp", "80", "x/tcp", "65536/udp", "0/sctp", "1-2/tcp", ""],
    "exposedports": ["80/tcp", "80", "bogus", "1-70000/tcp", ""],
    "volumes": ["/data", "relative", "", "/"],
    "hostport": ["", "0", "8080", "99999", "x", "1-2"],
    "hostip": ["", "0.0.0.0", "::", "bogus"],
    "sysctls": ["net.ipv4.ip_forward", "kernel.shmmax", "bogus", ""],
    "tmpfs": ["/run", "relative", "", "/"],
    "storageopt": ["size", "bogus"],
    "config": ["max-size", "max-file", "mode", "tag", "bogus", "compress"],
    "logconfig": ["max-size", "max-file"],
    "detachkeys": ["", "ctrl-p,ctrl-q", "a", "ctrl-", "ctrl-zz", ","],
    "test": ["CMD", "CMD-SHELL", "NONE", "true", ""],
    "consistency": ["", "cached", "bogus"],
    "runtime": ["", "runc", "bogus", "io.containerd.runc.v2"],
    "isolation": ["", "default", "hyperv"],
}
VALUE_HINTS = ["", "1", "-1", "0", "1k", "1g", "size=1k", "bogus", "true", "x=y"]


def _strings(name: str) -> st.SearchStrategy[str]:
    hints = HINTS.get(name.lower(), [])
    base = st.sampled_from(hints) if hints else st.sampled_from(VALUE_HINTS)
    return st.one_of(base, base, st.text(max_size=12))


def _ints(shape: schema.Scalar) -> st.SearchStrategy[int]:
    low, high = shape.bounds
    edges = [0, 1, -1, low, high, low - 1, high + 1, 6 * 1024 * 1024 - 1, 1 << 31, 4096]
    return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers())


@st.composite
def _maybe_wrong(draw: Any, right: st.SearchStrategy[Any]) -> Any:
    """Mostly the right kind; one time in ten any JSON value at all."""
    return draw(ANY_JSON) if draw(st.integers(0, 9)) == 0 else draw(right)


def shaped(shape: schema.Shape, name: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for `shape` as a client might send it, including wrong kinds now and then."""
    if isinstance(shape, schema.Scalar):
        right: st.SearchStrategy[Any] = (
            _strings(name) if shape.kind is str else st.booleans() if shape.kind is bool
            else _ints(shape))
    elif isinstance(shape, schema.StrSlice):
        right = _strings(name) | st.lists(_strings(name), max_size=3)
    elif isinstance(shape, (schema.ListOf, schema.ArrayOf)):
        right = st.lists(shaped(shape.item, name, depth + 1), max_size=3)
    elif isinstance(shape, schema.MapOf):
        right = st.dictionaries(_strings(name), shaped(shape.value, "", depth + 1), max_size=3)
    else:
        right = _object(shape, depth)
    return _maybe_wrong(right)


def _object(shape: schema.Obj, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(shape.fields)
    if not names:
        return st.just({})
    values = {name: st.deferred(lambda name=name: shaped(shape.fields[name], name, depth + 1))
              for name in names}

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
        body = {}
        for name in chosen:
            key = name.lower() if draw(st.integers(0, 7)) == 0 else name  # Go ignores case
            body[key] = draw(values[name])
        return body
    return build()


DEEP = st.integers(1, 30).map(lambda n: n * 1000).map(lambda n: "[" * n + "]" * n)
RAW_BODY = st.one_of(
    st.binary(max_size=40), DEEP,
    st.sampled_from(["", "{", "nul", "NaN", "[1,", '{"a":1}{}', "1e999", '{"Image":"\\ud800"}',
                     "\ufeff{}", '"\\u0000"', "-", "[]", "null", "{}" + " " * 10]))


@st.composite
def body(draw: Any, shape: schema.Obj) -> bytes:
    """A body for an endpoint decoding `shape`: mostly shaped, else any JSON or broken bytes."""
    import json
    kind = draw(st.integers(0, 9))
    if kind == 0:
        raw = draw(RAW_BODY)
        return raw if isinstance(raw, bytes) else raw.encode()
    value = draw(ANY_JSON) if kind == 1 else draw(shaped(shape))
    return json.dumps(value).encode()


# --- query strings --------------------------------------------------------------------------

BOOLS = ["", "0", "1", "true", "false", "True", "yes", "no", "2", "-1", "x", "tRuE"]
INTS = ["", "0", "1", "-1", "x", "1.5", "1e3", "99999999999999999999999", " 1", "0x10", "+1"]
TIMES = ["", "0", "1", "-1", "1.5", "1e999", "abc", "2020-01-01", "2020-13-45T99:99:99Z",
         "2020-01-01T00:00:00Z", "1.5.6", "9999999999999999999", "10m", "-10m", "nan", "inf",
         "1700000000.000000001", ".5", "1."]
FILTER_KEYS = ["status", "exited", "label", "name", "id", "before", "since", "ancestor",
               "health", "volume", "network", "publish", "expose", "is-task", "dangling",
               "reference", "until", "bogus", ""]
FILTER_VALUES = ["", "running", "exited", "bogus", "0", "-1", "x", "[", "(", "*", "a=b", "a",
                 "busybox", "nosuch", "true", "false", "healthy", "none", "1h", "abc", "80",
                 "80/tcp", "x/tcp", "\\", "sha256:", "<none>"]


@st.composite
def filters(draw: Any) -> str:
    """A `filters` value: the JSON map of lists, the legacy map of maps, or something else."""
    import json
    keys = st.sampled_from(FILTER_KEYS) | st.text(max_size=6)
    values = st.sampled_from(FILTER_VALUES) | st.text(max_size=6)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(["", "{", "[]", "null", "1", '"x"', '{"status": "x"}',
                                     '{"status": [1]}', '{"label": {"a": "x"}}',
                                     '{"name": null}', "{}"]) | st.text(max_size=10))
    if kind == 1:
        return json.dumps(draw(st.dictionaries(keys, st.dictionaries(values, st.booleans()
                                                                    | ANY_JSON, max_size=2),
                                               max_size=2)))
    if kind == 2:
        return json.dumps(draw(st.dictionaries(keys, ANY_JSON, max_size=2)))
    return json.dumps(draw(st.dictionaries(keys, st.lists(values, max_size=3), max_size=3)))


def query(params: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """A query string of some of `params` (repeated keys now and then), random keys, and
    sometimes raw bytes (bad percent escapes, stray separators)."""
    pair = st.one_of(*(st.tuples(st.just(k), v) for k, v in params.items()),
                     st.tuples(st.text(max_size=6), st.text(max_size=6)))

    @st.composite
    def build(draw: Any) -> str:
        text = urllib.parse.urlencode(draw(st.lists(pair, max_size=5)))
        if draw(st.integers(0, 9)) == 0:
            garbage = draw(st.sampled_from(["%", "%zz", "&&", "=", "==x", "%00", "a=%ff%fe", ";",
                                            "+", "a[]=1", "%E2%82"]) | st.text(max_size=6))
            text += "&" + urllib.parse.quote(garbage, safe="=&%;+[]")
        return text
    return build()


def choose(values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(values) | st.text(max_size=8)


# --- tar streams ----------------------------------------------------------------------------

_NAMES = ["a", "dir/b", "./c", ".", "..", "", "/", "/abs", "a/../../x", f"../{ESCAPE}",
          f"../../../../../tmp/{ESCAPE}", f"/../../{ESCAPE}", f"link/{ESCAPE}", "link",
          "x" * 120 + "/" + "y" * 120, "dir", "dir/", "etc/passwd", "bin", "dev/null",
          "tmp", "proc/x", "a\\b", "sp ace", "é"]
_LINKS = ["", "a", "/etc/passwd", "/tmp", "../../../../../tmp", "..", "nosuch", "link",
          "/", "dir", "dir/b", "/proc/self/root"]
_TYPES = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
          tarfile.FIFOTYPE, tarfile.BLKTYPE, b"x", tarfile.CONTTYPE]
_MEMBER = st.tuples(st.sampled_from(_NAMES) | st.text(max_size=10), st.sampled_from(_TYPES),
                    st.sampled_from(_LINKS), st.integers(0, 0o7777) | st.integers(),
                    st.binary(max_size=20), st.integers(0, 70000) | st.integers(-5, 1 << 40))


def _tar(members: list[tuple[str, bytes, str, int, bytes, int]], fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, kind, link, mode, data, owner in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, link, mode
            info.uid = info.gid = owner
            info.devmajor, info.devminor = 1, 3
            payload = data if kind in (tarfile.REGTYPE, tarfile.CONTTYPE, b"x") else b""
            info.size = len(payload)
            try:
                tar.addfile(info, io.BytesIO(payload))
            except (ValueError, OverflowError, UnicodeError, tarfile.TarError):
                continue            # a header tarfile cannot write: leave the member out
    return out.getvalue()


@st.composite
def tar_body(draw: Any) -> bytes:
    """A tar stream: well-formed with hostile members, then maybe gzipped, cut short or
    with bytes flipped; or plain garbage."""
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=600))
    fmt = draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))
    data = _tar(draw(st.lists(_MEMBER, max_size=5)), fmt)
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    damage = draw(st.integers(0, 3))
    if damage == 1 and data:
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif damage == 2 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data
