"""The band's fall-detector thresholds, each with its physical reason.

Each piece of evidence about an impact is graded from 0 to 1 between two anchors; the
band flags a fall when the weighted sum reaches ``score_to_flag`` and no veto applies.
No single piece is required: people often move after landing, and arm movements at
the wrist (clapping, hitting a table) reach impact-sized peaks, so only the
combination is telling. Every measure is orientation-invariant (magnitudes, and angles
between gravity directions seen by the band), so the band may sit on either wrist,
turned or upside down.
"""

from dataclasses import dataclass, replace

from contract.careplan import FallSensitivity
from contract.motion import REFERENCE_RATE_HZ, bandwidth_factor


def ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 at ``zero_at``, 1 at ``one_at``, linear between (either direction)."""
    t = (value - zero_at) / (one_at - zero_at)
    return min(1.0, max(0.0, t))


@dataclass(frozen=True, slots=True)
class FallThresholds:
    """The detector's anchors, weights, gates and vetoes (defaults: ``standard``)."""

    # Candidate impact: acceleration magnitude at the wrist. Walking and everyday arm
    # movements stay below ~2 g; the ground stopping a falling body (2-4 m/s within
    # 0.1-0.2 s) gives 2.5 g and more. Everything above 2 g is looked at.
    candidate_g: float = 2.0
    # Impact: the peak, graded from 3 g (a brisk arm movement can reach it) to 5 g (only
    # hard impacts do). Sensors clipping at +-4 g per axis still show up to 6.9 g.
    impact_g: tuple[float, float] = (3.0, 5.0)
    # Impact dose: integral of |magnitude - 1 g| from 0.2 s before to 0.4 s after the
    # peak, in g*s (x 9.81 = m/s of velocity change). A body landing from standing or
    # sitting height hits at 2-4 m/s and bounces: 0.3-0.6 g*s and more. A clap, a hand
    # strike or dropping onto a seat stops a hand or a body moving at 1-2 m/s. Being an
    # area, it survives a slow sensor's averaging far better than the peak does.
    dose_g_s: tuple[float, float] = (0.3, 0.6)
    # Posture change: angle between the gravity direction seen by the band 2.5-1 s
    # before the impact and 1-2.5 s after it. Arm swing moves it by less than ~20
    # degrees; going from upright to lying turns the body by ~90 degrees, which reaches
    # the wrist as 60 degrees or more in most falls.
    posture_deg: tuple[float, float] = (20.0, 60.0)
    # Calm afterwards: spread (std of the unit gravity vector, summed over axes) of the
    # wrist's orientation 1-2.5 s after the impact. Walking on or clapping keep the
    # forearm swinging (spread >= 0.4); someone on the ground moves far less (< 0.1).
    # Graded, never required: people try to get up after landing.
    calm_spread: tuple[float, float] = (0.4, 0.1)
    # Tumbling: mean |magnitude - 1 g| from 0.15 to 0.6 s after the peak. A falling body
    # lands in stages (hand, knee or hip, shoulder) and rolls, so the wrist keeps being
    # thrown about for a few tenths of a second; a hand strike stops at once (< 0.1 g).
    tumble_g: tuple[float, float] = (0.1, 0.4)
    # Weights: posture change counts double - it is what tells lying from a bump while
    # upright; the other four count once. Maximum score 6; the flag needs two thirds.
    weight_impact: float = 1.0
    weight_dose: float = 1.0
    weight_posture: float = 2.0
    weight_calm: float = 1.0
    weight_tumble: float = 1.0
    score_to_flag: float = 4.0
    # Two pieces are needed in some measure, whatever the others say. No fall without
    # the ground stopping the body: impact and dose together give at least half a point
    # (lowering the arms after clapping or lying back on a bed turns the wrist like a
    # fall, calmly). And no fall without a change of posture beyond what arm swing does
    # (the lower posture anchor): hopping or stamping lands hard, upright.
    impact_evidence_min: float = 0.5
    # Rhythm veto: peaks above 2 g in the 4 s before the impact (up to 0.6 s before it).
    # Jogging, hopping, clapping and brisk stairs repeat impacts every 0.3-0.7 s; a fall
    # comes out of walking, standing or sitting. Four or more is an activity going on.
    # (The bounces of a fall come after the impact and are not counted.)
    rhythm_peak_g: float = 2.0
    rhythm_veto_peaks: int = 4
    # Activity vetoes: mean |magnitude - 1 g| 1-2.5 s after the impact, and 4-1 s before
    # it. Someone who has just fallen and tries to get up moves at most like walking
    # (0.1-0.3 g); jogging, hopping or clapping keeps it at 0.4-1 g. And a fall comes
    # out of walking, standing or sitting, not out of such activity: the average sees
    # it even where a slow sensor smears the single peaks the rhythm veto counts.
    active_after_g: float = 0.4
    active_before_g: float = 0.4
    # A single sample more than this above both neighbours is a pulse of a few
    # milliseconds (a clap, a knock) that a sensor without an anti-aliasing filter
    # caught: a landing body decelerates over 0.1 s or more, which even at 12.5 Hz
    # spans two samples. Such a sample counts only this much above its larger neighbour.
    despike_g: float = 1.5
    # Sensor bandwidth. An accelerometer filters before it samples (bandwidth about half
    # its output rate); impact pulses at the wrist last 20-60 ms, so a sensor sampling
    # below ~40 Hz records them lower and broader - at 20 Hz about a fifth lower in peak
    # and area. Below ``reference_rate_hz`` the dynamic part of the amplitude anchors
    # (candidate, impact and rhythm peaks above 1 g; dose; tumbling) scales by
    # (rate / reference) ** (1/3); orientation evidence needs no scaling.
    reference_rate_hz: float = REFERENCE_RATE_HZ
    # The candidate is judged this long after its peak (the posture and calm windows
    # end there): the detection latency of the band.
    decide_after_s: float = 2.5
    # One fall gives one flag: bounces and getting up after a flag are not new falls.
    refractory_s: float = 10.0

    def for_sensor(self, rate_hz: float) -> "FallThresholds":
        """These thresholds as they apply to a sensor sampling at ``rate_hz``.

        The result remembers the rate it was scaled for: scaling it again for the same or
        a faster rate changes nothing (a band that resamples a slow sensor to a faster
        grid gains no bandwidth).
        """
        k = bandwidth_factor(rate_hz, self.reference_rate_hz)
        if k >= 1.0:
            return self

        def peak(g: float) -> float:
            return 1.0 + (g - 1.0) * k  # gravity is recorded in full at any rate

        return replace(
            self,
            candidate_g=peak(self.candidate_g),
            rhythm_peak_g=peak(self.rhythm_peak_g),
            impact_g=(peak(self.impact_g[0]), peak(self.impact_g[1])),
            dose_g_s=(self.dose_g_s[0] * k, self.dose_g_s[1] * k),
            tumble_g=(self.tumble_g[0] * k, self.tumble_g[1] * k),
            reference_rate_hz=rate_hz,
        )

    @classmethod
    def for_sensitivity(cls, level: FallSensitivity | str) -> "FallThresholds":
        """The band detector's thresholds for a resident's fall sensitivity.

        ``standard`` is the default. ``high`` (frail residents, wheelchair users) flags
        at 3.5 of 6 points and counts a posture change from 15 degrees: their falls are
        slumps and slides out of a chair with less energy and a smaller turn of the
        forearm. ``low`` (very active residents) flags at 4.5 points and vetoes from
        0.3 g of activity after the impact: they hop, clap and jog, and get up at once.
        """
        level = FallSensitivity(level)
        base = cls()
        if level is FallSensitivity.HIGH:
            return replace(base, score_to_flag=3.5, posture_deg=(15.0, 50.0))
        if level is FallSensitivity.LOW:
            return replace(base, score_to_flag=4.5, active_after_g=0.3)
        return base

    def impact_evidence(self, *, peak_g: float, dose_g_s: float) -> float:
        return self.weight_impact * ramp(peak_g, *self.impact_g) + self.weight_dose * ramp(
            dose_g_s, *self.dose_g_s
        )

    def posture_changed(self, posture_deg: float) -> bool:
        return ramp(posture_deg, *self.posture_deg) > 0.0

    def score(
        self, *, peak_g: float, dose_g_s: float, posture_deg: float, calm: float, tumble_g: float
    ) -> float:
        return (
            self.impact_evidence(peak_g=peak_g, dose_g_s=dose_g_s)
            + self.weight_posture * ramp(posture_deg, *self.posture_deg)
            + self.weight_calm * ramp(calm, *self.calm_spread)
            + self.weight_tumble * ramp(tumble_g, *self.tumble_g)
        )

    def vetoed(self, *, rhythm_peaks: int, active_before_g: float, active_after_g: float) -> bool:
        return (
            rhythm_peaks >= self.rhythm_veto_peaks
            or active_before_g >= self.active_before_g
            or active_after_g >= self.active_after_g
        )
