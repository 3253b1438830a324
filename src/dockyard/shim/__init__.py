"""The per-container monitor (dockyard-shim, C) and the code that launches it."""
