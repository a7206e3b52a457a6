"""An official run's lifecycle: publicity (公示), objections (异议) and their resolution (an
accepted one re-runs the list as a new version), publication, and removals of leaders
(dynamic management). Flushes, never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, insert, literal, select

from benchmarks.models import BenchmarkIndicator
from core.clock import local_date, local_today
from core.errors import ValidationFailed
from core.extensions import db
from core.models import User, utcnow
from core.notifications import notify_address, notify_enterprises
from core.validation import Errors as _Errors
from core.validation import integer as _integer
from core.validation import refuse as _refuse
from core.validation import text as _text
from declare.models import (
    ComplianceRecord,
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Indicator,
)
from ranking import eligibility
from ranking import reasons as coded_reasons
from ranking.models import (
    EvaluationPlan,
    Objection,
    ObjectionStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)
from ranking.plans import _require_owner, min_publicity_days, status_word
from ranking.runs import _next_list_version, _plan_key_runs, _pointer, _switch, build_run

__all__ = [
    "file_objection",
    "publish_run",
    "record_removal",
    "resolve_objection",
    "start_publicity",
]

# --------------------------------------------------------------------------- lifecycle


def _official_run(run: RankingRun, *states: RunStatus) -> None:
    if run.kind is not RunKind.OFFICIAL:
        raise _refuse(_("A preview leaderboard is unofficial; only official runs are "
                        "publicised and published."))
    if states and run.status not in states:
        raise _refuse(_("This run is %(status)s; that step is not possible now.",
                        status=status_word(run.status)))


def publicity_end(plan: EvaluationPlan, start: date) -> date:
    """The last day of a publicity period starting on ``start`` (inclusive): the plan's days,
    never fewer than ``PUBLICITY_DAYS``."""
    return start + timedelta(days=max(plan.publicity_days, min_publicity_days()) - 1)


def start_publicity(
    run: RankingRun,
    start: date | None = None,
    *,
    user: User | None = None,
    today: date | None = None,
) -> RankingRun:
    """公示: the computed official run becomes the public official list; objections open.

    The period starts no earlier than today (``today``: the clock, default the local date)
    nor than the day the run was computed, and lasts ``publicity_end`` days: a backdated start
    would shorten or skip the time the public has to object."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.COMPUTED)
    plan = run.plan
    other = db.session.scalar(
        _plan_key_runs(plan.plan_key).where(
            RankingRun.status == RunStatus.PUBLICITY, RankingRun.id != run.id
        )
    )
    if other is not None:
        raise _refuse(_("Run %(id)d of this plan is in publicity; publish it, or accept an "
                        "objection, before publicising another.", id=other))
    today = today or local_today()
    start = start or today
    if not isinstance(start, date):
        raise _refuse(_("Enter a date as yyyy-MM-dd."), "start")
    if start < today:
        raise _refuse(_("Publicity cannot start in the past: choose %(today)s or later.",
                        today=today.isoformat()), "start")
    computed = local_date(run.created_at) if run.created_at is not None else today
    if start < computed:
        raise _refuse(_("Publicity cannot start before the run it publicises was computed "
                        "(%(day)s).", day=computed.isoformat()), "start")
    next_version = _next_list_version(plan.plan_key)
    run.status = RunStatus.PUBLICITY
    run.publicity_start = start
    run.publicity_end = publicity_end(plan, start)
    if run.previous_run_id is None:  # a fresh run: the next version of the official list
        run.list_version = next_version
    db.session.flush()
    _switch(plan.plan_key, RunKind.OFFICIAL, run)
    db.session.flush()
    run = _without_lost_leaders(run, user)
    _notify_leaders(run, "leader_publicised")
    return run


