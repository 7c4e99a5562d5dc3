"""The release of LineMES (backups and /metrics report it, with the git commit when known)."""
__version__ = "0.11.0"
