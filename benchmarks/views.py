from flask import Blueprint

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


@bp.get("/standards")
def standards():
    return "catalogue"


@bp.get("/admin/import")
def admin_import():
    return "import"
