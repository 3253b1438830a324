"""The OCI runtime spec: built from image config and create options (see spec.py)."""
