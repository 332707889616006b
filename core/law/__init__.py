"""Law as data: what the plugins' rules are made of, and what a rule may ask.

``rules`` (rules bound to a dated version of their legal text, findings, the case a rule
sees), ``parameters`` (dated values with their sources), ``calendar`` (working days in an
authority's zone), ``registry`` (questions a rule asks of stored records, no SQL in a
rule). It sits under the plugin API, since every declaration cites it, and imports only
the foundation.
"""
