"""University admissions: institutions, programmes, quotas, wishes, fees, virtual filtering."""