def _notify_leaders(run: RankingRun, kind: str) -> None:
    """Tell each leader's enterprise that its declaration is on ``run`` (after the commit)."""
    leaders = db.session.execute(
        select(RunEntry.declaration_id, RunEntry.enterprise_id, RunEntry.version_id)
        .where(RunEntry.run_id == run.id, RunEntry.is_leader.is_(True))
        .order_by(RunEntry.id)
    ).all()
    numbers = _numbers([v for _d, _e, v in leaders])
    for decl_id, enterprise_id, version_id in leaders:
        notify_enterprises(
            [enterprise_id], kind, f"run:{run.id}:{decl_id}",
            run_id=run.id, plan=run.plan.title, standard=numbers.get(version_id, ""),
            end=run.publicity_end.isoformat() if run.publicity_end else "",
        )


def _numbers(version_ids: list[int]) -> dict[int, str]:
    if not version_ids:
        return {}
    return {
        v.id: v.number
        for v in db.session.scalars(
            select(DeclarationVersion).where(DeclarationVersion.id.in_(sorted(set(version_ids))))
        )
    }


def _without_lost_leaders(run: RankingRun, user: User | None) -> RankingRun:
    """Dynamic management before publication: a leader of a list that is not final whose
    declaration ended, was revised below the floor or whose enterprise failed a check since the
    run was computed leaves it now (a new list version, the reason shown); else ``run``."""
    removals = leaders_to_remove(run)
    return remove_leaders(run, removals, user) if removals else run


def file_objection(
    run: RankingRun,
    *,
    name: str,
    contact: str,
    text: str,
    entry_id: int | None = None,
    today: date | None = None,
) -> Objection:
    """异议: anyone may object to a list in publicity, until its last day."""
    today = today or local_today()
    if (
        run.kind is not RunKind.OFFICIAL
        or run.status is not RunStatus.PUBLICITY
        or run.publicity_start is None
        or not run.publicity_start <= today <= run.publicity_end
    ):
        if run.status is RunStatus.PUBLICITY and run.publicity_end is not None:
            raise _refuse(_("Objections can be filed from %(start)s to %(end)s.",
                            start=run.publicity_start.isoformat(),
                            end=run.publicity_end.isoformat()))
        raise _refuse(_("Objections can be filed only while a list is in publicity."))
    errors = _Errors()
    clean = {}
    for field, value, limit, message in (
        ("name", name, 120, _("Enter your name or your organisation's name.")),
        ("contact", contact, 120, _("Enter a telephone number or e-mail address for the reply.")),
        ("text", text, 5000, _("Describe the objection: which entry, what is wrong, why.")),
    ):
        clean[field] = _text(value)
        if not clean[field]:
            errors.add(field, message)
        elif len(clean[field]) > limit:
            errors.add(field, _("At most %(n)d characters.", n=limit))
    entry = None
    if entry_id not in (None, ""):
        eid, ok = _integer(entry_id)
        entry = db.session.get(RunEntry, eid) if ok and eid else None
        if entry is None or entry.run_id != run.id:
            errors.add("entry_id", _("Choose an entry of this list."))
    if errors:
        raise ValidationFailed(dict(errors))
    objection = Objection(run_id=run.id, entry_id=entry.id if entry else None, **clean)
    db.session.add(objection)
    db.session.flush()
    return objection


def _carry_objections(old: RankingRun, new: RankingRun, exclude: int) -> None:
    """Open objections of a replaced run continue on its re-run (same declaration's entry)."""
    rows = db.session.execute(
        select(Objection.id, RunEntry.declaration_id)
        .outerjoin(RunEntry, RunEntry.id == Objection.entry_id)
        .where(
            Objection.run_id == old.id,
            Objection.status == ObjectionStatus.OPEN,
            Objection.id != exclude,
        )
    ).all()
    if not rows:
        return
    decl_ids = {d for _, d in rows if d is not None}
    mapping = dict(
        db.session.execute(
            select(RunEntry.declaration_id, RunEntry.id).where(
                RunEntry.run_id == new.id, RunEntry.declaration_id.in_(decl_ids)
            )
        ).all()
    ) if decl_ids else {}
    for objection_id, decl_id in rows:
        objection = db.session.get(Objection, objection_id)
        objection.run_id = new.id
        objection.entry_id = mapping.get(decl_id) if decl_id is not None else None


