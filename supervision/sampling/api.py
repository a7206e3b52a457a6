"""JSON API of spot-check sampling (双随机): plans, draws, their reproduction, inspector pools
(/api/v1/supervision/sampling).

Thin: parse with a load schema, call ``sampling.operations``, dump with the schema of the
audience. Bearer tokens only (core.auth). A regulator sees and acts on the plans and draws of
the regions it covers and on its own inspector pool; anything else answers 404 (ids reveal
nothing), and other roles get 403 on regulator endpoints. Refused input answers 422 with the
field that is wrong.

Public, no token needed: the publicised sample lists (抽查名单公示) with their items, strata,
recorded population and redo. ``GET``/``POST /draws/{id}/redo`` recomputes a draw from the seed
and the recorded population (or from a population file and parameters the caller uploads) and
says whether the sample is identical. Before a draw is publicised only its regulators see it.
"""

from __future__ import annotations

import json

from flask import Response, request
from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import func, select

from core.api_helpers import Blueprint, abort
from core.auth import api_user
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.models import Role
from supervision.sampling import operations as draws
from supervision.models import Draw, SamplingPlan
from supervision.sampling import queries
from supervision.sampling.schemas import (
    SamplingAllocationOut,
    SamplingDrawIn,
    SamplingDrawOut,
    SamplingExclusionOut,
    SamplingInspectorIn,
    SamplingInspectorOut,
    SamplingInspectorPatchIn,
    SamplingItemOut,
    SamplingPlanIn,
    SamplingPlanOut,
    SamplingPlanPatchIn,
    SamplingRedoOut,
    SamplingRedoUploadIn,
)
from supervision.sampling.queries import (
    draw_items,
    exclusion_rows,
    population_filename,
    redo_limit,
)

blp = Blueprint(
    "api_sampling",
    __name__,
    url_prefix="/api/v1/supervision/sampling",
    description="Spot-check sampling (双随机): plans, reproducible draws with their recorded "
    "population, publicised sample lists, redo, inspector pools",
)


_documented = blp.documented
regulator_only = blp.roles_only(Role.REGULATOR)
public_or_token = blp.public_or_token


# --------------------------------------------------------------------------- lookups


def _plan(plan_id: int) -> SamplingPlan:
    plan = draws.plan_for(api_user(), plan_id)
    if plan is None:
        abort(404, _("Sampling plan %(id)d not found.", id=plan_id))
    return plan


def _own_draw(draw_id: int) -> Draw:
    found = draws.draw_for(api_user(), draw_id)
    if found is None:
        abort(404, _("Draw %(id)d not found.", id=draw_id))
    return found


def _visible_draw(draw_id: int) -> tuple[Draw, bool]:
    """(draw, the caller is one of its regulators): public draws for anyone."""
    found = queries.visible_draw(api_user(), draw_id)
    if found is None:
        abort(404, _("Draw %(id)d not found.", id=draw_id))
    return found


def _page(items: list, pagination_parameters) -> list:
    pagination_parameters.item_count = len(items)
    page, size = pagination_parameters.page, pagination_parameters.page_size
    return items[(page - 1) * size : page * size]


# --------------------------------------------------------------------------- plans


