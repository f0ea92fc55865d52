"""A logging filter that keeps personal identifiers out of application logs."""

import logging
import re

# 12-digit citizen IDs, 9-digit old ID cards and 12-digit education IDs look alike: redact all
# standalone runs of 9 to 12 digits.
_IDENTIFIER = re.compile(r"(?<!\d)\d{9,12}(?!\d)")


class RedactPersonalIdentifiers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _IDENTIFIER.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
