"""Flask commands: the back office of Rekap Bansos (run from the repository root: `flask …`)."""
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from . import db as database
from . import recap_cli
from . import verification_cli
from .importing import cli as importing_cli
from .models import MODELS
from .models import Household
from .models import ensure_reference_data


def init_db():
    """Create the schema and reference data (idempotent)."""
    with database.db.connection_context():
        with database.db.atomic("IMMEDIATE"):
            database.create_schema(MODELS)
            ensure_reference_data(current_app.config)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the database tables, the desa and the national programmes if missing."""
    init_db()
    click.echo(f"Basis data siap: {current_app.config['DATABASE']}")


@click.command("seed-demo")
@with_appcontext
@click.option("--households", default=2000, show_default=True, help="Jumlah KK desa demo.")
@click.option("--seed", default=2025, show_default=True, help="Benih acak (hasil sama untuk benih sama).")
@click.option("--year", type=int, default=None, help="Tahun berjalan (bawaan: tahun ini).")
@click.option("--if-empty", is_flag=True, help="Hanya isi bila belum ada data keluarga.")
def seed_demo_command(households, seed, year, if_empty):
    """Load a synthetic demo village (never real people)."""
    from . import demo

    init_db()
    with database.db.connection_context():
        existing = Household.select().count()
        if existing and if_empty:
            click.echo(f"Data sudah ada ({existing} KK): desa demo tidak dimuat.")
            return
        if existing:
            raise click.ClickException(
                f"Basis data sudah berisi {existing} KK. Desa demo hanya dimuat ke basis data kosong.")
        started = time.perf_counter()
        counts = demo.seed(households=households, seed=seed, year=year)
    click.echo("Desa demo dimuat dalam {:.1f} dtk: {} KK, {} jiwa, {} penyaluran.".format(
        time.perf_counter() - started, counts["households"], counts["persons"], counts["disbursements"]))


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["operator", "staf", "kecamatan"]), required=True, help="Peran akun.")
@click.option("--admin", "is_admin", is_flag=True, help="Beri hak mengelola akun dan membaca log audit.")
@with_appcontext
def create_user_command(username, role, is_admin):
    """Create an account; the password is read from a prompt or standard input, never from the arguments."""
    from . import accounts

    if sys.stdin.isatty():
        password = click.prompt("Kata sandi", hide_input=True, confirmation_prompt="Ulangi kata sandi")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    init_db()
    with database.db.connection_context():
        try:
            user, _ = accounts.create_user(username, role, is_admin=is_admin, password=password)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Akun {user.username} ({role}{', admin' if is_admin else ''}) dibuat.")


@click.command("backup")
@click.argument("dest", required=False, type=click.Path(file_okay=False))
@with_appcontext
def backup_command(dest):
    """Make a verified online backup (default folder: BACKUP_DIR), copy it to BACKUP_MIRROR, rotate."""
    from . import backups

    config = current_app.config
    try:
        outcome = backups.backup(config["DATABASE"], dest or config["BACKUP_DIR"], config.get("BACKUP_MIRROR"))
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Cadangan terverifikasi: {outcome.path} ({outcome.size / 1_048_576:.1f} MB)")
    if outcome.mirror:
        click.echo(f"Salinan kedua: {outcome.mirror}")


@click.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Jangan tanya konfirmasi.")
@with_appcontext
def restore_command(backup_file, yes):
    """Replace the database with a verified backup; the current database is kept aside first."""
    from . import backups

    config = current_app.config
    if not yes:
        click.confirm(f"Pulihkan basis data dari {backup_file}? Data setelah cadangan itu akan hilang", abort=True)
    try:
        aside = backups.restore(config["DATABASE"], backup_file, config["BACKUP_DIR"])
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    init_db()  # a backup made by an older version gets the tables, columns and triggers of this one
    click.echo(f"Basis data dipulihkan dari {backup_file} dan lolos pemeriksaan integritas.")
    if aside:
        click.echo(f"Basis data sebelumnya disimpan di {aside}.")


def init_app(app):
    """Register the commands on the app."""
    for command in (init_db_command, seed_demo_command, create_user_command, backup_command, restore_command):
        app.cli.add_command(command)
    app.cli.add_command(importing_cli.import_dtsen_command)
    app.cli.add_command(importing_cli.import_penerima_command)
    app.cli.add_command(importing_cli.import_status_command)
    app.cli.add_command(recap_cli.recap_command)
    app.cli.add_command(verification_cli.verification_command)
