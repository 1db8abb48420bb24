"""Simulated utility meters on a pseudo-terminal, driven by a flat's daily routine.

``usage`` models what a resident draws through the day; ``modbus_slave`` and
``dlt645_slave`` answer requests the way real meters do (written independently of the
gateway's codecs, so the two check each other); ``pty_bus`` puts several of them on
one simulated RS-485 bus with fault injection.
"""
