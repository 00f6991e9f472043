"""The contracts every layer speaks: pydantic models and wire names, pure like ``core.domain``.

``client``: the client workflow's messages, its activities' inputs and results, its state;
``model``: the refit workflow's; ``ops``: ops actions (pause, snooze, resume); ``policy``: the
live policy a workflow carries.
"""
