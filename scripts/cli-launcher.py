#!/usr/bin/env python3
"""Replace pip's `dockyard` console script with one that starts Python with -S.

The CLI needs only the standard library and this package, and a normal start processes
every .pth file in site-packages first (on the development machine one of them imports
certifi: ~20 ms of every `dockyard` command, more than the command's own work). So the
launcher skips site and appends the package's own directory to sys.path instead (after
PYTHONPATH, so a developer's PYTHONPATH=tree/src still wins). pip's script
stays the fallback for installs this script does not run after.
"""
from __future__ import annotations

import os
import sys

import dockyard

LAUNCHER = """#!{python} -S
# Written by scripts/cli-launcher.py: -S skips site-packages' .pth files (start-up time);
# the CLI needs only the standard library and the dockyard package below.
import sys
sys.path.append({package_parent!r})
from dockyard.cli.main import main
sys.exit(main())
"""


def main() -> None:
    """Usage: cli-launcher.py [PATH]; PATH defaults to pip's script next to this Python."""
    script = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(sys.executable), "dockyard")
    text = LAUNCHER.format(python=os.path.realpath(sys.executable),
                           package_parent=os.path.dirname(os.path.dirname(dockyard.__file__)))
    tmp = f"{script}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, script)
    print(f"dockyard CLI launcher: {script}")


if __name__ == "__main__":
    main()
