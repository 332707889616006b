"""caratflow: the control system a national diamond authority runs at its border.

The engine knows no country; jurisdictions arrive as plugins (see ``hookspecs``).
"""

__version__ = "0.1.0"
