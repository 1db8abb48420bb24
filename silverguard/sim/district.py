"""The district the simulation runs: its file, its layout, and the registry CSV files a
health center would import.

The district file is a CSV, one line per community (silverguard/sim/district.csv is
the seed district: 8 towns, 76 communities, 12 gateways, 867 residents):

    town_id,town_name,community_id,community_name,grids,residents,gateways
    t-chengguan,城关镇,c-dongfeng,东风社区,2,12,gw-01;gw-02

``gateways`` lists the gateways covering the community, the one its homes stand near
first; the next ones hear it too (the overlap). A wrong file names the line and field.

Everything else — who lives where, alone or not, care plans, the caregivers, bands and
meters — is drawn from ``--seed``, so one seed gives one district.
"""

import csv
import io
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

SEED_FILE = Path(__file__).with_name("district.csv")
COLUMNS: tuple[str, ...] = (
    "town_id",
    "town_name",
    "community_id",
    "community_name",
    "grids",
    "residents",
    "gateways",
)
_ID = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_GATEWAY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SPACING_M = 18.0  # gateways on a grid this far apart: neighbours hear each other's homes
LIVES_ALONE_SHARE = 0.55
DOSES_SHARE = 0.5


class DistrictFileError(ValueError):
    """A district file that cannot be used; the message names the line and field."""


@dataclass(frozen=True, slots=True)
class CommunityLine:
    line: int
    town_id: str
    town_name: str
    community_id: str
    community_name: str
    grids: int
    residents: int
    gateways: tuple[str, ...]


def read_district_file(path: Path) -> list[CommunityLine]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DistrictFileError(f"{path}: cannot read it: {exc}") from None
    return parse_district(text, str(path))


def parse_district(text: str, name: str = "district file") -> list[CommunityLine]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    if tuple(header) != COLUMNS:
        raise DistrictFileError(f"{name}, line 1: the header must be {','.join(COLUMNS)}")
    lines: list[CommunityLine] = []
    seen: dict[str, int] = {}
    towns: dict[str, str] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def fail(column: str, why: str, number: int = number) -> DistrictFileError:
            return DistrictFileError(f"{name}, line {number}, field {column}: {why}")

        if len(cells) != len(COLUMNS):
            raise fail("", f"{len(cells)} fields, the header has {len(COLUMNS)}")
        row = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
        for column in ("town_id", "community_id"):
            if not _ID.match(row[column]):
                raise fail(column, f"{row[column]!r} is not an id like c-dongfeng")
        for column in ("town_name", "community_name"):
            if not row[column] or len(row[column]) > 120:
                raise fail(column, "a name of 1 to 120 characters is needed")
        numbers: dict[str, int] = {}
        for column, low, high in (("grids", 1, 20), ("residents", 0, 2000)):
            try:
                numbers[column] = int(row[column])
            except ValueError:
                raise fail(column, f"{row[column]!r} is not a whole number") from None
            if not low <= numbers[column] <= high:
                raise fail(column, f"must be {low} to {high}")
        gateways = tuple(g.strip() for g in row["gateways"].split(";") if g.strip())
        if not gateways:
            raise fail("gateways", "at least one gateway must cover the community")
        for gateway in gateways:
            if not _GATEWAY_ID.match(gateway):
                raise fail("gateways", f"{gateway!r} is not a gateway id like gw-01")
        if len(set(gateways)) != len(gateways):
            raise fail("gateways", "a gateway is listed twice")
        if row["community_id"] in seen:
            raise fail("community_id", f"already on line {seen[row['community_id']]}")
        seen[row["community_id"]] = number
        if towns.setdefault(row["town_id"], row["town_name"]) != row["town_name"]:
            raise fail("town_name", f"town {row['town_id']} is named differently above")
        lines.append(
            CommunityLine(
                number,
                row["town_id"],
                row["town_name"],
                row["community_id"],
                row["community_name"],
                numbers["grids"],
                numbers["residents"],
                gateways,
            )
        )
    if not lines:
        raise DistrictFileError(f"{name}: no communities")
    return lines


@dataclass(frozen=True, slots=True)
class Dose:
    id: str
    time: str  # HH:MM local


@dataclass(slots=True)
class ResidentPlan:
    id: str
    community_id: str
    grid_id: str
    flat: str
    lives_alone: bool
    home: tuple[float, float]
    active_hours: str
    inactivity_s: int
    doses: list[Dose]
    caregiver_id: str
    mac: str
    key: bytes


@dataclass(slots=True)
class District:
    communities: list[CommunityLine]
    gateways: dict[str, tuple[float, float]]  # id -> position
    covers: dict[str, list[str]]  # gateway -> communities
    grids: dict[str, tuple[str, str]]  # grid -> (community, worker)
    duty_lines: dict[str, str]  # community -> duty contact
    residents: list[ResidentPlan] = field(default_factory=list)

    @property
    def towns(self) -> dict[str, str]:
        return {c.town_id: c.town_name for c in self.communities}

    def resident(self, resident_id: str) -> ResidentPlan:
        return next(r for r in self.residents if r.id == resident_id)

    def grid_worker(self, resident: ResidentPlan) -> str:
        return self.grids[resident.grid_id][1]


