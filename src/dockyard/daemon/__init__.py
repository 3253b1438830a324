"""dockyardd: flags and config file like dockerd's, and the wiring of the engine services."""
