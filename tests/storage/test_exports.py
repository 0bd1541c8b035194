import tenantgate.storage


def test_storage_exports_exactly_its_public_api():
    assert sorted(tenantgate.storage.__all__) == [
        "Database",
        "InvalidDatabaseUrl",
        "MigrationRequired",
        "RetryPolicy",
        "StorageCorrupted",
        "StorageError",
        "StorageUnavailable",
        "TransactionConflict",
        "check_at_head",
        "create_engine",
        "current_revision",
        "head_revision",
        "installation_id",
        "metadata",
        "normalise_url",
        "render_url_safely",
        "upgrade_to_head",
    ]


def test_every_storage_error_has_a_stable_code():
    codes = {
        cls.__name__: cls.code
        for cls in (
            tenantgate.storage.StorageError,
            tenantgate.storage.InvalidDatabaseUrl,
            tenantgate.storage.StorageUnavailable,
            tenantgate.storage.TransactionConflict,
            tenantgate.storage.MigrationRequired,
            tenantgate.storage.StorageCorrupted,
        )
    }
    assert codes == {
        "StorageError": "storage_error",
        "InvalidDatabaseUrl": "invalid_database_url",
        "StorageUnavailable": "storage_unavailable",
        "TransactionConflict": "transaction_conflict",
        "MigrationRequired": "migration_required",
        "StorageCorrupted": "storage_corrupted",
    }
