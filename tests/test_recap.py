"""The recap's figures against an independent oracle, cell by cell, on the demo village and a crafted one.

The oracle (below) shares no code with webapp/recap.py: it reads every row with a plain SELECT * and
applies design.md §5 one household, person and disbursement at a time, in the shape of as_json().
The crafted village holds the edge cases: a family in two programmes, a jiwa programme for members of
a keluarga programme's family, members who died or moved, households without desil, a closed period,
soft-deleted households, persons and disbursements, another desa and an inactive programme.
"""
import sqlite3
from datetime import date

import pytest

from webapp import db as database
from webapp import recap
from webapp.models import Desa
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program
from webapp.models import utcnow

LIVING = ("tinggal", "baru")
STATUSES = ("belum", "cair", "tidak_cair")
CHANNELS = ("bank", "pos", "tunai", "lainnya")
REASONS = ("tidak_padan", "nama_ttl_beda", "rekening", "kks_belum", "meninggal", "pindah", "tidak_ditemukan",
           "ganda", "tidak_layak", "sp2d_belum", "lainnya")


def rows(table):
    """Every row of a table as a dict."""
    cursor = database.db.execute_sql(f'SELECT * FROM "{table}"')
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def pair(kk, jiwa):
    """{kk, jiwa}."""
    return {"kk": kk, "jiwa": jiwa}


