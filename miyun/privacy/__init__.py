"""Personal data that goes away: conversation redaction, the retention run, the log salt's checks."""
