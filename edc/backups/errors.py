class BackupError(Exception):
    """A backup, restore or drill that cannot be done or did not match; the message says what and why."""
