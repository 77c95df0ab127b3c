"""The campaign calendar: schedule files, recurrence, and the events they describe."""
