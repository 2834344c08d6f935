"""`flask import-dtsen`: the preview summary, the exit statuses 0/3/2 and --dry-run."""
import pytest

from webapp import db as database
from webapp.models import Household
from webapp.models import ImportBatch
from webapp.models import Person

from .test_import_reading import HEADER
from .test_import_reading import KK2
from .test_import_reading import family
from .test_import_reading import nik
from .test_import_reading import person
from .test_import_reading import write_csv
from .test_import_reading import write_xlsx


def counts(app):
    """(households, persons, batches) in the app's database."""
    with app.app_context(), database.db.connection_context():
        return Household.select().count(), Person.select().count(), ImportBatch.select().count()


def run(runner, *args):
    """Invoke flask import-dtsen with arguments."""
    return runner.invoke(args=["import-dtsen", *map(str, args)])


def test_clean_file_applied_with_status_0(app, runner, tmp_path):
    path = write_xlsx(tmp_path / "desa.xlsx", [HEADER, *family()])
    result = run(runner, path, "--version", "DTSEN Triwulan IV 2025")
    assert result.exit_code == 0, result.output
    assert "Baris data: 3 (3 baru, 0 berubah, 0 tetap, 0 ditolak)" in result.output
    assert "KK: 1 baru, 0 berubah, 0 tetap, 0 tidak ada di file" in result.output
    assert "Jiwa: 3 baru, 0 berubah (0 pindah KK), 0 tetap, 0 tidak ada di file" in result.output
    assert 'Diterapkan: batch #1 "DTSEN Triwulan IV 2025".' in result.output
    assert counts(app) == (1, 3, 1)
    with app.app_context(), database.db.connection_context():
        assert ImportBatch.get_by_id(1).version_label == "DTSEN Triwulan IV 2025"

    again = run(runner, path)
    assert again.exit_code == 0
    assert 'Berkas ini sudah pernah diimpor (batch #1 "DTSEN Triwulan IV 2025"' in again.output
    assert counts(app) == (1, 3, 1)


def test_some_rows_rejected_gives_status_3_and_lists_them(app, runner, tmp_path):
    rows = [HEADER, *family(), person(KK2, 5, NIK="3.20522E+15"), person(KK2, 6, lahir="01-01-2030")]
    path = write_csv(tmp_path / "desa.csv", rows, ";")
    dry = run(runner, path, "--dry-run")
    assert dry.exit_code == 3, dry.output
    assert "Uji coba (--dry-run): tidak ada yang ditulis." in dry.output
    assert counts(app) == (0, 0, 0)
    result = run(runner, path)
    assert result.exit_code == 3
    assert result.output.splitlines()[-1] == 'Diterapkan: batch #1 "desa.csv".'
    assert "Baris ditolak (1):\n  Baris 5, kolom \"NIK\": tertulis dalam notasi ilmiah (3.20522E+15)" in result.output
    assert "Peringatan (1):\n  Baris 6, kolom \"TANGGAL LAHIR\": tanggal di masa depan" in result.output
    assert counts(app) == (2, 4, 1)


@pytest.mark.parametrize("rows", [
    [HEADER, person(NIK="123")],
    [["NIK", "NAMA"], [nik(1), "Budi"]],
    [["judul saja"]],
])
def test_refused_file_gives_status_2_and_writes_nothing(app, runner, tmp_path, rows):
    path = write_xlsx(tmp_path / "salah.xlsx", rows)
    for args in ((path, "--dry-run"), (path,)):
        result = run(runner, *args)
        assert result.exit_code == 2, result.output
        assert "DITOLAK seluruhnya: " in result.output
    assert counts(app) == (0, 0, 0)


def test_old_xls_refused_with_advice(app, runner, tmp_path):
    path = tmp_path / "lama.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    result = run(runner, path)
    assert result.exit_code == 2
    assert "simpan ulang sebagai .xlsx" in result.output


def test_manual_mapping_on_the_command_line(app, runner, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["KARTU", "INDUK", "NAMA"], ["3205221203150001", nik(1), "Budi"]])
    assert run(runner, path, "--dry-run").exit_code == 2
    result = run(runner, path, "--map", "KARTU=no_kk", "--map", "induk = nik")
    assert result.exit_code == 0, result.output
    assert "Kolom dikenali: KARTU → No KK, INDUK → NIK, NAMA → Nama" in result.output
    assert counts(app) == (1, 1, 1)
    bad = run(runner, path, "--map", "KARTU")
    assert bad.exit_code == 2 and '"KARTU" harus berbentuk "KOLOM=field"' in bad.output
