"""Veille: a news-watch bot for Telegram and Discord."""

__version__ = "0.1.0"
USER_AGENT = f"Veille/{__version__} (news-watch bot; +https://github.com/veille-bot/veille)"
