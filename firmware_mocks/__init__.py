"""Simulated hardware that speaks the real over-the-air and over-the-wire formats.

Wristbands advertise encrypted BTHome v2 exactly as a band's firmware would; the
simulated radio hands those bytes to the gateway through a bleak scanner backend,
so everything above the radio is the production code path.
"""
