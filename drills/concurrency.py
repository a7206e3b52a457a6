"""Concurrent revise / edit / publish of one declaration: one winner, the rest 409, 0 lost."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from drills.client import api_for, draft_body
from drills.results import Result

GOAL = "one winner, the rest 409; 0 lost"


def fire(n: int, call) -> list:
    """Run ``call(i)`` on n threads released together by a barrier; the answers in order."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def published_without_draft(api, limit: int = 20) -> list[int]:
    rows = api.get("/api/v1/declarations?mine=1&status=published&page_size=100").json()
    return [d["id"] for d in rows if not d.get("has_draft")][:limit]


def run(stack, quick: bool) -> Result:
    res = Result("concurrent revise/publish/edit", GOAL)
    rounds, width = (2, 4) if quick else (6, 6)
    # One declaration per round, each of another enterprise (ent02 is the input drills').
    targets = []
    for username in ["ent01"] + [f"ent{i:02d}" for i in range(3, 3 + rounds)]:
        api = api_for(stack.base, username)
        targets += [(api, d) for d in published_without_draft(api, limit=1)]
        if len(targets) >= rounds:
            break
    if len(targets) < rounds:
        raise RuntimeError(f"{len(targets)} published declarations without a draft, {rounds} needed")
    tally: dict[str, Counter] = {"revise": Counter(), "edit": Counter(), "publish": Counter()}
    for rnd, (api, decl) in enumerate(targets[:rounds]):
        base_versions = stack.sql(
            "select count(*) from declaration_versions where declaration_id = %s", (decl,))[0][0]
        # 1. revise × width
        answers = fire(width, lambda i: api.post(f"/api/v1/declarations/{decl}/revise"))
        _count(res, tally["revise"], answers, 201, f"POST /api/v1/declarations/{decl}/revise")
        drafts = stack.sql("select count(*) from declaration_versions where declaration_id = %s "
                           "and status = 'DRAFT'", (decl,))[0][0]
        if drafts != 1:
            res.lost_writes = (res.lost_writes or 0) + abs(drafts - 1)
            res.fail(f"declaration {decl}: {drafts} drafts after {width} concurrent revise")
        if drafts == 0:
            continue
        # 2. edit × width, all with the lock_version read once
        draft = api.get(f"/api/v1/declarations/{decl}/draft").json()
        bodies = [draft_body(draft, revision_note=f"drills round {rnd} editor {i}")
                  for i in range(width)]
        answers = fire(width, lambda i: api.put(f"/api/v1/declarations/{decl}/draft",
                                                json=bodies[i]))
        _count(res, tally["edit"], answers, 200, f"PUT /api/v1/declarations/{decl}/draft")
        winners = [i for i, a in enumerate(answers) if a.status_code == 200]
        note = stack.sql("select revision_note from declaration_versions where declaration_id = %s"
                         " and status = 'DRAFT'", (decl,))[0][0]
        if winners and note != bodies[winners[0]]["revision_note"]:
            res.lost_writes = (res.lost_writes or 0) + 1
            res.fail(f"declaration {decl}: the 200 edit's note is not stored (found {note!r})")
        # 3. publish × width
        answers = fire(width, lambda i: api.post(f"/api/v1/declarations/{decl}/publish"))
        _count(res, tally["publish"], answers, 200, f"POST /api/v1/declarations/{decl}/publish")
        after = stack.sql(
            "select count(*), count(*) filter (where status = 'DRAFT') from declaration_versions"
            " where declaration_id = %s", (decl,))[0]
        published = sum(a.status_code == 200 for a in answers)
        if published == 1 and (after[0] != base_versions + 1 or after[1] != 0):
            res.lost_writes = (res.lost_writes or 0) + 1
            res.fail(f"declaration {decl}: {after[0]} versions ({base_versions} before), "
                     f"{after[1]} drafts left after one successful publish")
    res.lost_writes = res.lost_writes or 0
    res.extra["statuses"] = {k: dict(v) for k, v in tally.items()}
    res.note("answers by step: " + "; ".join(
        f"{k} {dict(sorted(v.items()))}" for k, v in tally.items()))
    one_winner = all(v[k] == rounds for v, k in ((tally["revise"], 201), (tally["edit"], 200),
                                                  (tally["publish"], 200)))
    # A request that arrives after the winner committed sees the new state: revise answers 422
    # (a draft is open), publish 404 (no draft). Those are refusals with a message, not races.
    only_409 = all(set(v) <= {200, 201, 404, 409, 422} for v in tally.values())
    res.met = res.server_errors == 0 and res.lost_writes == 0 and one_winner and only_409
    return res


def _count(res: Result, tally: Counter, answers, win: int, what: str) -> None:
    res.attempts += len(answers)
    codes = [a.status_code for a in answers]
    tally.update(codes)
    five = [a for a in answers if a.status_code >= 500]
    res.server_errors += len(five)
    if five:
        res.fail(f"{what} ×{len(answers)} at once (the owner): {sorted(codes)}")
    elif codes.count(win) != 1:
        res.fail(f"{what} ×{len(answers)} at once (the owner): {codes.count(win)} winners "
                 f"{sorted(codes)}")
