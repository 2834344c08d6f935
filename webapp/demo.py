"""A synthetic but believable demo village: families, members, desil and disbursements.

Everything here is invented (names from Faker's id_ID word lists, NIK/No KK built from the desa's
region code and a birth or recording date); nothing is real. The story follows the seed news item:
PKH and Sembako through bank accounts for part of desil 1–4, BLT Kesra Tahap 1 (bank) and Tahap 2
(Kantor Pos, Rp900.000 per KK), PBI-JK for persons, BLT Dana Desa in cash, a realistic mix of
cair / belum / tidak cair, some desil 1–5 families with nothing and a few inclusion errors.
The same seed, size and year always give the same village. Rows go in with executemany inside one
transaction (perf.md §4.2), so a kecamatan-sized village (60,000 KK) loads in seconds.
"""
import hashlib
import random
from datetime import date
from datetime import timedelta

from faker.providers.person.id_ID import Provider as Names

from . import db as database
from .models import Desa
from .models import ImportBatch
from .models import Period
from .models import Program
from .models import utcnow

DUSUN_NAMES = [
    "Cikoneng", "Sukamaju", "Babakan", "Pasirjati", "Cibodas", "Sindangsari", "Mekarjaya",
    "Cigarogol", "Sukasari", "Cipanas", "Legok", "Sirnagalih", "Cijeruk", "Margamulya",
]
DESIL_WEIGHTS = {None: 5, 1: 7, 2: 8, 3: 9, 4: 9, 5: 10, 6: 11, 7: 11, 8: 11, 9: 10, 10: 9}
PKH_SHARE = {1: 0.55, 2: 0.50, 3: 0.45, 4: 0.35}
SEMBAKO_SHARE = {1: 0.70, 2: 0.65, 3: 0.60, 4: 0.50, 5: 0.30}
INCLUSION_SHARE = 0.015
REASON_WEIGHTS = {
    "rekening": 25, "tidak_padan": 15, "nama_ttl_beda": 10, "kks_belum": 10, "meninggal": 8,
    "pindah": 8, "tidak_ditemukan": 5, "sp2d_belum": 12, "tidak_layak": 5, "lainnya": 2,
}
POS_REASONS = {"tidak_ditemukan": 30, "pindah": 25, "meninggal": 20, "lainnya": 25}
REASON_NOTES = {"lainnya": ["Undangan belum diambil", "Penerima sakit, belum bisa datang", "Sedang di luar kota"]}


