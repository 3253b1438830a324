"""dockyard: a container engine that speaks the Docker Engine API."""

__version__ = "0.1.0"
API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
