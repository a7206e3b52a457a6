"""JSON API of 企业标准"领跑者" (/api/v1/ranking): plans, runs, publicity, objections,
publication, public leaderboards and an enterprise's own positions.

Thin: parse with a load schema, call the operations / ``ranking.queries``, dump with the
schema of the audience. Bearer tokens only (core.auth). An evaluation body sees only its own
plans and runs: anyone else's answer 404 (ids reveal nothing); other roles get 403 on
evaluator endpoints. Refused input answers 422 with the operation's dotted field paths.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import select

from core.api_helpers import Blueprint, abort
from core.auth import api_user
from core.extensions import db, limiter
from core.i18n import render_coded
from core.models import OutboxJob, Role
from core.schemas import JobOut
from ranking import plans, publicity, queries
from ranking.models import (
    EvaluationPlan,
    Objection,
    RankingRun,
    RunEntry,
    RunKind,
)
from ranking.schemas import (
    EntriesArgs,
    EntryOut,
    ExclusionOut,
    IndicatorTiersOut,
    LeaderboardOut,
    LeaderOut,
    ObjectionFiledOut,
    ObjectionIn,
    ObjectionOut,
    PlanIn,
    PlanOut,
    PlanPatchIn,
    PositionOut,
    PublicityIn,
    ResolveIn,
    RunOut,
)
from ranking.boards import (
    PUBLIC_RUN_STATUSES,
    entry_labels,
    exclusion_text,
    indicator_key,
    pointer_runs,
    public_run,
)

blp = Blueprint(
    "api_ranking",
    __name__,
    url_prefix="/api/v1/ranking",
    description='企业标准"领跑者": evaluation plans, ranking runs, publicity, objections, '
    "leader lists and leaderboards",
)


_documented = blp.documented
evaluator_only = blp.roles_only(Role.EVALUATOR)
enterprise_only = blp.roles_only(Role.ENTERPRISE)
public = blp.public


# --------------------------------------------------------------------------- lookups


def _own_plan(plan_id: int) -> EvaluationPlan:
    plan = db.session.get(EvaluationPlan, plan_id)
    if plan is None or plan.evaluator_id != api_user().id:
        abort(404, _("Evaluation plan %(id)d not found.", id=plan_id))
    return plan


def _own_run(run_id: int) -> RankingRun:
    run = db.session.get(RankingRun, run_id)
    if run is None or run.plan.evaluator_id != api_user().id:
        abort(404, _("Ranking run %(id)d not found.", id=run_id))
    return run


def _is_owner(run: RankingRun) -> bool:
    user = api_user()
    return user is not None and user.role is Role.EVALUATOR and run.plan.evaluator_id == user.id


def _visible_run(run_id: int) -> RankingRun:
    """Public runs (previews, lists under publicity or published) or the caller's own."""
    run = db.session.get(RankingRun, run_id)
    if run is None or (public_run(run) is None and not _is_owner(run)):
        abort(404, _("Ranking run %(id)d not found.", id=run_id))
    return run


def _entry_dict(entry: RunEntry, labels: dict, *, reasons: bool = True) -> dict:
    """An entry for the API; ``reasons=False`` leaves out why an entry was excluded (the
    evaluation body and the enterprise itself see that, not the public)."""
    label = labels.get(entry.id)
    return {
        "id": entry.id,
        "declaration_id": entry.declaration_id,
        "enterprise_id": entry.enterprise_id,
        "enterprise": label.enterprise if label else "",
        "standard_code": label.standard_code if label else "",
        "standard_title": label.standard_title if label else "",
        "product": label.product if label else None,
        "model": label.model if label else None,
        "eligible": entry.eligible,
        "values": entry.values or {},
        "tiers": entry.tiers or {},
        "composite": entry.composite,
        "composite_rank": entry.composite_rank,
        "is_leader": entry.is_leader,
        "stars": entry.stars or 0,
        "removed_reason": render_coded(entry.removed_reason),
        "exclusion_reasons": [
            {"code": r.get("code", ""), "detail": exclusion_text(r)}
            for r in (entry.exclusion_reasons or [])
            if isinstance(r, dict) and reasons
        ],
    }


def _job_dict(job: OutboxJob) -> dict:
    return {
        "id": job.id,
        "status": job.status,
        "func": job.func,
        "created_at": job.created_at,
        "dispatched_at": job.dispatched_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": job.progress,
        "message": job.progress_message,
    }


# --------------------------------------------------------------------------- plans