def oracle(programs=(), periods=(), year=None, channel=None, dusun=None, desil_max=5):
    """The recap's figures computed the slow, obvious way."""
    desa = min(rows("desa"), key=lambda d: d["id"])
    program_rows = {p["id"]: p for p in rows("program")}
    period_rows = {p["id"]: p for p in rows("period")}
    disbursements = rows("disbursement")
    if programs:
        chosen = sorted((p for p in program_rows.values() if p["code"] in programs), key=lambda p: p["id"])
    else:
        chosen = sorted((p for p in program_rows.values() if p["active"]), key=lambda p: p["id"])
    chosen_ids = {p["id"] for p in chosen}
    if periods:
        scope_periods = [period_rows[i] for i in periods if period_rows[i]["program_id"] in chosen_ids]
    else:
        if year is None:
            years = [period_rows[d["period_id"]]["year"] for d in disbursements
                     if d["deleted_at"] is None and period_rows[d["period_id"]]["program_id"] in chosen_ids]
            year = max(years) if years else None
        scope_periods = [p for p in period_rows.values() if p["year"] == year and p["program_id"] in chosen_ids]
    scope_periods.sort(key=lambda p: (p["program_id"], p["year"], p["start_date"] is None, p["start_date"] or "",
                                      p["label"]))
    scope_ids = {p["id"] for p in scope_periods}
    if not programs:
        chosen = [p for p in chosen if any(q["program_id"] == p["id"] for q in scope_periods)]

    households = {h["id"]: h for h in rows("household")
                  if h["deleted_at"] is None and h["desa_id"] == desa["id"] and (not dusun or h["dusun"] == dusun)}
    persons = {p["id"]: p for p in rows("person") if p["deleted_at"] is None}
    living = {h: 0 for h in households}
    for p in persons.values():
        if p["household_id"] in living and p["keberadaan"] in LIVING:
            living[p["household_id"]] += 1
    counted = [d for d in disbursements
               if d["deleted_at"] is None and d["period_id"] in scope_ids and d["household_id"] in households
               and (d["person_id"] is None or d["person_id"] in persons)
               and (channel is None or d["channel"] == channel)]
    receiving = {d["household_id"] for d in counted}

    def program_of(d):
        return program_rows[period_rows[d["period_id"]]["program_id"]]

    def recipients(selected, program):
        """KK and jiwa of the recipients among some counted rows of one programme."""
        homes = {d["household_id"] for d in selected}
        if program["sasaran"] == "jiwa":
            jiwa = len({(d["household_id"], d["person_id"]) for d in selected if d["person_id"] is not None})
        else:
            jiwa = sum(living[h] for h in homes)
        return homes, jiwa

    def money(selected):
        result = {"penyaluran": len(selected),
                  "status": {s: sum(1 for d in selected if d["status"] == s) for s in STATUSES},
                  "channel": {c: sum(1 for d in selected if d["channel"] == c) for c in CHANNELS},
                  "rupiah": {s: sum(d["amount"] for d in selected if d["status"] == s) for s in STATUSES}}
        result["rupiah"]["total"] = sum(d["amount"] for d in selected)
        result["rupiah"]["belum_tersalur"] = result["rupiah"]["belum"] + result["rupiah"]["tidak_cair"]
        return result

    def band(low, high):
        homes = [h for h, row in households.items() if row["desil"] is not None and low <= row["desil"] <= high]
        return pair(len(homes), sum(living[h] for h in homes))

    result = {"totals": {"kk": len(households), "jiwa": sum(living.values()), "desil_1_4": band(1, 4),
                         "desil_1_max": {"desil_max": desil_max, **band(1, desil_max)},
                         "tanpa_desil": pair(sum(1 for h in households.values() if h["desil"] is None),
                                             sum(living[h] for h, r in households.items() if r["desil"] is None)),
                         "menerima": pair(len(receiving), sum(living[h] for h in receiving))}}
    result["programs"] = []
    for period in scope_periods:
        selected = [d for d in counted if d["period_id"] == period["id"]]
        homes, jiwa = recipients(selected, program_rows[period["program_id"]])
        result["programs"].append({"program": program_rows[period["program_id"]]["code"], "period": period["label"],
                                   "period_id": period["id"], "kk": len(homes), "jiwa": jiwa, **money(selected)})
    result["program_totals"] = []
    for program in chosen:
        selected = [d for d in counted if program_of(d)["id"] == program["id"]]
        homes, jiwa = recipients(selected, program)
        entry = {"program": program["code"], "kk": len(homes), "jiwa": jiwa, **money(selected),
                 "inklusi": None, "eksklusi": None}
        ceiling = program["desil_max"]
        if ceiling is not None and ceiling < 10:
            above = [d for d in selected if households[d["household_id"]]["desil"] is not None
                     and households[d["household_id"]]["desil"] > ceiling]
            above_homes, above_jiwa = recipients(above, program)
            entry["inklusi"] = pair(len(above_homes), above_jiwa)
        if ceiling is not None:
            left_out = [h for h, row in households.items() if h not in homes
                        and row["desil"] is not None and 1 <= row["desil"] <= ceiling]
            entry["eksklusi"] = pair(len(left_out), sum(living[h] for h in left_out))
        result["program_totals"].append(entry)
    result["desil"] = []
    for desil in [*range(1, 11), None]:
        homes = [h for h, row in households.items() if row["desil"] == desil]
        yes = [h for h in homes if h in receiving]
        no = [h for h in homes if h not in receiving]
        result["desil"].append({"desil": desil, "menerima": pair(len(yes), sum(living[h] for h in yes)),
                                "tidak_menerima": pair(len(no), sum(living[h] for h in no))})
    no_aid = [h for h, row in households.items()
              if h not in receiving and row["desil"] is not None and 1 <= row["desil"] <= desil_max]
    result["no_aid"] = {"desil_max": desil_max, **pair(len(no_aid), sum(living[h] for h in no_aid))}
    for status in STATUSES:
        selected = [d for d in counted if d["status"] == status]
        entry = {"total": len(selected), "rupiah": sum(d["amount"] for d in selected),
                 "by_channel": {c: {"n": sum(1 for d in selected if d["channel"] == c),
                                    "rupiah": sum(d["amount"] for d in selected if d["channel"] == c)}
                                for c in CHANNELS}}
        if status == "tidak_cair":
            entry["by_reason"] = {r: {"n": sum(1 for d in selected if d["reason"] == r),
                                      "rupiah": sum(d["amount"] for d in selected if d["reason"] == r)}
                                  for r in REASONS}
        result[status] = entry
    result["wilayah"] = wilayah(households, living, counted, receiving, chosen, program_of, recipients, desil_max)
    return result


