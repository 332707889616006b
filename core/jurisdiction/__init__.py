"""The plugin API: everything a jurisdiction plugin declares, and the view the engine reads.

``hookspecs`` (the hooks, documented one by one), ``workflow`` (states, transitions,
duties, the shared state machine), ``clocks`` (legal deadlines), ``notices``,
``documents``, ``reports``, ``lookups`` and ``retention`` (the declarations of each kind),
``contributions`` (what the plugins contributed, and the ``Plugins`` protocol every wing is
handed instead of the host). It imports the law and the foundation only, so the wings
that act on these declarations sit above it and the host beside them.
"""
