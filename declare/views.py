"""The HTML pages of declarations: registration, the enterprise's own pages, the public pages.

Thin on purpose: parse a form → call ``declare.operations`` → render or redirect. Refused input
re-renders the page with status 422, so the request's after_request hook rolls back whatever
an operation had flushed. Another enterprise's declaration answers 404 (ids reveal nothing);
other roles get 403 on enterprise pages.
"""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from markupsafe import Markup
from sqlalchemy import func, or_, select, true
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from benchmarks.models import (
    BenchmarkIndicator,
    CatalogueChange,
    ProductCategory,
    Standard,
    StandardStatus,
)
from core import page_cache
from core.auth import roles_required
from core.charts import ScaleLine, scale_bar
from core.errors import Conflict, ValidationFailed
from core.extensions import db, limiter
from core.i18n import region_names
from core.forms import page_arg
from core.models import Role
from core.validation import db_id
from declare import comparison, exports, operations, queries, uploads
from declare import labels as label_drawing
from declare import opendata
from declare import search as search_index
from declare.forms import (
    BLANK_INDICATORS,
    BLANK_PRODUCTS,
    BLANK_REFERENCES,
    FORMS,
    AbolishForm,
    IndicatorRow,
    ProductRow,
    RegistrationForm,
    attribute_field_names,
    attributes_of,
    SearchForm,
    apply_errors,
    version_form_data,
)
from declare.models import (
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Disclosure,
    ReferenceFlag,
    VersionStatus,
)
from declare.validators import USCCError, validate_uscc

bp = Blueprint("declare", __name__)


def home():
    """The home page (the app's ``index`` endpoint, at /): search and the platform's counts."""
    return render_template("declare/home.html", stats=queries.home_stats())

enterprise_only = roles_required(Role.ENTERPRISE)

# How many catalogue standards a select lists without a search (the rest via the search box).
STANDARD_CHOICES_LIMIT = 500

STATUS_LABELS = {
    "draft": _l("Draft"),
    "published": _l("In force (现行有效)"),
    "superseded": _l("Superseded by a revision"),
    "abolished": _l("Abolished (废止)"),
    "revoked": _l("Revoked by the regulator"),
}
CMP_LABELS = {
    "violation": _l("Below the mandatory limit"),
    "below_recommended": _l("Below the recommended value"),
    "meets": _l("Meets the benchmark"),
    "exceeds": _l("Exceeds the benchmark"),
}
KIND_LABELS = {
    "catalogue": _l("Follows a catalogue standard"),
    "enterprise": _l("Own enterprise standard"),
}
OP_SYMBOLS = {"ge": "≥", "le": "≤", "eq": "="}
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REFERENCE_FLAG_LABELS = {"withdrawn": _l("withdrawn"), "replaced": _l("replaced")}


@bp.context_processor
def _labels() -> dict:
    return {
        "status_label": lambda s: STATUS_LABELS.get(getattr(s, "value", s), s),
        "cmp_label": lambda s: CMP_LABELS.get(s, s or ""),
        "kind_label": lambda k: KIND_LABELS.get(getattr(k, "value", k), k),
        "declared_text": declared_text,
        "flag_label": lambda r: REFERENCE_FLAG_LABELS.get(r, r),
        "locale": str(get_locale()),
        "attribute_fields": attribute_field_names(),
        "attributes_text": comparison.attributes_text,
    }


def _today() -> date:
    return queries.local_today()


def declared_text(row) -> str:
    """``≥ 4.5 W/W`` / ``3.0 – 4.0 L`` / a qualitative requirement, from a row or a dict."""
    get = row.get if isinstance(row, dict) else (lambda k, d=None: getattr(row, k, d))

    def num(v):
        if v is None:
            return "?"
        text = repr(float(v))
        return text[:-2] if text.endswith(".0") else text

    unit = get("unit") or ""
    op = get("op")
    if op == "range":
        text = f"{num(get('low'))} – {num(get('high'))}"
    elif get("value") is None and get("text_value"):
        return get("text_value")
    else:
        text = f"{OP_SYMBOLS.get(op, op or '')} {num(get('value'))}"
    return f"{text} {unit}".strip()


