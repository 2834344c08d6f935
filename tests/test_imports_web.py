"""Uploading a DTSEN file through the web: preview first, then a confirmed, backed-up, atomic apply."""
import io
import re
import time
from pathlib import Path

import openpyxl
import pytest
from bs4 import BeautifulSoup

from webapp import db as database
from webapp.jobs import Job
from webapp.models import AuditEvent
from webapp.models import Household
from webapp.models import Person

from .conftest import logged_in

HEADER = ["NO KK", "NIK", "NAMA", "HUBUNGAN", "JK", "TGL LAHIR", "DUSUN", "RT", "RW", "DESIL"]
ROWS = [
    ["3205221203150001", "3205225505800001", "Siti  Aminah", "KEPALA KELUARGA", "P", "15-05-1980", "Babakan", "1", "2", "3"],
    ["3205221203150001", "3205220102050002", "Budi", "ANAK", "L", "01/02/2005", "Babakan", "1", "2", "3"],
    ["3205221203150002", "123", "Salah NIK", "KEPALA KELUARGA", "L", "01/02/1970", "Babakan", "1", "2", "4"],
]


def xlsx(rows, title=True):
    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet.append(["DATA DTSEN DESA MEKARSARI"])
        sheet.append([])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def token(client):
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/impor/").data.decode()).group(1)


def upload(client, data, name="dtsen.xlsx"):
    return client.post("/impor/dtsen", data={"file": (io.BytesIO(data), name)}, headers={"X-CSRFToken": token(client)},
                       content_type="multipart/form-data")


def wait(app, location, phases=("preview", "done", "failed")):
    job_id = location.rsplit("/", 1)[1]
    root = Path(app.config["DATABASE"]).parent / "imports"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = Job.find(root, job_id).status()
        if status["phase"] in phases:
            return job_id, status
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_upload_preview_confirm_apply(app, client):
    data = xlsx(ROWS)
    response = upload(client, data)
    assert response.status_code == 303
    job_id, status = wait(app, response.headers["Location"])
    assert status["phase"] == "preview"
    page = BeautifulSoup(client.get(f"/impor/tugas/{job_id}").data, "html.parser").get_text()
    assert "Belum ada yang diubah" in page
    assert 'Baris 6, kolom "NIK": harus 16 angka' in page
    with app.app_context(), database.db.connection_context():
        assert Household.select().count() == 0, "nothing is written before the confirmation"

    missing_label = client.post(f"/impor/tugas/{job_id}/terapkan", headers={"X-CSRFToken": token(client)})
    assert missing_label.status_code == 422 and "Beri nama versi data" in missing_label.data.decode()
    confirmed = client.post(f"/impor/tugas/{job_id}/terapkan", data={"version_label": "DTSEN Triwulan IV 2026"},
                            headers={"X-CSRFToken": token(client)})
    assert confirmed.status_code == 303
    _, status = wait(app, confirmed.headers["Location"], phases=("done", "failed"))
    assert status["phase"] == "done", status
    done = client.get(f"/impor/tugas/{job_id}").data.decode()
    assert "Impor selesai" in done and "DTSEN Triwulan IV 2026" in done
    with app.app_context(), database.db.connection_context():
        assert Household.select().count() == 1
        assert {p.nama for p in Person.select()} == {"Siti Aminah", "Budi"}
        assert AuditEvent.select().where(AuditEvent.import_batch.is_null(False)).count() > 0
    assert list((Path(app.config["BACKUP_DIR"])).glob("rekap-bansos-*-sebelum-impor.db"))
    job_dir = Path(app.config["DATABASE"]).parent / "imports" / job_id
    assert not (job_dir / "staged.json").exists() and not (job_dir / "upload.xlsx").exists()
    history = client.get("/impor/").data.decode()
    assert "DTSEN Triwulan IV 2026" in history
    again = upload(client, data)
    job_again, _ = wait(app, again.headers["Location"])
    again_page = BeautifulSoup(client.get(f"/impor/tugas/{job_again}").data, "html.parser").get_text(" ", strip=True)
    assert "sudah pernah diimpor" in again_page, again_page[:1500]


