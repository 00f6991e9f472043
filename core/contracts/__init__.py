"""The contracts every layer speaks: pydantic models and wire names, pure like ``core.domain``.

The client workflow's, along the sections of its life: ``messages`` (wire names, ids, order
messages), ``consent`` (profile and consent signals), ``approval`` (the approval updates),
``scoring`` and ``emails`` (its activities), ``state`` (its input and state, and rebuilding it
from the database). Then ``model`` (the refit workflow), ``ops`` (ops actions) and ``policy``
(the live policy a workflow carries).
"""
