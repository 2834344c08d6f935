"""`flask import-dtsen`, `flask import-penerima`, `flask import-status`: the imports from the command line,
with the web preview's summary in Bahasa Indonesia.

Exit status: 0 every row applied (or the file was applied before), 3 valid rows applied and some
rejected or left out, 2 file refused as a whole and nothing written. --dry-run writes nothing and exits
with the status a real run would have.
"""
import getpass
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import backups
from .. import db as database
from ..formatting import rupiah
from ..ledger import CHANNEL_KEYS
from ..ledger import FIELD_LABELS
from ..ledger import describe_value
from ..models import LABELS
from . import Refused
from . import dtsen
from . import fields
from . import penerima
from . import statuses

EXIT_OK = 0
EXIT_REFUSED = 2
EXIT_SOME_REJECTED = 3


def parse_maps(maps, option="--map", shape="KOLOM=field"):
    """{"KOLOM": "field"} from --map "KOLOM=field" options (or another option of the same shape)."""
    mapping = {}
    for item in maps:
        column, sep, name = item.rpartition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f'"{item}" harus berbentuk "{shape}".', param_hint=option)
        mapping[column.strip()] = name.strip()
    return mapping


def file_lines(preview, fieldset):
    """Where the data is: file, header row, columns recognised and ignored, notices."""
    lines = [f'Berkas: {preview["filename"]}']
    if preview["header_row"]:
        where = f'lembar "{preview["sheet"]}", ' if preview["sheet"] else ""
        lines.append(f'Judul kolom: {where}baris {preview["header_row"]}')
        lines.append("Kolom dikenali: " + ", ".join(f"{header} → {fieldset.label(name)}"
                                                    for header, name in preview["columns"].items()))
        if preview["ignored"]:
            lines.append("Kolom diabaikan: " + ", ".join(preview["ignored"]))
    return lines + [f"Catatan: {notice}" for notice in preview["notices"]]


def verdict_lines(preview):
    """'Already imported' or 'refused' lines, or none when the file can be applied."""
    if preview["already_applied"]:
        earlier = preview["already_applied"]
        return [f'Berkas ini sudah pernah diimpor (batch #{earlier["batch_id"]} "{earlier["version_label"]}", '
                f'{earlier["applied_at"]} UTC): tidak ada yang diubah.']
    if preview["refused"]:
        return [f'DITOLAK seluruhnya: {preview["refused"]}']
    return []


def problem_lines(preview, rejected_title="Baris ditolak"):
    """Every rejected row with its reasons, then every warning."""
    lines = []
    if preview["rejected"]:
        lines.append(f'{rejected_title} ({len(preview["rejected"])}):')
        lines += [f"  {message}" for item in preview["rejected"] for message in item["messages"]]
    if preview["warnings"]:
        lines.append(f'Peringatan ({len(preview["warnings"])}):')
        lines += [f'  {warning["text"]}' for warning in preview["warnings"]]
    return lines


def change_text(changes):
    """'Status Belum cair → Sudah cair; Tanggal status – → 2026-05-02' for one row's changes."""
    return "; ".join(f"{FIELD_LABELS.get(name, name)} {describe_channel(name, old)} → {describe_channel(name, new)}"
                     for name, (old, new) in changes.items())


def describe_channel(name, value):
    """A list value in words (channels too, which the ledger's describer leaves as keys)."""
    if name == "channel" and value:
        return LABELS["channel"].get(value, value)
    return describe_value(name, value)


def summary_lines(preview):
    """The DTSEN preview as lines of text: where the data is, counts, then rejected rows and warnings."""
    counts = preview["counts"]
    lines = file_lines(preview, fields.DTSEN) + verdict_lines(preview)
    if preview["already_applied"]:
        return lines
    if not preview["refused"]:
        lines += [
            f'Baris data: {counts["rows"]} ({counts["rows_new"]} baru, {counts["rows_changed"]} berubah, '
            f'{counts["rows_unchanged"]} tetap, {counts["rejected"]} ditolak)',
            f'KK: {counts["households_new"]} baru, {counts["households_changed"]} berubah, '
            f'{counts["households_unchanged"]} tetap, {counts["households_missing"]} tidak ada di file',
            f'Jiwa: {counts["persons_new"]} baru, {counts["persons_changed"]} berubah '
            f'({counts["persons_moved"]} pindah KK), {counts["persons_unchanged"]} tetap, '
            f'{counts["persons_missing"]} tidak ada di file',
        ]
    return lines + problem_lines(preview)


