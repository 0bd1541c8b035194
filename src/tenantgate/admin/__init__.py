"""The admin REST API (``/admin/v1/…``) and OpenAI's Admin API shapes (``/v1/organization/…``).

Every call is authenticated like /v1, admitted only for IAM principals, and authorized by
policies (``authorization.py`` states the rules); changes take effect on this replica at
once and are reported, with the statements that allowed them, to ``AdminEvents``.
``routes.ROUTES`` is the one table behind the router, the OpenAPI document and the tests.
"""

from tenantgate.admin.api import ADMIN_BODY_MAX_BYTES, AdminApi
from tenantgate.admin.events import AdminEvents, NoAdminEvents
from tenantgate.admin.router import is_admin_path
from tenantgate.admin.routes import ROUTES, AdminRoute

__all__ = [
    "ADMIN_BODY_MAX_BYTES",
    "ROUTES",
    "AdminApi",
    "AdminEvents",
    "AdminRoute",
    "NoAdminEvents",
    "is_admin_path",
]
