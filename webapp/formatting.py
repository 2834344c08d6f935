"""Indonesian formatting of numbers, Rupiah, dates and times (through Babel), as Jinja filters."""
import functools
from datetime import datetime
from datetime import timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.dates import format_datetime
from babel.numbers import format_currency
from babel.numbers import format_decimal

LOCALE = "id_ID"


# A recap page formats hundreds of numbers, mostly small and repeated: remember Babel's answers.
@functools.lru_cache(maxsize=16384)
def angka(value):
    """1234567 → '1.234.567'; None → '–'."""
    if value is None:
        return "–"
    return format_decimal(value, locale=LOCALE)


@functools.lru_cache(maxsize=16384)
def rupiah(value):
    """900000 → 'Rp900.000'; None → '–'."""
    if value is None:
        return "–"
    return format_currency(value, "IDR", locale=LOCALE, format="¤#,##0", currency_digits=False)


def tanggal(value):
    """A date → '27 November 2025'; None → '–'."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        # Stored times are UTC; the date on paper is the office's (WIB) date.
        aware = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
        value = aware.astimezone(ZoneInfo("Asia/Jakarta")).date()
    return format_date(value, format="long", locale=LOCALE)


def waktu(value, tz="Asia/Jakarta"):
    """A naive UTC datetime → '27 November 2025 10.05 WIB'; None → '–'."""
    if value is None:
        return "–"
    aware = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
    text = format_datetime(aware, "d MMMM y HH.mm", tzinfo=ZoneInfo(tz), locale=LOCALE)
    return f"{text} {'WIB' if tz == 'Asia/Jakarta' else tz}"


def kode_wilayah(kode):
    """'3205222003' → '32.05.22.2003'."""
    return f"{kode[0:2]}.{kode[2:4]}.{kode[4:6]}.{kode[6:10]}" if kode and len(kode) == 10 else kode


def init_app(app):
    """Register the filters on the app's Jinja environment."""
    from .models import LABELS
    from .models import utcnow
    for func in (angka, rupiah, tanggal, waktu, kode_wilayah):
        app.add_template_filter(func)
    app.add_template_global(LABELS, "labels")
    app.add_template_global(utcnow, "now")