# --------------------------------------------------------------------------- registration


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            user = operations.register_enterprise(**form.to_kwargs())
        except ValidationFailed as exc:
            for key, messages in exc.errors.items():
                target = getattr(form, key, None)
                if target is None or not hasattr(target, "errors"):
                    target = form.uscc if "uscc" in key else form.name
                target.errors = list(target.errors) + messages
        else:
            login_user(user)
            ent = user.enterprise
            flash(
                _(
                    "%(name)s is registered (USCC %(uscc)s, region %(region)s). "
                    "You can now declare your standards.",
                    name=ent.name,
                    uscc=ent.uscc,
                    region=region_label(ent.region_code),
                ),
                "success",
            )
            return redirect(url_for("declare.my_declarations"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "declare/register.html", form=form, region=_uscc_region(form.uscc.data)
    ), status


def _uscc_region(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        _number, region = validate_uscc(raw)
    except USCCError:
        return None
    return region_label(region)


def region_label(code: str | None) -> str:
    """``500112 重庆市 渝北区``: names from the 行政区划 table that python-stdnum ships."""
    if not code:
        return ""
    return " ".join([code, *region_names(code)])


# --------------------------------------------------------------------------- enterprise pages


@bp.get("/my/declarations")
@enterprise_only
def my_declarations():
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in DeclarationStatus}:
        status = None
    rows = queries.declarations_of(current_user.enterprise, status=status)
    return render_template(
        "declare/my_declarations.html",
        rows=[(d, _draft_of(d), queries.shown_version(d)) for d in rows],
        status=status,
        statuses=list(DeclarationStatus),
    )


@bp.get("/my/declarations/new")
@enterprise_only
def new_declaration():
    return render_template("declare/new.html")


@bp.route("/my/declarations/new/<any(catalogue, enterprise):kind>", methods=["GET", "POST"])
@enterprise_only
def create(kind: str):
    form = FORMS[kind]()
    _prepare(form)
    if not form.is_submitted():
        form.add_blank_rows()
        return _render_form(form, kind=kind)
    _refuse_rows_beyond_limit(form)
    if not form.validate():
        return _refused_form(form, kind=kind)
    data, positions = form.to_data()
    try:
        version = operations.create_draft(current_user.enterprise, data)
        _attach(form, version)
        if _wants_publish():
            operations.publish(version)
    except ValidationFailed as exc:
        return _refused_form(form, kind=kind, errors=exc.errors, positions=positions, data=data)
    return _saved(version)


@bp.get("/my/declarations/<int:declaration_id>")
@enterprise_only
def manage(declaration_id: int):
    declaration = queries.owned_declaration(declaration_id, current_user)
    draft = _draft_of(declaration)
    checks = _draft_checks(draft) if draft is not None else []
    return render_template(
        "declare/manage.html",
        declaration=declaration,
        draft=draft,
        shown=queries.shown_version(declaration),
        versions=queries.version_history(declaration, include_drafts=True),
        checks=checks,
        problems=_draft_problems(draft),
    )


@bp.route("/my/declarations/<int:declaration_id>/draft", methods=["GET", "POST"])
@enterprise_only
def edit_draft(declaration_id: int):
    declaration = queries.owned_declaration(declaration_id, current_user)
    draft = _draft_or_404(declaration)
    kind = declaration.kind.value
    form_cls = FORMS[kind]
    if request.method == "GET":
        form = form_cls(data=version_form_data(draft))
        _prepare(form)
        form.add_blank_rows()
        checks, problems = [], []
        if kind == "enterprise":
            rules = comparison.check_version_rules(draft)
            checks = _comparison_rows(rules.indicators, list(draft.indicators))
            problems = [p.message for p in rules.problems]
        return _render_form(
            form,
            kind=kind,
            declaration=declaration,
            draft=draft,
            checks=checks,
            rule_problems=problems,
        )
    form = form_cls()
    _prepare(form)
    _refuse_rows_beyond_limit(form)
    if not form.validate():
        return _refused_form(form, kind=kind, declaration=declaration, draft=draft)
    data, positions = form.to_data()
    try:
        version = operations.update_draft(draft, data, form.lock() or 0)
        _attach(form, version)
        if _wants_publish():
            operations.publish(version)
    except ValidationFailed as exc:
        return _refused_form(
            form,
            kind=kind,
            declaration=declaration,
            draft=draft,
            errors=exc.errors,
            positions=positions,
            data=data,
        )
    return _saved(version)


@bp.post("/my/declarations/<int:declaration_id>/publish")
@enterprise_only
def publish(declaration_id: int):
    """Publish the draft as saved (the button on the draft overview)."""
    declaration = queries.owned_declaration(declaration_id, current_user)
    draft = _draft_or_404(declaration)
    _check_lock(draft)
    try:
        operations.publish(draft)
    except ValidationFailed as exc:
        kind = declaration.kind.value
        form = FORMS[kind](formdata=None, data=version_form_data(draft))
        _prepare(form)
        data, positions = form.to_data()
        return _refused_form(
            form,
            kind=kind,
            declaration=declaration,
            draft=draft,
            errors=exc.errors,
            positions=positions,
            data=data,
        )
    return _saved(draft)


@bp.post("/my/declarations/<int:declaration_id>/discard")
@enterprise_only
def discard(declaration_id: int):
    declaration = queries.owned_declaration(declaration_id, current_user)
    draft = _draft_or_404(declaration)
    _check_lock(draft)
    had_published = queries.shown_version(declaration) is not None
    operations.discard_draft(draft)
    flash(_("The draft was discarded."), "info")
    if had_published:
        return redirect(url_for("declare.manage", declaration_id=declaration_id))
    return redirect(url_for("declare.my_declarations"))


@bp.post("/my/declarations/<int:declaration_id>/revise")
@enterprise_only
def revise(declaration_id: int):
    declaration = queries.owned_declaration(declaration_id, current_user)
    try:
        operations.start_revision(declaration)
    except ValidationFailed as exc:
        return _manage_refused(declaration, exc.errors)
    except Conflict as exc:  # a revision is already in progress (another window, a colleague)
        return _manage_refused(declaration, {"_schema": [exc.message]}, status=409)
    flash(_("A new draft was made from the version in force; change it and publish it."), "info")
    return redirect(url_for("declare.edit_draft", declaration_id=declaration_id))


@bp.route("/my/declarations/<int:declaration_id>/abolish", methods=["GET", "POST"])
@enterprise_only
def abolish(declaration_id: int):
    declaration = queries.owned_declaration(declaration_id, current_user)
    shown = queries.shown_version(declaration)
    form = AbolishForm()
    if form.validate_on_submit():
        try:
            operations.abolish(declaration, form.reason.data)
        except ValidationFailed as exc:
            for messages in exc.errors.values():
                form.reason.errors = list(form.reason.errors) + messages
        else:
            flash(_("The declaration is abolished; its history stays readable."), "success")
            return redirect(url_for("declare.detail", declaration_id=declaration_id))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "declare/abolish.html", form=form, declaration=declaration, shown=shown
    ), status


