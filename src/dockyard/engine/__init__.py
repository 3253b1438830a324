"""Engine services: each owns one job (images, containers, events) and the daemon wires them."""
