"""Jurisdiction plugins shipped with caratflow.

Each registers through the ``caratflow.plugins`` entry-point group, like any third-party one.
"""
