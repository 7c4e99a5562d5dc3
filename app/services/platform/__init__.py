"""Platform: what every context stands on and none of it is business.

actor (who acts, their data scope), context (request id, client address), errors (the one error
catalogue), clock (UTC now), states (every state machine as a transition table), uow (one transaction
per use case, with its audit event), audit (writing and reading the audit trail, the CRUD session
hook), scope (data-scope filters and checks), users (accounts and API keys for the CLI and seed), messages
(`M(...)`: a sentence for people, English plus its template, which the web layer shows in the reader's
language).
"""