# --------------------------------------------------------------------------- live comparison


@bp.post("/declarations/compare")
@enterprise_only
def compare():
    """Judge the indicator rows being typed against the benchmarks; nothing is saved.

    Body: ``{"indicators": [{"name": …, "op": …, "value": …, …}, …], "products": [{"category_id":
    …, "attr_rated_cooling_capacity": …, …}], "reference_ids": [...], "mingshi_fewer": "…"}``
    with the form's fields; the answer has one entry per indicator row, by ``row`` (its
    position in the form), the automatic links (``auto_linked``, ``benchmark_id``) and the
    ``problems`` of the declaration as a whole (a benchmark not declared, a missing attribute).
    """
    payload = request.get_json(silent=True)
    rows = payload.get("indicators") if isinstance(payload, dict) else None
    most = operations.draft_limits()["indicators"] + BLANK_INDICATORS  # the form's rows
    if not isinstance(rows, list) or len(rows) > most:
        return jsonify(
            {
                "message": _(
                    "Send a JSON object {\"indicators\": [ … ]} with at most %(n)d indicator "
                    "rows.",
                    n=most,
                )
            }
        ), 400
    limits = operations.draft_limits()
    most_products = limits["products"] + BLANK_PRODUCTS
    most_references = limits["reference_ids"] + BLANK_REFERENCES
    raw_products, refs = payload.get("products"), payload.get("reference_ids")
    if (isinstance(raw_products, list) and len(raw_products) > most_products) or (
        isinstance(refs, list) and len(refs) > most_references
    ):
        return jsonify(
            {
                "message": _(
                    "Send at most %(products)d product rows and %(references)d normative "
                    "references to compare.",
                    products=most_products,
                    references=most_references,
                )
            }
        ), 400
    rows = [raw if isinstance(raw, dict) else {} for raw in rows]
    products = _live_products(raw_products)
    refs = [i for i in map(db_id, refs) if i] if isinstance(refs, list) else []
    chosen = {i for i in (db_id(raw.get("benchmark_indicator_id")) for raw in rows) if i}
    benchmark_choices = _benchmark_choices(chosen)
    results: list[dict] = []
    indicators, where = [], []
    for i, raw in enumerate(rows):
        row = _parse_indicator_row(raw, benchmark_choices)
        problems = {name: [str(e) for e in errs] for name, errs in row.errors.items()}
        if row.is_blank():
            results.append({"row": i, "blank": True})
        elif problems:
            results.append(
                {
                    "row": i,
                    "problem": "input",
                    "message": "; ".join(
                        f"{getattr(row, f).label.text}: {' '.join(m)}" for f, m in problems.items()
                    ),
                    "field": next(iter(problems)),
                }
            )
        else:
            indicators.append(row.to_data())
            where.append(i)
            results.append({"row": i})
    rules = _rules_of(
        {
            "kind": "enterprise",
            "products": products,
            "indicators": indicators,
            "reference_ids": refs,
            "mingshi_fewer": str(payload.get("mingshi_fewer") or ""),
        }
    )
    for item in _comparison_rows(rules.indicators, indicators):
        row_no = where[item["position"]]
        auto = item["position"] in rules.auto_linked
        results[row_no] = {**item, "row": row_no, "auto_linked": auto}
    return jsonify(
        {
            "rows": results,
            "problems": [p.message for p in rules.problems],
            "by_reference": [
                {"benchmark": b.benchmark.label(str(get_locale())), "source": b.source}
                for b in rules.by_reference
            ],
        }
    )


def _live_products(raw) -> list[dict]:
    """The product rows being typed (category and attribute fields) as operations dicts."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not db_id(item.get("category_id")):
            continue
        fields = MultiDict(
            {k: "" if v is None else str(v) for k, v in item.items() if isinstance(k, str)}
        )
        row = ProductRow(formdata=fields)
        out.append(
            {
                "name": row.name.data or "",
                "model": row.model.data or "",
                "category_id": int(item["category_id"]),
                "attributes": attributes_of(row),
            }
        )
    return out


def _parse_indicator_row(raw: dict, benchmark_choices: list[SelectChoice]) -> IndicatorRow:
    """One typed row through the same form class as the page, so both parse alike."""
    fields = MultiDict(
        {
            name: "" if raw.get(name) is None else str(raw.get(name))
            for name in IndicatorRow.TEXT + IndicatorRow.NUMBERS + IndicatorRow.SELECTS
        }
    )
    fields["kind"] = fields["kind"] or "performance"
    row = IndicatorRow(formdata=fields)
    row.benchmark_indicator_id.choices = benchmark_choices
    row.validate()
    return row


@bp.get("/my/standard-options")
@enterprise_only
def standard_options():
    """Catalogue standards (not withdrawn) matching ``q``, for the pickers' search box."""
    q = (request.args.get("q") or "").strip()[:60]
    stmt = _usable_standards().order_by(Standard.code).limit(50)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Standard.code.ilike(like), Standard.title.ilike(like)))
    return jsonify(
        [{"id": s.id, "label": _standard_label(s)} for s in db.session.scalars(stmt)]
    )


