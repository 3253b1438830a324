"""The `dockyard` command line: a client of the Engine API, laid out like the docker CLI."""