def build(lines: list[CommunityLine], seed: int, *, residents: int | None = None) -> District:
    """The district of these communities; ``residents`` scales the head count down (a
    shortened run) keeping every community."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    gateway_ids = sorted({g for line in lines for g in line.gateways})
    cols = max(1, math.ceil(math.sqrt(len(gateway_ids))))
    positions = {
        g: ((i % cols) * SPACING_M, (i // cols) * SPACING_M) for i, g in enumerate(gateway_ids)
    }
    covers: dict[str, list[str]] = {g: [] for g in gateway_ids}
    grids: dict[str, tuple[str, str]] = {}
    duty: dict[str, str] = {}
    district = District(lines, positions, covers, grids, duty)
    total = sum(line.residents for line in lines)
    wanted = total if residents is None else min(residents, total)
    n = 0
    for index, line in enumerate(lines):
        for gateway in line.gateways:
            covers[gateway].append(line.community_id)
        short = line.community_id.removeprefix("c-")
        for k in range(1, line.grids + 1):
            grids[f"g-{short}-{k}"] = (line.community_id, f"wk-{short}-{k}")
        duty[line.community_id] = f"duty-{short}"
        # Spread the shortened head count over the communities in proportion.
        count = round(line.residents * wanted / total) if total else 0
        if index == len(lines) - 1:
            count = max(0, wanted - n)
        home_x, home_y = positions[line.gateways[0]]
        toward = positions[line.gateways[1]] if len(line.gateways) > 1 else (home_x, home_y)
        for _ in range(count):
            n += 1
            # Near the first gateway, leaning toward the second (which hears it too).
            lean = rng.uniform(0.0, 0.45)
            x = home_x + (toward[0] - home_x) * lean + rng.uniform(-3, 3)
            y = home_y + (toward[1] - home_y) * lean + rng.uniform(-3, 3)
            start = rng.choice(("06:30", "07:00", "07:30"))
            end = rng.choice(("21:00", "21:30", "22:00"))
            doses: list[Dose] = []
            if rng.random() < DOSES_SHARE:
                doses = [Dose("am", "08:00")]
                if rng.random() < 0.5:
                    doses.append(Dose("pm", "19:30"))
            district.residents.append(
                ResidentPlan(
                    id=f"r-{n:06d}",
                    community_id=line.community_id,
                    grid_id=f"g-{short}-{rng.randint(1, line.grids)}",
                    flat=f"f-{n:06d}",
                    lives_alone=rng.random() < LIVES_ALONE_SHARE,
                    home=(x, y),
                    active_hours=f"{start}-{end}",
                    # Three hours: longer than an outing, so a walk is not "inactivity".
                    inactivity_s=3 * 3600,
                    doses=doses,
                    caregiver_id=f"cg-{n:06d}",
                    mac=_mac(rng),
                    key=rng.randbytes(16),
                )
            )
    return district


def _mac(rng: random.Random) -> str:
    return ":".join(f"{o:02X}" for o in (0xC2, *(rng.randrange(256) for _ in range(5))))


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def caregivers_csv(district: District, channel: "ChannelOf") -> bytes:
    """Family caregivers, grid workers and duty lines (each with a phone that is the
    simulated receiver); grid workers and duty lines are in the town of their community."""
    towns = {c.community_id: c.town_id for c in district.communities}
    rows = [
        [
            r.caregiver_id,
            f"家属{r.id[2:]}",
            "family",
            "zh-CN",
            channel(r.caregiver_id),
            towns[r.community_id],
        ]
        for r in district.residents
    ]
    for grid, (community, worker) in district.grids.items():
        rows.append(
            [worker, f"网格员{grid[2:]}", "grid_worker", "zh-CN", channel(worker), towns[community]]
        )
    for community, contact in district.duty_lines.items():
        rows.append(
            [contact, f"值班{community[2:]}", "family", "zh-CN", channel(contact), towns[community]]
        )
    return _csv(["id", "display_name", "kind", "locale", "channels", "town_id"], rows)


def residents_csv(district: District) -> bytes:
    header = ["id", "display_name", "community_id", "grid_id", "lives_alone", "flat"]
    header += ["active_hours", "inactivity_s", "doses", "caregivers"]
    rows = [
        [
            r.id,
            f"居民{r.id[2:]}",
            r.community_id,
            r.grid_id,
            "yes" if r.lives_alone else "no",
            r.flat,
            r.active_hours,
            str(r.inactivity_s),
            ";".join(f"{d.id}={d.time}" for d in r.doses),
            r.caregiver_id,
        ]
        for r in district.residents
    ]
    return _csv(header, rows)


def wristbands_csv(district: District) -> bytes:
    rows = [[r.mac, r.key.hex(), r.community_id, r.id, "sim-1.0"] for r in district.residents]
    return _csv(["mac", "bind_key", "community_id", "resident_id", "firmware"], rows)


class ChannelOf:
    """The apprise URL of a contact's phone: the simulated receiver, one path each."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def __call__(self, contact_id: str) -> str:
        return f"{self.base}/{contact_id}"
