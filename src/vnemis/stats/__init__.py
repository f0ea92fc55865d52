"""Statistics: the analytics snapshot, the indicator catalogue, report forms, dashboards, open data.

Reads the registry only through the snapshot (Parquet, per school year and province); never runs
analytics on the transactional tables during a request (DESIGN.md §7). See docs/stats.md.
"""
