"""Engine API client: the only way the CLI reaches the daemon."""
