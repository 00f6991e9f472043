"""Pure domain code: scoring, policy, guardrails, campaigns, money, tokens, uplift.

No database, no network, no settings files: importable from workflow code (the sandbox) and
testable without any service running. ``tests/test_architecture.py`` keeps it so.
"""
