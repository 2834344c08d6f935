"""The columns an import kind understands: field names, labels, header aliases and normalisers.

Headers match case- and punctuation-insensitively ("No. KK", "NO_KK" and "nomor kk" are one key), with
parenthesised notes dropped ("TANGGAL LAHIR (DD-MM-YYYY)"). An operator can map the remaining columns
by hand with {"KOLOM ASLI": "field"}; mapping a column to "" ignores it.
"""
import re
import unicodedata
from dataclasses import dataclass

from . import Refused
from . import normalise

PARENTHESISED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
IGNORE = ("", "-", "abaikan")


def header_key(text):
    """The matching key of a header cell: letters and digits only, upper case, notes dropped."""
    text = unicodedata.normalize("NFKC", normalise.display(text))
    return re.sub(r"[\W_]+", "", PARENTHESISED.sub("", text)).upper()


@dataclass(frozen=True)
class Field:
    """One column an import understands."""

    name: str
    label: str
    aliases: tuple
    parse: object


class FieldSet:
    """The fields of one import kind, with header recognition and manual mapping."""

    def __init__(self, fields, keys):
        self.fields = {f.name: f for f in fields}
        self.keys = keys
        self.aliases = {header_key(alias): f.name for f in fields for alias in (f.name, *f.aliases)}

    def choices(self):
        """(name, label) pairs for a manual-mapping dropdown."""
        return [(f.name, f.label) for f in self.fields.values()]

    def label(self, name):
        """The operator-facing label of a field."""
        return self.fields[name].label

    def check_mapping(self, mapping):
        """{header key: field name or None} from an operator's mapping; refuse unknown field names."""
        checked = {}
        for header, name in (mapping or {}).items():
            name = (name or "").strip()
            if name.lower() in IGNORE:
                checked[header_key(header)] = None
            elif name in self.fields:
                checked[header_key(header)] = name
            else:
                known = ", ".join(self.fields)
                raise Refused(f'Pemetaan kolom "{header}" ke "{name}" tidak dikenal. Pilihan: {known}.')
        return checked

    def match(self, header, mapping=None):
        """The field a header cell names (manual mapping first), or None."""
        key = header_key(header)
        if mapping and key in mapping:
            return mapping[key]
        return self.aliases.get(key)

    def score(self, cells, mapping=None):
        """How many distinct fields a row of cells names: the header row names the most."""
        return len({self.match(cell, mapping) for cell in cells if not normalise.is_blank(cell)} - {None})

    def resolve(self, headers, mapping=None):
        """Map column index -> field for a header row; later columns naming a taken field are ignored."""
        columns, taken, notices = {}, {}, []
        for index, header in enumerate(headers):
            name = self.match(header, mapping)
            if name is None:
                continue
            if name in taken:
                notices.append(f'Kolom "{header}" diabaikan: kolom "{taken[name]}" sudah dipakai untuk '
                               f"{self.label(name)}.")
                continue
            columns[index] = name
            taken[name] = header
        return columns, notices


def field(name, label, aliases, parse):
    """Shorthand for a Field with its aliases as a tuple."""
    return Field(name, label, tuple(aliases), parse)


DTSEN = FieldSet([
    field("no_kk", "No KK", ["NO KK", "NO. KK", "NOMOR KK", "NO_KK", "NKK", "NOMOR KARTU KELUARGA",
                             "NO KARTU KELUARGA"], normalise.id_number),
    field("nik", "NIK", ["NIK", "NO NIK", "NIK ART", "NIK ANGGOTA", "NOMOR INDUK KEPENDUDUKAN"],
          normalise.nik),
    field("nama", "Nama", ["NAMA", "NAMA LENGKAP", "NAMA ART", "NAMA ANGGOTA"], normalise.name),
    field("hubungan", "Hubungan keluarga", ["HUBUNGAN", "HUB KELUARGA", "HUBUNGAN KELUARGA",
                                            "HUBUNGAN DENGAN KEPALA KELUARGA", "SHDK", "STATUS HUBUNGAN",
                                            "STATUS HUBUNGAN DALAM KELUARGA", "KK_LEVEL"], normalise.hubungan),
    field("jenis_kelamin", "Jenis kelamin", ["JENIS KELAMIN", "JK", "L/P", "SEX", "KELAMIN"],
          normalise.jenis_kelamin),
    field("tanggal_lahir", "Tanggal lahir", ["TANGGAL LAHIR", "TGL LAHIR", "TGL. LAHIR", "TANGGALLAHIR",
                                             "TGL_LAHIR"], normalise.birth_date),
    field("alamat", "Alamat", ["ALAMAT", "ALAMAT LENGKAP", "ALAMAT RUMAH"], normalise.text),
    field("rt", "RT", ["RT", "NO RT", "NOMOR RT"], normalise.area_number),
    field("rw", "RW", ["RW", "NO RW", "NOMOR RW"], normalise.area_number),
    field("dusun", "Dusun", ["DUSUN", "KAMPUNG", "DUSUN/LINGKUNGAN", "LINGKUNGAN", "NAMA DUSUN"], normalise.text),
    field("desil", "Desil", ["DESIL", "DESIL NASIONAL", "PERINGKAT DESIL", "DESIL KESEJAHTERAAN"], normalise.desil),
    field("keberadaan", "Keberadaan", ["KETERANGAN KEBERADAAN", "STATUS KEBERADAAN", "KEBERADAAN",
                                       "STATUS_DASAR", "STATUS DASAR"], normalise.keberadaan),
], keys=("no_kk", "nik"))