def wilayah(households, living, counted, receiving, chosen, program_of, recipients, desil_max):
    """Key figures per dusun, RW and RT."""
    def figures(level, dusun, rw, rt, homes):
        homes = set(homes)
        rows_here = [d for d in counted if d["household_id"] in homes]

        def of(selected):
            return pair(len(selected), sum(living[h] for h in selected))

        def desil_in(low, high):
            return [h for h in homes if households[h]["desil"] is not None and low <= households[h]["desil"] <= high]

        entry = {"level": level, "dusun": dusun, "rw": rw, "rt": rt, "kk": len(homes),
                 "jiwa": sum(living[h] for h in homes), "desil_1_4": of(desil_in(1, 4)),
                 "desil_1_max": of(desil_in(1, desil_max)), "menerima": of([h for h in homes if h in receiving]),
                 "no_aid": of([h for h in desil_in(1, desil_max) if h not in receiving]), "programs": {}}
        for program in chosen:
            found, jiwa = recipients([d for d in rows_here if program_of(d)["id"] == program["id"]], program)
            entry["programs"][program["code"]] = pair(len(found), jiwa)
        for status, key in (("tidak_cair", "tidak_cair"), ("belum", "belum")):
            selected = [d for d in rows_here if d["status"] == status]
            entry[key] = {"n": len(selected), "rupiah": sum(d["amount"] for d in selected)}
        return entry

    tree = []
    for dusun in sorted({h["dusun"] for h in households.values()}):
        in_dusun = [h for h, row in households.items() if row["dusun"] == dusun]
        top = figures("dusun", dusun, None, None, in_dusun)
        top["rw"] = []
        for rw in sorted({households[h]["rw"] for h in in_dusun}):
            in_rw = [h for h in in_dusun if households[h]["rw"] == rw]
            middle = figures("rw", dusun, rw, None, in_rw)
            middle["rt"] = [figures("rt", dusun, rw, rt, [h for h in in_rw if households[h]["rt"] == rt])
                            for rt in sorted({households[h]["rt"] for h in in_rw})]
            top["rw"].append(middle)
        tree.append(top)
    return tree


