"""Deadlines and delivery: the legal clocks as rows, and what they and the decisions send.

``keeping`` (opening, meeting, suspending and cancelling clocks in each decision's
transaction; the authority's calendar and closure days), ``sweep`` (reminding, marking
missed and escalating, by row claims), ``board`` (what is due), ``notices`` (what a
decision tells someone else) and ``outbox`` (delivery, at least once, deduplicated).
"""
