"""Pure-Python heart of the bot: entities, neutral messages and ports. No I/O here."""
