"""Cell normalisers: one spreadsheet cell in, one clean value out, or a reason to reject the row.

A normaliser takes the cell as the reader returned it (str for text cells and CSV, float for Excel
number cells, date/datetime for date cells, bool) and a Context. It returns the value, a Warned value
(accepted, with a warning), or NOT_GIVEN (a blank optional cell: keep what the database has); it
raises Invalid with a reason in Bahasa Indonesia. The row and column are added by the caller.

NIK/No KK (domain.md §5, reliability.md §5): Excel keeps 15 significant digits and float64 is exact
only below 2^53, so a number cell is trusted only when it is a whole number below 2^53, and then
with a warning; the cell type decides, never the value alone.
"""
import math
import re
from functools import lru_cache
import unicodedata
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import NamedTuple

from ..models import CHANNELS
from ..models import HUBUNGAN
from ..models import KEBERADAAN
from ..models import REASONS
from ..models import STATUSES

EXACT_FLOAT_LIMIT = 2 ** 53
EPOCH_1900 = date(1899, 12, 30)
EPOCH_1904 = date(1904, 1, 1)
MAX_AGE = 120
MAX_TEXT = 200

NUMBER_CELL_WARNING = ("sel berupa angka, bukan teks: periksa digit terakhir "
                       "(Excel hanya menyimpan 15 digit; format kolom sebagai Teks)")
DOT_ZERO_WARNING = ("tertulis dengan akhiran .0 (pernah menjadi angka): periksa digit terakhir "
                    "(Excel hanya menyimpan 15 digit)")
NIK_DATE_WARNING = "digit 7–12 bukan tanggal lahir yang mungkin (hari 01–31, perempuan 41–71)"
FUTURE_WARNING = "tanggal di masa depan"
AGE_WARNING = f"umur lebih dari {MAX_AGE} tahun"

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"), None)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SPACES = re.compile(r"\s+")
APOSTROPHES = "'\u2018\u2019`"
SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
DOT_ZERO = re.compile(r"([0-9]+)\.0+")
ID_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015_/]")
ASCII_DIGITS = re.compile(r"[0-9]+")
DMY = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})")
YMD = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
SERIAL_TEXT = re.compile(r"([0-9]{1,5})(?:\.0+)?")
DESIL_TEXT = re.compile(r"(?:DESIL\s*)?([0-9]+)(?:\.0+)?")
ROW_ID = re.compile(r"([0-9]{1,12})(?:\.0+)?")
AREA_PREFIX = re.compile(r"^(?:RT|RW|NOMOR|NO)\.?\s*")

NOT_GIVEN = object()


class Invalid(ValueError):
    """A cell that cannot be accepted; the message is the reason, in Bahasa Indonesia."""


class Warned(NamedTuple):
    """An accepted value that the operator should check."""

    value: object
    message: str


@dataclass(frozen=True)
class Context:
    """What normalisers need beyond the cell: the workbook's date epoch and today's date."""

    epoch: date = EPOCH_1900
    today: date = field(default_factory=date.today)


def is_blank(cell):
    """True for an empty cell (None, '' or only spaces and invisible characters)."""
    if cell is None or cell == "":
        return True
    if not isinstance(cell, str):
        return False
    return not (cell.isprintable() and cell.strip()) and not clean_text(cell)


def clean_text(cell, form="NFC"):
    """Cell as text: Unicode-normalised, invisible and control characters removed, spaces collapsed."""
    if cell is None:
        return ""
    # Plain ASCII text without edge spaces, double spaces or a leading apostrophe is already clean.
    if (type(cell) is str and cell.isascii() and cell.isprintable() and cell[:1] not in " '`"
            and cell[-1] != " " and "  " not in cell):
        return cell
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = unicodedata.normalize(form, str(cell)).translate(INVISIBLE)
    text = SPACES.sub(" ", CONTROL.sub(" ", text)).strip()
    # A leading apostrophe is Excel's "keep as text" mark, or our own export's formula guard.
    return text[1:].lstrip() if text[:1] in APOSTROPHES else text


