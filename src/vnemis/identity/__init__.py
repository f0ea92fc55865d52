"""Identity: verification against the population registry, record linkage, duplicate merge."""
