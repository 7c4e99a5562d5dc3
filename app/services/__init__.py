"""Service layer: every business rule, once. One public function per use case (keyword arguments,
the actor passed in, a result returned, DomainError raised), so the console, the API, the CLI and
the tests share them. Services never import Flask's request/response objects nor the web layer.

Packages by bounded context; a context imports only the contexts above it in this list:

    platform/     actor, errors, clock, state tables, unit of work + audit, data scope, users, messages
    integration/  the idempotent inbox and message log of inbound messages (no business context)
    engineering/  master data, data-collection specs, routings + compile, route plans, ERP routing
                  import, OQC sampling rules
    production/   work orders, runs, TrackIn/TrackOut, unit trace; the extension points below
    preparation/  readiness, loading, line consumables, genealogy
    quality/      FAI and OQC inspections, SPI/AOI results, defects and rework, MRB
    reporting/    production and quality reports, the dashboard, the line board (read-only)
    wiring.py     fills production's extension points and master data's record rules; the only
                  module that imports every context (called once by create_app())

When a lower context must ask a higher one (authorize → readiness and FAI gates, TrackOut → SPI/AOI
forced FAILs, closeout → OQC), it calls the lists of production/extension_points.py; wiring.py shows
what they hold. `.importlinter` is the contract (run by `make test`): no import against the
direction, not even inside a function; no cycle between the modules of a context.

Where a new rule goes: a check of a master-data record → engineering/master_data.py (or the module
of its record kind, registered in wiring.py); how a run or a unit moves → production (its state
table in platform/states.py); a condition for authorizing or building that preparation or quality
owns → a function in that context plus an entry in wiring.py; what the console offers → a read
function next to the rule (like runs.available_actions or readiness.actions), never the template.
"""
