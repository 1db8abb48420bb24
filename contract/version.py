"""The product's version, shared by every process (and reported by gateways)."""

__version__ = "0.1.0"
