"""Security: the SecurityManager subclass, authentication of API and console requests, the
permission catalogue and preset roles, and their sync (`flask mes sync-roles`)."""