def aliases_of(fieldset, name, *more):
    """A field's header aliases in another field set, with more added."""
    return [*fieldset.fields[name].aliases, *more]


STATUS_FIELD = field("status", "Status", ["STATUS", "STATUS PENYALURAN", "STATUS BAYAR", "STATUS SALUR",
                                          "STATUS PENCAIRAN", "STATUS CAIR"], normalise.word)
DATE_FIELD = field("status_date", "Tanggal status", ["TANGGAL", "TGL CAIR", "TANGGAL SALUR", "TANGGAL CAIR",
                                                     "TGL SALUR", "TANGGAL STATUS", "TANGGAL PENYALURAN",
                                                     "TGL BAYAR", "TANGGAL BAYAR"], normalise.event_date)
REASON_FIELD = field("reason", "Alasan", ["ALASAN", "ALASAN TIDAK CAIR", "ALASAN GAGAL", "ALASAN RETUR"],
                     normalise.word)
NOTE_FIELD = field("note", "Keterangan", ["KETERANGAN", "KET", "CATATAN"], normalise.word)

# Recipient lists: Kantor Pos and bank lists, SIKS-NG BNBA, the desa's own lists, OpenSID's Peserta sheet.
PENERIMA = FieldSet([
    field("no_kk", "No KK", aliases_of(DTSEN, "no_kk", "NO KK PENERIMA", "NO KK KPM"),
          normalise.optional(normalise.id_number)),
    field("nik", "NIK", aliases_of(DTSEN, "nik", "NIK PENERIMA", "NIK PENGURUS", "NIK KPM"),
          normalise.optional(normalise.nik)),
    field("peserta", "Peserta (NIK atau No KK menurut sasaran)", ["PESERTA"], normalise.optional(normalise.id_number)),
    field("nama", "Nama", aliases_of(DTSEN, "nama", "NAMA PENERIMA", "NAMA PENGURUS", "NAMA KPM"), normalise.text),
    STATUS_FIELD, DATE_FIELD,
    field("amount", "Nominal", ["NOMINAL", "JUMLAH", "NILAI", "NOMINAL BANTUAN", "JUMLAH BANTUAN",
                                "NILAI BANTUAN"], normalise.amount),
    field("channel", "Jalur", ["JALUR", "PENYALUR", "BANK", "JALUR PENYALURAN", "BANK PENYALUR", "SALURAN"],
          normalise.channel),
    REASON_FIELD, NOTE_FIELD,
], keys=("no_kk", "nik", "peserta"))

# A filled copy of a period's list export (webapp/exporting.py): the row id decides, the rest is checked.
STATUS = FieldSet([
    field("id", "ID baris", ["ID BARIS", "ID", "ID PENYALURAN"], normalise.row_id),
    field("no_kk", "No KK", DTSEN.fields["no_kk"].aliases, normalise.word),
    field("nik", "NIK", DTSEN.fields["nik"].aliases, normalise.word),
    field("nama", "Nama", PENERIMA.fields["nama"].aliases, normalise.word),
    STATUS_FIELD, DATE_FIELD, REASON_FIELD, NOTE_FIELD,
    field("version", "Versi baris", ["VERSI BARIS", "VERSI"], normalise.row_id),
], keys=("id",))
