"""The acceptance runner (04_acceptance §3, `flask mes acceptance`): the end-to-end scenarios S1–S10,
defined once (`scenarios`), run over HTTP as the demo users and the integration account.

- `client`: the HTTP client (standard library only).
- `context`: steps, checks, the "a refusal changes nothing" check.
- `scenarios`: S1–S10, shared with the pytest scenarios (tests/api/test_acceptance_scenarios.py).
- `runner`: selection, preflight, reports (text, JSON, JUnit XML), the throw-away server.

The scenarios and their helpers import nothing of the application: they speak HTTP only (import
contract in .importlinter)."""
