"""Small factories for tests: valid USCCs, enterprises, a real two-category catalogue."""

from __future__ import annotations

import itertools
from datetime import date

from stdnum.cn import uscc as uscc_mod

from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from core.extensions import db
from core.models import Role, User

_seq = itertools.count(1)
PASSWORD = "correct horse 9"


def valid_uscc(region: str = "500112", serial: int | None = None) -> str:
    """A USCC with a correct GB 32100-2015 check character, built with python-stdnum."""
    serial = next(_seq) if serial is None else serial
    body = f"91{region}{'MA'}{serial:07d}"[:17]
    return body + uscc_mod.calc_check_digit(body)


def make_enterprise_user(
    *, region: str = "500112", name: str | None = None, username: str | None = None
) -> User:
    from declare.models import Enterprise

    code = valid_uscc(region)
    ent = Enterprise(uscc=code, name=name or f"测试企业{code[-6:]}有限公司", region_code=region)
    user = User(
        username=username or f"ent{code[-8:].lower()}",
        role=Role.ENTERPRISE,
        display_name=ent.name,
        enterprise=ent,
    )
    user.set_password(PASSWORD)
    db.session.add_all([ent, user])
    db.session.commit()
    return user


def standard(code: str, kind: StandardKind, title: str, **kw) -> Standard:
    prefix, rest = code.rsplit(" ", 1)
    num, year = rest.rsplit("-", 1)
    number, _, part = num.partition(".")
    row = Standard(
        kind=kind,
        prefix=prefix,
        number=number,
        part=part,
        year=int(year),
        code=code,
        title=title,
        status=kw.pop("status", StandardStatus.IN_FORCE),
        **kw,
    )
    db.session.add(row)
    return row


def seed_small_catalogue() -> dict:
    gb21455 = standard(
        "GB 21455-2019",
        StandardKind.NATIONAL_MANDATORY,
        "房间空气调节器能效限定值及能效等级",
        effective_date=date(2020, 7, 1),
    )
    gb25502 = standard(
        "GB 25502-2017",
        StandardKind.NATIONAL_MANDATORY,
        "坐便器水效限定值及水效等级",
        effective_date=date(2018, 8, 1),
    )
    gbt7725 = standard(
        "GB/T 7725-2022", StandardKind.NATIONAL_RECOMMENDED, "房间空气调节器", effective_date=date(2023, 5, 1)
    )
    old = standard(
        "GB/T 7725-2004",
        StandardKind.NATIONAL_RECOMMENDED,
        "房间空气调节器",
        status=StandardStatus.WITHDRAWN,
        withdrawn_date=date(2023, 5, 1),
        replaced_by_code="GB/T 7725-2022",
    )
    ac = ProductCategory(code="room_ac", name="房间空气调节器", name_en="Room air conditioner")
    toilet = ProductCategory(code="toilet", name="坐便器", name_en="Toilet")
    db.session.add_all([ac, toilet])
    db.session.flush()
    apf = BenchmarkIndicator(
        category=ac,
        code="apf",
        name="全年能源消耗效率 APF",
        name_en="Annual performance factor (APF)",
        unit="W/W",
        direction="higher",
        mandatory_limit=3.30,
        mandatory_source=gb21455,
        recommended_value=4.50,
        recommended_source=gb21455,
        grades=[["1级", 5.00], ["2级", 4.50], ["3级", 4.00], ["4级", 3.50], ["5级", 3.30]],
        valid_from=date(2020, 7, 1),
        citation="GB 21455-2019 表2, 热泵型 CC≤4500W",
    )
    water = BenchmarkIndicator(
        category=toilet,
        code="avg_water",
        name="平均用水量",
        name_en="Average water use",
        unit="L",
        direction="lower",
        mandatory_limit=6.4,
        mandatory_source=gb25502,
        recommended_value=5.0,
        recommended_source=gb25502,
        grades=[["1级", 4.0], ["2级", 5.0], ["3级", 6.4]],
        valid_from=date(2018, 8, 1),
        citation="GB 25502-2017 表1",
    )
    db.session.add_all([apf, water])
    db.session.commit()
    return {
        "gb21455": gb21455,
        "gb25502": gb25502,
        "gbt7725": gbt7725,
        "gbt7725_old": old,
        "room_ac": ac,
        "toilet": toilet,
        "apf": apf,
        "avg_water": water,
    }
