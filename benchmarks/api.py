from flask_smorest import Blueprint

blp = Blueprint("api_catalogue", __name__, url_prefix="/api/v1/catalogue", description="Catalogue")