@blp.route("/plans")
class Plans(MethodView):
    @evaluator_only
    @blp.response(200, PlanOut(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, pagination_parameters):
        """The calling evaluation body's plans (every version), newest first."""
        plans = list(queries.plans_of(api_user()))
        pagination_parameters.item_count = len(plans)
        page, size = pagination_parameters.page, pagination_parameters.page_size
        return plans[(page - 1) * size : page * size]

    @evaluator_only
    @blp.arguments(PlanIn)
    @blp.response(201, PlanOut)
    @_documented(422)
    def post(self, data):
        """Create an evaluation plan (评估方案), as a draft, version 1.

        At least 3 core indicators of the category's benchmarks; cut points best first,
        strictly ordered in the indicator's direction. Refusals name the field
        (``indicators.1.cuts``, ``leader_rule.n``).
        """
        plan = plans.create_plan(api_user(), data)
        db.session.flush()
        return plan


@blp.route("/plans/<int:plan_id>")
class PlanResource(MethodView):
    @evaluator_only
    @blp.response(200, PlanOut)
    @_documented(404)
    def get(self, plan_id: int):
        """One of the caller's plans."""
        return _own_plan(plan_id)

    @evaluator_only
    @blp.arguments(PlanIn)
    @blp.response(200, PlanOut)
    @_documented(404, 422)
    def put(self, data, plan_id: int):
        """Replace a plan: a draft changes in place, an active plan gets a new version."""
        plan = plans.update_plan(_own_plan(plan_id), data, user=api_user())
        db.session.flush()
        return plan

    @evaluator_only
    @blp.arguments(PlanPatchIn(partial=True))
    @blp.response(200, PlanOut)
    @_documented(404, 422)
    def patch(self, data, plan_id: int):
        """Change some fields of a plan (the others keep their values); an active plan gets a
        new version."""
        plan = plans.update_plan(_own_plan(plan_id), data, user=api_user())
        db.session.flush()
        return plan


@blp.route("/plans/<int:plan_id>/activate", methods=["POST"])
@evaluator_only
@blp.response(200, PlanOut)
@_documented(404, 422)
def activate_plan(plan_id: int):
    """Activate a plan: preview leaderboards start regenerating, official runs may be made."""
    return plans.activate_plan(_own_plan(plan_id), user=api_user())


@blp.route("/plans/<int:plan_id>/jobs", methods=["GET"])
@evaluator_only
@blp.response(200, JobOut(many=True))
@_documented(404)
def plan_jobs(plan_id: int):
    """The plan's ranking jobs with status and progress, newest first."""
    return [_job_dict(j) for j in queries.plan_jobs(_own_plan(plan_id))]


@blp.route("/plans/<int:plan_id>/runs")
class PlanRuns(MethodView):
    @evaluator_only
    @blp.response(200, RunOut(many=True))
    @_documented(404)
    def get(self, plan_id: int):
        """The official runs of every version of the plan, newest first."""
        plan = _own_plan(plan_id)
        return db.session.scalars(
            select(RankingRun)
            .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
            .where(EvaluationPlan.plan_key == plan.plan_key, RankingRun.kind == RunKind.OFFICIAL)
            .order_by(RankingRun.created_at.desc(), RankingRun.id.desc())
            .limit(100)
        ).all()

    @evaluator_only
    @blp.response(202, JobOut)
    @_documented(404, 422)
    def post(self, plan_id: int):
        """Start an official ranking run: a job on the ``ranking`` queue (202 with its id).

        Follow it with GET …/plans/{plan_id}/jobs; the finished run is listed by GET
        …/plans/{plan_id}/runs.
        """
        job = plans.start_official_run(_own_plan(plan_id), api_user())
        db.session.flush()
        return _job_dict(job)


# --------------------------------------------------------------------------- runs


@blp.route("/runs/<int:run_id>", methods=["GET"])
@blp.doc(security=[{}, {"bearer": []}])
@blp.response(200, RunOut)
@_documented(404)
def get_run(run_id: int):
    """A run: public when it is a preview, under publicity or published; else its owner's."""
    return _visible_run(run_id)


@blp.route("/runs/<int:run_id>/entries", methods=["GET"])
@blp.doc(security=[{}, {"bearer": []}])
@blp.arguments(EntriesArgs, location="query")
@blp.response(200, EntryOut(many=True))
@blp.paginate(page_size=50, max_page_size=500)
@_documented(404)
def run_entries(args, pagination_parameters, run_id: int):
    """The run's entries: eligible ones by composite rank (or by one indicator's tier with
    ``indicator_key``: no order inside a tier, 排名不分先后), then the excluded ones. Exclusion
    reasons are given to the run's evaluation body only (an enterprise reads its own under
    /positions/me)."""
    run = _visible_run(run_id)
    key = args.get("indicator_key")
    if key is not None and key not in {indicator_key(pi) for pi in run.plan.indicators}:
        abort(422, _("indicator_key: “%(key)s” is not a core indicator of this plan; use one "
                     "of %(keys)s.", key=key,
                     keys=", ".join(indicator_key(pi) for pi in run.plan.indicators)))
    result = queries.run_entries(
        run,
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        indicator_key=key,
    )
    pagination_parameters.item_count = result.total
    labels = entry_labels(result.items)
    owner = _is_owner(run)
    return [_entry_dict(e, labels, reasons=owner) for e in result.items]


@blp.route("/runs/<int:run_id>/tiers", methods=["GET"])
@blp.doc(security=[{}, {"bearer": []}])
@blp.response(200, IndicatorTiersOut(many=True))
@_documented(404)
def run_tiers(run_id: int):
    """For each core indicator: ranked or not (all values equal), and its tiers with their
    entries, listed without order (排名不分先后) by enterprise name."""
    run = _visible_run(run_id)
    out = []
    for pi in run.plan.indicators:
        key = indicator_key(pi)
        found = queries.tiers_of(run, key)
        status = (run.indicator_status or {}).get(key) or {}
        tiers = []
        for group in found["tiers"]:
            values = [row.value for row in group["entries"] if row.value is not None]
            tiers.append(
                {
                    "tier": group["tier"],
                    "count": len(group["entries"]),
                    "low": min(values) if values else None,
                    "high": max(values) if values else None,
                    "entries": [
                        {
                            "id": row.entry_id,
                            "declaration_id": row.declaration_id,
                            "enterprise": row.enterprise,
                            "values": {key: row.value},
                        }
                        for row in group["entries"]
                    ],
                }
            )
        out.append(
            {
                "key": key,
                "name": pi.benchmark.name if pi.benchmark is not None else key,
                "unit": pi.unit,
                "direction": pi.direction,
                "ranked": found["ranked"],
                "reason": found["reason"] or status.get("reason"),
                "tiers": tiers,
            }
        )
    return out


@blp.route("/runs/<int:run_id>/leaders", methods=["GET"])
@blp.doc(security=[{}, {"bearer": []}])
@blp.response(200, LeaderOut(many=True))
@_documented(404)
def run_leaders(run_id: int):
    """The leader list with the label data, and removed leaders with the reason."""
    run = _visible_run(run_id)
    entries = list(queries.leaders_of(run))
    labels = entry_labels(entries)
    out = []
    for e in entries:
        label = labels.get(e.id)
        out.append(
            {
                "entry_id": e.id,
                "declaration_id": e.declaration_id,
                "enterprise": label.enterprise if label else "",
                "uscc": label.uscc if label else "",
                "standard_code": label.standard_code if label else "",
                "standard_title": label.standard_title if label else "",
                "product": label.product if label else None,
                "model": label.model if label else None,
                "year": run.plan.year,
                "stars": e.stars or 0,
                "composite": e.composite,
                "composite_rank": e.composite_rank,
                "removed": bool(e.removed_reason),
                "removed_reason": render_coded(e.removed_reason),
            }
        )
    return out


@blp.route("/runs/<int:run_id>/exclusions", methods=["GET"])
@evaluator_only
@blp.response(200, ExclusionOut(many=True))
@blp.paginate(page_size=50, max_page_size=500)
@_documented(404)
def run_exclusions(pagination_parameters, run_id: int):
    """Excluded declarations with every reason (the evaluation body's own runs)."""
    run = _own_run(run_id)
    entries = list(queries.exclusions_of(run))
    pagination_parameters.item_count = len(entries)
    page, size = pagination_parameters.page, pagination_parameters.page_size
    shown = entries[(page - 1) * size : page * size]
    labels = entry_labels(shown)
    return [
        {
            "entry_id": e.id,
            "declaration_id": e.declaration_id,
            "enterprise": labels[e.id].enterprise if e.id in labels else "",
            "standard_code": labels[e.id].standard_code if e.id in labels else "",
            "reasons": [
                {"code": r.get("code", ""), "detail": exclusion_text(r)}
                for r in (e.exclusion_reasons or [])
                if isinstance(r, dict)
            ],
        }
        for e in shown
    ]


@blp.route("/runs/<int:run_id>/publicity", methods=["POST"])
@evaluator_only
@blp.arguments(PublicityIn)
@blp.response(200, RunOut)
@_documented(404, 422)
def start_publicity(data, run_id: int):
    """Start the publicity (公示) of an official run: from ``start`` (default today) for the
    plan's publicity days."""
    return publicity.start_publicity(_own_run(run_id), data.get("start"), user=api_user())


@blp.route("/runs/<int:run_id>/publish", methods=["POST"])
@evaluator_only
@blp.response(200, RunOut)
@_documented(404, 422)
def publish_run(run_id: int):
    """Publish the leader list after publicity; a published list never changes."""
    return publicity.publish_run(_own_run(run_id), api_user())


def _objection_limit() -> str:
    return current_app.config.get("OBJECTION_RATE_LIMIT", "5 per minute")


@blp.route("/runs/<int:run_id>/objections")
class RunObjections(MethodView):
    @evaluator_only
    @blp.response(200, ObjectionOut(many=True))
    @_documented(404)
    def get(self, run_id: int):
        """The objections to a run, with the objectors' contacts (its evaluation body)."""
        run = _own_run(run_id)
        return db.session.scalars(
            select(Objection).where(Objection.run_id == run.id).order_by(Objection.created_at)
        ).all()

    @limiter.limit(_objection_limit)
    @public
    @blp.arguments(ObjectionIn)
    @blp.response(201, ObjectionFiledOut)
    @_documented(404, 422, 429)
    def post(self, data, run_id: int):
        """File an objection (异议) to a list under publicity; anyone may, no token needed."""
        run = db.session.get(RankingRun, run_id)
        if run is None or run.kind is not RunKind.OFFICIAL or run.status not in PUBLIC_RUN_STATUSES:
            abort(404, _("Ranking run %(id)d not found.", id=run_id))
        objection = publicity.file_objection(
            run,
            name=data["name"],
            contact=data["contact"],
            text=data["text"],
            entry_id=data.get("entry_id"),
        )
        db.session.flush()
        return objection


@blp.route("/objections/<int:objection_id>/resolve", methods=["POST"])
@evaluator_only
@blp.arguments(ResolveIn)
@blp.response(200, ObjectionOut)
@_documented(404, 422)
def resolve_objection(data, objection_id: int):
    """Accept (the ranking is run again) or reject an objection; the reason is required."""
    objection = db.session.get(Objection, objection_id)
    if objection is None or objection.run.plan.evaluator_id != api_user().id:
        abort(404, _("Objection %(id)d not found.", id=objection_id))
    return publicity.resolve_objection(
        objection, accept=data["accept"], response=data["response"], user=api_user()
    )


# --------------------------------------------------------------------------- public


@blp.route("/leaderboards", methods=["GET"])
@public
@blp.response(200, LeaderboardOut(many=True))
@blp.paginate(page_size=20, max_page_size=100)
def leaderboards(pagination_parameters):
    """Every active plan with its current official list (under publicity or published) and its
    current preview (unofficial, regenerated as declarations change)."""
    plans = list(queries.public_plans())
    pagination_parameters.item_count = len(plans)
    page, size = pagination_parameters.page, pagination_parameters.page_size
    plans = plans[(page - 1) * size : page * size]
    current = pointer_runs([p.plan_key for p in plans])
    return [
        {
            "plan": p,
            "official": public_run(current.get((p.plan_key, RunKind.OFFICIAL))),
            "preview": current.get((p.plan_key, RunKind.PREVIEW)),
        }
        for p in plans
    ]


@blp.route("/leaderboards/<plan_key>", methods=["GET"])
@public
@blp.response(200, LeaderboardOut)
@_documented(404)
def leaderboard(plan_key: str):
    """One plan's current official list and preview (follow the run ids for entries, tiers
    and leaders)."""
    current = pointer_runs([plan_key])
    official = public_run(current.get((plan_key, RunKind.OFFICIAL)))
    preview = current.get((plan_key, RunKind.PREVIEW))
    if official is None and preview is None:
        abort(404, _("No leaderboard for plan “%(key)s”.", key=plan_key))
    return {"plan": (official or preview).plan, "official": official, "preview": preview}


# --------------------------------------------------------------------------- enterprise


@blp.route("/positions/me", methods=["GET"])
@enterprise_only
@blp.response(200, PositionOut(many=True))
def my_positions():
    """Where each of the calling enterprise's declarations stands in the current lists: tier
    per indicator, composite rank, leader status, or the exclusion reasons."""
    positions = queries.positions_of(api_user().enterprise)
    labels = entry_labels([p.entry for p in positions])
    out = []
    for p in positions:
        entry, run = p.entry, p.run
        out.append(
            {
                "plan_id": run.plan_id,
                "plan_key": run.plan.plan_key,
                "plan_title": run.plan.title,
                "run_id": run.id,
                "run_kind": run.kind.value,
                "run_status": run.status.value,
                "entry": _entry_dict(entry, labels),
            }
        )
    return out


__all__ = ["blp"]