class Village:
    """Builds the rows of one demo village with one random generator."""

    def __init__(self, desa, rng, year):
        self.desa = desa
        self.rng = rng
        self.year = year
        # Ages and payment dates are reckoned at the end of November of the demo year (or today).
        self.today = min(date(year, 11, 30), date.today())
        self.niks = set()
        self.kks = set()
        self.households = []   # tuples in household column order
        self.persons = []      # tuples in person column order
        self.members = {}      # household id -> list of (person id, age, keberadaan)
        self.desil = {}        # household id -> desil

    def pick(self, weights):
        """Draw a key of a {key: weight} dict."""
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def area_code(self):
        """The first six NIK digits: mostly this kecamatan, some elsewhere in the kabupaten or beyond."""
        roll = self.rng.random()
        if roll < 0.85:
            return self.desa.kode[:6]
        if roll < 0.97:
            return self.desa.kode[:4] + f"{self.rng.randint(1, 42):02d}"
        return self.rng.choice(["3201", "3204", "3273", "3173", "3374"]) + f"{self.rng.randint(1, 20):02d}"

    def nik(self, born, sex):
        """A unique NIK: region, birth date (day + 40 for women), serial."""
        day = born.day + (40 if sex == "P" else 0)
        stem = f"{self.area_code()}{day:02d}{born.month:02d}{born.year % 100:02d}"
        while True:
            value = f"{stem}{self.rng.randint(1, 9999):04d}"
            if value not in self.niks:
                self.niks.add(value)
                return value

    def no_kk(self):
        """A unique No KK: the desa's kecamatan code, a recording date, serial."""
        while True:
            recorded = date(2005, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 19))
            value = (f"{self.desa.kode[:6]}{recorded.day:02d}{recorded.month:02d}{recorded.year % 100:02d}"
                     f"{self.rng.randint(1, 9999):04d}")
            if value not in self.kks:
                self.kks.add(value)
                return value

    def name(self, sex):
        """An Indonesian-sounding name."""
        if sex == "L":
            first, last = Names.first_names_male, Names.last_names_male
        else:
            first, last = Names.first_names_female, Names.last_names_female
        parts = [self.rng.choice(first)]
        if self.rng.random() < 0.75:
            parts.append(self.rng.choice(last))
        return " ".join(parts)

    def birth(self, age_min, age_max):
        """A birth date for an age in [age_min, age_max] on self.today."""
        age_days = self.rng.randint(int(age_min * 365.25), int(age_max * 365.25 + 364))
        return self.today - timedelta(days=age_days)

    def wilayah(self, count):
        """(dusun, rw, rt, kampung) slots, about 500 KK per dusun, 2 RW per dusun, 3–5 RT per RW."""
        n_dusun = max(3, round(count / 500))
        slots, rw_no = [], 0
        for d in range(n_dusun):
            dusun = DUSUN_NAMES[d] if d < len(DUSUN_NAMES) else f"{DUSUN_NAMES[d % len(DUSUN_NAMES)]} {d // len(DUSUN_NAMES) + 1}"
            for _ in range(2):
                rw_no += 1
                for rt in range(1, self.rng.randint(3, 5) + 1):
                    slots.append((dusun, f"{rw_no:03d}", f"{rt:03d}"))
        return slots

    def add_person(self, household_id, nama, hubungan, sex, born, keberadaan, now):
        """Append one person row and remember it for the disbursements."""
        person_id = len(self.persons) + 1
        self.persons.append((person_id, self.nik(born, sex), household_id, nama, hubungan, sex,
                             born.isoformat(), keberadaan, now, now))
        age = (self.today - born).days // 365
        self.members.setdefault(household_id, []).append((person_id, age, keberadaan))
        return person_id

    def family(self, household_id, now):
        """Create the members of one household."""
        rng = self.rng
        head_sex = "L" if rng.random() < 0.85 else "P"
        head_born = self.birth(22, 80)
        head_age = (self.today - head_born).days // 365
        self.add_person(household_id, self.name(head_sex), "kepala", head_sex, head_born, "tinggal", now)
        if head_sex == "L" and head_age < 78 and rng.random() < 0.82:
            born = head_born + timedelta(days=rng.randint(0, 8 * 365))
            if born >= self.today - timedelta(days=18 * 365):
                born = self.today - timedelta(days=19 * 365)
            keberadaan = self.pick({"tinggal": 96, "meninggal": 2, "pindah": 2})
            self.add_person(household_id, self.name("P"), "istri", "P", born, keberadaan, now)
        n_children = self.pick({0: 16, 1: 24, 2: 28, 3: 19, 4: 9, 5: 3, 6: 1}) if head_age < 70 else self.pick({0: 60, 1: 40})
        for _ in range(n_children):
            oldest = max(0, min(head_age - 20, 40))
            youngest = max(0, head_age - 45)
            born = self.birth(youngest, max(youngest, oldest))
            sex = rng.choice("LP")
            age = (self.today - born).days // 365
            keberadaan = ("baru" if age < 2 and rng.random() < 0.5
                          else self.pick({"tinggal": 95, "pindah": 3 if age >= 18 else 0,
                                          "meninggal": 1, "tidak_ditemukan": 1}))
            self.add_person(household_id, self.name(sex), "anak", sex, born, keberadaan, now)
        if head_age < 55 and rng.random() < 0.08:
            sex = rng.choice("LP")
            keberadaan = self.pick({"tinggal": 85, "meninggal": 15})
            self.add_person(household_id, self.name(sex), rng.choice(["orang_tua", "mertua"]), sex,
                            self.birth(head_age + 20, min(head_age + 35, 95)), keberadaan, now)
        if head_age > 55 and rng.random() < 0.2:
            sex = rng.choice("LP")
            self.add_person(household_id, self.name(sex), "cucu", sex, self.birth(0, 15), "tinggal", now)

    def build(self, count, batch_id):
        """Create count households with their members."""
        slots = self.wilayah(count)
        now = str(utcnow())
        for i in range(count):
            household_id = i + 1
            dusun, rw, rt = slots[i * len(slots) // count]
            desil = self.pick(DESIL_WEIGHTS)
            self.desil[household_id] = desil
            alamat = f"Kp. {dusun} RT {rt}/RW {rw}"
            self.households.append((household_id, self.no_kk(), self.desa.id, dusun, rw, rt, alamat,
                                    desil, batch_id, now, now))
            self.family(household_id, now)


def quarter_dates(year, quarter):
    """First and last day of a quarter."""
    start = date(year, 3 * quarter - 2, 1)
    end = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)
    return start, end


