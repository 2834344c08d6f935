"""`flask recap`: the recap on the command line, as Indonesian text tables or as the stable JSON.

The figures come from webapp/recap.py, exactly as the page, the exports and the WhatsApp text get them.
"""
import json

import click
from flask.cli import with_appcontext

from . import db as database
from . import recap
from .formatting import angka
from .formatting import kode_wilayah
from .formatting import rupiah
from .formatting import waktu
from .models import CHANNELS
from .models import LABELS


def table(headers, rows):
    """A plain-text table: the first column left-aligned, the others (numbers) right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        """One padded line."""
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])


def section(title, body):
    """A titled block of the text report."""
    return f"{title.upper()}\n{body}"


def render_text(result):
    """The whole recap as readable Indonesian text."""
    desa, totals, n = result.desa, result.totals, result.scope.desil_max
    header = "\n".join([
        f"REKAP BANSOS DESA {desa.nama.upper()}",
        f"Kode wilayah {kode_wilayah(desa.kode)} · Kecamatan {desa.kecamatan} · Kabupaten {desa.kabupaten}",
        f"Cakupan    : {result.scope.text()}",
        f"Data DTSEN : {result.dtsen_version or 'belum ada data DTSEN'}",
        f"Dibuat     : {waktu(result.generated_at)}",
    ])
    headline = table(["", "KK", "Jiwa"], [
        ["Keluarga dalam data", angka(totals.data.kk), angka(totals.data.jiwa)],
        ["Desil 1–4", angka(totals.desil_1_4.kk), angka(totals.desil_1_4.jiwa)],
        [f"Desil 1–{n}", angka(totals.desil_1_max.kk), angka(totals.desil_1_max.jiwa)],
        ["Belum ada desil", angka(totals.tanpa_desil.kk), angka(totals.tanpa_desil.jiwa)],
        ["Menerima bantuan (≥1 program)", angka(totals.menerima.kk), angka(totals.menerima.jiwa)],
        [f"KK desil 1–{n} belum menerima bantuan", angka(result.no_aid.kk), angka(result.no_aid.jiwa)],
    ])
    payments = table(["", "Penyaluran", "Rupiah"], [
        [LABELS["status"][figures.status], angka(figures.total.n), rupiah(figures.total.rupiah)]
        for figures in (result.cair, result.belum, result.tidak_cair)])

    def both(count):
        """'KK / jiwa', or a dash when the figure does not apply."""
        return f"{angka(count.kk)} / {angka(count.jiwa)}" if count else "–"

    programs = table(["Program", "Sasaran", "KK", "Jiwa", "Inklusi KK/jiwa", "Eksklusi KK/jiwa"], [
        [p.program.code, LABELS["sasaran"][p.program.sasaran], angka(p.penerima.kk), angka(p.penerima.jiwa),
         both(p.inklusi), both(p.eksklusi)] for p in result.programs])
    channels = [key for key, _ in CHANNELS]
    periods = table(
        ["Program · periode", "KK", "Jiwa"] + [LABELS["channel"][c] for c in channels]
        + ["Cair", "Belum", "Tidak cair", "Rp cair", "Rp belum/tidak cair"],
        [[f"{row.period.program.code} · {row.period.label}" + (" (ditutup)" if row.period.closed else ""),
          angka(row.penerima.kk), angka(row.penerima.jiwa)]
         + [angka(row.rows.channel[c].n) for c in channels]
         + [angka(row.rows.status[s].n) for s in ("cair", "belum", "tidak_cair")]
         + [rupiah(row.rows.status["cair"].rupiah), rupiah(row.rows.tidak_tersalur.rupiah)]
         for row in result.periods])
    desil = table(["Desil", "Menerima KK", "Jiwa", "Tidak menerima KK", "Jiwa"], [
        [row.label, angka(row.menerima.kk), angka(row.menerima.jiwa), angka(row.tidak_menerima.kk),
         angka(row.tidak_menerima.jiwa)] for row in result.desil])
    reasons = table(["Alasan tidak cair", "Penyaluran", "Rupiah"], [
        [LABELS["reason"][key], angka(m.n), rupiah(m.rupiah)]
        for key, m in result.tidak_cair.by_reason.items() if m.n])
    by_channel = table(["Jalur", "Tidak cair", "Rupiah", "Belum cair", "Rupiah"], [
        [LABELS["channel"][c], angka(result.tidak_cair.by_channel[c].n), rupiah(result.tidak_cair.by_channel[c].rupiah),
         angka(result.belum.by_channel[c].n), rupiah(result.belum.by_channel[c].rupiah)] for c in channels])
    codes = [p.program.code for p in result.programs]
    rows = []

    def walk(area, depth):
        """Add an area's row, then its children's, indented."""
        rows.append(["  " * depth + area.name, angka(area.total.kk), angka(area.total.jiwa),
                     angka(area.desil_1_4.kk), angka(area.desil_1_max.kk), both(area.menerima), both(area.no_aid)]
                    + [both(area.programs[code]) for code in codes]
                    + [angka(area.tidak_cair.n), angka(area.belum.n)])
        for child in area.children:
            walk(child, depth + 1)

    for area in result.wilayah:
        walk(area, 0)
    wilayah = table(["Wilayah", "KK", "Jiwa", "D1–4 KK", f"D1–{n} KK", "Menerima KK/jiwa",
                     f"D1–{n} tanpa bantuan"] + [f"{code} KK/jiwa" for code in codes] + ["Tidak cair", "Belum"],
                    rows)
    definitions = "\n".join(f"- {text}" for text in result.definitions)
    return "\n\n".join([
        header,
        section("Angka utama", headline),
        section("Status penyaluran", payments),
        section("Penerima per program", programs),
        section("Penerima per program dan periode", periods),
        section("Desil × menerima bantuan", desil),
        section("Tidak cair per alasan", reasons),
        section("Tidak cair dan belum cair per jalur", by_channel),
        section("Per wilayah (dusun, RW, RT)", wilayah),
        section("Definisi", definitions),
    ]) + "\n"


@click.command("recap")
@click.option("--program", "programs", multiple=True, metavar="KODE",
              help="Kode program, mis. PKH (boleh diulang; bawaan: semua program aktif).")
@click.option("--period", "periods", multiple=True, metavar="LABEL",
              help='Label periode, mis. "Tahap 2 2026" (boleh diulang; bawaan: semua periode tahun itu).')
@click.option("--year", type=int, help="Tahun (bawaan: tahun terakhir yang ada penyalurannya).")
@click.option("--channel", type=click.Choice([key for key, _ in CHANNELS]), help="Hanya satu jalur penyaluran.")
@click.option("--dusun", help="Hanya satu dusun.")
@click.option("--json", "as_json", is_flag=True, help="Keluarkan struktur JSON yang stabil untuk alat lain.")
@with_appcontext
def recap_command(programs, periods, year, channel, dusun, as_json):
    """Print the recap: every figure in KK and jiwa, as text tables or as JSON."""
    with database.db.connection_context():
        try:
            codes = tuple(dict.fromkeys(code.upper() for code in programs))
            period_ids = recap.period_ids_for_labels(periods, codes, year) if periods else ()
            result = recap.build(recap.Scope(programs=codes, periods=period_ids, year=None if periods else year,
                                             channel=channel, dusun=dusun))
        except recap.ScopeError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            click.echo(json.dumps(recap.as_json(result), ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(result), nl=False)