# --------------------------------------------------------------------------- public pages


def _search_filters():
    """The public search's form, its filters (``published_versions`` arguments) and, when a
    filter is bad, the search page re-rendered with the message (status 400) instead."""
    form = SearchForm(request.args)
    form.category_id.choices = [SelectChoice("", _("All categories"))] + [
        SelectChoice(str(c.id), c.label(str(get_locale()))) for c in _categories()
    ]
    status = (request.args.get("status") or "").strip()
    status_error = None
    if status and status not in search_index.SEARCHABLE_STATUSES:
        status_error = _(
            "Status “%(status)s” is not one of: published, abolished, revoked.", status=status
        )
    if not form.validate() or status_error:
        page = render_template(
            "declare/search.html", form=form, result=None, args={}, status_error=status_error
        )
        return form, {}, (page, 400)
    args = form.filters()
    if status:
        args["status"] = status
    return form, args, None


@bp.get("/declarations")
def search():
    form, args, refused = _search_filters()
    if refused is not None:
        return refused
    page = page_arg()
    try:
        result = queries.published_versions(
            **args, page=page, per_page=current_app.config["PAGE_SIZE"]
        )
    except search_index.SearchTimeout:
        form.q.errors = [*form.q.errors, _search_timeout_message()]
        return render_template("declare/search.html", form=form, result=None, args=args), 422
    return render_template("declare/search.html", form=form, result=result, args=args)


@bp.get("/declarations/export.<any(csv, xlsx):fmt>")
@limiter.limit(lambda: current_app.config["EXPORT_RATE_LIMIT"])
def search_export(fmt: str):
    """Every result of the public search with the page's filters, as CSV or Excel."""
    _form, args, refused = _search_filters()
    if refused is not None:
        return refused
    rows = exports.search_rows(**args)
    day = _today().isoformat()
    return exports.response(rows, exports.COLUMNS, fmt, f"declarations-{day}")


@bp.get("/my/declarations/export.<any(csv, xlsx):fmt>")
@enterprise_only
def my_export(fmt: str):
    """The enterprise's own declarations (drafts included) as CSV or Excel."""
    rows = exports.enterprise_rows(current_user.enterprise_id)
    day = _today().isoformat()
    return exports.response(rows, exports.OWN_COLUMNS, fmt, f"my-declarations-{day}")


def _search_timeout_message() -> str:
    return _(
        "This search took too long (over %(seconds)s s). Add words or choose a category or "
        "region to narrow it.",
        seconds=current_app.config.get("SEARCH_TIMEOUT_MS", search_index.DEFAULT_TIMEOUT_MS)
        / 1000,
    )


@bp.get("/declarations/<int:declaration_id>")
def detail(declaration_id: int):
    """The public page of a declaration: the version shown now (or in force on ``as_of``).

    An anonymous visitor's page is validated by what it shows and what can still change there
    (``_detail_validator``: the published versions' ids and last change, the reference flags,
    the catalogue) plus the language: a repeat gets 304, anyone else the body rendered once and
    kept (core.page_cache). Owners and regulators see more: their page is rendered for them."""
    raw = request.args.get("as_of")
    if page_cache.is_anonymous_visitor() and not _as_of(raw)[1]:
        parts = _detail_validator(declaration_id)
        if parts is None:
            abort(404)  # unknown, or never published: drafts hide (as _visible_declaration)
        return page_cache.public_response(
            "declaration",
            parts,
            lambda: _render_detail(declaration_id, raw, page_cache.render_shared)[0],
            max_age=current_app.config["DECLARATION_MAX_AGE"],
            storable=set(request.args) <= {"as_of"},
        )
    result = _render_detail(declaration_id, raw, render_template)
    if not isinstance(result, tuple):
        return result  # the owner's redirect to the management page
    return page_cache.private_response(*result)


def _as_of(raw: str | None) -> tuple[date | None, str | None]:
    """The ``as_of`` day of the detail page, or the message that says why it is not one."""
    if not raw:
        return None, None
    try:
        if not ISO_DAY.match(raw.strip()):
            raise ValueError(raw)
        return date.fromisoformat(raw.strip()), None
    except ValueError:
        return None, _(
            "“%(raw)s” is not a date: write as_of as YYYY-MM-DD, e.g. 2024-05-01.", raw=raw
        )


def _detail_validator(declaration_id: int) -> tuple | None:
    """What the public detail page shows and may still change, in one query: the current
    version, how many versions are published and their last change (publication, revision,
    abolition and revocation all write the version rows), the reference flags found or cleared
    since, and the catalogue's last change (standards and thresholds shown beside the values).
    None when there is no such declaration or nothing of it was ever published."""
    v = DeclarationVersion
    published = (v.declaration_id == declaration_id, v.status != VersionStatus.DRAFT)
    flags = (
        select(func.count(ReferenceFlag.id), func.max(ReferenceFlag.detected_at),
               func.max(ReferenceFlag.cleared_at))
        .join(v, v.id == ReferenceFlag.version_id)
        .where(v.declaration_id == declaration_id)
    ).subquery()
    row = db.session.execute(
        select(
            Declaration.id,
            Declaration.current_version_id,
            select(func.count(v.id)).where(*published).scalar_subquery(),
            select(func.max(v.id)).where(*published).scalar_subquery(),
            select(func.max(v.updated_at)).where(*published).scalar_subquery(),
            flags.c[0],
            flags.c[1],
            flags.c[2],
            select(func.coalesce(func.max(CatalogueChange.id), 0)).scalar_subquery(),
        )
        .select_from(Declaration)
        .join(flags, true())
        .where(Declaration.id == declaration_id)
    ).first()
    if row is None or not row[2]:
        return None
    return tuple(row)


