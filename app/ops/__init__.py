"""Operations over the whole database — backup and restore (backup.py), the move to another database
(migrate_db.py), and the table inventory they verify with (inventory.py). Infrastructure, not
business: no service imports it; the CLI (`flask mes backup|restore|upgrade|migrate-db`) is its front
door. Runbooks: sop/ops/backup-restore.md, upgrade.md, sqlite-to-postgresql.md."""
