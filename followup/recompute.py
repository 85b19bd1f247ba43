"""The milestone recompute that follows a save: a kernel save listener (registered in `followup.hooks`) that
queues one task per transaction for the subjects whose qPCR results, visits or lupus outcomes (SELENA-SLEDAI,
prednisone dose, medication log) changed.

Kept out of `followup.services`: the tasks call the services, so the services may not import the tasks.
"""

from django.db import connection, transaction

from edc.models import LabResult, Visit
from followup import tasks
from followup.models import PrednisoneDose
from screening.models import Medication, SledaiAssessment

# Rows whose save can change a milestone: visits, and what the lupus outcome milestones read.
RECOMPUTED_BY = (Visit, SledaiAssessment, PrednisoneDose, Medication)


def recompute_after_save(rows) -> None:
    """A saved qPCR result, visit or outcome input queues its subject's recompute once the transaction commits."""
    subject_ids = {
        row.subject_pk
        for row in rows
        if isinstance(row, RECOMPUTED_BY) or (isinstance(row, LabResult) and row.analyte == "CARPCR")
    }
    if not subject_ids:
        return
    # One task per transaction, however many rows it saves: gather the subjects until it commits. A
    # rolled-back transaction drops its callback, so a batch is reused only while its flush is pending.
    batch = getattr(connection, "_milestone_recompute", None)
    # (a bound method is a new object at each access: compare with ==, not is)
    if batch is None or not any(entry[1] == batch.flush for entry in connection.run_on_commit):
        batch = _RecomputeBatch()
        connection._milestone_recompute = batch
        transaction.on_commit(batch.flush)
    batch.subject_ids |= subject_ids


class _RecomputeBatch:
    def __init__(self):
        self.subject_ids: set[int] = set()

    def flush(self):
        if getattr(connection, "_milestone_recompute", None) is self:
            connection._milestone_recompute = None  # the next transaction gathers its own
        tasks.enqueue_recompute(sorted(self.subject_ids))
