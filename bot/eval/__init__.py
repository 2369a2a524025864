"""Offline evaluation and training of the NLP parts (dev tools: they may need rouge-score or numpy)."""
