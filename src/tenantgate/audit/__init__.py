"""The tamper-evident audit trail: who did what, with which outcome, under which policy statements.

Events form one hash chain (``chain.py``, pure) stored by ``store.py`` and written by the
gateway through ``recorder.py`` (queued, group-committed). ``docs/audit.md`` gives the
hash formula and what ``tenantgate audit verify`` can and cannot detect.
"""

from tenantgate.audit.chain import GENESIS_HASH, ChainBreak, ChainReport, ChainVerifier, verify_chain
from tenantgate.audit.model import AuditEntry, AuditEvent, ChainHead, InvalidAuditEntry
from tenantgate.audit.recorder import AuditRecorder
from tenantgate.audit.store import AuditStore

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditEvent",
    "AuditRecorder",
    "AuditStore",
    "ChainBreak",
    "ChainHead",
    "ChainReport",
    "ChainVerifier",
    "InvalidAuditEntry",
    "verify_chain",
]