def assert_matches(expected, actual, path="recap"):
    """Compare the oracle's figures with the recap's JSON, naming the first cell that differs."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_matches(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{path}: {len(expected)} entries expected, got {len(actual) if isinstance(actual, list) else actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_matches(e, a, f"{path}[{i}]")
    else:
        assert expected == actual, f"{path}: oracle says {expected!r}, recap says {actual!r}"


class Village:
    """Builds a small crafted village, numbering NIK and No KK."""

    def __init__(self):
        self.serial = 0
        self.desa = Desa.current()
        self.programs = {p.code: p for p in Program.select()}

    def number(self):
        self.serial += 1
        return f"3205{self.serial:012d}"

    def household(self, desil, dusun="Sukamaju", rw="001", rt="001", members=("tinggal",), deleted=False, desa=None):
        """A household; members are keberadaan values, the first one the kepala keluarga."""
        h = Household.create(no_kk=self.number(), desa=desa or self.desa, dusun=dusun, rw=rw, rt=rt, desil=desil,
                             deleted_at=utcnow() if deleted else None)
        h.people = [Person.create(nik=self.number(), household=h, nama=f"Warga {self.serial}", keberadaan=k,
                                  hubungan="kepala" if i == 0 else "anak") for i, k in enumerate(members)]
        return h

    def period(self, code, label, year, closed=False, **extra):
        return Period.create(program=self.programs[code], label=label, year=year, start_date=date(year, 1, 1),
                             end_date=date(year, 12, 31), amount=100000, closed=closed, **extra)

    def pay(self, period, household, person=None, status="cair", channel="bank", amount=100000, reason=None,
            deleted=False):
        if status == "tidak_cair" and reason is None:
            reason = "lainnya"
        return Disbursement.create(period=period, household=household, person=person, status=status,
                                   channel=channel, amount=amount, reason=reason,
                                   deleted_at=utcnow() if deleted else None)


@pytest.fixture
def crafted(db_conn):
    """The crafted village (see the module docstring); returns its households and periods by name."""
    v = Village()
    Program.update(active=False).where(Program.code == "YAPI").execute()
    p = {
        "pkh1": v.period("PKH", "Tahap 1 2026", 2026),
        "pkh2": v.period("PKH", "Tahap 2 2026", 2026, closed=True, closed_at=utcnow()),
        "pkh25": v.period("PKH", "Tahap 4 2025", 2025, closed=True),
        "sem1": v.period("SEMBAKO", "Tahap 1 2026", 2026),
        "pbi": v.period("PBI-JK", "Tahun 2026", 2026),
        "pbi2": v.period("PBI-JK", "Semester 2 2026", 2026),
        "bltdd": v.period("BLT-DD", "Tahap 1 2026", 2026),
        "pip": v.period("PIP", "Tahap 1 2026", 2026),
        "yapi": v.period("YAPI", "Tahap 1 2026", 2026),
    }
    other = Desa.create(kode="3205122002", nama="Mekarsari", kecamatan="Cibatu", kabupaten="Garut")
    h = {
        # A family in PKH and SEMBAKO; one child died, one moved, one is new.
        "h1": v.household(2, members=("tinggal", "tinggal", "meninggal", "pindah", "baru")),
        # PKH for the family, PBI-JK (jiwa) for two of its members over two PBI periods.
        "h2": v.household(3, rt="002", members=("tinggal",) * 4),
        # No desil; PBI-JK for the head and for a parent who died.
        "h3": v.household(None, rw="002", members=("tinggal", "tinggal", "meninggal")),
        "h4": v.household(1, rw="002", members=("tinggal", "tinggal")),
        # Aid only in 2025.
        "h5": v.household(5, dusun="Babakan", rw="003"),
        # Desil 7 in PKH and SEMBAKO: inclusion.
        "h6": v.household(7, dusun="Babakan", rw="003", members=("tinggal",) * 3),
        "h7": v.household(2, dusun="Babakan", rw="003", rt="002", deleted=True),
        # Its only row is soft-deleted.
        "h8": v.household(4, dusun="Babakan", rw="003", rt="002", members=("tinggal", "tinggal")),
        # Its only row is for a soft-deleted member.
        "h9": v.household(3, members=("tinggal", "tinggal")),
        "h10": v.household(6, dusun="Babakan", rw="004", members=("tinggal",) * 4),
        "h11": v.household(2, desa=other),
        # Nobody lives there any more.
        "h12": v.household(4, rt="002", members=("meninggal", "pindah")),
        # Only an inactive programme.
        "h13": v.household(2, dusun="Babakan", rw="004"),
        "h14": v.household(8, rw="002", rt="002", members=("tinggal", "tinggal")),
    }
    Person.update(deleted_at=utcnow(), deleted_reason="tes").where(Person.id == h["h9"].people[1].id).execute()
    v.pay(p["pkh1"], h["h1"], amount=750000)
    v.pay(p["pkh2"], h["h1"], status="tidak_cair", reason="rekening", amount=750000)
    v.pay(p["sem1"], h["h1"], status="belum", channel="pos", amount=600000)
    v.pay(p["pkh1"], h["h2"], channel="pos", amount=600000)
    v.pay(p["pbi"], h["h2"], h["h2"].people[1], channel="lainnya", amount=504000)
    v.pay(p["pbi2"], h["h2"], h["h2"].people[1], status="belum", channel="lainnya", amount=252000)
    v.pay(p["pbi2"], h["h2"], h["h2"].people[2], channel="lainnya", amount=252000)
    v.pay(p["pbi"], h["h3"], h["h3"].people[0], channel="lainnya", amount=504000)
    v.pay(p["pbi"], h["h3"], h["h3"].people[2], status="tidak_cair", reason="meninggal", channel="lainnya",
          amount=504000)
    v.pay(p["pkh25"], h["h5"])
    v.pay(p["sem1"], h["h6"], amount=600000)
    v.pay(p["pkh1"], h["h6"], amount=450000)
    v.pay(p["pkh1"], h["h7"])
    v.pay(p["pkh1"], h["h8"], deleted=True)
    v.pay(p["pbi"], h["h9"], h["h9"].people[1], channel="lainnya")
    v.pay(p["bltdd"], h["h10"], channel="tunai", amount=900000)
    v.pay(p["pip"], h["h10"], h["h10"].people[2], status="belum", amount=450000)
    v.pay(p["pkh1"], h["h11"])
    v.pay(p["pkh1"], h["h12"], status="tidak_cair", reason="meninggal", channel="pos", amount=750000)
    v.pay(p["yapi"], h["h13"], h["h13"].people[0], amount=600000)
    return {"households": h, "periods": p, "village": v}


def compare(**scope):
    """Build the recap for a scope and compare it with the oracle, cell by cell."""
    desil_max = scope.pop("desil_max", 5)
    result = recap.build(recap.Scope(**scope), desil_max=desil_max)
    assert_matches(oracle(**scope, desil_max=desil_max), recap.as_json(result))
    return result


def assert_drills_match(result, read_rows=False):
    """Every number's drill-down list has exactly that many rows (or that many rupiah); with read_rows,
    the rows are also read as models, each with its household."""
    checked, depth = 0, 0
    for path, value, drill in recap.iter_figures(result):
        depth = max(depth, path.count("children"))
        query = recap.drill_query(result.scope, drill)
        if path[-1] == "rupiah":
            found = sum(row.amount for row in query)
        elif read_rows:
            rows = list(query)
            found = len(rows)
            assert all(isinstance(row, Household) or row.household.id for row in rows)
        else:
            found = query.count()
        assert found == value, f"{'.'.join(map(str, path))}: list has {found}, recap says {value} ({drill})"
        checked += 1
    assert checked > 100
    assert depth == (2 if result.wilayah else 0), "the RW and RT lists are checked too"


def test_crafted_village_by_hand(crafted):
    result = recap.build(recap.Scope(), desil_max=5)
    totals = result.totals
    assert result.scope.year == 2026
    # h7 is deleted and h11 belongs to another desa; h12 has nobody living there.
    assert (totals.data.kk, totals.data.jiwa) == (12, 25)
    assert (totals.desil_1_4.kk, totals.desil_1_4.jiwa) == (7, 13)
    assert (totals.desil_1_max.kk, totals.desil_1_max.jiwa) == (8, 14)
    assert (totals.tanpa_desil.kk, totals.tanpa_desil.jiwa) == (1, 2)
    assert (totals.menerima.kk, totals.menerima.jiwa) == (6, 16)
    # h4, h5 (aid only in 2025), h8 (row deleted), h9 (member deleted), h13 (inactive programme).
    assert (result.no_aid.kk, result.no_aid.jiwa) == (5, 7)
    programs = {p.program.code: p for p in result.programs}
    assert list(programs) == ["PKH", "SEMBAKO", "PBI-JK", "BLT-DD", "PIP"]
    pkh = programs["PKH"]
    assert (pkh.penerima.kk, pkh.penerima.jiwa) == (4, 10)
    pkh1, pkh2 = pkh.periods
    assert (pkh1.penerima.kk, pkh1.penerima.jiwa) == (4, 10)
    assert {k: m.n for k, m in pkh1.rows.status.items()} == {"belum": 0, "cair": 3, "tidak_cair": 1}
    assert (pkh1.rows.channel["bank"].n, pkh1.rows.channel["pos"].n) == (2, 2)
    assert pkh2.period.closed and (pkh2.penerima.kk, pkh2.penerima.jiwa) == (1, 3)
    assert (pkh.inklusi.kk, pkh.inklusi.jiwa) == (1, 3)
    assert (pkh.eksklusi.kk, pkh.eksklusi.jiwa) == (4, 6)
    pbi = programs["PBI-JK"]
    # Persons themselves: h2's two members (one of them in both PBI periods) and h3's head and late parent.
    assert (pbi.penerima.kk, pbi.penerima.jiwa) == (2, 4)
    assert [(p.penerima.kk, p.penerima.jiwa) for p in pbi.periods] == [(1, 2), (2, 3)]
    assert (pbi.inklusi.kk, pbi.eksklusi.kk, pbi.eksklusi.jiwa) == (0, 7, 10)
    assert programs["BLT-DD"].inklusi is None and programs["BLT-DD"].eksklusi is None
    assert (programs["PIP"].penerima.kk, programs["PIP"].penerima.jiwa) == (1, 1)
    assert (result.tidak_cair.total.n, result.tidak_cair.total.rupiah) == (3, 2004000)
    assert {k: m.n for k, m in result.tidak_cair.by_reason.items() if m.n} == {"rekening": 1, "meninggal": 2}
    assert (result.belum.total.n, result.belum.total.rupiah) == (3, 1302000)
    desil = {row.desil: row for row in result.desil}
    assert (desil[2].menerima.kk, desil[2].tidak_menerima.kk, desil[2].tidak_menerima.jiwa) == (1, 1, 1)
    assert (desil[None].menerima.kk, desil[None].menerima.jiwa) == (1, 2)


@pytest.mark.parametrize("scope", [
    {},
    {"year": 2025},
    {"programs": ("PKH",)},
    {"programs": ("PBI-JK", "PIP")},
    {"programs": ("YAPI",)},
    {"channel": "pos"},
    {"dusun": "Babakan"},
    {"desil_max": 4},
])
def test_crafted_village_matches_oracle(crafted, scope):
    result = compare(**scope)
    assert_drills_match(result, read_rows=True)


def test_one_closed_period(crafted):
    result = compare(periods=(crafted["periods"]["pkh2"].id,))
    assert [row.period.label for row in result.periods] == ["Tahap 2 2026"]
    # Only h1 is paid in that period; every other desil 1–5 family counts as without aid.
    assert result.totals.menerima.kk == 1 and result.no_aid.kk == 7
    assert_drills_match(result)


def test_inactive_programme_counts_only_when_chosen(crafted):
    assert "YAPI" not in [p.program.code for p in recap.build().programs]
    chosen = recap.build(recap.Scope(programs=("YAPI",)))
    assert (chosen.programs[0].penerima.kk, chosen.programs[0].penerima.jiwa) == (1, 1)
    assert chosen.no_aid.kk == 7


def test_periods_far_apart_use_several_masks(crafted):
    v, h = crafted["village"], crafted["households"]
    far = v.period("PKH", "Tahap 3 2026", 2026, id=crafted["periods"]["yapi"].id + 200)
    v.pay(far, h["h4"], status="belum")
    applied = recap.resolve(recap.Scope())
    assert len(recap._Layout.of(applied).chunks) == 2
    result = compare()
    assert result.no_aid.kk == 4
    assert_drills_match(result)


def test_no_disbursements_at_all(db_conn):
    v = Village()
    v.household(3, members=("tinggal", "baru"))
    result = compare()
    assert result.scope.year is None and result.programs == [] and result.scope.periods == []
    assert (result.no_aid.kk, result.no_aid.jiwa) == (1, 2)
    assert recap.headline(5)["no_aid_kk"] is None


def test_demo_village_matches_oracle(demo_db):
    result = compare()
    assert result.totals.data.kk == 300 and len(result.programs) >= 4
    assert_drills_match(result)


@pytest.mark.parametrize("scope", [
    {"year": 2025},
    {"programs": ("BLT-KESRA",), "year": 2025},
    {"programs": ("SEMBAKO", "PBI-JK"), "channel": "bank"},
])
def test_demo_village_other_scopes(demo_db, scope):
    compare(**scope)


def test_demo_village_one_dusun(demo_db):
    dusun = Household.select(Household.dusun).order_by(Household.dusun).first().dusun
    result = compare(dusun=dusun)
    assert [area.dusun for area in result.wilayah] == [dusun]
    assert_drills_match(result)


def test_named_lists_match_their_numbers(crafted):
    result = recap.build()
    listed = recap.no_aid_list(result.scope)
    assert len(listed) == result.no_aid.kk
    assert sum(1 for item in listed for m in item.members if m.keberadaan in LIVING) == result.no_aid.jiwa
    places = [(item.household.dusun, item.household.rw, item.household.rt) for item in listed]
    assert places == sorted(places)
    assert all(item.members and item.kepala for item in listed)
    rows = list(recap.tidak_cair_rows(result.scope))
    assert len(rows) == result.tidak_cair.total.n
    assert {row.reason for row in rows} == {"rekening", "meninggal"}
    assert {row.channel for row in rows} == {"bank", "pos", "lainnya"}
    names = Person.kepala_names({row.household_id for row in rows})
    assert set(names) == {row.household_id for row in rows}


def test_drill_of_a_period_outside_the_scope_is_empty(crafted):
    applied = recap.resolve(recap.Scope(year=2026))
    drill = recap.Drill("kk", period=crafted["periods"]["pkh25"].id)
    assert recap.drill_query(applied, drill).count() == 0


def test_unknown_programme_or_period_is_refused(crafted):
    with pytest.raises(recap.ScopeError, match="Program tidak dikenal: XYZ"):
        recap.resolve(recap.Scope(programs=("XYZ",)))
    with pytest.raises(recap.ScopeError, match="Periode tidak ditemukan"):
        recap.resolve(recap.Scope(periods=(99999,)))
    with pytest.raises(recap.ScopeError, match="Periode tidak ditemukan: Tahap 9"):
        recap.period_ids_for_labels(["Tahap 9"])
    assert len(recap.period_ids_for_labels(["Tahap 1 2026"])) == 5
    assert len(recap.period_ids_for_labels(["Tahap 1 2026"], ("PKH",), 2026)) == 1


def token():
    """The recap's membership token (webapp/db.py)."""
    return database.membership_token()


