"""The admin package's public names, pinned."""

import tenantgate.admin


def test_public_names():
    assert sorted(tenantgate.admin.__all__) == [
        "ADMIN_BODY_MAX_BYTES", "AdminApi", "AdminEvents", "AdminRoute", "NoAdminEvents", "ROUTES",
        "is_admin_path",
    ]
    for name in tenantgate.admin.__all__:
        assert hasattr(tenantgate.admin, name)
