"""A logging filter that keeps personal identifiers out of application logs."""

import logging
import re

# 12-digit citizen IDs, 9-digit old ID cards and 12-digit education IDs look alike: redact all
# standalone runs of 9 to 12 digits.
_IDENTIFIER = re.compile(r"(?<!\d)\d{9,12}(?!\d)")


class RedactPersonalIdentifiers(logging.Filter):
    """Redacts the message, and the traceback and stack text that handlers would print after it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _IDENTIFIER.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            # Format the traceback now, redact it, and stop handlers re-formatting the original.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = _IDENTIFIER.sub("[redacted]", text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _IDENTIFIER.sub("[redacted]", record.exc_text)
        if record.stack_info:
            record.stack_info = _IDENTIFIER.sub("[redacted]", record.stack_info)
        return True