def resolve_objection(
    objection: Objection,
    *,
    accept: bool,
    response: str,
    user: User,
    today: date | None = None,
) -> Objection:
    """Accept (re-run now: a new list version in a new publicity period) or reject (with the
    reason, required) an open objection."""
    run = objection.run
    _require_owner(run.plan, user)
    if objection.status is not ObjectionStatus.OPEN:
        raise _refuse(_("This objection was already %(status)s.",
                        status=status_word(objection.status)))
    _official_run(run, RunStatus.PUBLICITY)
    response = _text(response)
    if not accept and not response:
        raise _refuse(
            _("Give the reason for rejecting the objection; it is kept with the list."),
            "response",
        )
    now = utcnow()
    objection.response = response
    objection.resolved_at = now
    if not accept:
        objection.status = ObjectionStatus.REJECTED
        db.session.flush()
        _notify_objector(objection)
        return objection

    reason = coded_reasons.objection_accepted(objection.id, objection.text, response)
    new = build_run(run.plan, RunKind.OFFICIAL, user, previous=run, change_reason=reason)
    start = today or local_today()
    new.status = RunStatus.PUBLICITY
    new.publicity_start = start
    new.publicity_end = publicity_end(run.plan, start)
    run.status = RunStatus.SUPERSEDED
    objection.status = ObjectionStatus.ACCEPTED
    objection.resolved_run_id = new.id
    db.session.flush()
    _carry_objections(run, new, exclude=objection.id)
    _switch(run.plan.plan_key, RunKind.OFFICIAL, new)
    db.session.flush()
    _notify_objector(objection)
    _notify_leaders(new, "leader_publicised")
    return objection


def _notify_objector(objection: Objection) -> None:
    """E-mail the outcome to the objector's contact, when it is an e-mail address."""
    notify_address(
        objection.contact, "objection_outcome", f"objection:{objection.id}",
        id=objection.id, plan=objection.run.plan.title, outcome=objection.status.value,
        response=objection.response,
    )