class Disbursements:
    """Builds periods and disbursement rows for a built Village."""

    def __init__(self, village):
        self.v = village
        self.rows = []
        self.programs = {p.code: p for p in Program.select()}
        self.now = str(utcnow())

    def period(self, code, label, year, start, end, amount, channel, closed):
        """Create (or reuse) a period row and return it."""
        period, _ = Period.get_or_create(
            program=self.programs[code], label=label,
            defaults={"year": year, "start_date": start, "end_date": end, "amount": amount,
                      "default_channel": channel, "closed": closed,
                      "closed_at": utcnow() if closed else None})
        return period

    def status(self, period, mix, reasons=REASON_WEIGHTS):
        """Draw (status, status_date, reason, note) from a {status: weight} mix."""
        v = self.v
        status = v.pick(mix) if period.start_date <= v.today else "belum"
        end = min(period.end_date, v.today)
        span = max(0, (end - period.start_date).days)
        when = (period.start_date + timedelta(days=v.rng.randint(0, span))).isoformat()
        if status == "belum":
            return status, None, None, ""
        if status == "cair":
            return status, when, None, ""
        reason = v.pick(reasons)
        note = v.rng.choice(REASON_NOTES.get(reason, [""]))
        return status, when, reason, note

    def add(self, period, household_id, person_id, channel, mix, amount=None, reasons=REASON_WEIGHTS):
        """Append one disbursement row."""
        status, when, reason, note = self.status(period, mix, reasons)
        self.rows.append((period.id, household_id, person_id, channel, status, when, reason, note,
                          period.amount if amount is None else amount, self.now, self.now))

    def bank_or_pos(self):
        """PKH and Sembako mostly reach the KKS, some families get them at the Kantor Pos."""
        return "bank" if self.v.rng.random() < 0.9 else "pos"

    def choose(self, share):
        """Households drawn with a per-desil probability, plus a few inclusion errors above it."""
        rng, chosen = self.v.rng, set()
        for household_id, desil in self.v.desil.items():
            p = share.get(desil, 0.0) if desil is not None else 0.08
            if desil is not None and desil not in share and desil <= 8:
                p = INCLUSION_SHARE
            if rng.random() < p:
                chosen.add(household_id)
        return chosen

    def churn(self, previous, share, rate=0.05):
        """Next year's list: most stay, some graduate, a few join."""
        rng = self.v.rng
        kept = {h for h in previous if rng.random() > rate}
        joined = {h for h in self.choose(share) if h not in previous and rng.random() < rate * 2}
        return kept | joined

    def quarterly(self, code, year, recipients, channels, mixes, amount_choices=None):
        """Four tahap of a quarterly keluarga programme."""
        program = self.programs[code]
        for quarter, mix in enumerate(mixes, start=1):
            start, end = quarter_dates(year, quarter)
            period = self.period(code, f"Tahap {quarter} {year}", year, start, end, program.default_amount,
                                 "bank", closed=year < self.v.year)
            for household_id in sorted(recipients):
                amount = self.v.rng.choice(amount_choices) if amount_choices else None
                self.add(period, household_id, None, channels[household_id], mix, amount)

    def build(self):
        """Create every period and disbursement of the previous and the current year."""
        v, rng = self.v, self.v.rng
        prev, cur = v.year - 1, v.year
        done = {"cair": 94, "tidak_cair": 4, "belum": 2}
        running = {"cair": 90, "tidak_cair": 4, "belum": 6}
        latest = {"belum": 58, "cair": 38, "tidak_cair": 4}

        pkh_prev = self.choose(PKH_SHARE)
        sembako_prev = self.choose(SEMBAKO_SHARE)
        pkh_cur = self.churn(pkh_prev, PKH_SHARE)
        sembako_cur = self.churn(sembako_prev, SEMBAKO_SHARE)
        channels = {h: self.bank_or_pos() for h in v.desil}
        pkh_amounts = [450000, 600000, 750000, 975000, 1200000]
        self.quarterly("PKH", prev, pkh_prev, channels, [done] * 4, pkh_amounts)
        self.quarterly("SEMBAKO", prev, sembako_prev, channels, [done] * 4)
        self.quarterly("PKH", cur, pkh_cur, channels, [done, done, running, latest], pkh_amounts)
        self.quarterly("SEMBAKO", cur, sembako_cur, channels, [done, done, running, latest])

        # BLT Kesra: Tahap 1 credited to existing KKS holders in desil 1–4, Tahap 2 paid at the
        # Kantor Pos to desil 1–4 families without PKH/Sembako (the seed's 105 KK of Mekarsari).
        kesra1 = self.period("BLT-KESRA", f"Tahap 1 {prev}", prev, date(prev, 10, 1), date(prev, 10, 31),
                             900000, "bank", closed=True)
        kesra2 = self.period("BLT-KESRA", f"Tahap 2 {prev}", prev, date(prev, 11, 1), date(prev, 12, 15),
                             900000, "pos", closed=prev < cur)
        for household_id in sorted(sembako_prev):
            desil = v.desil[household_id]
            if desil is not None and desil <= 4:
                self.add(kesra1, household_id, None, "bank", {"cair": 96, "tidak_cair": 3, "belum": 1})
        for household_id, desil in sorted(v.desil.items()):
            if (desil is not None and desil <= 4 and household_id not in pkh_prev
                    and household_id not in sembako_prev and rng.random() < 0.65):
                self.add(kesra2, household_id, None, "pos", {"cair": 85, "tidak_cair": 8, "belum": 7},
                         reasons=POS_REASONS)

        # BLT Dana Desa: chosen by musdesus among families without PKH/Sembako, paid in cash.
        bltdd_prev = {h for h, d in v.desil.items() if d is not None and d <= 6 and h not in pkh_prev
                      and h not in sembako_prev and rng.random() < 0.12}
        bltdd_cur = self.churn(bltdd_prev, {}, rate=0.1)
        for year, recipients, mixes in ((prev, bltdd_prev, [done] * 4), (cur, bltdd_cur, [done, done, latest])):
            for tahap, mix in enumerate(mixes, start=1):
                start, end = quarter_dates(year, tahap)
                period = self.period("BLT-DD", f"Tahap {tahap} {year}", year, start, end, 900000, "tunai",
                                     closed=year < cur)
                for household_id in sorted(recipients):
                    self.add(period, household_id, None, "tunai", mix)

        # PBI-JK and PIP are jiwa programmes: one row per person.
        pbi_families = {h for h, d in v.desil.items() if d is not None and d <= 5 and rng.random() < 0.75}
        for year in (prev, cur):
            pbi = self.period("PBI-JK", f"Tahun {year}", year, date(year, 1, 1), date(year, 12, 31), 504000,
                              "lainnya", closed=year < cur)
            pip = self.period("PIP", f"Tahap 1 {year}", year, date(year, 7, 1), date(year, 9, 30), 450000,
                              "bank", closed=year < cur)
            for household_id in sorted(pbi_families):
                for person_id, age, keberadaan in v.members[household_id]:
                    if keberadaan in ("tinggal", "baru") or year == prev:
                        self.add(pbi, household_id, person_id, "lainnya",
                                 {"cair": 95, "tidak_cair": 5}, reasons={"tidak_padan": 60, "lainnya": 40})
                    if 7 <= age - (cur - year) <= 18 and keberadaan == "tinggal" and rng.random() < 0.4:
                        self.add(pip, household_id, person_id, "bank", done if year == prev else running)
        return self.rows


