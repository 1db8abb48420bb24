"""Subcommands of ``silverguard``, one module per group.

Each module has ``register(commands)`` adding its parser; heavy imports happen inside
the handlers, so the gateway's commands run on a Pi without the fleet's packages.
"""