def publish_run(run: RankingRun, user: User, *, today: date | None = None) -> RankingRun:
    """发布: after the publicity period, with every objection resolved. Immutable afterwards."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.PUBLICITY)
    today = today or local_today()
    if run.publicity_end is None or today <= run.publicity_end:
        raise _refuse(_("The publicity period ends on %(end)s; publish from %(next)s.",
                        end=run.publicity_end.isoformat() if run.publicity_end else "",
                        next=(run.publicity_end + timedelta(days=1)).isoformat()
                        if run.publicity_end else ""))
    open_count = db.session.scalar(
        select(func.count(Objection.id)).where(
            Objection.run_id == run.id, Objection.status == ObjectionStatus.OPEN
        )
    )
    if open_count:
        raise _refuse(_("%(n)d objection(s) are still open; accept or reject each first.",
                        n=open_count))
    run = _without_lost_leaders(run, user)  # never published with a leader that lost its place
    for old in db.session.scalars(
        select(RankingRun).where(
            RankingRun.id.in_(_plan_key_runs(run.plan.plan_key)),
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status == RunStatus.PUBLISHED,
            RankingRun.id != run.id,
        )
    ):
        old.status = RunStatus.SUPERSEDED
    run.status = RunStatus.PUBLISHED
    run.published_at = utcnow()
    db.session.flush()
    _switch(run.plan.plan_key, RunKind.OFFICIAL, run)
    db.session.flush()
    _notify_leaders(run, "leader_published")
    return run


def record_removal(
    run: RankingRun,
    declaration_ids: Iterable[int],
    reason: str,
    *,
    reasons: Mapping[int, str] | None = None,
    user: User | None = None,
) -> RankingRun:
    """动态管理: a new list version without the given leaders, shown removed with their
    reason; the old version is superseded and the official pointer moves (one transaction).
    A published list gets a new published version; a list under publicity a new version
    under publicity with the same period and its open objections. ``reasons`` gives each
    declaration its own reason (default ``reason``)."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.PUBLISHED, RunStatus.PUBLICITY)
    in_publicity = run.status is RunStatus.PUBLICITY
    reason = _text(reason)
    if not reason:
        raise _refuse(_("Give the reason; it is shown on the list."), "reason")
    ids = sorted({int(i) for i in declaration_ids})
    leaders = set(
        db.session.scalars(
            select(RunEntry.declaration_id).where(
                RunEntry.run_id == run.id,
                RunEntry.declaration_id.in_(ids),
                RunEntry.is_leader.is_(True),
            )
        )
    ) if ids else set()
    if not leaders:
        raise _refuse(_("None of these declarations is a leader on this list."),
                      "declaration_ids")
    per_entry = {i: _text((reasons or {}).get(i)) or reason for i in sorted(leaders)}
    now = utcnow()
    digest = hashlib.sha256(
        (run.inputs_hash + json.dumps(sorted(per_entry.items()), ensure_ascii=False)).encode()
    ).hexdigest()
    new = RankingRun(
        plan_id=run.plan_id,
        kind=RunKind.OFFICIAL,
        status=RunStatus.PUBLICITY if in_publicity else RunStatus.PUBLISHED,
        list_version=run.list_version + 1,
        previous_run_id=run.id,
        change_reason=reason,
        inputs_hash=digest,
        as_of=run.as_of,
        entry_count=run.entry_count,
        eligible_count=run.eligible_count,
        indicator_status=run.indicator_status,
        created_by_id=user.id if user is not None else None,
        publicity_start=run.publicity_start,
        publicity_end=run.publicity_end,
        published_at=None if in_publicity else now,
    )
    db.session.add(new)
    db.session.flush()
    removed = RunEntry.declaration_id.in_(sorted(leaders))
    copied = [
        c.key for c in RunEntry.__table__.columns if c.key not in ("id", "run_id")
    ]
    overrides = {
        "is_leader": case((removed, False), else_=RunEntry.is_leader),
        "stars": case((removed, 0), else_=RunEntry.stars),
        "removed_reason": case(per_entry, value=RunEntry.declaration_id,
                               else_=RunEntry.removed_reason),
    }
    source = select(
        literal(new.id).label("run_id"),
        *[overrides.get(c, RunEntry.__table__.c[c]).label(c) for c in copied],
    ).where(RunEntry.run_id == run.id).order_by(RunEntry.id)
    db.session.execute(
        insert(RunEntry.__table__).from_select(["run_id", *copied], source)
    )
    run.status = RunStatus.SUPERSEDED
    db.session.flush()
    if in_publicity:  # the objections continue on the list version that replaces it
        _carry_objections(run, new, exclude=0)
    pointer = _pointer(run.plan.plan_key, RunKind.OFFICIAL, lock=True)
    if pointer is None or pointer.run_id == run.id:
        _switch(run.plan.plan_key, RunKind.OFFICIAL, new)
    db.session.flush()
    removed_rows = db.session.execute(
        select(RunEntry.declaration_id, RunEntry.enterprise_id, RunEntry.version_id)
        .where(RunEntry.run_id == new.id, removed)
    ).all()
    numbers = _numbers([v for _d, _e, v in removed_rows])
    for decl_id, enterprise_id, version_id in removed_rows:
        notify_enterprises(
            [enterprise_id], "leader_removed", f"run:{new.id}:{decl_id}",
            run_id=new.id, plan=run.plan.title, standard=numbers.get(version_id, ""),
            reason=per_entry[decl_id],
        )
    return new


# --------------------------------------------------------------------------- dynamic management


