"""Reporting: the production and quality reports, the dashboard and the line board. Reads what
every other context records and changes nothing (the top of the service layers)."""
