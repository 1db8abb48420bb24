"""The ledger's judging (pure): each verdict, and what counts as unexpected."""

import pytest

from silverguard.sim.district import DistrictFileError, parse_district
from silverguard.sim.ledger import AlertSeen, Delivery, Expected, Reach, Verdict, reconcile, table

T = 1_800_000_000.0
FALL = Expected("fall r-1", "fall", "r-1", T, "fall", (Reach(("cg-1",), 120),), window_s=3600)
NO_ACK = Expected(
    "no ack r-2",
    "caregiver_no_ack",
    "r-2",
    T,
    "sos",
    (Reach(("cg-2",), 120), Reach(("wk-1",), 420), Reach(("duty-1",), 720)),
)
CANCELLED = Expected("cancelled r-3", "fall_cancelled", "r-3", T, None, forbidden_kind="fall")


def alert(
    id_: int, kind: str, subject: str, at: float, *sent: tuple[str, float | None]
) -> AlertSeen:
    return AlertSeen(id_, kind, subject, at, tuple(Delivery(c, s) for c, s in sent))


def phones(**arrivals: float) -> dict[str, list[float]]:
    return {contact.replace("_", "-"): [at] for contact, at in arrivals.items()}


def verdicts(expected: list[Expected], alerts: list[AlertSeen], got: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    result = reconcile(expected, alerts, got)
    return [j.verdict for j in result.judged], result


def test_one_alert_to_the_right_person_in_time_is_matched():
    got, result = verdicts(
        [FALL], [alert(1, "fall", "r-1", T + 31, ("cg-1", T + 32))], phones(cg_1=T + 33)
    )
    assert got == [Verdict.MATCHED]
    assert result.summary(10)["matched"] == 1
    assert not result.failed


@pytest.mark.parametrize(
    ("alerts", "arrivals", "verdict"),
    [
        ([], {}, Verdict.MISSED),
        ([alert(1, "sos", "r-1", T + 31, ("cg-1", T + 32))], {"cg-1": [T + 33]}, Verdict.MISSED),
        ([alert(1, "fall", "r-9", T + 31, ("cg-1", T + 32))], {"cg-1": [T + 33]}, Verdict.MISSED),
        (
            [
                alert(1, "fall", "r-1", T + 31, ("cg-1", T + 32)),
                alert(2, "fall", "r-1", T + 40, ("cg-1", T + 41)),
            ],
            {"cg-1": [T + 33]},
            Verdict.DUPLICATED,
        ),
        (
            [alert(1, "fall", "r-1", T + 31, ("cg-9", T + 32))],
            {"cg-9": [T + 33]},
            Verdict.WRONG_RECIPIENT,
        ),
        # The fleet says it sent, but the phone never rang: not notified.
        ([alert(1, "fall", "r-1", T + 31, ("cg-1", T + 32))], {}, Verdict.WRONG_RECIPIENT),
        ([alert(1, "fall", "r-1", T + 31, ("cg-1", None))], {}, Verdict.WRONG_RECIPIENT),
        ([alert(1, "fall", "r-1", T + 200, ("cg-1", T + 201))], {"cg-1": [T + 202]}, Verdict.LATE),
    ],
)
def test_each_failure_has_its_verdict(alerts, arrivals, verdict):  # type: ignore[no-untyped-def]
    got, result = verdicts([FALL], alerts, arrivals)
    assert got == [verdict]
    assert result.failed


def test_escalation_must_reach_every_step_in_time():
    sos = alert(3, "sos", "r-2", T + 1, ("cg-2", T + 2), ("wk-1", T + 305), ("duty-1", T + 605))
    arrivals = {"cg-2": [T + 3], "wk-1": [T + 306], "duty-1": [T + 606]}
    assert verdicts([NO_ACK], [sos], arrivals)[0] == [Verdict.MATCHED]
    del arrivals["duty-1"]
    assert verdicts([NO_ACK], [sos], arrivals)[0] == [Verdict.WRONG_RECIPIENT]
    arrivals["duty-1"] = [T + 900]
    late = alert(3, "sos", "r-2", T + 1, ("cg-2", T + 2), ("wk-1", T + 305), ("duty-1", T + 900))
    assert verdicts([NO_ACK], [late], arrivals)[0] == [Verdict.LATE]


def test_no_alert_incidents_and_unexpected_alerts():
    stray = alert(7, "inactivity", "r-5", T + 50, ("cg-5", T + 51))
    got, result = verdicts([CANCELLED], [stray], {})
    assert got == [Verdict.MATCHED]
    assert [a.id for a in result.unexpected] == [7]
    assert result.summary(20)["unexpected_per_resident_day"] == 0.05
    # The table says what the unexpected ones were, so a false alarm can be chased.
    assert table(result, str).splitlines()[-1] == "unexpected alerts: inactivity 1"
    false_fall = AlertSeen(8, "fall", "r-3", T + 31, (Delivery("cg-3", None, "failed"),))
    got, result = verdicts([CANCELLED], [false_fall], {})
    assert got == [Verdict.DUPLICATED]
    assert result.unreached == 1


def test_an_alert_long_after_the_incident_is_not_its_own():
    got, result = verdicts(
        [FALL], [alert(1, "fall", "r-1", T + 7200, ("cg-1", T + 7201))], {"cg-1": [T + 7202]}
    )
    assert got == [Verdict.MISSED]
    assert [a.id for a in result.unexpected] == [1]


HEADER = "town_id,town_name,community_id,community_name,grids,residents,gateways\n"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("town,name\n", "line 1: the header"),
        (
            HEADER + "t-a,甲镇,c-a,甲社区,1,10,gw-01\nt-a,甲镇,c-b,乙社区,x,10,gw-01\n",
            "line 3, field grids",
        ),
        (HEADER + "t-a,甲镇,c-a,甲社区,1,10,\n", "line 2, field gateways"),
        (HEADER + "t-a,甲镇,C A,甲社区,1,10,gw-01\n", "line 2, field community_id"),
        (
            HEADER + "t-a,甲镇,c-a,甲社区,1,10,gw-01\nt-a,乙镇,c-b,乙社区,1,10,gw-01\n",
            "line 3, field town_name",
        ),
        (
            HEADER + "t-a,甲镇,c-a,甲社区,1,10,gw-01\nt-a,甲镇,c-a,乙社区,1,10,gw-01\n",
            "line 3, field community_id",
        ),
        (HEADER + "t-a,甲镇,c-a,甲社区,1,99999,gw-01\n", "line 2, field residents"),
        (HEADER + "t-a,甲镇,c-a,甲社区,1,10\n", "line 2, field : 6 fields"),
    ],
)
def test_a_wrong_district_file_names_line_and_field(text: str, where: str):
    with pytest.raises(DistrictFileError) as error:
        parse_district(text, "d.csv")
    assert where in str(error.value)


def test_an_alert_another_incident_explains_is_not_held_against_a_quiet_one():
    outage = Expected("outage gw-1", "gateway_offline", "gw-1", T, "gateway_offline", ())
    restart = Expected(
        "broker gw-1", "broker_restart", "gw-1", T + 60, None, forbidden_kind="gateway_offline"
    )
    offline = alert(4, "gateway_offline", "gw-1", T + 300)
    got, result = verdicts([outage, restart], [offline], {})
    assert got == [Verdict.MATCHED, Verdict.MATCHED]
    assert not result.unexpected
    got, _ = verdicts([restart], [offline], {})
    assert got == [Verdict.DUPLICATED]
