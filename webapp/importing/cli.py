"""`flask import-dtsen`: the DTSEN import from the command line, with the web preview's summary.

Exit status: 0 every row applied (or the file was applied before), 3 valid rows applied and some
rejected, 2 file refused as a whole and nothing written. --dry-run writes nothing and exits with the
status a real run would have.
"""
import getpass
import sys

import click
from flask.cli import with_appcontext

from .. import db as database
from . import dtsen
from . import fields

EXIT_OK = 0
EXIT_REFUSED = 2
EXIT_SOME_REJECTED = 3


def parse_maps(maps):
    """{"KOLOM": "field"} from --map "KOLOM=field" options."""
    mapping = {}
    for item in maps:
        column, sep, name = item.rpartition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f'"{item}" harus berbentuk "KOLOM=field".', param_hint="--map")
        mapping[column.strip()] = name.strip()
    return mapping


def summary_lines(preview):
    """The preview as lines of text: where the data is, counts, then rejected rows and warnings."""
    counts = preview["counts"]
    lines = [f'Berkas: {preview["filename"]}']
    if preview["header_row"]:
        where = f'lembar "{preview["sheet"]}", ' if preview["sheet"] else ""
        lines.append(f'Judul kolom: {where}baris {preview["header_row"]}')
        lines.append("Kolom dikenali: " + ", ".join(f"{header} → {fields.DTSEN.label(name)}"
                                                    for header, name in preview["columns"].items()))
        if preview["ignored"]:
            lines.append("Kolom diabaikan: " + ", ".join(preview["ignored"]))
    lines += [f"Catatan: {notice}" for notice in preview["notices"]]
    if preview["already_applied"]:
        earlier = preview["already_applied"]
        lines.append(f'Berkas ini sudah pernah diimpor (batch #{earlier["batch_id"]} "{earlier["version_label"]}", '
                     f'{earlier["applied_at"]} UTC): tidak ada yang diubah.')
        return lines
    if preview["refused"]:
        lines.append(f'DITOLAK seluruhnya: {preview["refused"]}')
    else:
        lines += [
            f'Baris data: {counts["rows"]} ({counts["rows_new"]} baru, {counts["rows_changed"]} berubah, '
            f'{counts["rows_unchanged"]} tetap, {counts["rejected"]} ditolak)',
            f'KK: {counts["households_new"]} baru, {counts["households_changed"]} berubah, '
            f'{counts["households_unchanged"]} tetap, {counts["households_missing"]} tidak ada di file',
            f'Jiwa: {counts["persons_new"]} baru, {counts["persons_changed"]} berubah '
            f'({counts["persons_moved"]} pindah KK), {counts["persons_unchanged"]} tetap, '
            f'{counts["persons_missing"]} tidak ada di file',
        ]
    if preview["rejected"]:
        lines.append(f'Baris ditolak ({len(preview["rejected"])}):')
        lines += [f"  {message}" for item in preview["rejected"] for message in item["messages"]]
    if preview["warnings"]:
        lines.append(f'Peringatan ({len(preview["warnings"])}):')
        lines += [f'  {warning["text"]}' for warning in preview["warnings"]]
    return lines


def exit_status(preview):
    """The exit status a run of this preview has."""
    if preview["already_applied"]:
        return EXIT_OK
    if preview["refused"]:
        return EXIT_REFUSED
    return EXIT_SOME_REJECTED if preview["rejected"] else EXIT_OK


@click.command("import-dtsen")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--dry-run", is_flag=True, help="Hanya tampilkan pratinjau; tidak ada yang ditulis.")
@click.option("--version", "version_label", default=None, metavar="LABEL",
              help='Nama versi data, mis. "DTSEN Triwulan IV 2025" (bawaan: nama berkas).')
@click.option("--map", "maps", multiple=True, metavar="KOLOM=field",
              help='Petakan kolom secara manual, mis. --map "NO. KARTU=no_kk" (field kosong: abaikan kolom).')
@with_appcontext
def import_dtsen_command(file, dry_run, version_label, maps):
    """Import DTSEN family and member data (.xlsx or .csv)."""
    from ..cli import init_db

    mapping = parse_maps(maps)
    init_db()
    staged = dtsen.stage(file, mapping=mapping)
    with database.db.connection_context():
        preview = dtsen.preview(staged)
        for line in summary_lines(preview):
            click.echo(line)
        status = exit_status(preview)
        if dry_run or preview["refused"] or preview["already_applied"]:
            if dry_run:
                click.echo("Uji coba (--dry-run): tidak ada yang ditulis.")
            sys.exit(status)
        result = dtsen.apply(staged, version_label or staged["filename"], username=f"cli:{getpass.getuser()}")
    click.echo(f'Diterapkan: batch #{result["batch_id"]} "{result["version_label"]}".')
    sys.exit(status)