def target_lines(preview):
    """The programme and period a recipient list goes into, and whether they will be created."""
    program, period = preview["program"], preview["period"]
    lines = []
    if program:
        lines.append(f'Program: {program["code"]} – {program["nama"]} (sasaran {program["sasaran"]})'
                     + (", belum ada: akan dibuat dari lembar Program" if program["new"] else ""))
    if period:
        made = (f', belum ada: akan dibuat (nominal {rupiah(period["amount"])}, jalur bawaan '
                f'{LABELS["channel"][period["default_channel"]]})' if period["new"] else "")
        lines.append(f'Periode: {period["label"]} (tahun {period["year"]}){made}')
    if preview["channel"] and preview["period"] and not preview["period"]["new"]:
        lines.append(f'Jalur untuk baris tanpa jalur: {LABELS["channel"][preview["channel"]]}')
    return lines


def penerima_lines(preview):
    """The recipient-list preview as lines: target, rows per matching category, updates, left-out rows, warnings."""
    counts = preview["counts"]
    lines = file_lines(preview, fields.PENERIMA) + target_lines(preview) + verdict_lines(preview)
    if preview["already_applied"]:
        return lines
    if preview["unknown_statuses"]:
        lines.append(f'Kata status tidak dikenal ({len(preview["unknown_statuses"])}):')
        lines += [f'  {item["text"]}' for item in preview["unknown_statuses"]]
    if any(preview["categories"].values()):
        lines.append(f'Baris data: {counts["rows"]} (' + ", ".join(
            f"{counts[name]} {label}" for name, label in penerima.CATEGORIES.items())
            + f', {counts["invalid"]} ditolak karena isi selnya)')
        lines.append(f'Daftar periode: {counts["new"]} ditambahkan, {counts["updated"]} diperbarui, '
                     f'{counts["unchanged"]} tetap, {counts["rejected"]} baris dibiarkan')
        if counts["accepted"]:
            lines.append(f'Di luar data DTSEN: {counts["accepted"]} baris dicatat, dengan '
                         f'{counts["households_new"]} KK baru dan {counts["persons_new"]} jiwa baru '
                         '(ditandai "di luar DTSEN")')
        elif counts["acceptable"]:
            lines.append(f'{counts["acceptable"]} baris yang tidak ada di data desa dapat dicatat sebagai KK di luar '
                         "data DTSEN dengan --accept-unmatched.")
    updated = [item for item in preview["categories"]["already"] if item.get("changes")]
    if updated:
        lines.append(f"Diperbarui ({len(updated)}):")
        lines += [f'  Baris {item["row"]}: {change_text(item["changes"])}' for item in updated]
    return lines + problem_lines(preview, "Baris dibiarkan")


def status_lines(preview):
    """The status-file preview as lines: period, every change old → new, left-out rows, warnings."""
    counts = preview["counts"]
    lines = file_lines(preview, fields.STATUS)
    if preview["period"]:
        lines.append(f'Periode: {preview["period"]["program"]} {preview["period"]["label"]}')
    lines += verdict_lines(preview)
    if preview["already_applied"]:
        return lines
    if preview["unknown_statuses"]:
        lines.append(f'Kata status tidak dikenal ({len(preview["unknown_statuses"])}):')
        lines += [f'  {item["text"]}' for item in preview["unknown_statuses"]]
    lines.append(f'Baris data: {counts["rows"]} ({counts["changed"]} berubah, {counts["unchanged"]} tetap, '
                 f'{counts["rejected"]} ditolak)')
    if preview["changes"]:
        lines.append(f'Perubahan ({len(preview["changes"])}):')
        lines += [f'  Baris {item["row"]} (ID {item["id"]}): {change_text(item["changes"])}'
                  for item in preview["changes"]]
    return lines + problem_lines(preview)


def exit_status(preview):
    """The exit status a run of this preview has."""
    if preview["already_applied"]:
        return EXIT_OK
    if preview["refused"]:
        return EXIT_REFUSED
    return EXIT_SOME_REJECTED if preview["rejected"] else EXIT_OK


def run(staged, preview_of, lines_of, apply_staged, dry_run, done_lines=lambda result: []):
    """Preview a staged file and print it, apply it unless told not to, and exit with the run's status."""
    with database.db.connection_context():
        preview = preview_of(staged)
        for line in lines_of(preview):
            click.echo(line)
        status = exit_status(preview)
        if dry_run or preview["refused"] or preview["already_applied"]:
            if dry_run:
                click.echo("Uji coba (--dry-run): tidak ada yang ditulis.")
            sys.exit(status)
        snapshot = backups.backup(current_app.config["DATABASE"], current_app.config["BACKUP_DIR"], label="sebelum-impor")
        click.echo(f"Cadangan sebelum impor: {snapshot.path}")
        try:
            result = apply_staged(staged)
        except Refused as exc:
            click.echo(f"DITOLAK seluruhnya: {exc}")
            sys.exit(EXIT_REFUSED)
    for line in done_lines(result):
        click.echo(line)
    click.echo(f'Diterapkan: batch #{result["batch_id"]} "{result["version_label"]}".')
    sys.exit(status)