@blp.route("/plans")
class Plans(MethodView):
    @regulator_only
    @blp.response(200, SamplingPlanOut(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, pagination_parameters):
        """The plans of the regions the calling regulator covers, newest first."""
        return _page(draws.plans_for(api_user()), pagination_parameters)

    @regulator_only
    @blp.arguments(SamplingPlanIn)
    @blp.response(201, SamplingPlanOut)
    @_documented(422)
    def post(self, data):
        """Make a sampling plan: scope (region inside yours, categories, period), size (a
        ratio of at least the minimum, rounded up, or a count), strata, exclusions, how much
        risk raises the inclusion probability, inspectors per object."""
        return draws.create_plan(api_user(), data)


@blp.route("/plans/<int:plan_id>")
class PlanResource(MethodView):
    @regulator_only
    @blp.response(200, SamplingPlanOut)
    @_documented(404)
    def get(self, plan_id: int):
        """One plan of the caller's region."""
        return _plan(plan_id)

    @regulator_only
    @blp.arguments(SamplingPlanIn)
    @blp.response(200, SamplingPlanOut)
    @_documented(404, 422)
    def put(self, data, plan_id: int):
        """Replace a plan's rules (only while no sample was drawn with it); fields left out
        take their defaults."""
        return draws.update_plan(_plan(plan_id), data, user=api_user(), replace=True)

    @regulator_only
    @blp.arguments(SamplingPlanPatchIn(partial=True))
    @blp.response(200, SamplingPlanOut)
    @_documented(404, 422)
    def patch(self, data, plan_id: int):
        """Change some rules of a plan (the others keep their values)."""
        return draws.update_plan(_plan(plan_id), data, user=api_user())


@blp.route("/plans/<int:plan_id>/draws")
class PlanDraws(MethodView):
    @regulator_only
    @blp.response(200, SamplingDrawOut(many=True))
    @_documented(404)
    def get(self, plan_id: int):
        """The draws made with a plan, newest first."""
        return draws.draws_for(_plan(plan_id))

    @regulator_only
    @blp.arguments(SamplingDrawIn)
    @blp.response(201, SamplingDrawOut)
    @_documented(404, 422)
    def post(self, data, plan_id: int):
        """Draw a sample now, with a seed (a number, or a public text such as a lottery
        result), record it with its population, and assign inspectors at random.

        Synchronous (see ``supervision.sampling.operations``: about a second of CPU for a region of
        50,000 declarations).
        """
        return draws.create_draw(
            _plan(plan_id),
            api_user(),
            seed=data.get("seed"),
            seed_text=data.get("seed_text"),
            complaint_declaration_ids=data.get("complaint_declaration_ids") or [],
            complaint_ids=data.get("complaint_ids") or [],
        )


# --------------------------------------------------------------------------- draws


@blp.route("/draws", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, SamplingDrawOut(many=True))
@blp.paginate(page_size=20, max_page_size=100)
def public_draws(pagination_parameters):
    """Publicised sample lists (抽查名单公示), newest first; no token needed."""
    base = select(Draw).where(Draw.status.in_(draws.PUBLIC_STATUSES))
    pagination_parameters.item_count = db.session.scalar(
        select(func.count()).select_from(base.subquery())
    )
    page, size = pagination_parameters.page, pagination_parameters.page_size
    return db.session.scalars(
        base.order_by(Draw.publicised_at.desc(), Draw.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()


@blp.route("/draws/<int:draw_id>", methods=["GET"])
@public_or_token
@blp.response(200, SamplingDrawOut)
@_documented(404)
def get_draw(draw_id: int):
    """A draw: its seed, method, parameters, population hash and sizes. Public once its sample
    list is publicised; before that, its regulators only."""
    return _visible_draw(draw_id)[0]


@blp.route("/draws/<int:draw_id>/items", methods=["GET"])
@public_or_token
@blp.response(200, SamplingItemOut(many=True))
@blp.paginate(page_size=100, max_page_size=1000)
@_documented(404)
def get_items(pagination_parameters, draw_id: int):
    """The sampled objects in draw order, each with why it is there (random, risk-weighted,
    complaint-triggered), its stratum and inclusion probability. Risk scores, inspections and
    inspectors are given to the draw's regulators only."""
    found, mine = _visible_draw(draw_id)
    page, size = pagination_parameters.page, pagination_parameters.page_size
    items = draw_items(found, page=page, per_page=size)
    pagination_parameters.item_count = items.total
    out = []
    for row in items.rows:
        entry = dict(row)
        if not mine:
            for key in ("risk_score", "inspection_id", "inspector_ids"):
                entry.pop(key, None)
        out.append(entry)
    return out


@blp.route("/draws/<int:draw_id>/exclusions", methods=["GET"])
@public_or_token
@blp.response(200, SamplingExclusionOut(many=True))
@blp.paginate(page_size=100, max_page_size=1000)
@_documented(404)
def get_exclusions(pagination_parameters, draw_id: int):
    """The objects excluded before the draw, each with its recorded reason (drawn in an
    earlier draw within the exclusion window: which draw, when)."""
    found, _mine = _visible_draw(draw_id)
    page, size = pagination_parameters.page, pagination_parameters.page_size
    total, rows = exclusion_rows(found, page=page, per_page=size)
    pagination_parameters.item_count = total
    return rows


@blp.route("/draws/<int:draw_id>/allocation", methods=["GET"])
@public_or_token
@blp.response(200, SamplingAllocationOut(many=True))
@_documented(404)
def get_allocation(draw_id: int):
    """Per stratum: the random frame, the sample drawn from it, the excluded and the
    complaint-triggered objects."""
    found, _mine = _visible_draw(draw_id)
    return draws.allocation_of(found).to_dict(orient="records")


@blp.route("/draws/<int:draw_id>/population", methods=["GET"])
@public_or_token
@blp.response(200, description="gzip'd canonical CSV: id,stratum,weight,risk,excluded,"
              "exclusion_reason,forced")
@_documented(404)
def get_population(draw_id: int):
    """The recorded population, byte for byte (its SHA-256 population hash is in the draw)."""
    found, _mine = _visible_draw(draw_id)
    return Response(
        found.population_csv_gz,
        mimetype="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{population_filename(found)}"'},
    )


@blp.route("/draws/<int:draw_id>/publicise", methods=["POST"])
@regulator_only
@blp.response(200, SamplingDrawOut)
@_documented(404, 422)
def publicise(draw_id: int):
    """Publicise the sample list (抽查名单公示): the items, the seed, the recorded population
    and the redo become public."""
    return draws.publicise_draw(_own_draw(draw_id), api_user())


def _uploaded_params(files) -> dict | None:
    upload = files.get("params")
    text = upload.read().decode("utf-8-sig", "replace") if upload else request.form.get("params")
    if not text:
        return None
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed({"params": [_("The parameters are not JSON: %(detail)s",
                                             detail=str(exc))]}) from None
    if not isinstance(params, dict):
        raise ValidationFailed({"params": [_("The parameters are a JSON object, as recorded "
                                             "with the draw.")]})
    return params


def _uploaded_population(files):
    upload = files.get("population")
    if not upload:
        return None
    try:
        return draws.read_population(upload.read())
    except ValueError as exc:
        raise ValidationFailed({"population": [_("The population file cannot be read: "
                                                 "%(detail)s", detail=str(exc))]}) from None


@blp.route("/draws/<int:draw_id>/redo")
class Redo(MethodView):
    decorators = (limiter.limit(redo_limit),)

    @public_or_token
    @blp.response(200, SamplingRedoOut)
    @_documented(404, 429)
    def get(self, draw_id: int):
        """Redo the draw from its recorded seed, parameters and population and compare with
        the stored sample: ``identical`` true, or what differs. Anyone may call it once the
        sample list is publicised."""
        found, _mine = _visible_draw(draw_id)
        return draws.redo_draw(found).to_dict()

    @public_or_token
    @blp.arguments(SamplingRedoUploadIn, location="files")
    @blp.response(200, SamplingRedoOut)
    @_documented(404, 422, 429)
    def post(self, files, draw_id: int):
        """The same, with your own copy of the population (multipart file ``population``,
        CSV or CSV.gz) and/or parameters (file or form field ``params``, JSON)."""
        found, _mine = _visible_draw(draw_id)
        population = _uploaded_population(files)
        params = _uploaded_params(files)
        return draws.redo_draw(found, population=population, params=params).to_dict()


# --------------------------------------------------------------------------- inspectors


def _inspector(inspector_id: int):
    found = draws.inspector_for(api_user(), inspector_id)
    if found is None:
        abort(404, _("Inspector %(id)d not found.", id=inspector_id))
    return found


@blp.route("/inspectors")
class Inspectors(MethodView):
    @regulator_only
    @blp.response(200, SamplingInspectorOut(many=True))
    def get(self):
        """The calling regulator's inspector pool (执法检查人员库), by staff number."""
        return draws.inspectors_of(api_user())

    @regulator_only
    @blp.arguments(SamplingInspectorIn)
    @blp.response(201, SamplingInspectorOut)
    @_documented(422)
    def post(self, data):
        """Add an inspector with the enterprises and regions they are recused from."""
        return draws.create_inspector(api_user(), data)


@blp.route("/inspectors/<int:inspector_id>")
class InspectorResource(MethodView):
    @regulator_only
    @blp.response(200, SamplingInspectorOut)
    @_documented(404)
    def get(self, inspector_id: int):
        """One inspector of the caller's pool."""
        return _inspector(inspector_id)

    @regulator_only
    @blp.arguments(SamplingInspectorIn)
    @blp.response(200, SamplingInspectorOut)
    @_documented(404, 422)
    def put(self, data, inspector_id: int):
        """Replace an inspector's details and ties (later draws use them); fields left out
        take their defaults."""
        return draws.update_inspector(_inspector(inspector_id), data, user=api_user(),
                                      replace=True)

    @regulator_only
    @blp.arguments(SamplingInspectorPatchIn(partial=True))
    @blp.response(200, SamplingInspectorOut)
    @_documented(404, 422)
    def patch(self, data, inspector_id: int):
        """Change some of an inspector's details; ``active: false`` takes them out of the
        pool drawn from (inspectors are never deleted: inspections name them)."""
        return draws.update_inspector(_inspector(inspector_id), data, user=api_user())


__all__ = ["blp"]