def display(cell):
    """The cell as the operator typed it, for rejected-row reports."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and math.isfinite(cell) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time() else cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


@lru_cache(maxsize=4096)
def word_key(text):
    """Upper-case letters and digits only, for matching words like 'Laki-laki' and 'LAKI LAKI'."""
    return re.sub(r"[\W_]+", "", clean_text(text, "NFKC")).upper()


def is_number_cell(cell):
    """True for a number cell (a bool cell is not a number)."""
    return type(cell) in (int, float)


def sixteen_digits(digits):
    """Check a cleaned NIK/No KK: 16 digits, not all zeros, not starting with 0."""
    if digits.strip("0") == "":
        raise Invalid("berisi nol semua")
    if len(digits) != 16:
        raise Invalid(f"harus 16 angka (terbaca {len(digits)} angka)")
    if digits[0] == "0":
        raise Invalid("tidak boleh diawali 0 (kode provinsi dimulai dari 11)")
    return digits


def id_number(cell, ctx=None):
    """NIK or No KK: 16 digits as text; number cells only when exact, and then with a warning."""
    if isinstance(cell, str) and len(cell) == 16 and cell.isascii() and cell.isdigit() and cell[0] != "0":
        return cell
    if isinstance(cell, bool):
        raise Invalid("berisi nilai benar/salah, bukan nomor")
    if is_number_cell(cell):
        return number_cell_id(cell)
    if isinstance(cell, (date, time, timedelta)):
        raise Invalid("berisi tanggal atau waktu, bukan nomor")
    text = clean_text(cell, "NFKC")
    if not text:
        raise Invalid("kosong")
    if SCIENTIFIC.fullmatch(text):
        raise Invalid(f"tertulis dalam notasi ilmiah ({text}): digit sudah hilang, ketik ulang sebagai Teks")
    dot_zero = DOT_ZERO.fullmatch(text)
    if dot_zero:
        digits = sixteen_digits(dot_zero.group(1))
        if int(digits) >= EXACT_FLOAT_LIMIT:
            raise Invalid(f"tertulis dengan akhiran .0 ({text}) dan terlalu besar untuk angka: "
                          "digit terakhir tidak dapat dipercaya, ketik ulang sebagai Teks")
        return Warned(digits, DOT_ZERO_WARNING)
    digits = ID_SEPARATORS.sub("", text)
    if not ASCII_DIGITS.fullmatch(digits):
        raise Invalid(f"berisi huruf atau tanda selain angka ({text})")
    return sixteen_digits(digits)


def number_cell_id(value):
    """NIK/No KK read from a number cell: accepted only when the number is certainly exact."""
    if not math.isfinite(value) or not float(value).is_integer():
        raise Invalid(f"sel angka berpecahan ({value}): digit tidak dapat dipercaya, ketik ulang sebagai Teks")
    if abs(value) >= EXACT_FLOAT_LIMIT:
        raise Invalid(f"sel angka {int(value)} terlalu besar: Excel/pembaca sudah membulatkan digit terakhir; "
                      "format kolom sebagai Teks dan ketik ulang")
    return Warned(sixteen_digits(str(int(value))), NUMBER_CELL_WARNING)


def nik(cell, ctx=None):
    """A NIK: a 16-digit id whose digits 7–12 must be a possible birth date (else a warning)."""
    value = id_number(cell, ctx)
    digits = value.value if isinstance(value, Warned) else value
    day, month = int(digits[6:8]), int(digits[8:10])
    if (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12:
        return value
    messages = [value.message] if isinstance(value, Warned) else []
    return Warned(digits, "; ".join(messages + [NIK_DATE_WARNING]))


def name(cell, ctx=None):
    """A person's name: spaces collapsed, original case kept; required."""
    text = clean_text(cell)
    if not text:
        raise Invalid("kosong")
    if len(text) > MAX_TEXT:
        raise Invalid(f"terlalu panjang ({len(text)} huruf, paling banyak {MAX_TEXT})")
    return text


def text(cell, ctx=None):
    """Free text (alamat, dusun): spaces collapsed; blank means not given."""
    value = clean_text(cell)
    if not value or value == "-":
        return NOT_GIVEN
    if len(value) > MAX_TEXT:
        raise Invalid(f"terlalu panjang ({len(value)} huruf, paling banyak {MAX_TEXT})")
    return value


