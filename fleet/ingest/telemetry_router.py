"""Where a batch of readings goes once ingest has judged it: each device's reading from
the gateway that hears it best, once (``SourceSelector``), only the devices of this
instance's partition, into InfluxDB; a band's own readings also end an inactivity
escalation (``ActivityWatch``)."""

from collections.abc import Callable
from typing import Protocol

from contract import Reading, TelemetryBatch
from contract.messages import ReadingKind
from fleet.ingest.source import Partition, SourceSelector
from fleet.timeseries.influx import telemetry_lines


class _Writer(Protocol):
    def add(self, lines: list[str]) -> None: ...


class TelemetryRouter:
    def __init__(
        self,
        *,
        partition: Partition,
        sources: SourceSelector,
        writer: _Writer,
        on_band_readings: Callable[[list[Reading]], None],
        clock: Callable[[], float],
    ) -> None:
        self.partition = partition
        self.sources = sources
        self._writer = writer
        self._on_band_readings = on_band_readings
        self._clock = clock
        self.counts = {"kept": 0, "other_source": 0, "other_partition": 0}

    def __call__(self, batch: TelemetryBatch) -> None:
        kept = []
        counts = self.counts
        now = self._clock()
        for reading in batch.readings:
            if not self.partition.owns(reading.device):
                counts["other_partition"] += 1
            elif reading.rssi is None or self.sources.accept(
                reading.device, batch.gateway, reading.rssi, reading.ts, now=now
            ):
                kept.append(reading)
            else:
                counts["other_source"] += 1
        if kept:
            self._writer.add(telemetry_lines(batch.gateway, kept))
            # Only a band's own readings end an inactivity escalation (a "sensor" or
            # meter reading is unchecked until the registry knows those devices).
            self._on_band_readings([r for r in kept if r.kind is ReadingKind.WRISTBAND])
        # Counted once handed to the writer (in memory, or on disk while InfluxDB is away).
        counts["kept"] += len(kept)

    def health(self) -> dict[str, int]:
        return {
            **self.counts,
            "handovers": self.sources.handovers,
            "future_ignored": self.sources.future_ignored,
        }
