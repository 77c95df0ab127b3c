"""The outbox dispatcher: claim due deliveries, send them paced, record what became of each."""
