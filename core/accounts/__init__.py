"""Accounts: the people who use caratflow and how they prove who they are.

``people`` (users, their roles, authorities and duties, administered), ``signin``
(sessions, throttling, re-authentication), ``profiles`` (language, TOTP), ``audit`` (the
security log), ``credentials`` (password hashes, API tokens), ``provisioning`` (what
``caratflow init``, ``users add`` and the demo create).
"""