def test_batch_page_lists_and_downloads_rejected_rows(app, client):
    job_id, _ = wait(app, upload(client, xlsx(ROWS)).headers["Location"])
    rejected = client.get(f"/impor/tugas/{job_id}/ditolak.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(rejected.data)).active
    assert any("123" in [str(c) for c in row] for row in sheet.iter_rows(values_only=True))
    confirmed = client.post(f"/impor/tugas/{job_id}/terapkan", data={"version_label": "v1"},
                            headers={"X-CSRFToken": token(client)})
    wait(app, confirmed.headers["Location"], phases=("done",))
    with app.app_context(), database.db.connection_context():
        from webapp.models import ImportBatch
        batch_id = ImportBatch.get().id
    page = client.get(f"/impor/batch/{batch_id}").data.decode()
    assert "harus 16 angka" in page
    assert client.get(f"/impor/batch/{batch_id}/ditolak.xlsx").status_code == 200


@pytest.mark.parametrize("name, message", [("lama.xls", "simpan ulang"), ("foto.jpg", "Hanya berkas .xlsx")])
def test_wrong_file_types_get_advice(client, name, message):
    response = upload(client, b"whatever", name=name)
    assert response.status_code == 422 and message in response.data.decode()


def test_refused_file_says_why_and_writes_nothing(app, client):
    response = upload(client, b"not,a,dtsen\nfile,at,all\n", name="acak.csv")
    job_id, status = wait(app, response.headers["Location"])
    page = client.get(f"/impor/tugas/{job_id}").data.decode()
    assert "ditolak seluruhnya" in page or "tidak dapat diimpor" in page
    with app.app_context(), database.db.connection_context():
        assert Household.select().count() == 0


def test_columns_can_be_mapped_by_hand(app, client):
    rows = [["3205221203150001", "3205225505800001", "Siti Aminah"]]
    book = openpyxl.Workbook()
    book.active.append(["KARTU", "NOMOR INDUK", "NAMA"])
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    job_id, status = wait(app, upload(client, buffer.getvalue()).headers["Location"])
    page = client.get(f"/impor/tugas/{job_id}").data.decode()
    assert 'name="map:KARTU"' in page
    remapped = client.post(f"/impor/tugas/{job_id}/petakan", headers={"X-CSRFToken": token(client)},
                           data={"map:KARTU": "no_kk", "map:NOMOR INDUK": "nik", "map:NAMA": "nama"})
    assert remapped.status_code == 303
    wait(app, remapped.headers["Location"])
    preview = client.get(f"/impor/tugas/{job_id}").data.decode()
    soup = BeautifulSoup(preview, "html.parser")
    assert "Terapkan impor (1 baris sah)" in soup.get_text()


def test_a_job_whose_worker_died_says_nothing_changed(app, client):
    job_id, _ = wait(app, upload(client, xlsx(ROWS)).headers["Location"])
    job = Job.find(Path(app.config["DATABASE"]).parent / "imports", job_id)
    job.write(phase="applying")
    status_path = job.path("status.json")
    text = status_path.read_text()
    status_path.write_text(re.sub(r'"heartbeat": [0-9.]+', '"heartbeat": 1', text))
    page = client.get(f"/impor/tugas/{job_id}").data.decode()
    assert "tidak ada data yang berubah" in page


def test_progress_fragment_reloads_the_page_when_the_job_is_over(app, client):
    job_id, _ = wait(app, upload(client, xlsx(ROWS)).headers["Location"])
    response = client.get(f"/impor/tugas/{job_id}/progres", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Refresh"] == "true"


def test_template_and_pages_are_for_operators_only(app, client):
    template = client.get("/impor/templat/dtsen.xlsx")
    assert template.status_code == 200
    headers = [c.value for c in next(openpyxl.load_workbook(io.BytesIO(template.data)).active.iter_rows(max_row=1))]
    assert "NIK" in headers and "NO KK" in [h.upper() for h in headers if h]
    for role in ("staf", "kecamatan"):
        assert logged_in(app, role).get("/impor/").status_code == 403
    assert client.get("/impor/tugas/bukan-tugas").status_code == 404


def upload_kind(client, kind, data, name, **fields):
    return client.post(f"/impor/{kind}", data={"file": (io.BytesIO(data), name), **fields},
                       headers={"X-CSRFToken": token(client)}, content_type="multipart/form-data")


def confirm(app, client, job_id, **fields):
    response = client.post(f"/impor/tugas/{job_id}/terapkan", data=fields, headers={"X-CSRFToken": token(client)})
    assert response.status_code == 303
    return wait(app, response.headers["Location"], phases=("done", "failed"))[1]


def test_recipient_list_by_upload_creates_the_period_and_can_accept_outsiders(demo_app, demo_client, demo_db):
    from webapp.models import Disbursement, Period
    heads = list(Household.select().order_by(Household.id).limit(3))
    book = openpyxl.Workbook()
    book.active.append(["NO KK", "NAMA PENERIMA", "STATUS", "ALASAN"])
    for h in heads:
        book.active.append([h.no_kk, "Nama Di Daftar Pos", "SUDAH SALUR", ""])
    book.active.append(["3205229999990001", "Warga Baru", "RETUR", "TIDAK DITEMUKAN"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload_kind(demo_client, "penerima", buffer.getvalue(), "pos-tahap9.xlsx", program="BLT-KESRA",
                           period="Tahap 9 2026", channel="pos")
    job_id, status = wait(demo_app, response.headers["Location"])
    assert status["phase"] == "preview", status
    text = BeautifulSoup(demo_client.get(f"/impor/tugas/{job_id}").data, "html.parser").get_text(" ", strip=True)
    assert "periode baru" in text and "Tidak ditemukan di data desa (1)" in text
    assert "Terima 1 baris" in text
    result = confirm(demo_app, demo_client, job_id, accept_unmatched="1")
    assert result["phase"] == "done", result
    period = Period.get(Period.label == "Tahap 9 2026")
    rows = list(Disbursement.select().where(Disbursement.period == period))
    assert len(rows) == 4 and {d.channel for d in rows} == {"pos"}
    outsider = [d for d in rows if not d.household.in_dtsen]
    assert len(outsider) == 1 and outsider[0].status == "tidak_cair" and outsider[0].reason == "tidak_ditemukan"
    assert sum(d.status == "cair" for d in rows) == 3


def test_status_file_round_trip_by_upload(demo_app, demo_client, demo_db):
    from webapp.models import Disbursement, Period
    period = Period.select().where(~Period.closed).order_by(Period.id).first()
    exported = demo_client.get(f"/periode/{period.id}/ekspor.xlsx?status=belum")
    book = openpyxl.load_workbook(io.BytesIO(exported.data))
    sheet = book.active
    header_row = next(r for r in range(1, 10) if sheet.cell(row=r, column=1).value == "ID baris")
    headers = [c.value for c in sheet[header_row]]
    first = header_row + 1
    row_id = sheet.cell(row=first, column=1).value
    sheet.cell(row=first, column=headers.index("Status") + 1).value = "Tidak cair"
    sheet.cell(row=first, column=headers.index("Alasan") + 1).value = "Rekening/KKS bermasalah"
    buffer = io.BytesIO()
    book.save(buffer)
    assert f"/impor/?periode={period.id}" in demo_client.get(f"/periode/{period.id}").data.decode()
    response = upload_kind(demo_client, "status", buffer.getvalue(), "isian.xlsx", period=str(period.id))
    job_id, status = wait(demo_app, response.headers["Location"])
    text = BeautifulSoup(demo_client.get(f"/impor/tugas/{job_id}").data, "html.parser").get_text(" ", strip=True)
    assert "Perubahan status (1)" in text
    assert confirm(demo_app, demo_client, job_id)["phase"] == "done"
    changed = Disbursement.get_by_id(row_id)
    assert (changed.status, changed.reason) == ("tidak_cair", "rekening")
    assert changed.version == 2
