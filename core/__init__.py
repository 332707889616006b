"""caratflow: the engine a national diamond authority runs at its border. It knows no country.

Read it by its folders, one capability each, from the bottom up; a module may import what
is below it, never what is above (pyproject.toml ``[tool.importlinter]`` keeps the walls):

- foundation: ``config``, ``db``, ``errors``, ``types``, then ``models`` (the one schema)
- ``law``: rules with their citations, dated parameters, working-day calendars, and the
  registry of questions a rule may ask of stored records
- ``jurisdiction``: the plugin API, what a jurisdiction declares (hooks, workflow, clocks,
  notices, documents, reports, look-ups) and the read-only view the wings are handed
- ``ledger``: the tamper-evident log (Merkle math, signing, sealing, sequencing, proofs,
  verification)
- ``case`` (the case workflow: the service, access, four eyes, queries, parties) beside
  ``deadlines`` (legal clocks, notices, the outbox)
- ``records`` (documents, reports, retention, hand-over) beside ``accounts`` (people,
  sign-in, tokens, provisioning)
- ``exchange``: signed messages and look-ups between authorities' nodes
- ``pluginhost`` loads the plugins, beside the wings; ``runtime`` wires one process and
  ``scheduler`` runs its periodic work
- faces, outside the engine: ``faces`` (what plugins build their own faces with),
  ``caratflow.web``, ``cli`` and the pytest plugin ``testing``
"""

__version__ = "0.1.0"
