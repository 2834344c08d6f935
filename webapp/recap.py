"""Every recap figure of Rekap Bansos (design.md §5), as plain functions over the models.

The pages, the exports, the printed sheet, the copied text and the CLI all call this module, so
their numbers can never disagree.
"""
from peewee import fn

from .models import KEBERADAAN_JIWA
from .models import Disbursement
from .models import Household
from .models import Period
from .models import Person


def living_members():
    """Active persons who count as jiwa (living in an active household)."""
    return (Person.select().join(Household)
            .where(Person.deleted_at.is_null() & Household.deleted_at.is_null()
                   & Person.keberadaan.in_(KEBERADAAN_JIWA)))


def desil_counts():
    """{desil or None: number of active households}."""
    rows = (Household.active().select(Household.desil, fn.COUNT(Household.id))
            .group_by(Household.desil).tuples())
    return dict(rows)


def no_aid_households(year, desil_max):
    """Active households in desil 1..desil_max with no disbursement in any period of the year."""
    received = (Disbursement.select(Disbursement.id).join(Period)
                .where((Disbursement.household == Household.id) & (Period.year == year)
                       & Disbursement.deleted_at.is_null()))
    return Household.active().where(Household.desil.between(1, desil_max) & ~fn.EXISTS(received))


def headline(desil_max):
    """The home page's headline figures: families, persons, desil bands and aid in the latest year."""
    by_desil = desil_counts()
    year = Period.latest_year()
    figures = {
        "kk": sum(by_desil.values()),
        "jiwa": living_members().count(),
        "desil_1_4": sum(n for d, n in by_desil.items() if d is not None and d <= 4),
        "desil_1_max": sum(n for d, n in by_desil.items() if d is not None and d <= desil_max),
        "tanpa_desil": by_desil.get(None, 0),
        "desil_max": desil_max,
        "year": year,
        "penerima_kk": 0,
        "tidak_cair": 0,
        "no_aid_kk": None,
    }
    if year is not None:
        in_year = (Disbursement.select().join(Period)
                   .where((Period.year == year) & Disbursement.deleted_at.is_null()))
        figures["penerima_kk"] = in_year.select(fn.COUNT(Disbursement.household.distinct())).scalar()
        figures["tidak_cair"] = in_year.where(Disbursement.status == "tidak_cair").count()
        figures["no_aid_kk"] = no_aid_households(year, desil_max).count()
    return figures
