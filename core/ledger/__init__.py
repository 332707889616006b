"""The ledger: a tamper-evident, append-only log of every decision, document and identity.

A verifiable transparency log in the style of Certificate Transparency (RFC 9162), kept in
the same database as the records it seals:

- **Sealing** (``sealing``, ``leaves``). The transaction that writes a record also writes
  its ledger entry: the canonical JSON (RFC 8785) of the record, with its kind, key and
  the instant it was logged. A writer inserts its rows (a batch in one statement) and
  never waits on another writer.
- **Sequencing** (``sequencer``, ``tree``). ``sequence_pending`` (run by the scheduler,
  or ``caratflow ledger sequence``) takes the pending entries in batches, as Trillian
  does: it gives each its place (``seq``), stores the new perfect subtrees of the Merkle
  tree (``ledger_node``, ``merkle``) and signs a tree head (Ed25519, ``signing``) per
  batch.
- **Proofs** (``proofs``). Inclusion and consistency proofs are read from stored
  subtrees; ``check_inclusion`` and ``check_consistency`` verify them with nothing but
  the public key, as another authority would.
- **Verification** (``verification``, ``sources``). ``verify_ledger`` rebuilds every leaf
  from the rows it seals, recomputes the tree and every signed root, and names each row
  that was modified, deleted, inserted or reordered.
- **Registers** (``registers``). Rows that change in place (parties, users, authorities,
  closure days, security events) are sealed at each flush that writes them; verify
  compares each with its latest leaf.
- **Witnesses** (``checkpoints``, ``witness``). Heads as C2SP checkpoints; witnesses
  cosign them (``tlog-cosignature``) once they checked the log only grew, and the
  cosignatures kept in the instance folder make a rolled-back database fail verify.

It imports the plugin API and the foundation only; the wings that write records seal
them through ``sealing``.
"""
