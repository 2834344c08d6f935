"""Write an import's plan: bulk inserts and updates with their audit events, inside one transaction.

The caller opens `db.atomic("IMMEDIATE")`; everything here runs inside it, so any exception rolls the
whole batch back. Rows go in with the DB-API executemany (perf.md §4.2: about 8× faster than Peewee's
insert_many), in chunks so a progress callback can report on long imports.
"""
import json

from peewee import chunked
from peewee import quote

from .. import db as database
from ..models import AuditEvent
from ..models import ImportBatch
from ..models import ImportRejection
from ..models import utcnow

CHUNK = 5000
LOOKUP_CHUNK = 500


def applied_batch(kind, sha256, version_label=None):
    """The applied batch of this kind that imported a file with this SHA-256 (into this target), or None."""
    query = ImportBatch.select().where((ImportBatch.kind == kind) & (ImportBatch.sha256 == sha256)
                                       & (ImportBatch.state == "applied"))
    if version_label is not None:
        query = query.where(ImportBatch.version_label == version_label)
    return query.order_by(ImportBatch.id).first()


def in_chunks(make_query, keys):
    """Raw rows of make_query(chunk) over the keys, LOOKUP_CHUNK at a time (SQLite bounds the parameters)."""
    for chunk in chunked(sorted(keys), LOOKUP_CHUNK):
        yield from database.db.execute(make_query(chunk))


def batch_summary(batch):
    """A batch as a plain dict for pages and the CLI."""
    return {"batch_id": batch.id, "kind": batch.kind, "filename": batch.filename,
            "version_label": batch.version_label,
            "applied_at": batch.applied_at.isoformat(sep=" ", timespec="seconds") if batch.applied_at else None,
            "counts": {"new": batch.new_count, "changed": batch.changed_count,
                       "unchanged": batch.unchanged_count, "rejected": batch.rejected_count}}


def quoted(name):
    """A table or column name quoted for SQL."""
    return quote((name,), database.db.quote)


def columns_of(model, names):
    """Quoted column names of model fields."""
    return [quoted(model._meta.fields[name].column_name) for name in names]


def insert_sql(model, names):
    """An INSERT statement for executemany with the given fields, in order."""
    return "INSERT INTO {} ({}) VALUES ({})".format(quoted(model._meta.table_name), ", ".join(columns_of(model, names)),
                                                   ", ".join([database.db.param] * len(names)))


class Writer:
    """Bulk writes of one import batch and their audit events; use inside db.atomic("IMMEDIATE")."""

    def __init__(self, batch, user=None, username="", total=0, progress=None):
        self.batch = batch
        self.user_id = user.id if user else None
        self.username = username or (user.username if user else "")
        # Text, as Peewee stores DateTimeField (sqlite3's datetime adapter is deprecated).
        self.now = str(utcnow())
        self.total = total
        self.done = 0
        self.progress = progress
        self.conn = database.db.connection()

    def step(self, count):
        """Count written records and report progress."""
        self.done += count
        if self.progress:
            self.progress(self.done, self.total)

    def insert(self, model, names, rows):
        """Insert rows (tuples in the order of names), tagged with this batch and timestamps."""
        sql = insert_sql(model, [*names, "import_batch", "created_at", "updated_at"])
        tail = (self.batch.id, self.now, self.now)
        for chunk in chunked(rows, CHUNK):
            self.conn.executemany(sql, [(*row, *tail) for row in chunk])
            self.step(len(chunk))

    def update(self, model, names, rows):
        """Update rows given as (values in the order of names..., id), bumping version and updated_at."""
        param = database.db.param
        version, updated_at = columns_of(model, ["version", "updated_at"])
        sets = [f"{column} = {param}" for column in columns_of(model, names)]
        sets += [f"{version} = {version} + 1", f"{updated_at} = {param}"]
        sql = "UPDATE {} SET {} WHERE {} = {}".format(quoted(model._meta.table_name), ", ".join(sets),
                                                     quoted(model._meta.primary_key.column_name), param)
        for chunk in chunked(rows, CHUNK):
            self.conn.executemany(sql, [(*row[:-1], self.now, row[-1]) for row in chunk])
            self.step(len(chunk))

    def ids(self, model, key):
        """{key value: id} of the rows this batch inserted into a model."""
        field = model._meta.fields[key]
        return dict(database.db.execute(model.select(field, model.id).where(model.import_batch == self.batch)))

    def audit(self, events):
        """Insert audit events given as (action, entity, entity_id, field, old, new)."""
        sql = insert_sql(AuditEvent, ["ts", "user", "username", "action", "entity", "entity_id", "field", "old",
                                      "new", "import_batch"])
        head = (self.now, self.user_id, self.username)
        for chunk in chunked(events, CHUNK):
            self.conn.executemany(sql, [(*head, *event, self.batch.id) for event in chunk])

    def rejections(self, rejected):
        """Keep the rejected rows of the file with the batch."""
        sql = insert_sql(ImportRejection, ["import_batch", "row", "messages", "values"])
        for chunk in chunked(rejected, CHUNK):
            self.conn.executemany(sql, [(self.batch.id, r["row"], json.dumps(r["messages"], ensure_ascii=False),
                                         json.dumps(r["values"], ensure_ascii=False)) for r in chunk])
