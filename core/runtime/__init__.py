"""Process plumbing: settings, logging, tracing, metrics, payload codecs, Temporal connections
and the transport-neutral client of the client workflow (``client_workflow``, ``rollout``).
"""
