"""Property-based tests: any cell values give a staged result or a refusal, never an unhandled error,
and a refused file never changes the database."""
import json
from datetime import date
from datetime import datetime

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from webapp.importing import Refused
from webapp.importing import dtsen
from webapp.importing import fields
from webapp.importing import normalise

from .test_import_dtsen import snapshot
from .test_import_reading import HEADER
from .test_import_reading import TODAY
from .test_import_reading import nik
from .test_import_reading import write_csv
from .test_import_reading import write_xlsx

IDS = st.sampled_from(["3205221203150001", nik(1), nik(2, True), "3205 2212 0315 0001", "3.20522E+15",
                       "0000000000000000", "'3205222005800003"])
CELLS = st.one_of(
    st.none(), st.booleans(), IDS, st.text(max_size=30),
    st.integers(min_value=-(2 ** 60), max_value=2 ** 60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from(["3", "Desil 3", "BELUM ADA DESIL", "20-05-1980", "1980/05/20", "L", "P", "Kepala Keluarga",
                     "Anak", "Tinggal bersama", "Meninggal", "001", "-", "TOTAL", "###", "=1+1"]),
)
GOOD = {
    "NO KK": st.sampled_from(["3205221203150001", "3205221203150002", "3205221203150003"]),
    "NIK": st.integers(1, 40).map(nik),
    "NAMA": st.sampled_from(["Budi Santoso", "Siti Aminah", "  rina  ", "Ujang"]),
    "HUBUNGAN": st.sampled_from(["Kepala Keluarga", "Istri", "Anak", "1", "3"]),
    "JENIS KELAMIN": st.sampled_from(["L", "P", "1", "2", ""]),
    "TANGGAL LAHIR": st.dates(min_value=date(1910, 1, 1), max_value=date(2026, 1, 1)),
    "RT": st.integers(1, 20), "RW": st.sampled_from(["1", "02", "003", "-"]),
    "DUSUN": st.sampled_from(["Sukamaju", "Babakan", ""]),
    "DESIL": st.one_of(st.integers(1, 10), st.sampled_from(["", "Desil 4"])),
    "KETERANGAN KEBERADAAN": st.sampled_from(["Tinggal bersama", "Meninggal", "2", ""]),
}
HEADERS = st.lists(st.one_of(st.sampled_from(HEADER), st.text(max_size=12)), min_size=1, max_size=12)
RELAXED = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def as_text(cell):
    """A cell as a CSV writer would hold it."""
    if cell is None:
        return ""
    return cell.isoformat() if isinstance(cell, (date, datetime)) else str(cell)


def rows_under(headers, data):
    """Rows for a header row: most with plausible values for the known columns, some with any cells."""
    plausible = st.tuples(*(GOOD.get(h, CELLS) for h in headers)).map(list)
    messy = st.tuples(*(st.one_of(GOOD[h], CELLS) if h in GOOD else CELLS for h in headers)).map(list)
    return data.draw(st.lists(st.one_of(plausible, plausible, messy), max_size=8))


@RELAXED
@given(headers=st.one_of(HEADERS, st.permutations(HEADER)), data=st.data(), csv_file=st.booleans(),
       title=st.booleans())
def test_random_cells_never_raise_and_a_refused_file_changes_nothing(db_conn, tmp_path, headers, data, csv_file,
                                                                      title):
    table = ([["DATA DTSEN DESA"]] if title else []) + [headers, *rows_under(headers, data)]
    if csv_file:
        path = write_csv(tmp_path / "acak.csv", [[as_text(c) for c in row] for row in table])
    else:
        path = write_xlsx(tmp_path / "acak.xlsx", table)
    staged = dtsen.stage(path, today=TODAY)
    json.dumps(staged)
    preview = dtsen.preview(staged)
    json.dumps(preview)
    before = snapshot()
    if staged["refused"]:
        try:
            dtsen.apply(staged, "acak")
        except Refused:
            pass
        assert snapshot() == before
    else:
        result = dtsen.apply(staged, "acak")
        assert result["counts"]["rejected"] == len(staged["rejected"])


@settings(max_examples=300, deadline=None)
@given(cell=CELLS)
def test_every_normaliser_returns_a_value_or_raises_invalid(cell):
    ctx = normalise.Context(normalise.EPOCH_1900, TODAY)
    for field in fields.DTSEN.fields.values():
        try:
            value = field.parse(cell, ctx)
        except normalise.Invalid as exc:
            assert str(exc)
            continue
        if isinstance(value, normalise.Warned):
            value = value.value
        assert value is normalise.NOT_GIVEN or value is None or isinstance(value, (str, int))
