"""Canonical records: the one format everything entering ServicePulse is converted to."""

from servicepulse.records.models import RECORD_KINDS, RECORD_MODELS, Record, record_to_dict
from servicepulse.records.validate import RecordError, parse_record

__all__ = ["RECORD_KINDS", "RECORD_MODELS", "Record", "RecordError", "parse_record",
           "record_to_dict"]
