"""Records the law makes an authority keep and hand out.

``documents`` (issued certificates: numbered, signed, sealed, publicly checkable) with
``rendering`` (their PDFs), ``reports`` (periodic reports and their submission),
``retention`` (how long records are kept; purging them), ``handover`` (every record of a
shipment in one bundle).
"""