def _render_detail(declaration_id: int, raw: str | None, render):
    declaration = _visible_declaration(declaration_id)
    owner = _is_owner(declaration)
    history = queries.version_history(declaration)
    as_of, date_error = _as_of(raw)
    version = None
    if as_of is not None:
        version = queries.version_as_of(declaration, as_of)
    elif not raw:
        version = queries.shown_version(declaration)
    if version is None and not raw and owner:
        return redirect(url_for("declare.manage", declaration_id=declaration_id))
    page = render(
        "declare/detail.html",
        declaration=declaration,
        version=version,
        history=history,
        versions=history,
        as_of=as_of,
        as_of_raw=raw,
        date_error=date_error,
        owner=owner,
        **_version_context(version),
    )
    return page, (400 if date_error else 200)


@bp.get("/declarations/<int:declaration_id>/history")
def history(declaration_id: int):
    declaration = _visible_declaration(declaration_id)
    owner = _is_owner(declaration)
    versions = queries.version_history(declaration, include_drafts=owner)
    return render_template(
        "declare/history.html", declaration=declaration, versions=versions, owner=owner
    )


@bp.get("/declarations/<int:declaration_id>/versions/<int:version_no>")
def version(declaration_id: int, version_no: int):
    declaration = _visible_declaration(declaration_id)
    found = _version_or_404(declaration, version_no)
    return render_template(
        "declare/detail.html",
        declaration=declaration,
        version=found,
        versions=queries.version_history(declaration),
        as_of=None,
        as_of_raw=None,
        date_error=None,
        owner=_is_owner(declaration),
        single_version=True,
        **_version_context(found),
    )


@bp.get("/declarations/<int:declaration_id>/versions/<int:version_no>/text")
def version_text(declaration_id: int, version_no: int):
    declaration = _visible_declaration(declaration_id)
    found = _version_or_404(declaration, version_no)
    user = current_user if current_user.is_authenticated else None
    return uploads.send_attachment(found, user)


@bp.get("/declarations/<int:declaration_id>/labels")
def labels(declaration_id: int):
    """The printable labels of the products of the version in force today."""
    declaration = _visible_declaration(declaration_id)
    today = _today()
    version = queries.version_as_of(declaration, today)
    return render_template(
        "labels/products.html",
        declaration=declaration,
        version=version,
        products=label_drawing.labelled_products(version) if version is not None else [],
        today=today,
    )


