"""Answering members' questions about the insurance card, from a curated knowledge base."""