def _below_floor(run: RankingRun, revised: dict[int, int]) -> dict[int, str]:
    """{declaration id: reason} of the leaders whose version in force now (a revision:
    ``revised`` maps declaration → its current version) declares a core indicator worse than
    the plan's floor, or no longer declares it."""
    if not revised:
        return {}
    specs = {pi.benchmark_code: pi for pi in run.plan.indicators}
    values: dict[int, dict[str, float]] = {}
    for version_id, code, value in db.session.execute(
        select(Indicator.version_id, BenchmarkIndicator.code, Indicator.cmp_guaranteed)
        .join(BenchmarkIndicator, BenchmarkIndicator.id == Indicator.benchmark_indicator_id)
        .where(Indicator.version_id.in_(sorted(set(revised.values()))),
               BenchmarkIndicator.code.in_(sorted(specs)))
    ):
        if value is not None:
            values.setdefault(version_id, {})[code] = float(value)
    out: dict[int, str] = {}
    for decl_id, version_id in sorted(revised.items()):
        declared = values.get(version_id, {})
        for code, pi in specs.items():
            value = declared.get(code)
            worse = value is None or (value < pi.floor if pi.direction == "higher"
                                      else value > pi.floor)
            if worse:
                name = pi.benchmark.name if pi.benchmark is not None else code
                name_en = (pi.benchmark.name_en if pi.benchmark is not None else "") or name
                out[decl_id] = (
                    coded_reasons.not_declared(name, name_en)
                    if value is None else
                    coded_reasons.below_floor(name, name_en, f"{value:g}", f"{pi.floor:g}",
                                              pi.unit)
                )
                break
    return out


def leaders_to_remove(run: RankingRun) -> dict[int, str]:
    """{declaration id: reason} of the run's leaders that lost their place: the declaration
    was abolished or revoked, revised below the plan's floor, or the enterprise has a
    non-conforming inspection or a serious record inside the plan's window."""
    rows = db.session.execute(
        select(
            RunEntry.declaration_id,
            RunEntry.enterprise_id,
            Declaration.status,
            DeclarationVersion.ended_at,
            DeclarationVersion.end_reason,
            RunEntry.version_id,
            Declaration.current_version_id,
        )
        .join(Declaration, Declaration.id == RunEntry.declaration_id)
        .outerjoin(DeclarationVersion, DeclarationVersion.id == Declaration.current_version_id)
        .where(RunEntry.run_id == run.id, RunEntry.is_leader.is_(True))
        .order_by(RunEntry.declaration_id)
    ).all()
    if not rows:
        return {}
    window = eligibility.inspection_window(run.plan)
    records: dict[int, ComplianceRecord] = {}
    if window > 0:
        for record in db.session.scalars(
            eligibility.excluding_records(local_today(), window)
            .where(ComplianceRecord.enterprise_id.in_({r.enterprise_id for r in rows}))
            .order_by(ComplianceRecord.occurred_on, ComplianceRecord.id)
        ):
            records[record.enterprise_id] = record  # the latest one wins
    out: dict[int, str] = {}
    revised = {
        r.declaration_id: r.current_version_id
        for r in rows
        if r.status is DeclarationStatus.PUBLISHED and r.current_version_id != r.version_id
    }
    floors = _below_floor(run, revised)
    for decl_id, enterprise_id, status, ended_at, end_reason, _v, _c in rows:
        when = local_date(ended_at).isoformat() if ended_at else ""
        if status is DeclarationStatus.ABOLISHED:
            out[decl_id] = coded_reasons.abolished(when, end_reason or "")
        elif status is DeclarationStatus.REVOKED:
            out[decl_id] = coded_reasons.revoked(when, end_reason or "")
        elif enterprise_id in records:
            record = records[enterprise_id]
            out[decl_id] = coded_reasons.record(
                "nonconforming" if record.result == "nonconforming" else "serious",
                record.occurred_on.isoformat(), record.reference or "",
            )
        elif decl_id in floors:
            out[decl_id] = floors[decl_id]
    return out


def remove_leaders(run: RankingRun, removals: dict[int, str], user=None) -> RankingRun:
    """A new list version of ``run`` (published, or under publicity with the same period)
    without the leaders in ``removals``, each shown removed with its reason."""
    return record_removal(run, removals, coded_reasons.dynamic(len(removals)), reasons=removals,
                          user=user)
