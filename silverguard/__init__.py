"""Silverguard: community gateways and a fleet service that watch over elderly people living alone."""

__version__ = "0.1.0"
