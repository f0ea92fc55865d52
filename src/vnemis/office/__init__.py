"""E-office: official documents, registers, workflow, digital signatures, edXML exchange."""
