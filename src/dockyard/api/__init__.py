"""The Docker Engine HTTP API, one module per resource (as docker-py is laid out)."""
