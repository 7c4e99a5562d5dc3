"""Data scope (ALL / LINES / STATIONS) and the per-process permission cache behind the shared
security version: a role or binding change takes effect on the very next request."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Line, MesUser, RoleScope, SecurityVersion, Station
from app.security import actors
from app.services.platform.errors import DomainError
from app.services.platform.scope import line_filter, require_line, require_station, station_filter


def actor(username):
    user_id = db.session.execute(select(MesUser.id).filter_by(username=username)).scalar_one()
    return actors.actor_for_user(user_id)


def station_codes(who):
    stmt = select(Station.code).where(station_filter(who, Station.id, Station.line_id)).order_by(Station.code)
    return db.session.execute(stmt).scalars().all()


def line_codes(who):
    return db.session.execute(select(Line.code).where(line_filter(who, Line.id)).order_by(Line.code)).scalars().all()


def test_scopes_of_the_demo_users(app_ctx):
    assert actor("planner").scope.mode == "ALL"
    assert line_codes(actor("planner")) == ["LINE-DIP-A", "LINE-SMT-A"]
    leader = actor("leader")
    assert leader.scope.mode == "LINES" and line_codes(leader) == ["LINE-DIP-A", "LINE-SMT-A"]
    assert len(station_codes(leader)) == 9
    operator2 = actor("operator2")
    assert operator2.scope.mode == "STATIONS"
    assert station_codes(operator2) == ["ST-DIP-INS-01", "ST-DIP-POST-01", "ST-DIP-TEST-01", "ST-DIP-WAVE-01"]
    assert line_codes(operator2) == ["LINE-DIP-A"]


def test_require_station_and_line(app_ctx):
    operator2 = actor("operator2")
    print_station = db.session.execute(select(Station).filter_by(code="ST-PRINT-01")).scalar_one()
    dip_station = db.session.execute(select(Station).filter_by(code="ST-DIP-INS-01")).scalar_one()
    require_station(operator2, dip_station.id, dip_station.line_id)
    with pytest.raises(DomainError) as exc:
        require_station(operator2, print_station.id, print_station.line_id, "ST-PRINT-01")
    assert exc.value.code == "FORBIDDEN" and exc.value.status == 403 and "ST-PRINT-01" in exc.value.message
    with pytest.raises(DomainError):
        require_line(operator2, print_station.line_id)
    require_line(actor("admin"), print_station.line_id)


def test_a_bound_scope_without_bindings_is_empty(app_ctx):
    user = db.session.execute(select(MesUser).filter_by(username="material")).scalar_one()
    user.lines = []
    db.session.commit()
    material = actor("material")
    assert material.scope.mode == "LINES" and line_codes(material) == [] and station_codes(material) == []


def test_the_widest_role_scope_wins(app_ctx):
    from flask_appbuilder.security.sqla.models import Role
    user = db.session.execute(select(MesUser).filter_by(username="operator2")).scalar_one()
    user.roles.append(db.session.execute(select(Role).filter_by(name="Planner")).scalar_one())
    db.session.commit()
    assert actor("operator2").scope.mode == "ALL"


def test_security_changes_bump_the_version_and_refresh_cached_permissions(app_ctx):
    operator = actor("operator")
    assert not operator.can("product:write")
    version = db.session.execute(select(SecurityVersion.version)).scalar_one()
    from flask_appbuilder.security.sqla.models import Role
    user = db.session.execute(select(MesUser).filter_by(username="operator")).scalar_one()
    user.roles.append(db.session.execute(select(Role).filter_by(name="Engineer")).scalar_one())
    db.session.commit()
    assert db.session.execute(select(SecurityVersion.version)).scalar_one() > version
    assert actor("operator").can("product:write")


def test_role_scope_change_takes_effect(app_ctx):
    from flask_appbuilder.security.sqla.models import Role
    role_id = db.session.execute(select(Role.id).filter_by(name="Operator")).scalar_one()
    db.session.get(RoleScope, role_id).scope = "ALL"
    db.session.commit()
    assert actor("operator2").scope.mode == "ALL"


def test_permission_change_reaches_the_api_at_once(api, app):
    assert api("planner").post("/api/v1/products/", json={}).status_code == 403
    with app.app_context():
        from flask_appbuilder.security.sqla.models import Role
        sm = app.appbuilder.sm
        planner = db.session.execute(select(Role).filter_by(name="Planner")).scalar_one()
        planner.permissions.append(sm.find_permission_view_menu("can_write", "Product"))
        db.session.commit()
    assert api("planner").post("/api/v1/products/", json={}).status_code == 422