def area_number(cell, ctx=None):
    """RT/RW: '1', '01', '001', 'RT 01' or the number 1 give '001'; blank, '-' or 0 mean not given."""
    if type(cell) is str:
        return area_text(cell)
    if is_number_cell(cell):
        if not math.isfinite(cell) or not float(cell).is_integer():
            raise Invalid(f"harus bilangan bulat 1–999 (terbaca {cell})")
        return area_text(str(int(cell)))
    return area_text(str(cell))


@lru_cache(maxsize=4096)
def area_text(text):
    """RT/RW from its text (values repeat, so results are cached)."""
    value = AREA_PREFIX.sub("", clean_text(text, "NFKC").upper())
    if value in ("", "-"):
        return NOT_GIVEN
    if not ASCII_DIGITS.fullmatch(value) or int(value) > 999:
        raise Invalid(f"harus angka 1–999 (terbaca {value})")
    return f"{int(value):03d}" if int(value) else NOT_GIVEN


def desil(cell, ctx=None):
    """Desil 1–10 from 3, 3.0, 'Desil 3'; blank, '-' and 'belum ada desil' mean no desil (None)."""
    if type(cell) is str:
        return desil_text(cell)
    if is_number_cell(cell):
        if not math.isfinite(cell) or not float(cell).is_integer() or not 1 <= cell <= 10:
            raise Invalid(f"desil harus 1–10 (terbaca {display(cell)})")
        return int(cell)
    return desil_text(str(cell))


@lru_cache(maxsize=4096)
def desil_text(text):
    """Desil from its text (values repeat, so results are cached)."""
    value = clean_text(text, "NFKC").upper()
    if value in ("", "-", "BELUM ADA DESIL", "TIDAK ADA DESIL", "BELUM ADA"):
        return None
    match = DESIL_TEXT.fullmatch(value)
    if not match:
        raise Invalid(f"desil tidak dikenali ({clean_text(text)}): isi angka 1–10 atau kosongkan")
    if not 1 <= int(match.group(1)) <= 10:
        raise Invalid(f"desil harus 1–10 (terbaca {match.group(1)})")
    return int(match.group(1))


def read_date(cell, ctx):
    """A date from a date cell, a serial number, dd-mm-yyyy, dd/mm/yyyy or yyyy-mm-dd; NOT_GIVEN when blank."""
    if isinstance(cell, bool):
        raise Invalid("berisi nilai benar/salah, bukan tanggal")
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if is_number_cell(cell):
        return serial_date(cell, ctx.epoch)
    if isinstance(cell, (time, timedelta)):
        raise Invalid("berisi jam atau durasi, bukan tanggal")
    return text_date(clean_text(cell, "NFKC"), ctx.epoch)


def birth_date(cell, ctx):
    """A birth date as ISO text; a future date or an age over 120 years is accepted with a warning."""
    ctx = ctx or Context()
    day = read_date(cell, ctx)
    if day is NOT_GIVEN:
        return NOT_GIVEN
    if day > ctx.today:
        return Warned(day.isoformat(), FUTURE_WARNING)
    if years_between(day, ctx.today) > MAX_AGE:
        return Warned(day.isoformat(), AGE_WARNING)
    return day.isoformat()


def serial_date(value, epoch):
    """An Excel serial day number counted from the workbook's epoch (1900 or 1904 system)."""
    try:
        if 1 <= value < 2958466:
            return epoch + timedelta(days=int(value))
    except (OverflowError, ValueError):
        pass
    raise Invalid(f"angka {display(value)} bukan tanggal Excel")


def text_date(value, epoch):
    """Parse a date typed as text; slashes and dashes with the year last are day first."""
    if not value or value == "-":
        return NOT_GIVEN
    for pattern, order in ((DMY, (3, 2, 1)), (YMD, (1, 2, 3))):
        match = pattern.fullmatch(value)
        if match:
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return date(year, month, day)
            except ValueError:
                raise Invalid(f"tanggal tidak ada ({value})") from None
    if SERIAL_TEXT.fullmatch(value):
        return serial_date(float(value), epoch)
    raise Invalid(f"tanggal tidak dikenali ({value}): tulis hh-bb-tttt, mis. 20-05-1970")


def years_between(earlier, later):
    """Whole years from one date to a later one."""
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


