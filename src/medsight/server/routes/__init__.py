"""The service's routes, one module per area; each route declares its scope with ``Allow``."""
