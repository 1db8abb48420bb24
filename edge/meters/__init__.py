"""The flat's utility meters, read over RS-485 / serial.

One module per capability: ``config`` (declarations), ``profiles`` (Modbus register
maps), ``errors`` (why a read failed), ``serial_link`` (the only pyserial import),
``dlt645`` (the DL/T 645-2007 frame codec, pure) and ``dlt645_transport`` (it over the
serial link), ``modbus`` (Modbus RTU on pymodbus), ``bus`` (one lock per port, retries),
``health`` (counters and the offline rule), ``poller`` (the schedule) and ``service``
(what the gateway's composition root wires in). See docs/meters.md.
"""
