"""The container service and its pieces (records, names, options, monitor, logs)."""
from .service import ContainerService

__all__ = ["ContainerService"]
