"""campaign-bot: the 社保協 campaign's chatbot."""

__version__ = "0.1.0"
