from flask import Blueprint

bp = Blueprint("declare", __name__)


@bp.get("/declarations")
def search():
    return "search"


@bp.get("/my/declarations")
def my_declarations():
    return "mine"


@bp.get("/register")
def register():
    return "register"