def coded(choices, codes, what, accepted):
    """A normaliser for a coded field: words (keys, labels, synonyms) and numeric codes to keys."""
    words = {word_key(word): key for word, key in choices.items()}

    def parse(cell, ctx=None):
        if type(cell) is not str:
            if not is_number_cell(cell):
                raise Invalid(f"berisi {display(cell)}, bukan {what}")
            if math.isfinite(cell) and float(cell).is_integer() and int(cell) in codes:
                return codes[int(cell)]
            raise Invalid(f"kode {what} tidak dikenali ({display(cell)})")
        key = word_key(cell)
        if not key:
            return NOT_GIVEN
        if key in words:
            return words[key]
        if key.isdigit() and int(key) in codes:
            return codes[int(key)]
        raise Invalid(f"{what} tidak dikenali ({clean_text(cell)}): isi {accepted}")

    parse.__doc__ = f"The {what} key from its word, label or code."
    return parse


def choices_of(pairs, synonyms):
    """{word: key} from (key, label) pairs plus synonyms."""
    words = {key: key for key, _ in pairs}
    words.update({label: key for key, label in pairs})
    words.update(synonyms)
    return words


# Dukcapil SHDK codes, also OpenSID's kk_level: 1 kepala keluarga … 11 lainnya, in HUBUNGAN order.
HUBUNGAN_CODES = {number: key for number, (key, _) in enumerate(HUBUNGAN, start=1)}
HUBUNGAN_WORDS = choices_of(HUBUNGAN, {
    "KK": "kepala", "KEPALA": "kepala", "KEPALA RUMAH TANGGA": "kepala", "KRT": "kepala",
    "ISTERI": "istri", "ANAK KANDUNG": "anak", "ANAK TIRI": "anak", "ANAK ANGKAT": "anak",
    "ORANGTUA": "orang_tua", "AYAH": "orang_tua", "IBU": "orang_tua", "FAMILI": "famili_lain",
    "SAUDARA": "famili_lain", "PEMBANTU RUMAH TANGGA": "pembantu", "LAIN-LAIN": "lainnya", "LAIN LAIN": "lainnya",
})
# OpenSID status_dasar: 1 hidup, 2 mati, 3 pindah, 4 hilang.
KEBERADAAN_CODES = {1: "tinggal", 2: "meninggal", 3: "pindah", 4: "tidak_ditemukan"}
KEBERADAAN_WORDS = choices_of(KEBERADAAN, {
    "HIDUP": "tinggal", "ADA": "tinggal", "TINGGAL": "tinggal", "TINGGAL BERSAMA KELUARGA": "tinggal",
    "BARU": "baru", "ANGGOTA KELUARGA BARU": "baru", "MATI": "meninggal", "MENINGGAL DUNIA": "meninggal",
    "WAFAT": "meninggal", "PINDAH DOMISILI": "pindah", "TIDAK TINGGAL BERSAMA KELUARGA": "pindah",
    "HILANG": "tidak_ditemukan",
})
JK_CODES = {1: "L", 2: "P"}
JK_WORDS = {"L": "L", "LK": "L", "LAKI": "L", "LAKI-LAKI": "L", "PRIA": "L",
            "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P"}

hubungan = coded(HUBUNGAN_WORDS, HUBUNGAN_CODES, "hubungan keluarga",
                 ", ".join(label for _, label in HUBUNGAN) + " (atau kode 1–11)")
keberadaan = coded(KEBERADAAN_WORDS, KEBERADAAN_CODES, "keberadaan",
                   ", ".join(label for _, label in KEBERADAAN) + " (atau kode 1–4)")
jenis_kelamin = coded(JK_WORDS, JK_CODES, "jenis kelamin", "L atau P (Laki-laki/Perempuan, kode 1/2)")


def optional(parse):
    """A normaliser that reads a blank cell as not given instead of rejecting it."""
    def parse_optional(cell, ctx=None):
        return NOT_GIVEN if is_blank(cell) else parse(cell, ctx)

    parse_optional.__doc__ = f"{(parse.__doc__ or '').rstrip('.')}; blank means not given."
    return parse_optional


def event_date(cell, ctx):
    """The date something happened (a payout) as ISO text; a future date is refused."""
    ctx = ctx or Context()
    day = read_date(cell, ctx)
    if day is NOT_GIVEN:
        return NOT_GIVEN
    if day > ctx.today:
        raise Invalid(f"tanggal di masa depan ({day.strftime('%d-%m-%Y')})")
    return day.isoformat()


