"""The household page: members, desil and every disbursement."""
from datetime import date

from bs4 import BeautifulSoup

from webapp import formatting
from webapp.models import Desa
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program
from webapp.models import utcnow


def test_household_page_shows_members_and_disbursements(db_conn, client):
    hh = Household.create(no_kk="3205221203150001", desa=Desa.current(), dusun="Babakan", rw="002", rt="003",
                          desil=2)
    head = Person.create(nik="3205221505700001", household=hh, nama="Asep Sunandar", hubungan="kepala",
                         jenis_kelamin="L", tanggal_lahir=date(1970, 5, 15))
    Person.create(nik="3205225505720002", household=hh, nama="Euis Komariah", hubungan="istri",
                  jenis_kelamin="P", tanggal_lahir=date(1972, 5, 15), keberadaan="meninggal")
    kesra = Period.create(program=Program.get(code="BLT-KESRA"), label="Tahap 2 2025", year=2025)
    pbi = Period.create(program=Program.get(code="PBI-JK"), label="Tahun 2026", year=2026)
    Disbursement.create(period=kesra, household=hh, channel="pos", status="tidak_cair", reason="pindah",
                        note="Undangan kembali", amount=900000)
    Disbursement.create(period=pbi, household=hh, person=head, channel="lainnya", status="cair",
                        status_date=date(2026, 3, 2), amount=504000)

    html = client.get(f"/keluarga/{hh.id}").data.decode()
    soup = BeautifulSoup(html, "html.parser")
    members = [[td.get_text(strip=True) for td in tr.select("td")] for tr in soup.select("#anggota + div tbody tr")]
    assert members[0][:3] == ["Asep Sunandar", "3205221505700001", "Kepala Keluarga"]
    assert members[1][2] == "Istri" and members[1][6] == "Meninggal"
    assert members[0][4] == "15 Mei 1970"
    assert "Desil 2" in html and "Babakan" in html and "1 dari 2 anggota" in html
    aid = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in soup.select("#bantuan + div tbody tr")]
    assert aid[0][:4] == ["PBI-JK", "Tahun 2026", "Asep Sunandar", "Lainnya"]
    assert aid[0][4].startswith("Sudah cair") and "2 Maret 2026" in aid[0][4]
    assert aid[1][:4] == ["BLT-KESRA", "Tahap 2 2025", "Keluarga", "Kantor Pos"]
    assert "Tidak cair" in aid[1][4] and "Pindah: Undangan kembali" in aid[1][4]
    assert aid[1][5] == "Rp900.000"


def test_missing_or_deleted_household_is_404(db_conn, client):
    assert client.get("/keluarga/999").status_code == 404
    hh = Household.create(no_kk="3205221203150001", desa=Desa.current(), deleted_at=utcnow())
    assert client.get(f"/keluarga/{hh.id}").status_code == 404


def test_household_without_aid_says_so(db_conn, client):
    hh = Household.create(no_kk="3205221203150001", desa=Desa.current())
    assert "belum tercatat menerima bantuan" in client.get(f"/keluarga/{hh.id}").data.decode()


def test_indonesian_formats():
    assert formatting.angka(1234567) == "1.234.567"
    assert formatting.rupiah(900000) == "Rp900.000"
    assert formatting.tanggal(date(2025, 11, 27)) == "27 November 2025"
    from datetime import datetime
    assert formatting.waktu(datetime(2025, 11, 27, 3, 5)) == "27 November 2025 10.05 WIB"
    assert formatting.kode_wilayah("3205222003") == "32.05.22.2003"


def test_home_shows_desa_and_headline_figures(demo_client):
    html = demo_client.get("/").data.decode()
    assert "Desa Mekarsari" in html and "32.05.22.2003" in html
    assert "KK desil 1–5 belum menerima bantuan" in html
    assert "Demo DTSEN" in html
    assert 'name="q"' in html
