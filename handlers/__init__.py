"""Platform-neutral command handlers: one module per command, Request in, Reply out.

Each module's docstring is its /help text; `handlers.spec.COMMANDS` lists them for the platforms.
"""