def word(cell, ctx=None):
    """A coded word kept as typed (spaces collapsed), to be mapped later: status or reason text."""
    value = clean_text(display(cell) if is_number_cell(cell) else cell)
    if not value or value == "-":
        return NOT_GIVEN
    if len(value) > MAX_TEXT:
        raise Invalid(f"terlalu panjang ({len(value)} huruf, paling banyak {MAX_TEXT})")
    return value


MAX_AMOUNT = 100_000_000
RUPIAH = re.compile(r"(?:RP\.?)?\s*([0-9]{1,3}(?:([.,])[0-9]{3})(?:\2[0-9]{3})*|[0-9]+)(?:[.,]0{1,2})?(?:\s*,-)?")


def amount(cell, ctx=None):
    """An amount in rupiah from 600000, '600.000', '600,000', 'Rp 600.000,00'; blank means not given."""
    if isinstance(cell, bool):
        raise Invalid("berisi nilai benar/salah, bukan nominal")
    if is_number_cell(cell):
        if not math.isfinite(cell) or not float(cell).is_integer():
            raise Invalid(f"nominal harus rupiah bulat (terbaca {display(cell)})")
        value = int(cell)
    else:
        text = clean_text(cell, "NFKC").upper()
        if not text or text == "-":
            return NOT_GIVEN
        match = RUPIAH.fullmatch(text)
        if not match:
            raise Invalid(f"nominal tidak dikenali ({clean_text(cell)}): tulis angka rupiah, mis. 600000")
        value = int(re.sub(r"[.,]", "", match.group(1)))
    if not 0 <= value <= MAX_AMOUNT:
        raise Invalid(f"nominal harus antara 0 dan {MAX_AMOUNT:,} (terbaca {value:,})".replace(",", "."))
    return value


# Channel words: Himbara bank names mean bank, Pos means Kantor Pos, desa/cash means tunai.
BANKS = ("BANK", "KKS", "HIMBARA", "BRI", "BNI", "MANDIRI", "BSI", "BTN", "BPD", "BJB", "REKENING")
POST = ("POS", "KANTORPOS", "PTPOS", "GIROPOS")
CASH = ("TUNAI", "DESA", "KANTORDESA", "CASH", "BALAIDESA")
CHANNEL_UNKNOWN = "jalur tidak dikenali ({}): dipakai jalur bawaan periode"


@lru_cache(maxsize=1024)
def channel_key(text):
    """The channel key ('bank', 'pos', 'tunai', 'lainnya') a word names, or None."""
    key = word_key(text)
    labels = {word_key(label): k for k, label in CHANNELS} | {word_key(k): k for k, _ in CHANNELS}
    if key in labels:
        return labels[key]
    if key.startswith(BANKS):
        return "bank"
    if key.startswith(POST):
        return "pos"
    if key.startswith(CASH) or "DESA" in key:
        return "tunai"
    if key.startswith("LAIN"):
        return "lainnya"
    return None


def channel(cell, ctx=None):
    """The channel from its word (BRI, Kantor Pos, Tunai…); an unknown word warns and means the default."""
    text = word(cell, ctx)
    if text is NOT_GIVEN:
        return NOT_GIVEN
    key = channel_key(text)
    return key if key else Warned(None, CHANNEL_UNKNOWN.format(text))


# design.md §4: the words found in incoming files, plus the app's own labels and keys.
STATUS_WORDS = {word_key(w): key for w, key in choices_of(STATUSES, {
    "SUDAH DIBAYAR": "cair", "SUDAH SALUR": "cair", "SALUR": "cair", "DIBAYAR": "cair", "CAIR": "cair",
    "BELUM": "belum", "BELUM SALUR": "belum", "BELUM DIBAYAR": "belum", "PROSES": "belum", "MENUNGGU": "belum",
    "GAGAL": "tidak_cair", "GAGAL SALUR": "tidak_cair", "RETUR": "tidak_cair", "DIKEMBALIKAN": "tidak_cair",
    "DITOLAK": "tidak_cair", "TIDAK CAIR": "tidak_cair", "GAGAL CAIR": "tidak_cair",
}).items()}
STATUS_CHOICES = "belum, cair atau tidak_cair"


