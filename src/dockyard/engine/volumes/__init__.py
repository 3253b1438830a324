"""Volumes. Today: anonymous volumes (`anonymous.py`) are directories of the container's
root filesystem.

Where the rest goes (issue: named and anonymous volumes, the local driver, plugins):
`service.py` the volume service (create/inspect/list/remove/prune, reference counts, its
records in the metadata store), `local.py` the local driver (`<data-root>/volumes/<name>/_data`,
tmpfs/bind/block-device options, mount on first use), `plugins.py` the volume plugin
protocol client, `copyup.py` copying the image's content into a new empty volume.
"""
