"""Image storage: content store, references, image metadata, layers and overlay snapshots."""