def test_figures_stay_exact_after_every_kind_of_write(crafted):
    """The household figures are remembered across status changes only: each write below is followed
    by a recap read through the caches, compared cell by cell with the oracle."""
    h, p, v = crafted["households"], crafted["periods"], crafted["village"]
    compare(), compare(channel="pos")
    row = Disbursement.get((Disbursement.household == h["h2"]) & (Disbursement.period == p["pkh1"]))
    before = token()
    # A status change with its reason, and an amount: the token stands, the money figures move.
    Disbursement.update(status="tidak_cair", reason="rekening", amount=650000).where(Disbursement.id == row.id).execute()
    assert token() == before
    assert compare().tidak_cair.total.n == 4
    Disbursement.update(status="cair", reason=None).where(Disbursement.id == row.id).execute()
    assert token() == before and compare().tidak_cair.total.n == 3
    writes = [
        lambda: Disbursement.update(channel="bank").where(Disbursement.id == row.id).execute(),
        lambda: Household.update(desil=9).where(Household.id == h["h4"].id).execute(),
        lambda: Household.update(dusun="Babakan", rt="009").where(Household.id == h["h1"].id).execute(),
        lambda: Person.update(keberadaan="meninggal").where(Person.id == h["h6"].people[1].id).execute(),
        lambda: Person.update(deleted_at=utcnow()).where(Person.id == h["h2"].people[2].id).execute(),
        lambda: Person.update(household=h["h14"]).where(Person.id == h["h10"].people[3].id).execute(),
        lambda: Disbursement.update(deleted_at=utcnow()).where(Disbursement.id == row.id).execute(),
        lambda: v.pay(p["sem1"], h["h4"], status="belum"),
        lambda: v.household(1, dusun="Babakan", members=("tinggal", "baru")),
        lambda: Household.update(deleted_at=utcnow()).where(Household.id == h["h6"].id).execute(),
    ]
    for write in writes:
        before = token()
        write()
        assert token() != before
        compare(), compare(channel="pos"), compare(dusun="Babakan")
    # Columns the figures do not read leave the token as it is.
    before = token()
    Household.update(alamat="Jl. Baru 1").where(Household.id == h["h1"].id).execute()
    Person.update(nama="Warga Ganti Nama").where(Person.id == h["h1"].people[0].id).execute()
    assert token() == before


