"""What a wrist accelerometer's sample rate does to an impact: shared by the band's fall
detector (firmware_mocks) and the gateway's fall rule (edge), which judge the same
band's motion.
"""

# An accelerometer filters before it samples (bandwidth about half its output rate);
# impact pulses at the wrist last 20-60 ms, so a sensor sampling below ~40 Hz records
# them lower and broader (about a fifth lower at 20 Hz). Amplitudes measured by slower
# bands are compared with thresholds scaled by (rate / 40 Hz) ** (1/3).
REFERENCE_RATE_HZ = 40.0


def bandwidth_factor(rate_hz: float, reference_hz: float = REFERENCE_RATE_HZ) -> float:
    """How much of an impact's amplitude a sensor sampling at ``rate_hz`` records (1 at
    and above the reference rate)."""
    if rate_hz <= 0:
        raise ValueError(f"a sample rate must be positive, not {rate_hz:g}")
    return min(1.0, float((rate_hz / reference_hz) ** (1 / 3)))
