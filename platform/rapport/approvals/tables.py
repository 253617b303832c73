"""The approval engine's system tables: requests, their tasks and audit trail, delegations
and in-app notifications."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, text

from ..fieldtypes import BIGINT
from ..storage.types import UTCDateTime


def approval_tables(md: MetaData) -> None:
    Table("rapport_approval_request", md,
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("flow", Text, nullable=False),
          Column("object", Text, nullable=False),
          Column("record_id", BIGINT, nullable=False),
          Column("status", Text, nullable=False),      # pending approved rejected recalled cancelled
          Column("step", Integer),                     # index of the current (or last) step
          Column("definition", Text, nullable=False),  # JSON: the flow as it was at submission
          Column("revision", Integer, nullable=False),
          Column("submitted_by", BIGINT),
          Column("submitted_at", UTCDateTime, nullable=False),
          Column("decided_by", BIGINT),
          Column("decided_at", UTCDateTime),
          Column("comment", Text),
          Column("version", Integer, nullable=False, default=1),  # compare-and-set
          Index("ix_rapport_approval_request_record", "object", "record_id", "status"),
          Index("ix_rapport_approval_request_submitter", "submitted_by", "id"),
          # one pending request per record, whatever two writers do at the same moment
          Index("uq_rapport_approval_request_pending", "object", "record_id", unique=True,
                sqlite_where=text("status = 'pending'"),
                postgresql_where=text("status = 'pending'")))
    Table("rapport_approval_task", md,
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("request_id", BIGINT, nullable=False, index=True),
          Column("step", Integer, nullable=False),
          Column("step_name", Text, nullable=False),
          Column("approver_id", BIGINT, nullable=False),
          Column("delegated_from", BIGINT),            # the approver the task was meant for
          Column("added_by", BIGINT),                  # who added this signer (加签)
          Column("status", Text, nullable=False),      # pending approved rejected cancelled skipped
          Column("comment", Text),
          Column("created_at", UTCDateTime, nullable=False),
          Column("decided_at", UTCDateTime),
          Index("ix_rapport_approval_task_approver", "approver_id", "status"))
    Table("rapport_approval_event", md,               # the audit trail
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("request_id", BIGINT, nullable=False),
          Column("at", UTCDateTime, nullable=False),
          Column("user_id", BIGINT),
          Column("action", Text, nullable=False),
          Column("step", Integer),
          Column("comment", Text),
          Column("detail", Text),                      # JSON
          Index("ix_rapport_approval_event_request", "request_id", "id"))
    Table("rapport_delegation", md,
          Column("user_id", BIGINT, primary_key=True, autoincrement=False),
          Column("delegate_id", BIGINT, nullable=False, index=True),
          Column("until", UTCDateTime),                # NULL: until cleared
          Column("created_at", UTCDateTime, nullable=False))
    Table("rapport_notification", md,
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("user_id", BIGINT, nullable=False),
          Column("kind", Text, nullable=False),
          Column("object", Text),
          Column("record_id", BIGINT),
          Column("request_id", BIGINT),
          Column("message", Text, nullable=False),
          Column("data", Text),                        # JSON
          Column("created_at", UTCDateTime, nullable=False),
          Column("read_at", UTCDateTime),
          Index("ix_rapport_notification_user", "user_id", "read_at"))
