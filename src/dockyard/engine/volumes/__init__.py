"""Volumes: Docker's volume objects, their drivers and what containers use of them.

`service.py` the volume service (create/inspect/list/remove/prune, which container uses
which volume, mount reference counts; its tables in the metadata database), `local.py` the
local driver (`<data-root>/volumes/<name>/_data`, tmpfs/bind/block-device options mounted
on first use), `plugins.py` the volume plugin protocol client, `copyup.py` copying the
image's content into a new empty volume, `anonymous.py` where anonymous volumes go,
`recovery.py` the start-up reconcile and the volumes' part of the store check. The
container side (claim at create, mount at start, release at rm) is
engine/containers/volumemounts.py.
"""
