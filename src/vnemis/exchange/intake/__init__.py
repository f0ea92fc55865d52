"""Intake: uploaded files (CSV, XLSX, Parquet, JSON Lines) → canonical exchange-format files
and row-level errors. See docs/exchange-pipeline.md for the contracts."""

from .pipeline import CANONICAL_DIR, ERRORS_FILE, IntakeResult, intake_file
from .refused import IntakeRefused

__all__ = ["CANONICAL_DIR", "ERRORS_FILE", "IntakeRefused", "IntakeResult", "intake_file"]
