from flask_smorest import Blueprint

blp = Blueprint("api_declare", __name__, url_prefix="/api/v1", description="Declarations")
