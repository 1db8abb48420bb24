"""Why a meter read failed. One root, so a poll loop catches exactly what it expects::

    MeterError
    ├── PortError       the serial port cannot be opened or vanished (USB adapter unplugged)
    ├── NoResponse      nothing came back before the timeout (meter off, wrong address/baud)
    ├── BadFrame        bytes came back but no valid answer: CRC/checksum error, truncated
    │                   frame, garbage on the bus, an answer from another address
    └── MeterRefused    a valid answer saying no: Modbus exception, DL/T 645 abnormal reply

The first three are worth a retry; a refusal is not (the meter will say no again).
"""


class MeterError(Exception):
    """A meter could not be read; the message says which meter and what to check."""


class PortError(MeterError):
    pass


class NoResponse(MeterError):
    pass


class BadFrame(MeterError):
    pass


class MeterRefused(MeterError):
    pass
