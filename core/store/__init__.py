"""The read model in the database: engine and sessions (``db``), tables (``models``,
``ops_models``), migrations (``migrate``) and the database-backed services the API, the
activities and the CLI share (clients, profiles, the timeline, the outbox, privacy, keys).
"""
