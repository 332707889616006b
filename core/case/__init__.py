"""The case workflow: a shipment from presentation to its last decision.

``service`` (present, decide, replay: one unit of work each), ``access`` (who may do
what: ``Actor``, roles, duties), ``foureyes`` (decisions a second officer confirms,
called by the service), ``schemas`` (a presentation as posted), ``queries`` (lists and
counts), ``parties`` (the traders' register), ``representation`` (the one JSON shape of a
shipment). It reads the plugins through ``jurisdiction`` and seals nothing itself: the
ledger, deadlines and documents observe its decisions (``runtime``).
"""
