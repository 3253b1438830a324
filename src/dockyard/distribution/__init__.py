"""Talking to image registries: the OCI distribution protocol, auth, pull and push."""
