"""Unbound extensions. The AppBuilder is created inside create_app(): a module-level one keeps its
views and gives a second app no routes. FAB makes its own Limiter and JWTManager."""
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA()
migrate = Migrate()
csrf = CSRFProtect()