@bp.get("/declarations/<int:declaration_id>/products/<int:product_id>/label.<any(png, pdf):fmt>")
def product_label(declaration_id: int, product_id: int, fmt: str):
    """A product's label (PNG or PDF) made today: its QR code opens the declaration as of
    today (``as_of``). 404 for a product that is not in the version in force today."""
    declaration = _visible_declaration(declaration_id)
    today = _today()
    label = label_drawing.product_label(declaration, product_id, today)
    if label is None:
        abort(404)
    response = Response(label_drawing.render(label, fmt), mimetype=label_drawing.TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f'inline; filename="label-{declaration_id}-{product_id}-{today.isoformat()}.{fmt}"'
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/open-data")
def open_data():
    """开放数据: the daily releases with their files, sizes and SHA-256 sums."""
    return render_template("opendata/index.html", releases=opendata.releases())


@bp.get("/open-data/<day>/<name>")
def open_data_file(day: str, name: str):
    path = opendata.file_path(day, name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=opendata.content_type(name), as_attachment=True,
                         download_name=f"{day}-{name}", max_age=86400, conditional=True)
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response


# --------------------------------------------------------------------------- helpers


def _is_owner(declaration: Declaration) -> bool:
    return (
        current_user.is_authenticated
        and current_user.role is Role.ENTERPRISE
        and current_user.enterprise_id == declaration.enterprise_id
    )


def _draft_of(declaration: Declaration) -> DeclarationVersion | None:
    return declaration.draft


def _draft_or_404(declaration: Declaration) -> DeclarationVersion:
    draft = _draft_of(declaration)
    if draft is None:
        abort(404)
    return draft


def _visible_declaration(declaration_id: int) -> Declaration:
    """Published at least once, or the current enterprise's own; otherwise 404 (drafts hide)."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None:
        abort(404)
    if not _is_owner(declaration) and queries.shown_version(declaration) is None:
        abort(404)
    return declaration


def _version_or_404(declaration: Declaration, version_no: int) -> DeclarationVersion:
    found = next((v for v in declaration.versions if v.version_no == version_no), None)
    if found is None or (found.is_draft and not _is_owner(declaration)):
        abort(404)
    return found


def _check_lock(draft: DeclarationVersion) -> None:
    try:
        submitted = int(request.form.get("lock_version", ""))
    except ValueError:
        submitted = None
    if submitted != draft.lock_version:
        raise Conflict(
            _(
                "This draft was changed (in another window or by a colleague) after you opened "
                "it. Nothing was changed now; reload the draft and try again."
            ),
            current_version=draft.lock_version,
        )


def _refuse_rows_beyond_limit(form) -> None:
    """Refuse (422, the error page with the operations' message) a form that sent more rows
    than a draft may have plus the blank ones. Rows past that were never built; the page is
    not drawn again with hundreds of rows either, since what it would show is not what was
    sent. A draft at most a few rows over its limit comes back as the form, with the message
    at the list (``operations.create_draft``/``update_draft`` refuse it)."""
    too_many = operations.too_many_rows(form.rows_sent_beyond_limit())
    if too_many:
        raise ValidationFailed(too_many)


def _wants_publish() -> bool:
    return request.form.get("action") == "publish"


def _attach(form, version: DeclarationVersion) -> None:
    upload = getattr(form, "text_pdf", None)
    if upload is not None and upload.data:
        operations.attach_text(version, upload.data)


def _saved(version: DeclarationVersion):
    if version.status is VersionStatus.PUBLISHED:
        flash(
            _("%(number)s is published and now public.", number=version.number or "—"),
            "success",
        )
        return redirect(url_for("declare.detail", declaration_id=version.declaration_id))
    flash(_("The draft is saved. It is not public until you publish it."), "success")
    return redirect(url_for("declare.manage", declaration_id=version.declaration_id))


def _draft_checks(draft: DeclarationVersion) -> list[dict]:
    return _comparison_rows(comparison.check_version(draft), list(draft.indicators))


def _draft_problems(draft: DeclarationVersion | None) -> list[str]:
    if draft is None:
        return []
    return [p.message for p in comparison.check_version_rules(draft).problems]


def _manage_refused(declaration: Declaration, errors: dict, status: int = 422):
    draft = _draft_of(declaration)
    return render_template(
        "declare/manage.html",
        declaration=declaration,
        draft=draft,
        shown=queries.shown_version(declaration),
        versions=queries.version_history(declaration, include_drafts=True),
        checks=_draft_checks(draft) if draft is not None else [],
        errors=[msg for msgs in errors.values() for msg in msgs],
    ), status


# ---- the declaration form


def _prepare(form) -> None:
    """Fill the select options; submitted ids stay selectable so a row never loses its value."""
    standard_ids: set[int] = set()
    benchmark_ids: set[int] = set()
    if hasattr(form, "standard_id") and db_id(form.standard_id.data):
        standard_ids.add(db_id(form.standard_id.data))
    for entry in getattr(form, "references", []):
        if value := db_id(entry.form.standard_id.data):
            standard_ids.add(value)
    for entry in getattr(form, "indicators", []):
        if value := db_id(entry.form.benchmark_indicator_id.data):
            benchmark_ids.add(value)
    standards = _standard_choices(standard_ids)
    form.set_choices(
        {
            "categories": [SelectChoice("", _("— choose a category —"))]
            + [SelectChoice(str(c.id), c.label(str(get_locale()))) for c in _categories()],
            "benchmarks": _benchmark_choices(benchmark_ids),
            "standards": [SelectChoice("", _("— choose the standard —"))] + standards,
            "references": [SelectChoice("", _("— none —"))] + standards,
        }
    )


def _categories() -> list[ProductCategory]:
    return list(db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)))


def _usable_standards():
    today = _today()
    return select(Standard).where(
        Standard.status != StandardStatus.WITHDRAWN,
        or_(Standard.withdrawn_date.is_(None), Standard.withdrawn_date > today),
    )


def _standard_label(s: Standard) -> str:
    label = f"{s.code} {s.title}"
    if s.status_on(_today()) is StandardStatus.WITHDRAWN:
        label += " — " + _("withdrawn")
        if s.replaced_by_code:
            label += " " + _("(replaced by %(code)s)", code=s.replaced_by_code)
    elif s.status_on(_today()) is StandardStatus.UPCOMING and s.effective_date:
        label += " — " + _("in force from %(day)s", day=s.effective_date.isoformat())
    return label


def _standard_choices(selected: set[int]) -> list[SelectChoice]:
    rows = list(
        db.session.scalars(
            _usable_standards().order_by(Standard.code).limit(STANDARD_CHOICES_LIMIT)
        )
    )
    missing = selected - {s.id for s in rows}
    if missing:
        rows += list(db.session.scalars(select(Standard).where(Standard.id.in_(missing))))
        rows.sort(key=lambda s: s.code)
    return [SelectChoice(str(s.id), _standard_label(s)) for s in rows]


def _benchmark_choices(selected: set[int]) -> list[SelectChoice]:
    """Benchmark indicators in force today (plus any already chosen), grouped by category."""
    today = _today()
    stmt = (
        select(BenchmarkIndicator, ProductCategory)
        .join(ProductCategory, BenchmarkIndicator.category_id == ProductCategory.id)
        .where(
            or_(
                BenchmarkIndicator.valid_to.is_(None),
                BenchmarkIndicator.valid_to >= today,
                BenchmarkIndicator.id.in_(selected or {0}),
            )
        )
        .order_by(ProductCategory.code, BenchmarkIndicator.code, BenchmarkIndicator.valid_from)
    )
    locale = str(get_locale())
    choices = [SelectChoice("", _("— no benchmark —"))]
    for bm, cat in db.session.execute(stmt):
        label = f"{bm.label(locale)} ({bm.unit})"
        if bm.valid_from > today:
            label += " — " + _("from %(day)s", day=bm.valid_from.isoformat())
        choices.append(
            SelectChoice(
                str(bm.id),
                label,
                render_kw={"data-category": str(cat.id), "data-unit": bm.unit},
                optgroup=cat.label(locale),
            )
        )
    return choices


def _render_form(
    form, *, kind: str, declaration=None, draft=None, checks=None, summary=None, rule_problems=()
):
    return render_template(
        "declare/form.html",
        form=form,
        kind=kind,
        declaration=declaration,
        draft=draft,
        checks=checks or [],
        summary=summary or [],
        rule_problems=list(rule_problems),
        max_upload_mb=current_app.config["MAX_UPLOAD_BYTES"] / (1024 * 1024),
    )


def _refused_form(
    form, *, kind, declaration=None, draft=None, errors=None, positions=None, data=None
):
    """Re-render the form with every message at its field and at the top (status 422)."""
    summary = apply_errors(form, errors or {}, positions or {}) if errors else []
    if not errors:
        summary = [
            (str(getattr(form, name).label.text) if hasattr(form, name) else name, msg)
            for name, msg in _flat_form_errors(form)
        ]
    checks = []
    if kind == "enterprise":
        if data is None:
            data, positions = form.to_data()
        rows_at = (positions or {}).get("indicators")
        if data["indicators"]:
            rules = _rules_of(data)
            checks = _comparison_rows(rules.indicators, data["indicators"], rows_at)
            _show_auto_links(form, rules, rows_at)
    form.add_blank_rows()
    return _render_form(
        form,
        kind=kind,
        declaration=declaration,
        draft=draft,
        checks=checks,
        summary=summary,
    ), 422


def _rules_of(data: dict) -> comparison.DeclarationCheck:
    """The rules (check_declaration) on a form's or a request's draft dict, nothing saved."""
    return comparison.check_declaration(
        kind=data.get("kind") or "enterprise",
        products=[p for p in data.get("products") or [] if isinstance(p, dict)],
        indicators=data.get("indicators") or [],
        reference_ids=[r for r in data.get("reference_ids") or [] if db_id(r)],
        mingshi_fewer=data.get("mingshi_fewer") or "",
        on=_today(),
    )


def _show_auto_links(form, rules: comparison.DeclarationCheck, rows_at) -> None:
    """Select the automatic links in a re-rendered form (the enterprise sees and may change
    them; an empty choice is linked again)."""
    rows = getattr(form, "indicators", None)
    if rows is None:
        return
    for position in rules.auto_linked:
        row_no = rows_at[position] if rows_at and position < len(rows_at) else position
        if row_no < len(rows.entries):
            rows.entries[row_no].form.benchmark_indicator_id.data = str(rules.links[position])


def _flat_form_errors(form):
    for name, errs in form.errors.items():
        if isinstance(errs, dict):
            yield name, "; ".join(f"{k}: {' '.join(v)}" for k, v in errs.items())
        elif errs and isinstance(errs[0], dict):
            field = getattr(form, name)
            for i, row_errors in enumerate(errs):
                for sub, msgs in (row_errors or {}).items():
                    label = getattr(field.entries[i].form, sub).label.text
                    for m in msgs:
                        yield name, f"{_('row %(n)s', n=i + 1)}, {label}: {m}"
        else:
            for m in errs:
                yield name, m


# ---- comparison rows (shared by the draft page, refusals, the live endpoint, the public page)


def _comparison_rows(checks, indicators=None, rows_at=None) -> list[dict]:
    """One dict per check: badge, grade, margin, message and the marks of the little bar."""
    checks = list(checks or [])
    ids = {c.benchmark_id for c in checks if c.benchmark_id}
    benchmarks = (
        {
            b.id: b
            for b in db.session.scalars(
                select(BenchmarkIndicator).where(BenchmarkIndicator.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    out = []
    for check in checks:
        cmp = check.comparison
        bm = benchmarks.get(check.benchmark_id)
        row_index = check.position
        if rows_at is not None and 0 <= check.position < len(rows_at):
            row_index = rows_at[check.position]
        declared = None
        if indicators is not None and 0 <= check.position < len(indicators):
            declared = declared_text(indicators[check.position])
        out.append(
            {
                "position": check.position,
                "row_index": row_index,
                "name": check.name,
                "declared": declared,
                "benchmark_id": check.benchmark_id,
                "benchmark": bm.label(str(get_locale())) if bm is not None else None,
                "unit": bm.unit if bm is not None else None,
                "direction": bm.direction if bm is not None else None,
                "status": cmp.status if cmp is not None else None,
                "status_label": str(CMP_LABELS.get(cmp.status, "")) if cmp is not None else None,
                "grade": cmp.grade if cmp is not None else None,
                "margin_pct": cmp.margin_pct if cmp is not None else None,
                "distance_text": (
                    comparison.distance_text(cmp.distance, bm.unit)
                    if cmp is not None and bm is not None
                    else ""
                ),
                "guaranteed": cmp.guaranteed if cmp is not None else None,
                "mandatory_limit": cmp.mandatory_limit if cmp is not None else None,
                "mandatory_source": cmp.mandatory_source if cmp is not None else None,
                "recommended_value": cmp.recommended_value if cmp is not None else None,
                "recommended_source": cmp.recommended_source if cmp is not None else None,
                "problem": check.problem,
                "message": check.message,
                "field": check.field,
                "bar": bar_marks(
                    cmp.guaranteed if cmp is not None else None,
                    bm,
                    cmp.status if cmp is not None else None,
                ),
            }
        )
    return out


def bar_marks(
    value: float | None, bm: BenchmarkIndicator | None, status: str | None
) -> dict | None:
    """Where the value, the limits and the grade thresholds sit on a 0–100 scale, better → right.

    Computed once here for the server-rendered bar and for the live page's JavaScript.
    """
    if value is None or bm is None:
        return None
    points = [("value", value, "")]
    if bm.mandatory_limit is not None:
        points.append(("mandatory", bm.mandatory_limit, _("limit")))
    if bm.recommended_value is not None:
        points.append(("recommended", bm.recommended_value, _("recommended")))
    for label, threshold in bm.grades or []:
        points.append(("grade", float(threshold), str(label)))
    values = [p[1] for p in points]
    lo, hi = min(values), max(values)
    span = hi - lo or abs(hi) * 0.2 or 1.0
    lo, hi = lo - span * 0.08, hi + span * 0.08
    flip = bm.direction == "lower"

    def x(v: float) -> float:
        pos = (v - lo) / (hi - lo) * 100.0
        return round(100.0 - pos if flip else pos, 2)

    marks = [{"kind": k, "x": x(v), "value": v, "label": lbl} for k, v, lbl in points]
    bad_until = x(bm.mandatory_limit) if bm.mandatory_limit is not None else None
    return {"marks": marks, "bad_until": bad_until, "status": status, "unit": bm.unit,
            "svg": _bar_svg(marks, bad_until, status, bm.unit)}


_LINE_COLOURS = {"mandatory": "#c62828", "recommended": "#b26a00"}
_DOT_COLOURS = {"violation": "#c62828", "below_recommended": "#b26a00", "meets": "#1565c0",
                "exceeds": "#2e7d32"}


def _bar_svg(marks: list[dict], bad_until: float | None, status: str | None, unit: str) -> Markup:
    """The comparison bar, drawn in one place (``core.charts.scale_bar``) for the pages (macro
    ``cmp_bar``) and for the live form (its script inserts this SVG): better to the right, red
    zone below the mandatory limit."""
    lines = [
        ScaleLine(m["x"], _LINE_COLOURS.get(m["kind"], "#616e7c"), m["label"],
                  1 if m["kind"] == "grade" else 2, label_above=m["kind"] == "grade")
        for m in marks if m["kind"] != "value"
    ]
    dots = [(m["x"], _DOT_COLOURS.get(status, "#1f2933"), f"{m['value']} {unit}")
            for m in marks if m["kind"] == "value"]
    return Markup(scale_bar(  # noqa: S704 - every text and attribute is escaped in core.charts
        lines, dots, zone_until=bad_until,
        aria_label=_("Declared value against the mandatory limit, the recommended value and the grades"),
    ))


def _stored_distance_text(ind, then: dict | None = None) -> str:
    """The distance in words for a stored comparison (``cmp_*``), as the live page said it,
    measured with the figures in force at publication (``then``) when they changed since."""
    if ind.benchmark is None or ind.cmp_guaranteed is None or ind.cmp_status is None:
        return ""
    import dataclasses

    from benchmarks.compare import Grade, distance_for
    from benchmarks.queries import to_compare_benchmark

    benchmark = to_compare_benchmark(ind.benchmark)
    if then:
        benchmark = dataclasses.replace(
            benchmark,
            mandatory_limit=then["mandatory_limit"],
            recommended_value=then["recommended_value"],
            grades=tuple(Grade(str(label), float(v)) for label, v in then["grades"] or ()),
        )
    distance = distance_for(ind.cmp_guaranteed, ind.cmp_status, ind.cmp_grade, benchmark)
    return comparison.distance_text(distance, ind.benchmark.unit)


def _version_context(version: DeclarationVersion | None) -> dict:
    """What the public page shows beside a version: comparison rows from the stored cmp_*."""
    if version is None:
        return {"indicator_rows": [], "open_flags": [], "text_public": False, "by_reference": []}
    rows = []
    later = {}
    if version.published_at is not None:
        from benchmarks import history

        later = history.changed_since(
            "benchmark_indicators",
            [i.benchmark_indicator_id for i in version.indicators],
            version.published_at,
        )
    for ind in version.indicators:
        then = None
        if ind.benchmark is not None and later.get(ind.benchmark_indicator_id):
            from benchmarks import history

            then = history.thresholds_then(ind.benchmark, later[ind.benchmark_indicator_id])
        rows.append(
            {
                "ind": ind,
                "bar": bar_marks(ind.cmp_guaranteed, ind.benchmark, ind.cmp_status),
                "distance_text": _stored_distance_text(ind, then),
                "thresholds_then": then,
            }
        )
    flags = [f for f in version.reference_flags if f.cleared_at is None]
    by_reference = []
    if version.declaration.kind.value == "enterprise" and version.products:
        by_reference = comparison.check_version_rules(version).by_reference
    text_public = (
        version.text_attachment_id is not None and version.disclosure is Disclosure.FULL_TEXT
    )
    return {
        "indicator_rows": rows,
        "open_flags": flags,
        "text_public": text_public,
        "by_reference": by_reference,
    }



from declare.bulk import views as _bulk_views  # noqa: E402,F401  (bulk import pages on this blueprint)