HOUSEHOLD_SQL = ('INSERT INTO household (id, no_kk, desa_id, dusun, rw, rt, alamat, desil, import_batch_id, '
                 'created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
PERSON_SQL = ('INSERT INTO person (id, nik, household_id, nama, hubungan, jenis_kelamin, tanggal_lahir, '
              'keberadaan, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
DISBURSEMENT_SQL = ('INSERT INTO disbursement (period_id, household_id, person_id, channel, status, '
                    'status_date, reason, note, amount, created_at, updated_at) '
                    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')


def seed(households=2000, seed=2025, year=None):
    """Load the demo village into an empty database (one transaction) and return the row counts."""
    year = year or date.today().year
    rng = random.Random(seed)
    desa = Desa.current()
    with database.db.atomic("IMMEDIATE"):
        batch = ImportBatch.create(
            kind="dtsen", filename="desa-demo (data sintetis)", state="applied", applied_at=utcnow(),
            sha256=hashlib.sha256(f"demo:{seed}:{households}:{year}".encode()).hexdigest(),
            version_label=f"Demo DTSEN Triwulan III {year}", new_count=households)
        village = Village(desa, rng, year)
        village.build(households, batch.id)
        rows = Disbursements(village).build()
        conn = database.db.connection()
        conn.executemany(HOUSEHOLD_SQL, village.households)
        conn.executemany(PERSON_SQL, village.persons)
        conn.executemany(DISBURSEMENT_SQL, rows)
    database.optimize()
    return {"households": len(village.households), "persons": len(village.persons), "disbursements": len(rows)}
