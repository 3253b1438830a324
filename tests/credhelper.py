"""A docker-credential-<name> helper for the tests: the store/get/erase protocol over
stdin/stdout, keeping what it stores in store.json beside itself."""
from __future__ import annotations

import os
import sys

_SCRIPT = """\
import json, os, sys
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store.json")
store = json.load(open(path)) if os.path.exists(path) else {}
action, data = sys.argv[1], sys.stdin.read().strip()
if action == "store":
    item = json.loads(data)
    store[item["ServerURL"]] = item
elif action == "get":
    if data not in store:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(store[data]))
elif action == "erase":
    store.pop(data, None)
json.dump(store, open(path, "w"))
"""


def write_helper(directory: str, name: str) -> str:
    """Create `directory`/docker-credential-`name`; returns the path of its store.json."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"docker-credential-{name}")
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\n{_SCRIPT}")
    os.chmod(path, 0o755)
    return os.path.join(directory, "store.json")