def status_key(text, status_map=None):
    """The status key a word names (the operator's mapping first), or None when unknown."""
    key = word_key(text)
    if status_map and key in status_map:
        return status_map[key]
    return STATUS_WORDS.get(key)


def check_status_map(status_map):
    """{word key: status key} from an operator's {"WORD": "status"}; raise Invalid on an unknown status."""
    checked = {}
    for text, target in (status_map or {}).items():
        status = STATUS_WORDS.get(word_key(target or ""))
        if not word_key(text) or status is None:
            raise Invalid(f'pemetaan status "{text}={target}" tidak dikenal: pilih {STATUS_CHOICES}')
        checked[word_key(text)] = status
    return checked


# Reason phrases, most specific first (the first that occurs in the text wins).
REASON_PHRASES = [
    (("MENINGGAL", "WAFAT", "MATI"), "meninggal"),
    (("KKS BELUM", "KARTU BELUM", "BELUM TERIMA KKS", "BELUM MENERIMA KKS"), "kks_belum"),
    (("SP2D", "BATCH", "BELUM TURUN", "DANA BELUM MASUK"), "sp2d_belum"),
    (("PINDAH",), "pindah"),
    (("TIDAK DITEMUKAN", "TIDAK DIKETAHUI", "TIDAK ADA DI TEMPAT"), "tidak_ditemukan"),
    (("GANDA", "DOBEL", "DOUBLE", "DUPLIKAT"), "ganda"),
    (("NAMA BEDA", "NAMA BERBEDA", "NAMA TIDAK SESUAI", "TANGGAL LAHIR BEDA", "TANGGAL LAHIR BERBEDA",
      "TTL BEDA", "TTL BERBEDA"), "nama_ttl_beda"),
    (("TIDAK PADAN", "PADAN", "DUKCAPIL", "NIK TIDAK VALID", "NIK TIDAK TERDAFTAR", "NIK INVALID"), "tidak_padan"),
    (("REKENING", "KKS", "BUREKOL", "BLOKIR", "TERBLOKIR", "DO NOT HONOR", "DO NOT HONOUR"), "rekening"),
    (("TIDAK LAYAK", "DICORET", "SUDAH MAMPU", "TIDAK MEMENUHI SYARAT", "GRADUASI"), "tidak_layak"),
]
ABBREVIATIONS = {"TDK": "TIDAK", "BLM": "BELUM", "SDH": "SUDAH", "REK": "REKENING", "MD": "MENINGGAL DUNIA"}
REASON_WORDS = {word_key(w): key for w, key in choices_of(REASONS, {}).items()}


@lru_cache(maxsize=4096)
def reason_key(text):
    """The reason key a text names ("REKENING TIDAK AKTIF" → rekening), or None when not recognisable."""
    exact = REASON_WORDS.get(word_key(text))
    if exact:
        return exact
    words = [ABBREVIATIONS.get(w, w) for w in re.sub(r"[\W_]+", " ", clean_text(text, "NFKC").upper()).split()]
    padded = f" {' '.join(words)} "
    for phrases, key in REASON_PHRASES:
        if any(f" {phrase} " in padded for phrase in phrases):
            return key
    return None


def row_id(cell, ctx=None):
    """A row id written by our own export: a positive whole number."""
    if is_number_cell(cell) and math.isfinite(cell) and float(cell).is_integer() and cell > 0:
        return int(cell)
    text = clean_text(cell, "NFKC")
    if not text:
        raise Invalid("kosong")
    match = ROW_ID.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise Invalid(f"bukan nomor baris ({text})")
    return int(match.group(1))


def reason_and_note(status, reason_text, note_text):
    """(reason key, note) from a row's status, reason cell and note cell (None: not given).

    A tidak_cair row takes its reason from the reason cell, else the note cell; text that names no reason
    becomes `lainnya` with the text kept as the note. Other statuses carry no reason: the text is the note."""
    if status != "tidak_cair":
        return None, note_text or reason_text
    text = reason_text or note_text
    if not text:
        return None, None
    key = reason_key(text)
    if key:
        return key, note_text if reason_text else None
    return "lainnya", "; ".join(dict.fromkeys(t for t in (reason_text, note_text) if t))
