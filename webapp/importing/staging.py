"""Run a field set's normalisers over a table, collecting rejected rows and warnings as plain dicts.

A row with any invalid cell is rejected whole, with every reason found, and keeps its original cells
(by header) so the operator can download, fix and re-import it. Warnings with the same column and text
are merged into one that lists its rows. Every message names the row and the column.
"""
import json
import os
from collections import Counter
from pathlib import Path

from . import normalise
from .reading import file_sha256

LISTED_ROWS = 20
PROGRESS_EVERY = 5000


def rows_text(rows):
    """'Baris 4' or 'Baris 4, 9, 12' for a message; past 20 rows, '… dan 120 baris lain'."""
    shown = ", ".join(str(row) for row in rows[:LISTED_ROWS])
    more = len(rows) - LISTED_ROWS
    return f"Baris {shown}" + (f" dan {more:,} baris lain".replace(",", ".") if more > 0 else "")


def shown(value):
    """A staged value as the operator reads it in a message."""
    return "kosong" if value is None or value == "" else str(value)


class Report:
    """The rejected rows and warnings of one staged file."""

    def __init__(self, headers):
        self.headers = headers
        self.rejected = {}
        # What could be read of rejected rows: a NIK repeated on a rejected row still counts as a duplicate.
        self.partial = {}
        self.merged = {}

    def reject(self, row, column, reason, cells=None):
        """Reject a row for a reason about one of its columns."""
        entry = self.rejected.setdefault(row, {"row": row, "messages": [], "values": {}})
        entry["messages"].append(f'Baris {row}, kolom "{column}": {reason}')
        if cells is not None and not entry["values"]:
            entry["values"] = {header: normalise.display(cells[i]) if i < len(cells) else ""
                               for i, header in enumerate(self.headers)}

    def warn(self, rows, column, message):
        """Warn about one or more rows; same column and message are merged into one warning."""
        self.merged.setdefault((column, message), []).extend([rows] if isinstance(rows, int) else rows)

    def rejected_rows(self):
        """Rejected rows in file order: {"row", "messages", "values": {header: original text}}."""
        return [self.rejected[row] for row in sorted(self.rejected)]

    def warnings(self):
        """Warnings in order of their first row: {"rows", "column", "message", "text"}."""
        items = [{"rows": sorted(set(rows)), "column": column, "message": message}
                 for (column, message), rows in self.merged.items()]
        items.sort(key=lambda w: w["rows"][0])
        for item in items:
            item["text"] = f'{rows_text(item["rows"])}, kolom "{item["column"]}": {item["message"]}'
        return items


def new_staged(kind, path, filename=None, mapping=None, **extra):
    """A staged dict for a file: its identity, empty results, and the import kind's own keys."""
    path = Path(path)
    return {"kind": kind, "filename": filename or path.name, "sha256": file_sha256(path),
            "size": path.stat().st_size, "mapping": dict(mapping or {}), "sheet": None, "header_row": None,
            "headers": [], "columns": {}, "fields": [], "notices": [], "refused": None, "rows": 0, "rejected": [],
            "warnings": [], **extra}


def describe_table(staged, table, fieldset):
    """Record in a staged dict where the table is and what its columns hold; return (fields, {field: header})."""
    present = set(table.columns.values())
    header = {name: table.headers[index] for index, name in table.columns.items()}
    staged.update(sheet=table.sheet, header_row=table.header_row, headers=table.headers,
                  columns={header[name]: name for name in header}, notices=staged["notices"] + table.notices,
                  fields=[name for name in fieldset.fields if name in present])
    return present, header


def normalise_rows(table, fieldset, report, ctx, progress=None, keep_cells=False):
    """Valid rows of a table as {"row": n, field: value}; invalid rows go to the report.

    With keep_cells, each valid row also keeps its cells as typed ("cells", in header order), so a row
    that matching rejects later can still be reported, downloaded and fixed."""
    parsers = [(index, name, fieldset.fields[name].parse, table.headers[index])
               for index, name in table.columns.items()]
    valid = []
    for count, (number, cells) in enumerate(table.rows, start=1):
        values = {"row": number}
        if keep_cells:
            values["cells"] = [normalise.display(cells[i]) if i < len(cells) else "" for i in range(len(table.headers))]
        width, bad = len(cells), False
        for index, name, parse, header in parsers:
            try:
                value = parse(cells[index] if index < width else "", ctx)
            except normalise.Invalid as exc:
                report.reject(number, header, str(exc), cells)
                bad = True
                continue
            if value is normalise.NOT_GIVEN:
                continue
            if type(value) is normalise.Warned:
                report.warn(number, header, value.message)
                value = value.value
            values[name] = value
        if bad:
            report.partial[number] = values
        else:
            valid.append(values)
        if progress and count % PROGRESS_EVERY == 0:
            progress(count, table.total)
    return valid


def reject_duplicates(valid, name, column, report, reopen):
    """Reject every row whose value of a key field occurs more than once in the file (valid or not)."""
    rows_of = {}
    for values in (*valid, *report.partial.values()):
        if name in values:
            rows_of.setdefault(values[name], []).append(values["row"])
    repeated = {row: rows for rows in rows_of.values() if len(rows) > 1 for row in rows}
    if not repeated:
        return valid
    cells_of = {number: cells for number, cells in reopen().rows if number in repeated}
    for row in sorted(repeated):
        others = ", ".join(str(other) for other in sorted(repeated[row]) if other != row)
        report.reject(row, column, f"{column} ganda di berkas (sama dengan baris {others})", cells_of.get(row))
    return [values for values in valid if values["row"] not in repeated]


def settle(given, column, subject, report):
    """One value for a group of rows: the kepala keluarga's, else the most common, warning on differences."""
    values = [value for _, value, _ in given]
    if all(value == values[0] for value in values):
        return values[0]
    heads = [value for _, value, is_head in given if is_head]
    chosen, why = (heads[0], "nilai kepala keluarga") if heads else (Counter(values).most_common(1)[0][0],
                                                                      "nilai terbanyak")
    detail = "; ".join(f"baris {row}: {shown(value)}" for row, value, _ in given)
    report.warn([row for row, _, _ in given], column,
                f"{subject}: anggota berbeda nilai ({detail}); dipakai {shown(chosen)} ({why})")
    return chosen


def save(data, path):
    """Write staged data as JSON, atomically (a crash never leaves half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, path)


def load(path):
    """Read staged data written by save()."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
