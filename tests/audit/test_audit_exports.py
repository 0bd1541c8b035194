import tenantgate.audit


def test_audit_exports_exactly_its_public_api():
    assert sorted(tenantgate.audit.__all__) == [
        "AuditEntry",
        "AuditEvent",
        "AuditRecorder",
        "AuditStore",
        "ChainBreak",
        "ChainHead",
        "ChainReport",
        "ChainVerifier",
        "GENESIS_HASH",
        "InvalidAuditEntry",
        "verify_chain",
    ]