def test_a_restored_database_never_answers_with_remembered_figures(app, crafted, tmp_path):
    from webapp import backups

    compare()
    saved = tmp_path / "saved.db"
    backups.copy_database(app.config["DATABASE"], saved)
    Household.update(desil=9).where(Household.id == crafted["households"]["h4"].id).execute()
    assert compare().no_aid.kk == 4
    backups.restore(app.config["DATABASE"], saved, tmp_path / "aside")
    assert compare().no_aid.kk == 5


def commit_elsewhere(app, sql, params=()):
    """A commit by another connection, as another worker or an import job makes it."""
    other = sqlite3.connect(app.config["DATABASE"])
    with other:
        other.execute(sql, params)
    other.close()


def test_a_commit_during_a_computation_is_never_answered_from_the_cache(app, crafted, tmp_path, monkeypatch):
    """A change landing while the recap is computed (after its version was read) makes that result a
    one-off: it is not remembered, so neither the next view nor a restored backup is answered from it."""
    from webapp import backups

    h = crafted["households"]
    Person.create(nik="3205010101019999", household=h["h1"], nama="Bayi")
    token = database.membership_token()
    saved = tmp_path / "saved.db"
    backups.copy_database(app.config["DATABASE"], saved)
    read_token = database.membership_token

    def token_then_a_change():
        """The token, then another worker's change to a household's desil."""
        value = read_token()
        commit_elsewhere(app, "UPDATE household SET desil = 9 WHERE id = ?", (h["h4"].id,))
        return value

    monkeypatch.setattr(database, "membership_token", token_then_a_change)
    assert compare().no_aid.kk == 4
    monkeypatch.setattr(database, "membership_token", read_token)
    backups.restore(app.config["DATABASE"], saved, tmp_path / "aside")
    assert database.membership_token() == token
    assert compare().no_aid.kk == 5

    # The programmes and periods a recap reads are read after its version: a ceiling changed just
    # after them is not remembered either.
    resolve = recap.resolve

    def resolve_then_a_change(*args, **kwargs):
        """The scope, then an admin's change of the PKH desil ceiling."""
        applied = resolve(*args, **kwargs)
        commit_elsewhere(app, "UPDATE program SET desil_max = 2 WHERE code = 'PKH'")
        return applied

    commit_elsewhere(app, "UPDATE disbursement SET note = 'dicek'")  # the remembered recap is old now
    monkeypatch.setattr(recap, "resolve", resolve_then_a_change)
    assert next(p for p in recap.build().programs if p.program.code == "PKH").program.desil_max == 4
    monkeypatch.setattr(recap, "resolve", resolve)
    pkh = next(p for p in recap.build().programs if p.program.code == "PKH")
    assert pkh.program.desil_max == 2 and pkh.eksklusi.drill.desil == "1-2"
