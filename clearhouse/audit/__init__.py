"""The audit: check a journal from its own record, trusting only the operator's key.

- `audit_journal` checks a whole journal and reports its first fault exactly
  (`AuditReport`, `AuditFault`); the checks, numbered in the order they run, are
  listed in `verify.py`, each in a module of its own (`chain`, `tree`,
  `checkpoints`, `signatures`, `execution`; `report` is what it found).
- `build_inclusion_proof` and `check_inclusion_proof` give and check a client's
  offline proof that its entry is in the signed log (`proofs`).
- `replay_journal` (`plan_replay`, `run_replay`) rebuilds the engine as it was after
  any entry, checking every entry on the way (`replay`).
- `JournalQuery` lists the entries matching a `QueryFilter` (`query`); `describe`
  writes entries, payloads and outcomes for people and as JSON.

`clearhouse audit` and `clearhouse replay` (clearhouse/audit_cli.py) are the
command line over these.
"""

from clearhouse.audit.common import (
    BATCH_ENTRIES,
    AuditError,
    Progress,
    ProofError,
    ReplayError,
    load_genesis,
    log_origin,
)
from clearhouse.audit.describe import (
    describe_fill,
    describe_outcome,
    describe_outcome_difference,
    describe_payload,
    fills_of,
    format_ns,
    payload_type,
    plain,
)
from clearhouse.audit.proofs import (
    PROOF_FORMAT,
    CheckedProof,
    build_inclusion_proof,
    check_inclusion_proof,
    proof_from_json,
    proof_to_json,
)
from clearhouse.audit.query import PAYLOAD_TAGS, JournalQuery, QueryFilter, QueryMatch
from clearhouse.audit.replay import ReplayResult, plan_replay, replay_journal, run_replay
from clearhouse.audit.report import AuditFault, AuditReport
from clearhouse.audit.signatures import BatchVerifier, in_process_verifier
from clearhouse.audit.verify import audit_journal

__all__ = [
    "BATCH_ENTRIES",
    "PAYLOAD_TAGS",
    "PROOF_FORMAT",
    "AuditError",
    "AuditFault",
    "AuditReport",
    "BatchVerifier",
    "CheckedProof",
    "JournalQuery",
    "Progress",
    "ProofError",
    "QueryFilter",
    "QueryMatch",
    "ReplayError",
    "ReplayResult",
    "audit_journal",
    "build_inclusion_proof",
    "check_inclusion_proof",
    "describe_fill",
    "describe_outcome",
    "describe_outcome_difference",
    "describe_payload",
    "fills_of",
    "format_ns",
    "in_process_verifier",
    "load_genesis",
    "log_origin",
    "payload_type",
    "plain",
    "plan_replay",
    "proof_from_json",
    "proof_to_json",
    "replay_journal",
    "run_replay",
]
