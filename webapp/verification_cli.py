"""`flask verifikasi`: every verification check with its open count, as an Indonesian text table or as JSON.

The counts come from webapp/checks.py, exactly as the verification page and the home page get them.
"""
import json

import click
from flask.cli import with_appcontext

from . import checks
from . import db as database
from .formatting import angka
from .recap_cli import section
from .recap_cli import table


def render_text(results):
    """Every check by section: id, title, open and total findings."""
    parts = [f"VERIFIKASI DATA: {angka(checks.open_count(results))} temuan terbuka dari "
             f"{angka(sum(r.total for r in results))}"]
    for title, items in checks.by_section(results):
        parts.append(section(title, table(["Pemeriksaan [kode]", "Terbuka", "Semua"],
                                          [[f"{r.check.title} [{r.check.id}]", angka(r.open), angka(r.total)]
                                           for r in items])))
    return "\n\n".join(parts) + "\n"


@click.command("verifikasi")
@click.option("--json", "as_json", is_flag=True,
              help="Keluarkan daftar JSON: satu objek per pemeriksaan (check, title, count, …).")
@with_appcontext
def verification_command(as_json):
    """Print every verification check with its number of open findings."""
    with database.db.connection_context():
        results = checks.run_checks()
        if as_json:
            click.echo(json.dumps(checks.as_json(results), ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(results), nl=False)
