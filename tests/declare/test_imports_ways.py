"""Bulk import through the page (upload → report → confirm), the API, the CLI and the job."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from core.models import OutboxJob, Role
from declare.models import AssociationGrant, Declaration, DeclarationVersion, ImportBatch
from tests.declare.import_helpers import clean_rows, zipped


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_page_upload_report_confirm(client, db, login_as, catalogue):
    user = login_as(Role.ENTERPRISE)
    template = client.get("/my/imports/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    rows = clean_rows(user.enterprise.uscc, 2)
    rows["indicators"][1]["value"] = 3.0  # a violation in D2
    resp = client.post(
        "/my/imports",
        data={"file": (io.BytesIO(zipped(rows)), "import.zip")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "import-errors" in html
    assert count(db, Declaration) == 0  # the check writes nothing
    batch = db.session.scalars(select(ImportBatch)).one()
    assert batch.status == "checked" and batch.rows_bad == 1
    marked = client.get(f"/my/imports/{batch.id}/report.xlsx")
    assert marked.status_code == 200 and marked.data[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(marked.data))["indicators"]
    heads = [c.value for c in sheet[1]]
    assert heads[-1] == "错误\nerrors"
    assert sheet.cell(row=2, column=len(heads)).value in (None, "")
    assert "3.3" in sheet.cell(row=3, column=len(heads)).value  # D2's value under the limit
    state = client.get(f"/my/imports/{batch.id}/state").get_json()
    assert state["status"] == "checked" and state["bad"] == 1

    done = client.post(f"/my/imports/{batch.id}/confirm", data={"good_rows_only": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert count(db, Declaration) == 1
    assert db.session.get(ImportBatch, batch.id).rows_written == 1
    assert "import-written" in client.get(f"/my/imports/{batch.id}").get_data(as_text=True)


def test_other_roles_and_other_users_get_refused(client, db, login_as, make_user, catalogue):
    owner = login_as(Role.ENTERPRISE)
    client.post(
        "/my/imports",
        data={"file": (io.BytesIO(zipped(clean_rows(owner.enterprise.uscc, 1))), "a.zip")},
        content_type="multipart/form-data",
    )
    batch = db.session.scalars(select(ImportBatch)).one()
    login_as(Role.ENTERPRISE)
    assert client.get(f"/my/imports/{batch.id}").status_code == 404
    login_as(Role.REGULATOR)
    assert client.get("/my/imports").status_code == 403


def test_enterprise_grants_and_revokes_an_association(client, db, login_as, make_user, catalogue):
    association = make_user(Role.ASSOCIATION, username="assoc1")
    owner = login_as(Role.ENTERPRISE)
    assert client.post("/my/associations", data={"username": "nobody"}).status_code == 422
    assert client.post("/my/associations", data={"username": "assoc1"}).status_code == 302
    grant = db.session.scalars(select(AssociationGrant)).one()
    assert grant.enterprise_id == owner.enterprise_id and grant.association_id == association.id
    assert client.post(f"/my/associations/{grant.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(AssociationGrant, grant.id).revoked_at is not None


def test_api_file_dry_run_then_confirm(client, db, make_user, token_for, catalogue):
    owner = make_user(Role.ENTERPRISE)
    headers = token_for(owner)
    resp = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(zipped(clean_rows(owner.enterprise.uscc, 2))), "a.zip"), "dry_run": "true"},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert resp.status_code == 202, resp.get_json()
    batch_id = resp.get_json()["id"]
    state = client.get(f"/api/v1/imports/{batch_id}", headers=headers).get_json()
    assert state["status"] == "checked" and state["report"]["outcome"] == {"D1": "new", "D2": "new"}
    assert count(db, Declaration) == 0
    resp = client.post(f"/api/v1/imports/{batch_id}/confirm", json={}, headers=headers)
    assert resp.status_code == 202
    state = client.get(f"/api/v1/imports/{batch_id}", headers=headers).get_json()
    assert state["status"] == "imported" and state["written"] == 2
    assert count(db, Declaration) == 2


def test_api_json_refused_with_field_errors_then_accepted(client, db, make_user, token_for, catalogue):
    owner = make_user(Role.ENTERPRISE)
    headers = token_for(owner)
    rows = clean_rows(owner.enterprise.uscc, 2)
    body = []
    for d in rows["declarations"]:
        item = {k: v for k, v in d.items()}
        item["products"] = [{k: v for k, v in p.items() if k != "row_key"} for p in rows["products"] if p["row_key"] == d["row_key"]]
        item["indicators"] = [{k: v for k, v in i.items() if k != "row_key"} for i in rows["indicators"] if i["row_key"] == d["row_key"]]
        body.append(item)
    body[1]["products"][0]["barcode"] = "6901234567890"
    resp = client.post("/api/v1/imports/json", json={"declarations": body}, headers=headers)
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]["json"]) == ["declarations.1.products.0.barcode"]
    assert count(db, Declaration) == 0
    body[1]["products"][0]["barcode"] = ""
    resp = client.post("/api/v1/imports/json", json={"declarations": body}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["outcome"] == {"D1": "draft", "D2": "draft"}  # no text in JSON
    assert count(db, Declaration) == 2
    again = client.post("/api/v1/imports/json", json={"declarations": body}, headers=headers)
    assert again.get_json()["outcome"] == {"D1": "unchanged", "D2": "unchanged"}
    assert count(db, Declaration) == 2 and count(db, DeclarationVersion) == 2


def test_api_refuses_other_roles(client, db, make_user, token_for):
    regulator = make_user(Role.REGULATOR)
    assert client.get("/api/v1/imports/template", headers=token_for(regulator)).status_code == 403
    assert client.get("/api/v1/imports/template").status_code == 401


def test_cli_dry_run_then_import(app, db, make_user, catalogue, tmp_path):
    owner = make_user(Role.ENTERPRISE)
    rows = clean_rows("", 2)
    path = tmp_path / "import.zip"
    path.write_bytes(zipped(rows))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["declare", "import", str(path), "--enterprise", owner.enterprise.uscc, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "new: 2" in result.output
    assert count(db, Declaration) == 0
    result = runner.invoke(args=["declare", "import", str(path), "--enterprise", owner.enterprise.uscc])
    assert result.exit_code == 0, result.output
    assert count(db, Declaration) == 2
    again = runner.invoke(args=["declare", "import", str(path), "--enterprise", owner.enterprise.uscc])
    assert "unchanged: 2" in again.output and count(db, Declaration) == 2


def test_cli_refuses_a_bad_file_and_writes_nothing(app, db, make_user, catalogue, tmp_path):
    owner = make_user(Role.ENTERPRISE)
    rows = clean_rows(owner.enterprise.uscc, 2)
    rows["products"][0]["category"] = "nope"
    path = tmp_path / "import.zip"
    path.write_bytes(zipped(rows))
    result = app.test_cli_runner().invoke(args=["declare", "import", str(path)])
    assert result.exit_code == 1
    assert "products!2 category" in result.output
    assert count(db, Declaration) == 0


@pytest.mark.parametrize("where", ["bulk", "revision"])
def test_an_import_killed_mid_way_leaves_nothing(
    client, db, make_user, token_for, catalogue, monkeypatch, where
):
    """An exception injected inside the real job once rows are written: the job fails, its
    one transaction rolls back, nothing of the file is left (new declarations written by
    executemany, or revisions written one at a time, the third of four killed)."""
    from declare import operations

    owner = make_user(Role.ENTERPRISE)
    headers = token_for(owner)
    rows = clean_rows(owner.enterprise.uscc, 4)
    if where == "revision":
        client.post(
            "/api/v1/imports",
            data={"file": (io.BytesIO(zipped(rows)), "a.zip")},
            content_type="multipart/form-data",
            headers=headers,
        )
        for indicator in rows["indicators"]:
            indicator["value"] = 5.4
        real = operations.publish
        calls = {"n": 0}

        def dying(version):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("killed mid-way")
            return real(version)

        monkeypatch.setattr(operations, "publish", dying)
    else:
        monkeypatch.setattr(operations, "_BULK_CHUNK", 2)
        real = operations._after_bulk_publish

        def dying(items, written):
            assert len(written) == 4  # every row was inserted when it dies
            raise RuntimeError("killed mid-way")

        monkeypatch.setattr(operations, "_after_bulk_publish", dying)
    before = (count(db, Declaration), count(db, DeclarationVersion))
    resp = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(zipped(rows)), "a.zip")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert resp.status_code == 202
    db.session.expire_all()
    state = client.get(f"/api/v1/imports/{resp.get_json()['id']}", headers=headers).get_json()
    assert state["status"] == "failed" and state["job_status"] == "failed"
    assert (count(db, Declaration), count(db, DeclarationVersion)) == before
    job = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func.like("%run_import_batch")).order_by(OutboxJob.id.desc())
    ).first()
    assert "killed mid-way" in job.error


def test_jobs_after_an_import_are_per_category_not_per_row(client, db, make_user, token_for, catalogue):
    n = 3
    owner = make_user(Role.ENTERPRISE)
    headers = token_for(owner)
    client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(zipped(clean_rows(owner.enterprise.uscc, n))), "a.zip")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert count(db, Declaration) == n
    funcs = db.session.scalars(select(OutboxJob.func)).all()
    others = [f for f in funcs if not f.endswith("run_import_batch")]
    assert others and len(others) == len(set(others)), others  # each follow-up job once, not per row


def test_association_imports_through_the_page_for_an_enterprise_that_authorised_it(
    client, db, login_as, make_user, catalogue
):
    owner = make_user(Role.ENTERPRISE)
    other = make_user(Role.ENTERPRISE)
    association = login_as(Role.ASSOCIATION)
    db.session.add(AssociationGrant(enterprise_id=owner.enterprise_id, association_id=association.id))
    db.session.commit()
    assert client.get("/my/imports").status_code == 200
    rows = clean_rows(owner.enterprise.uscc, 1)
    rows["declarations"].append(dict(rows["declarations"][0], row_key="X", uscc=other.enterprise.uscc))
    rows["products"].append(dict(rows["products"][0], row_key="X"))
    rows["indicators"].append(dict(rows["indicators"][0], row_key="X"))
    client.post(
        "/my/imports",
        data={"file": (io.BytesIO(zipped(rows)), "a.zip")},
        content_type="multipart/form-data",
    )
    batch = db.session.scalars(select(ImportBatch)).one()
    assert [(e["row_key"], e["column"]) for e in batch.report["errors"]] == [("X", "uscc")]
    client.post(f"/my/imports/{batch.id}/confirm", data={"good_rows_only": "y"})
    version = db.session.scalars(select(DeclarationVersion)).one()
    assert version.declaration.enterprise_id == owner.enterprise_id
    assert (version.submitted_by_id, version.via_association_id) == (association.id, association.id)
