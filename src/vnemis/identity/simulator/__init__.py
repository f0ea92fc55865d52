"""A simulator of the national population registry's data-sharing API, as its own HTTP service.

It knows its own citizens (``registry/citizens.parquet`` from ``vnemis generate``) and answers
as such an API does: per field, match or mismatch, never its data; OAuth2 client credentials;
a request quota; and, for tests, latency and faults (slow answers, hangs, HTTP 500 and 429,
dropped connections). It needs neither Django nor our database: it is another agency's system.
Run it with ``vnemis sim registry`` or ``python -m vnemis.identity.simulator``.

Modules: ``citizens`` (the data and its index), ``api`` (the operations on decoded requests),
``auth`` (client credentials and tokens), ``quota``, ``faults``, ``stats``, ``server`` (HTTP,
on the plumbing all simulators share in ``vnemis.core.simserver``), ``__main__`` (options).
docs/registry-simulator.md describes the API.
"""