def cli_username():
    """Who runs a command, for the audit log."""
    return f"cli:{getpass.getuser()}"


MAP_HELP = 'Petakan kolom secara manual, mis. --map "NO. KARTU=no_kk" (field kosong: abaikan kolom).'
STATUS_MAP_HELP = 'Petakan kata status yang tidak dikenal, mis. --status-map "DITUNDA=belum" (belum, cair, tidak_cair).'


@click.command("import-dtsen")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--dry-run", is_flag=True, help="Hanya tampilkan pratinjau; tidak ada yang ditulis.")
@click.option("--version", "version_label", default=None, metavar="LABEL",
              help='Nama versi data, mis. "DTSEN Triwulan IV 2025" (bawaan: nama berkas).')
@click.option("--map", "maps", multiple=True, metavar="KOLOM=field", help=MAP_HELP)
@with_appcontext
def import_dtsen_command(file, dry_run, version_label, maps):
    """Import DTSEN family and member data (.xlsx or .csv)."""
    from ..cli import init_db

    mapping = parse_maps(maps)
    init_db()
    staged = dtsen.stage(file, mapping=mapping)
    run(staged, dtsen.preview, summary_lines,
        lambda staged: dtsen.apply(staged, version_label or staged["filename"], username=cli_username()), dry_run)


def created_lines(result):
    """What an applied recipient list created besides list rows."""
    lines = []
    if result.get("program_created"):
        lines.append(f'Program {result["program"]["code"]} ("{result["program"]["nama"]}") dibuat.')
    if result.get("period_created"):
        lines.append(f'Periode "{result["period"]["label"]}" (tahun {result["period"]["year"]}) dibuat.')
    if result.get("households_created"):
        lines.append(f'{result["households_created"]} KK di luar data DTSEN dicatat.')
    return lines


@click.command("import-penerima")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--program", "program", default=None, metavar="KODE",
              help="Kode program, mis. PKH (bawaan: dari lembar Program berkas OpenSID).")
@click.option("--period", "period", default=None, metavar="LABEL",
              help='Periode, mis. "Tahap 2 2025"; dibuat bila belum ada (bawaan: Rentang Waktu berkas OpenSID).')
@click.option("--year", type=click.IntRange(2000, 2100), default=None, metavar="YYYY",
              help="Tahun periode baru (bawaan: tahun di nama periode, atau tahun ini).")
@click.option("--channel", type=click.Choice(CHANNEL_KEYS), default=None,
              help="Jalur untuk baris tanpa kolom jalur (bawaan: jalur periode).")
@click.option("--accept-unmatched", is_flag=True,
              help="Catat penerima yang tidak ada di data desa sebagai KK di luar data DTSEN.")
@click.option("--dry-run", is_flag=True, help="Hanya tampilkan pratinjau; tidak ada yang ditulis.")
@click.option("--status-map", "status_maps", multiple=True, metavar="KATA=status", help=STATUS_MAP_HELP)
@click.option("--map", "maps", multiple=True, metavar="KOLOM=field", help=MAP_HELP)
@with_appcontext
def import_penerima_command(file, program, period, year, channel, accept_unmatched, dry_run, status_maps, maps):
    """Import a programme's recipient list for a period (.xlsx or .csv; OpenSID's programme file too)."""
    from ..cli import init_db

    mapping = parse_maps(maps)
    status_map = parse_maps(status_maps, "--status-map", "KATA=status")
    init_db()
    staged = penerima.stage(file, mapping=mapping, program=program, period=period, year=year, channel=channel,
                            status_map=status_map)
    run(staged, lambda staged: penerima.preview(staged, accept_unmatched), penerima_lines,
        lambda staged: penerima.apply(staged, username=cli_username(), accept_unmatched=accept_unmatched),
        dry_run, created_lines)


@click.command("import-status")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--period", "period", required=True, type=int, metavar="ID",
              help="ID periode yang daftarnya diekspor (lihat alamat halaman daftar: /periode/ID).")
@click.option("--dry-run", is_flag=True, help="Hanya tampilkan pratinjau; tidak ada yang ditulis.")
@click.option("--status-map", "status_maps", multiple=True, metavar="KATA=status", help=STATUS_MAP_HELP)
@with_appcontext
def import_status_command(file, period, dry_run, status_maps):
    """Update statuses from a filled copy of a period's list export (only status, date, reason, note)."""
    from ..cli import init_db

    status_map = parse_maps(status_maps, "--status-map", "KATA=status")
    init_db()
    staged = statuses.stage(file, period, status_map=status_map)
    run(staged, statuses.preview, status_lines,
        lambda staged: statuses.apply(staged, username=cli_username()), dry_run)
