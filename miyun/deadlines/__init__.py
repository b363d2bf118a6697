"""Deadline dates from a resident's own date: understanding the date, the counting rules, the deadline table."""
