"""Importing spreadsheets into Rekap Bansos: read, recognise, normalise, preview, apply.

The pipeline is the same for every import kind (DTSEN data, programme recipient lists, status files):

- `reading` opens an .xlsx/.xlsm (python-calamine, cell types kept) or a CSV, refuses what it cannot
  trust, finds the header row and yields the data rows with the row number the operator sees;
- `fields` names the columns an import kind understands (aliases, manual mapping);
- `normalise` turns one cell into a clean value or an Indonesian reason to reject its row;
- `staging` runs the normalisers over a table and collects rejected rows and warnings;
- `applying` writes a plan in one IMMEDIATE transaction with its audit events and batch row;
- `dtsen` (families and members), `penerima` (a programme period's recipient list) and `statuses` (a filled
  copy of a period's list export) are the imports built from these parts; `export` writes rejected rows and
  templates.

A staged file and its preview are plain dicts and lists (JSON-serialisable), so the web flow can keep
them between the preview and the operator's confirmation. Nothing is written before apply().
"""


class Refused(Exception):
    """A file refused as a whole; the message says why, in Bahasa Indonesia."""
