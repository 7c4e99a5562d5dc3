"""Operations over the whole database — backup and restore (backup.py) and the table inventory they
verify with (inventory.py). Infrastructure, not business: no service imports it; the CLI (`flask mes
backup|restore`) is its front door. Runbook: sop/ops/backup-restore.md."""
