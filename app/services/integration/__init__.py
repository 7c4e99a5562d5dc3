"""Integration: the idempotent inbox of inbound messages and their log (02_rules §11).

inbox (`receive`: validate, deduplicate, apply through the caller's handler, log), status (per
system health and the message log). Knows no business context: each context brings its own schema
and handler (work orders, ERP routings, SPI/AOI results, stencil/paste/equipment statuses).
"""
