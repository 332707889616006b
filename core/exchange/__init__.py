"""Exchange between authorities' caratflow nodes: signed messages and look-ups.

``peers`` (the registered nodes and their keys), ``sending`` (envelopes, the outbox
channel), ``messages`` (receiving: checks, refusals, storage, the deadlines a message
meets), ``lookups`` (asking a peer about a record it keeps, and answering).
"""
