"""Demo data: invented enterprises declaring their standards over the past three years.

Everything goes through the real operations (``create_draft`` → ``attach_text`` → ``publish``,
``start_revision``, ``abolish``), so every rule applies: number formats, references in force,
test methods, the mandatory floor and 明示. Each publication runs on the day it is dated
(``_clock``), so the benchmarks and catalogue editions of that day judge it and ``as_of`` shows
the history a regulator would have seen.

Household gas water heaters (家用燃气快速热水器) are the category the 领跑者 demo ranks
(``ranking/demo.py``): sixteen makers, one declaration each, with values dealt from a fixed
deck of tiers so that every seed gives leaders, ties and entries excluded for 明示; one of
them has a non-conforming spot-check result on record.

Deterministic for a seed (``random.Random(seed)``); dates count back from today. The
companies, brands and models are invented.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from sqlalchemy import func, select
from stdnum import ean
from stdnum.cn import uscc as uscc_mod
from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.extensions import db
from core.models import Role, User
from declare import operations, queries
from declare.models import Declaration, DeclarationStatus, DeclarationVersion, Enterprise, Indicator
from declare.validators import validate_uscc

__all__ = ["DEMO_ENTERPRISE_PASSWORD", "DemoError", "demo_accounts", "load_demo"]

DEMO_ENTERPRISE_PASSWORD = "demo-qiye-2026"
"""Password of every demo enterprise account (ent01, ent02, … one per company)."""

# username, role, password, region, display name
STAFF_ACCOUNTS: tuple[tuple[str, Role, str, str | None, str], ...] = (
    ("admin", Role.ADMIN, "demo-admin-2026", None, "平台运营（演示）"),
    ("evaluator", Role.EVALUATOR, "demo-pinggu-2026", None, "华标企业标准评估中心（演示）"),
    ("regulator", Role.REGULATOR, "demo-jianguan-2026", "500000", "重庆市市场监督管理局（演示）"),
)
MARKER_USERNAME = "ent01"
YEARS_BACK = 3


class DemoError(RuntimeError):
    """The demo cannot be loaded (e.g. the catalogue is missing or an operation refused)."""


def demo_accounts() -> list[tuple[str, str, str, str]]:
    """(username, role, password, note) of every demo login, for the CLI and the README."""
    rows = [
        (u, r.value, p, name + (f", region {reg}" if reg else ""))
        for u, r, p, reg, name in STAFF_ACCOUNTS
    ]
    rows.append(
        (
            f"ent01…ent{len(COMPANIES):02d}",
            Role.ENTERPRISE.value,
            DEMO_ENTERPRISE_PASSWORD,
            "one per demo enterprise",
        )
    )
    return rows


# --------------------------------------------------------------------------- the companies


@dataclass(frozen=True)
class Company:
    name: str
    region: str  # 6-digit 行政区划 code, characters 3–8 of the USCC
    code: str  # enterprise code in its Q/ numbers
    brand: str
    line: str  # product category code
    address: str
    contact: str


# name | region | code in its Q/ numbers | brand | product category | address | contact
_COMPANY_TABLE = """
北京朝晖制冷设备有限公司 | 110105 | BJZH | 朝晖 | room_ac | 北京市朝阳区酒仙桥北路 16 号 | 王立新
上海浦澜空调科技有限公司 | 310115 | PLKT | 浦澜 | room_ac | 上海市浦东新区金桥路 1288 号 | 陈思远
深圳宝冠电器有限公司 | 440306 | BGDQ | 宝冠 | room_ac | 深圳市宝安区福永街道凤凰第一工业区 | 刘海涛
重庆渝凌空调设备有限公司 | 500112 | YLKT | 渝凌 | room_ac | 重庆市渝北区空港工业园区 8 号 | 张红梅
青岛崂岳空调有限公司 | 370212 | LYKT | 崂岳 | room_ac | 青岛市崂山区株洲路 151 号 | 孙建华
杭州西岚照明电器有限公司 | 330106 | XLZM | 西岚 | led_downlight | 杭州市西湖区三墩镇西园三路 9 号 | 周晓燕
苏州虎澄光电科技有限公司 | 320505 | HCGD | 虎澄 | led_downlight | 苏州市虎丘区科灵路 78 号 | 吴俊
深圳海曜照明科技有限公司 | 440306 | HYZM | 海曜 | led_downlight | 深圳市宝安区西乡街道固戍二路 32 号 | 郑丽
上海明澈照明有限公司 | 310115 | MCZM | 明澈 | led_downlight | 上海市浦东新区康桥东路 588 号 | 黄志强
青岛崂澜卫浴有限公司 | 370212 | LLWY | 崂澜 | toilet | 青岛市崂山区松岭路 66 号 | 林涛
重庆渝洁洁具有限公司 | 500112 | YJJJ | 渝洁 | toilet | 重庆市渝北区双凤桥街道 210 号 | 何敏
苏州澄瓷卫浴科技有限公司 | 320505 | CCWY | 澄瓷 | toilet | 苏州市虎丘区浒关工业园 5 号 | 徐静
北京京陶卫生洁具有限公司 | 110105 | JTJJ | 京陶 | toilet | 北京市朝阳区黑庄户乡 102 号 | 马超
青岛崂峰制冷电器有限公司 | 370212 | LFDQ | 崂峰 | refrigerator | 青岛市崂山区科苑纬一路 1 号 | 高峰
杭州冰岚电器有限公司 | 330106 | BLDQ | 冰岚 | refrigerator | 杭州市西湖区转塘科技经济区块 12 号 | 罗文
重庆渝寒电器有限公司 | 500112 | YHDQ | 渝寒 | refrigerator | 重庆市渝北区回兴街道宝圣大道 99 号 | 唐亮
苏州恒澜热能科技有限公司 | 320505 | HLRN | 恒澜 | storage_water_heater | 苏州市虎丘区嘉陵江路 18 号 | 曹雪
北京暖泉热水器有限公司 | 110105 | NQRS | 暖泉 | storage_water_heater | 北京市朝阳区来广营乡 25 号 | 冯磊
深圳宝热电器有限公司 | 440306 | BRDQ | 宝热 | storage_water_heater | 深圳市宝安区石岩街道宝石南路 7 号 | 彭娟
上海浦晟电器有限公司 | 310115 | PSDQ | 浦晟 | storage_water_heater | 上海市浦东新区川沙路 5055 号 | 邓斌
杭州西泉水暖洁具有限公司 | 330106 | XQSN | 西泉 | faucet | 杭州市西湖区留下街道屏基山路 3 号 | 许可
深圳宝泉五金卫浴有限公司 | 440306 | BQWJ | 宝泉 | faucet | 深圳市宝安区沙井街道新桥工业区 | 谢婷
上海浦源水暖器材有限公司 | 310115 | PYSN | 浦源 | faucet | 上海市浦东新区航头镇航都路 18 号 | 韩冬
重庆渝汇水暖科技有限公司 | 500112 | YHSN | 渝汇 | faucet | 重庆市渝北区龙兴镇兴业大道 6 号 | 曾伟
佛山顺焰燃气具有限公司 | 440606 | SYRQ | 顺焰 | gas_water_heater | 佛山市顺德区容桂街道华口工业区 12 号 | 梁志明
佛山南暖热水器有限公司 | 440605 | NNRS | 南暖 | gas_water_heater | 佛山市南海区狮山镇科技工业园 A 区 | 区嘉欣
中山港炬电器有限公司 | 442000 | GJDQ | 港炬 | gas_water_heater | 中山市南头镇升辉北工业区 23 号 | 黄伟强
广州番辉热能设备有限公司 | 440113 | FHRN | 番辉 | gas_water_heater | 广州市番禺区石碁镇金山大道 88 号 | 陈嘉豪
宁波慈暖厨卫电器有限公司 | 330282 | CNCW | 慈暖 | gas_water_heater | 宁波市慈溪市周巷镇兴业北路 9 号 | 胡海燕
嵊州越火厨具有限公司 | 330683 | YHCJ | 越火 | gas_water_heater | 嵊州市三江街道城东工业区 17 号 | 钱国平
杭州西焰热水器有限公司 | 330106 | XYRS | 西焰 | gas_water_heater | 杭州市西湖区三墩镇振华路 200 号 | 沈佳
苏州澄暖热能科技有限公司 | 320505 | CNRN | 澄暖 | gas_water_heater | 苏州市虎丘区狮山街道金山路 31 号 | 陆晓东
上海浦炎燃气具有限公司 | 310115 | PYRQ | 浦炎 | gas_water_heater | 上海市浦东新区曹路镇民冬路 239 号 | 顾明
北京京焰燃气具有限公司 | 110105 | JYRQ | 京焰 | gas_water_heater | 北京市朝阳区东坝乡驹子房路 6 号 | 赵建国
青岛崂焰厨卫有限公司 | 370212 | LYCW | 崂焰 | gas_water_heater | 青岛市崂山区株洲路 20 号 | 于洋
深圳宝焰热水器有限公司 | 440306 | BYRS | 宝焰 | gas_water_heater | 深圳市宝安区松岗街道燕川工业区 | 李晓玲
武汉江焰热能科技有限公司 | 420111 | JYRN | 江焰 | gas_water_heater | 武汉市洪山区关山大道 355 号 | 刘斌
成都蓉热燃气设备有限公司 | 510107 | RRRQ | 蓉热 | gas_water_heater | 成都市武侯区武科西二路 8 号 | 杨帆
重庆渝焰燃气具有限公司 | 500112 | YYRQ | 渝焰 | gas_water_heater | 重庆市渝北区双凤桥街道空港大道 66 号 | 周敏
重庆巴暖热水器有限公司 | 500108 | BNRS | 巴暖 | gas_water_heater | 重庆市南岸区茶园新区通江大道 19 号 | 谭静
"""

COMPANIES: tuple[Company, ...] = tuple(
    Company(*(cell.strip() for cell in row.split("|")))
    for row in _COMPANY_TABLE.strip().splitlines()
)

# --------------------------------------------------------------------------- product lines


@dataclass(frozen=True)
class KeyIndicator:
    """A declared indicator mapped to a benchmark, with the value bands the demo draws from.

    Bands are in the benchmark's unit and direction: ``top`` beats grade 1, ``mid`` lies between
    grade 1 and the recommended value, ``low`` between the recommended value and the mandatory
    floor (needs 明示).
    """

    code: str
    name: str
    unit: str
    op: str
    top: tuple[float, float]
    mid: tuple[float, float]
    low: tuple[float, float]
    decimals: int
    baseline_label: str  # what the recommended value is called: 节能评价值 / 节水评价值
    test_method: Callable[[date], str]
    reasons: tuple[str, ...]
    # Chance that a declaration of the "mid" tier reaches the "top" band on this indicator
    # alone (e.g. a low-NOx burner in an otherwise ordinary water heater).
    top_chance: float = 0.0


@dataclass(frozen=True)
class Line:
    category: str
    std_name: str
    products: tuple[str, ...]
    model: Callable[[random.Random, str, int], tuple[str, str]]  # → (model, specification)
    keys: tuple[KeyIndicator, ...]
    extras: Callable[[random.Random], list[dict]]
    references: Callable[[date], list[str]]
    catalogue_standard: str | None
    pdf_title: str
    per_company: int = 3  # declarations of each company of the line
    # Tiers dealt (shuffled) to the line's enterprise declarations instead of drawn one by one,
    # so that the category ranked by the 领跑者 demo has leaders, ties and 明示 for every seed.
    tier_deck: tuple[str, ...] = ()


def _edition(day: date, switch: date, old: str, new: str) -> str:
    return old if day < switch else new


def _ac_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    # Heat pumps of the first band of GB 21455-2019 (CC ≤ 4500 W): the demo's APF figures are
    # spread around that row's limit, recommended value and grades.
    cap = rng.choice([26, 32, 35, 45])
    form = "GW" if cap <= 35 else "LW"
    return f"KFR-{cap}{form}/{code[:2]}BP{rng.randint(2, 5)}-{n:02d}", f"额定制冷量 {cap * 100} W"


def _attributes(category: str, spec: str) -> dict:
    """What selects the benchmark rows of a demo product (the AC's type and capacity)."""
    if category != "room_ac":
        return {}
    watts = int(spec.split()[1])
    return {"ac_type": "heat_pump", "rated_cooling_capacity": [watts, "W"]}


def _led_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    watt = rng.choice([3, 4, 5])
    cct = rng.choice([3000, 4000, 5700])
    return f"{code}-TD{watt:02d}-{cct // 100}K{n:02d}", f"{watt} W {cct} K 开孔 Φ75 mm"


def _toilet_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    pit = rng.choice([300, 305, 400])
    return f"{code}-C{rng.randint(1, 9)}{n:03d}", f"坑距 {pit} mm，双档冲水"


def _fridge_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    vol = rng.choice([218, 256, 301, 336, 410, 508])
    return f"BCD-{vol}W{code[:2]}{n:02d}", f"总有效容积 {vol} L，风冷无霜"


def _heater_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    vol = rng.choice([40, 50, 60, 80])
    return (
        f"F{vol}-{rng.choice([2, 3])}{n}{code[:1]}",
        f"额定容量 {vol} L，额定功率 {rng.choice([2000, 2200, 3000])} W",
    )


def _gas_heater_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    """JSQ = 强制排气式燃气快速热水器, then rated heat input (kW) - hot-water output (L/min)."""
    rate, load = rng.choice([(12, 24), (13, 25), (14, 28), (16, 32)])
    return (
        f"JSQ{load}-{rate}{code[:2]}{n:02d}",
        f"额定产热水能力 {rate} L/min，额定热负荷 {load} kW，强制排气式，天然气 12T",
    )


def _faucet_model(rng: random.Random, code: str, n: int) -> tuple[str, str]:
    kind = rng.choice(["B", "K"])
    return (
        f"{code}-{kind}{rng.randint(10, 99)}{n:02d}",
        "面盆单把单孔" if kind == "B" else "厨房单把抽拉式",
    )


def _ac_extras(rng: random.Random) -> list[dict]:
    return [
        _extra(
            "performance",
            "室内机噪声（制冷）",
            "le",
            rng.choice([36, 38, 39, 40, 42]),
            "dB(A)",
            "按 GB/T 7725-2022 附录 C",
        ),
        _extra("performance", "制冷量实测值与额定值之比", "ge", 95, "%", "按 GB/T 7725-2022 6.3.3"),
        _text_extra(
            "自清洁功能",
            rng.choice(["具备", "具备（蒸发器高温自清洁）"]),
            "按企业标准 6.5 目视检查并运行验证",
        ),
    ]


def _led_extras(rng: random.Random) -> list[dict]:
    return [
        _extra(
            "performance",
            "显色指数 Ra",
            "ge",
            rng.choice([80, 82, 90]),
            "",
            "按 GB/T 24824-2009 测量",
        ),
        _extra(
            "performance",
            "功率因数",
            "ge",
            rng.choice([0.5, 0.7, 0.9]),
            "",
            "按 GB 30255-2019 附录 A",
        ),
        _extra(
            "performance",
            "光通维持率（3000 h）",
            "ge",
            rng.choice([92, 94, 96]),
            "%",
            "按 GB/T 24824-2009 测量",
        ),
    ]


def _toilet_extras(rng: random.Random) -> list[dict]:
    return [
        _extra("performance", "吸水率", "le", rng.choice([0.3, 0.5]), "%", "按 GB/T 6952-2015 8.2"),
        _text_extra(
            "冲洗功能", "洗净功能、排放功能、水封回复均符合 GB/T 6952-2015", "按 GB/T 6952-2015 8.8"
        ),
        _extra(
            "performance", "水封深度", "ge", rng.choice([50, 55, 60]), "mm", "按 GB/T 6952-2015 8.5"
        ),
    ]


def _fridge_extras(rng: random.Random) -> list[dict]:
    return [
        _extra(
            "performance",
            "冷冻能力",
            "ge",
            rng.choice([4.5, 6.0, 8.0, 10.0]),
            "kg/12h",
            "按 GB/T 8059-2016 测量",
        ),
        _extra(
            "performance",
            "噪声（声功率级）",
            "le",
            rng.choice([38, 39, 40, 42]),
            "dB(A)",
            "按 GB/T 8059-2016 测量",
        ),
        _text_extra("风冷无霜", "具备", "按企业标准 7.4 运行验证"),
    ]


def _heater_extras(rng: random.Random) -> list[dict]:
    return [
        _text_extra("防电墙", "具备，符合 GB 4706.12-2006 的防触电要求", "按 GB 4706.12-2006 试验"),
        _extra(
            "performance",
            "内胆耐压（静压）",
            "ge",
            rng.choice([1.2, 1.5]),
            "MPa",
            "按企业标准 7.3 水压试验",
        ),
    ]


def _gas_heater_extras(rng: random.Random) -> list[dict]:
    return [
        _extra(
            "performance",
            "烟气中 CO 含量（α=1）",
            "le",
            rng.choice([0.02, 0.03, 0.04]),
            "%",
            "按 GB 6932-2015 规定的试验方法",
        ),
        _text_extra(
            "熄火保护装置", "具备，火焰熄灭后自动关闭燃气通路", "按 GB 6932-2015 规定的试验方法"
        ),
        _extra(
            "performance",
            "温度稳定时间",
            "le",
            rng.choice([20, 30, 45]),
            "s",
            "按企业标准 7.6 测量",
        ),
    ]


def _faucet_extras(rng: random.Random) -> list[dict]:
    return [
        _text_extra(
            "密封性能", "阀芯及冷热水隔墙在 1.6 MPa 静水压下无渗漏", "按 QB/T 1334-2013 7.5"
        ),
        _extra(
            "performance",
            "阀芯寿命（开关次数）",
            "ge",
            rng.choice([200000, 300000, 500000]),
            "次",
            "按 QB/T 1334-2013 7.9",
        ),
    ]


def _extra(kind: str, name: str, op: str, value: float, unit: str, method: str) -> dict:
    return {
        "kind": kind,
        "name": name,
        "benchmark_indicator_id": None,
        "op": op,
        "value": value,
        "low": None,
        "high": None,
        "text_value": "",
        "unit": unit,
        "test_method": method,
        "mingshi": "",
    }


def _text_extra(name: str, text: str, method: str) -> dict:
    return {
        "kind": "function",
        "name": name,
        "benchmark_indicator_id": None,
        "op": "eq",
        "value": None,
        "low": None,
        "high": None,
        "text_value": text,
        "unit": "",
        "test_method": method,
        "mingshi": "",
    }


_COMMON_REFS = ["GB/T 1.1-2020", "GB/T 2828.1-2012"]

LINES: dict[str, Line] = {
    "room_ac": Line(
        "room_ac",
        "房间空气调节器",
        ("壁挂式房间空气调节器（变频）", "柜式房间空气调节器（变频）"),
        _ac_model,
        (
            KeyIndicator(
                "apf",
                "全年能源消耗效率 APF",
                "W/W",
                "ge",
                top=(5.02, 5.60),
                mid=(4.50, 4.98),
                low=(3.32, 4.45),
                decimals=2,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 21455-2019 附录 A",
                reasons=(
                    "本型号为面向租赁住房的经济型产品，压缩机与换热器配置受成本约束",
                    "本型号为小冷量窗机替代机型，换热器尺寸受安装空间限制",
                ),
            ),
        ),
        _ac_extras,
        lambda d: ["GB 21455-2019", "GB/T 7725-2022", *_COMMON_REFS],
        "GB/T 7725-2022",
        "Room air conditioner",
    ),
    "led_downlight": Line(
        "led_downlight",
        "室内照明用 LED 筒灯",
        ("LED 筒灯", "防眩 LED 筒灯"),
        _led_model,
        (
            KeyIndicator(
                "efficacy",
                "初始光效",
                "lm/W",
                "ge",
                top=(96, 112),
                mid=(80, 94),
                low=(61, 78),
                decimals=0,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 30255-2019 附录 A",
                reasons=(
                    "本型号采用深杯防眩结构和高显色（Ra≥90）光源，光效因此降低",
                    "本型号为低色温（2700 K）暖光型号，光源光效较低",
                ),
            ),
        ),
        _led_extras,
        lambda d: ["GB 30255-2019", *_COMMON_REFS],
        None,
        "LED downlight",
    ),
    "toilet": Line(
        "toilet",
        "节水型坐便器",
        ("连体坐便器", "分体坐便器", "壁挂式坐便器"),
        _toilet_model,
        (
            KeyIndicator(
                "avg_water",
                "平均用水量",
                "L",
                "le",
                top=(3.5, 3.95),
                mid=(4.0, 5.0),
                low=(5.1, 6.2),
                decimals=1,
                baseline_label="节水评价值",
                test_method=lambda d: (
                    "按 "
                    + _edition(d, date(2025, 5, 1), "GB 25502-2017", "GB 25502-2024")
                    + " 规定的方法（GB/T 6952-2015 用水量试验）"
                ),
                reasons=(
                    "本型号面向老旧小区低水压、长排污管道工况，为保证冲洗和排放效果用水量较高",
                    "本型号为虹吸式大管道产品，为防止堵塞保留较高冲水量",
                ),
            ),
        ),
        _toilet_extras,
        lambda d: [
            _edition(d, date(2025, 5, 1), "GB 25502-2017", "GB 25502-2024"),
            "GB/T 6952-2015",
            *_COMMON_REFS,
        ],
        "GB/T 6952-2015",
        "Toilet",
    ),
    "refrigerator": Line(
        "refrigerator",
        "家用电冰箱",
        ("三门冷藏冷冻箱", "对开门冷藏冷冻箱", "十字对开门冷藏冷冻箱"),
        _fridge_model,
        (
            KeyIndicator(
                "eei",
                "能效指数 η",
                "%",
                "le",
                top=(32, 39),
                mid=(40, 50),
                low=(52, 76),
                decimals=0,
                baseline_label="节能评价值",
                test_method=lambda d: (
                    "按 "
                    + _edition(d, date(2026, 6, 1), "GB 12021.2-2015", "GB 12021.2-2025")
                    + " 附录 A"
                ),
                reasons=(
                    "本型号为大容积嵌入式设计，箱体发泡层厚度受嵌入尺寸限制",
                    "本型号采用定频压缩机的经济型配置，面向农村市场",
                ),
            ),
        ),
        _fridge_extras,
        lambda d: [
            _edition(d, date(2026, 6, 1), "GB 12021.2-2015", "GB 12021.2-2025"),
            "T/CHEAA 0011.1-2020",
            *_COMMON_REFS,
        ],
        "T/CHEAA 0011.1-2020",
        "Household refrigerator",
    ),
    "storage_water_heater": Line(
        "storage_water_heater",
        "储水式电热水器",
        ("储水式电热水器", "速热型储水式电热水器"),
        _heater_model,
        (
            KeyIndicator(
                "standby_loss",
                "24 h 固有能耗系数 ε",
                "1",
                "le",
                top=(0.50, 0.59),
                mid=(0.60, 0.70),
                low=(0.72, 0.95),
                decimals=2,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 21519-2008 附录 A",
                reasons=(
                    "本型号为小尺寸（40 L）厨房用机型，保温层厚度受外形尺寸限制",
                    "本型号为经济型产品，保温层采用常规聚氨酯发泡工艺",
                ),
            ),
            KeyIndicator(
                "hot_water_output",
                "热水输出率",
                "%",
                "ge",
                top=(71, 80),
                mid=(60, 69),
                low=(52, 59),
                decimals=0,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 21519-2008 附录 B",
                reasons=(
                    "本型号未设混水阀分层结构，热水输出率较低",
                    "本型号内胆为卧式结构，冷热水分层效果受限",
                ),
            ),
        ),
        _heater_extras,
        lambda d: ["GB 21519-2008", *_COMMON_REFS],
        None,
        "Storage electric water heater",
    ),
    "faucet": Line(
        "faucet",
        "节水型水嘴",
        ("面盆水嘴", "厨房水嘴"),
        _faucet_model,
        (
            KeyIndicator(
                "flow_rate",
                "流量",
                "L/min",
                "le",
                top=(4.0, 4.9),
                mid=(5.0, 6.0),
                low=(6.1, 7.4),
                decimals=1,
                baseline_label="节水评价值",
                test_method=lambda d: "按 GB 25501-2019 附录 A",
                reasons=(
                    "本型号为厨房大流量水嘴，用于洗涤大件炊具",
                    "本型号为老年人无障碍水嘴，保留较大出水流量",
                ),
            ),
        ),
        _faucet_extras,
        lambda d: ["GB 25501-2019", "QB/T 1334-2013", *_COMMON_REFS],
        "QB/T 1334-2013",
        "Faucet",
    ),
    "gas_water_heater": Line(
        "gas_water_heater",
        "家用燃气快速热水器",
        ("强制排气式燃气快速热水器", "恒温燃气快速热水器", "零冷水燃气快速热水器"),
        _gas_heater_model,
        (
            KeyIndicator(
                "eta_rated",
                "额定热负荷热效率 η1",
                "%",
                "ge",
                # Condensing models reach grade 1; ordinary ones cluster at 89–93 %, so
                # equal values (ties in a tier) are the rule, as on the real market.
                top=(98.0, 102.4),
                mid=(88.6, 93.4),
                low=(86.6, 88.4),
                decimals=0,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 20665-2015 规定的试验方法",
                reasons=(
                    "本型号为面向老旧小区的经济型产品，换热器为常规铜翅片结构，未采用冷凝换热",
                    "本型号面向高海拔地区，燃烧工况按低气压调整，额定热负荷下热效率较低",
                ),
            ),
            KeyIndicator(
                "eta_half",
                "50% 额定热负荷热效率 η2",
                "%",
                "ge",
                top=(94.0, 99.4),
                mid=(85.0, 92.4),
                low=(82.6, 84.4),
                decimals=0,
                baseline_label="节能评价值",
                test_method=lambda d: "按 GB 20665-2015 规定的试验方法",
                reasons=(
                    "本型号为大流量（16 L/min）机型，部分负荷下燃烧器分段调节档位较少",
                    "本型号采用比例阀单段燃烧，部分负荷热效率较低",
                ),
            ),
            KeyIndicator(
                "nox",
                "烟气中 NOx 排放（α=1）",
                "mg/kWh",
                "le",
                top=(30.0, 70.0),
                mid=(72.0, 150.0),
                low=(72.0, 150.0),  # no recommended value: nothing to state (明示) against
                decimals=0,
                baseline_label="",
                test_method=lambda d: "按 GB 6932-2015 规定的试验方法",
                reasons=(),
                top_chance=0.35,
            ),
        ),
        _gas_heater_extras,
        lambda d: ["GB 6932-2015", "GB 20665-2015", *_COMMON_REFS],
        "GB 6932-2015",
        "Domestic gas instantaneous water heater",
        per_company=1,
        tier_deck=("top",) * 4 + ("mid",) * 9 + ("low",) * 3,
    ),
}

# --------------------------------------------------------------------------- PDF texts


#: Copies planted in the demo (issue 9, finding 7): in these product lines, the n-th
#: enterprise standard published (in calendar order) copies the text of the line's first one,
#: by another enterprise, with light edits. These are the demo's near-identical flags.
PLANTED_COPIES = {"room_ac": 5, "led_downlight": 4, "toilet": 3}
_WORDS = (
    "brazed copper header leak tested helium spectrometer fin pitch hydrophilic coating "
    "louvered evaporator inverter board potted silicone gel fan blade balanced dynamically "
    "ultrasonic weld drain pan sloped panel glaze fired kiln enamel trap siphon valve seat "
    "ceramic cartridge aerator thread gasket driver lens reflector heatsink phosphor binning "
    "anodised aluminium torque screw gauge fixture jig batch label traceable burn-in aged "
    "humidity chamber vibration drop carton foam insert sealed cured inspected sampled"
).split()


def _own_text(key: str, code: str) -> list[str]:
    """The part of a demo standard only its enterprise writes (ASCII: Type 1 Helvetica),
    from its own generator so the demo's other figures do not move."""
    rng = random.Random(f"demo-text:{key}")
    lines = [f"Enterprise {code}: scope, structure and production notes of this standard."]
    for n in range(8):
        words = rng.sample(_WORDS, 8)
        part = "".join(rng.sample("ABCDEFGHJKLMNPRSTUVWXYZ", 3)) + f"-{rng.randint(100, 9999)}"
        lines.append(f"{n + 4}.{rng.randint(1, 9)} " + " ".join(words).capitalize()
                     + f", part {part}, {rng.randint(2, 98)} mm.")
    return lines


def _pdf(title: str, own: list[str] | None = None) -> bytes:
    """A one-page PDF standing in for a standard text (ASCII only: Type 1 Helvetica)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    lines = [
        f"Enterprise standard: {title}",
        "Demo text generated by `flask demo load`; not a real standard.",
        "1 Scope  2 Normative references  3 Terms  4 Requirements  5 Test methods",
        "6 Inspection rules  7 Marking, packaging, transport and storage",
        *(own or []),
    ]
    ops = ["BT", "/F1 14 Tf" if not own else "/F1 9 Tf", "72 770 Td", "18 TL"]
    ops += [f"({line.replace('(', '[').replace(')', ']')}) Tj T*" for line in lines]
    ops.append("ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("latin-1"))
    page.replace_contents(content)
    writer.add_metadata({"/Title": f"{title} (demo)", "/Producer": "qibiao demo"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- the clock


@contextmanager
def _clock(moment: datetime) -> Iterator[None]:
    """Run declare.operations as on ``moment``: checks use that day's catalogue and
    benchmarks, and timestamps (published_at, ended_at) carry that moment."""
    saved = operations.utcnow, operations.local_today
    day = queries.local_date(moment)
    operations.utcnow = lambda: moment
    operations.local_today = lambda: day
    try:
        yield
    finally:
        operations.utcnow, operations.local_today = saved


# --------------------------------------------------------------------------- plan


@dataclass
class _Plan:
    """One demo declaration and the events of its life."""

    company_index: int
    kind: str  # "enterprise" | "catalogue"
    publish_on: date | None  # None: left as a draft (never published)
    tier: str = "mid"
    revise_on: date | None = None
    abolish_on: date | None = None
    open_revision: bool = False
    seq: int = 0
    products: list[dict] = field(default_factory=list)
    disclosure: str = "full_text"


def _uscc(rng: random.Random, region: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + region + "MA" + "".join(rng.choice(alphabet) for _ in range(7))
    return body + uscc_mod.calc_check_digit(body)


def _barcode(rng: random.Random) -> str:
    body = "69" + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + ean.calc_check_digit(body)


def _moment(rng: random.Random, day: date) -> datetime:
    """Office hours in Beijing on ``day``."""
    local = datetime.combine(
        day, time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=queries.local_zone()
    )
    return local


def _value(rng: random.Random, band: tuple[float, float], decimals: int) -> float:
    low, high = band
    return round(rng.uniform(low, high), decimals)


# --------------------------------------------------------------------------- load


def _catalogue() -> tuple[
    dict[str, ProductCategory], dict[str, Standard], dict[tuple[str, str], int]
]:
    categories = {c.code: c for c in db.session.scalars(select(ProductCategory))}
    missing = sorted(set(LINES) - set(categories))
    if missing:
        from benchmarks.importer import load_directory

        reports = load_directory()
        if not all(r.ok for r in reports):
            raise DemoError(
                "the seed catalogue could not be loaded: "
                + "; ".join(r.summary() for r in reports if not r.ok)
            )
        db.session.flush()
        categories = {c.code: c for c in db.session.scalars(select(ProductCategory))}
        missing = sorted(set(LINES) - set(categories))
        if missing:
            raise DemoError(
                f"the catalogue lacks the product categories {missing}; run `flask catalogue load`"
            )
    standards = {s.code: s for s in db.session.scalars(select(Standard))}
    # The first edition of each (category, indicator code): operations pick the one in force.
    benchmarks: dict[tuple[str, str], int] = {}
    for row in db.session.scalars(
        select(BenchmarkIndicator).order_by(BenchmarkIndicator.valid_from)
    ):
        benchmarks.setdefault((row.category.code, row.code), row.id)
    return categories, standards, benchmarks


def _already_loaded() -> bool:
    return db.session.scalar(select(User.id).where(User.username == MARKER_USERNAME)) is not None


def load_demo(seed: int = 2026) -> dict:
    """Load the demo enterprises, accounts and declarations; flushes, the caller commits.

    Does nothing when the demo is already there (the account ``ent01`` exists). Returns the
    counts of what was created.
    """
    if _already_loaded():
        return {"already_loaded": True}
    categories, standards, benchmarks = _catalogue()
    for line in LINES.values():
        for key in line.keys:
            if (line.category, key.code) not in benchmarks:
                raise DemoError(
                    f"the catalogue has no benchmark {line.category}/{key.code}; "
                    "run `flask catalogue load` to update it from the shipped seed"
                )
    rng = random.Random(seed)
    today = queries.local_today()

    staff = _staff_accounts()
    enterprises = _enterprises(rng)
    plans = _plan(rng, today)
    builder = _Builder(rng, enterprises, categories, standards, benchmarks)
    builder.run(plans)
    spot_checks = _spot_check(rng, plans, builder.declarations, today)
    db.session.flush()

    published = db.session.scalar(
        select(func.count(Declaration.id)).where(Declaration.status == DeclarationStatus.PUBLISHED)
    )
    return {
        "already_loaded": False,
        "enterprises": len(enterprises),
        "staff_accounts": staff,
        "declarations": len(plans),
        "published": published,
        "revised": sum(1 for p in plans if p.revise_on),
        "abolished": sum(1 for p in plans if p.abolish_on),
        "drafts": sum(1 for p in plans if p.publish_on is None or p.open_revision),
        "catalogue_kind": sum(1 for p in plans if p.kind == "catalogue"),
        "versions": builder.versions,
        "products": builder.products,
        "mingshi": mingshi_count(),
        "spot_checks": spot_checks,
    }


def _staff_accounts() -> int:
    created = 0
    for username, role, password, region, name in STAFF_ACCOUNTS:
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            continue  # an operator's own account of that name is left alone
        user = User(username=username, role=role, region_code=region, display_name=name)
        user.set_password(password)
        db.session.add(user)
        created += 1
    return created


def _enterprises(rng: random.Random) -> list[Enterprise]:
    """One enterprise and one login per company; one password hash shared (it is one password)."""
    password_hash = generate_password_hash(DEMO_ENTERPRISE_PASSWORD)
    taken = set(db.session.scalars(select(Enterprise.uscc)))
    rows = []
    for i, company in enumerate(COMPANIES, start=1):
        raw = _uscc(rng, company.region)
        while raw in taken:
            raw = _uscc(rng, company.region)
        taken.add(raw)
        code, region = validate_uscc(raw)
        ent = Enterprise(
            uscc=code,
            name=company.name,
            region_code=region,
            address=company.address,
            contact_name=company.contact,
            contact_phone=f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
        )
        user = User(
            username=f"ent{i:02d}",
            role=Role.ENTERPRISE,
            display_name=company.name,
            enterprise=ent,
            password_hash=password_hash,
        )
        db.session.add_all([ent, user])
        rows.append(ent)
    db.session.flush()
    return rows


def _plan(rng: random.Random, today: date) -> list[_Plan]:
    """Three declarations per company: mostly enterprise standards, some catalogue ones,
    a few revised, two abolished, one left as a draft and one with a revision in progress."""
    earliest = today - timedelta(days=365 * YEARS_BACK - 10)
    span = (today - timedelta(days=2) - earliest).days
    catalogue_kind = {0, 4, 9, 11, 13, 15, 21, 23}  # companies with one catalogue declaration
    plans: list[_Plan] = []
    for ci, company in enumerate(COMPANIES):
        for k in range(LINES[company.line].per_company):
            kind = "catalogue" if (k == 2 and ci in catalogue_kind) else "enterprise"
            plans.append(_Plan(ci, kind, earliest + timedelta(days=rng.randint(0, span))))
    enterprise_plans = [p for p in plans if p.kind == "enterprise"]
    decks = {code: list(line.tier_deck) for code, line in LINES.items() if line.tier_deck}
    for deck in decks.values():
        rng.shuffle(deck)
    # Value tiers: a few better than grade 1, most between grades, some below the
    # recommended value with 明示 (some of them near the mandatory floor).
    for p in enterprise_plans:
        roll = rng.random()
        deck = decks.get(COMPANIES[p.company_index].line)
        if deck:
            p.tier = deck.pop()
        else:
            p.tier = "top" if roll < 0.15 else "low" if roll > 0.78 else "mid"
        p.disclosure = "indicators_only" if rng.random() < 0.25 else "full_text"
    revisable = [p for p in enterprise_plans if (today - p.publish_on).days > 400]
    rng.shuffle(revisable)
    for p in revisable[:6]:
        room = (today - p.publish_on).days - 30
        p.revise_on = p.publish_on + timedelta(days=rng.randint(120, max(121, room)))
    rest = revisable[6:]
    for p in rest[:2]:
        p.abolish_on = p.publish_on + timedelta(
            days=rng.randint(90, (today - p.publish_on).days - 5)
        )

    # ent01 keeps a draft that was never published; ent02 has a revision in progress.
    def plain(p: _Plan) -> bool:
        return (
            p.kind == "enterprise"
            and p.publish_on is not None
            and not (p.revise_on or p.abolish_on)
        )

    ent01 = [p for p in plans if p.company_index == 0 and plain(p)]
    if ent01:
        ent01[0].publish_on = None
    ent02 = [p for p in plans if p.company_index == 1 and plain(p)]
    if ent02:
        ent02[0].open_revision = True
    return plans


class _Builder:
    """Turns the plan into declarations through declare.operations, in calendar order."""

    def __init__(self, rng, enterprises, categories, standards, benchmarks):
        self.rng = rng
        self.enterprises = enterprises
        self.categories = categories
        self.standards = standards
        self.benchmarks = benchmarks
        self.texts: dict[int, list[str]] = {}  # declaration id → its own lines
        self.firsts: dict[str, list[tuple]] = {}  # line → (declaration, code, lines), in order
        self.attached: dict[str, int] = {}  # line → enterprise standards attached so far
        self.sequences: dict[int, int] = {}
        self.models: set[str] = set()
        self.declarations: dict[int, Declaration] = {}  # plan index → declaration
        self.versions = self.products = 0

    # -- events

    def run(self, plans: list[_Plan]) -> None:
        events: list[tuple[datetime, int, str, _Plan]] = []
        today = queries.local_today()
        for n, p in enumerate(plans):
            company = COMPANIES[p.company_index]
            p.seq = self._next_sequence(p.company_index)
            p.products = self._products(company)
            first_day = p.publish_on or today - timedelta(days=self.rng.randint(3, 20))
            events.append(
                (_moment(self.rng, first_day), n, "publish" if p.publish_on else "draft", p)
            )
            if p.revise_on:
                events.append((_moment(self.rng, p.revise_on), n, "revise", p))
            if p.abolish_on:
                events.append((_moment(self.rng, p.abolish_on), n, "abolish", p))
            if p.open_revision:
                events.append((_moment(self.rng, today - timedelta(days=1)), n, "open_revision", p))
        events.sort(key=lambda e: (e[0], e[1]))
        declarations = self.declarations
        for moment, n, action, p in events:
            with _clock(moment.astimezone(queries.local_zone())):
                try:
                    if action in ("publish", "draft"):
                        declarations[n] = self._first_version(
                            p, moment, publish=action == "publish"
                        )
                    elif action == "revise":
                        self._revise(declarations[n], p, moment)
                    elif action == "abolish":
                        operations.abolish(declarations[n], self.rng.choice(ABOLISH_REASONS))
                    else:
                        draft = operations.start_revision(declarations[n])
                        draft.created_at = moment
                        self.versions += 1
                except Exception as exc:  # name the declaration that failed, keep the cause
                    company = COMPANIES[p.company_index]
                    where = f"{company.name} on {moment:%Y-%m-%d}"
                    raise DemoError(
                        f"{action} of a {p.kind} declaration of {where}: {exc}"
                    ) from exc

    # -- data

    def _next_sequence(self, company_index: int) -> int:
        self.sequences[company_index] = self.sequences.get(company_index, 0) + 1
        return self.sequences[company_index]

    def _products(self, company: Company) -> list[dict]:
        line = LINES[company.line]
        out = []
        for n in range(self.rng.randint(1, 3)):
            model, spec = line.model(self.rng, company.code, len(self.models) % 97 + n)
            while model in self.models:
                model += "A"
            self.models.add(model)
            out.append(
                {
                    "name": self.rng.choice(line.products),
                    "model": model,
                    "category_id": self.categories[line.category].id,
                    "specification": spec,
                    "common_name": "",
                    "brand": company.brand,
                    "barcode": _barcode(self.rng) if self.rng.random() < 0.5 else "",
                    "attributes": _attributes(line.category, spec),
                }
            )
        return out

    def _data(self, p: _Plan, day: date, *, tier: str, revision_note: str = "") -> dict:
        company = COMPANIES[p.company_index]
        line = LINES[company.line]
        approved = day - timedelta(days=self.rng.randint(7, 40))
        base = {
            "kind": p.kind,
            "disclosure": p.disclosure,
            "commitment_accepted": True,
            "approved_by": company.contact,
            "approved_on": approved,
            "implemented_on": min(
                day + timedelta(days=self.rng.randint(0, 30)), queries.local_today()
            ),
            "revision_note": revision_note,
            "products": [dict(row) for row in p.products],
        }
        if p.kind == "catalogue":
            return {
                **base,
                "standard_id": self.standards[line.catalogue_standard].id,
                "std_code": "",
                "std_name": "",
                "indicators": [],
                "reference_ids": [],
            }
        indicators = [self._key(line, key, tier, day) for key in line.keys]
        indicators += line.extras(self.rng)
        return {
            **base,
            "standard_id": None,
            "std_code": f"Q/{company.code} {p.seq:04d}-{approved.year}",
            "std_name": line.std_name,
            "indicators": indicators,
            "reference_ids": [self.standards[code].id for code in line.references(day)],
        }

    def _key(self, line: Line, key: KeyIndicator, tier: str, day: date) -> dict:
        bench = db.session.get(BenchmarkIndicator, self.benchmarks[(line.category, key.code)])
        if tier == "low" and bench.valid_to is not None and day >= bench.valid_to:
            tier = "mid"  # no benchmark edition in force that day: nothing to state (明示) against
        if tier == "low" and bench.recommended_value is None:
            tier = "mid"  # only a mandatory limit: below it is refused, there is no "low"
        if tier == "mid" and key.top_chance and self.rng.random() < key.top_chance:
            tier = "top"
        band = {"top": key.top, "mid": key.mid, "low": key.low}[tier]
        value = _value(self.rng, band, key.decimals)
        mingshi = ""
        if tier == "low":
            worse = "低于" if bench.direction == "higher" else "高于"
            unit = "" if key.unit == "1" else f" {key.unit}"
            source = bench.recommended_source.code if bench.recommended_source else "推荐性标准"
            mingshi = (
                f"本产品{key.name} {value:.{key.decimals}f}{unit}，{worse} {source} 规定的"
                f"{key.baseline_label} {bench.recommended_value:.{key.decimals}f}{unit}，特此明示。"
                f"原因：{self.rng.choice(key.reasons)}。产品满足 {source} 的限定值要求。"
            )
        return {
            "kind": "performance",
            "name": key.name,
            "benchmark_indicator_id": self.benchmarks[(line.category, key.code)],
            "op": key.op,
            "value": value,
            "low": None,
            "high": None,
            "text_value": "",
            "unit": key.unit,
            "test_method": key.test_method(day),
            "mingshi": mingshi,
        }

    def _text_for(self, version: DeclarationVersion, line: Line) -> list[str]:
        """The declaration's own lines (a revision keeps them), or, for a planted copy, the
        line's first standard's lines with light edits."""
        declaration = version.declaration
        if declaration.id in self.texts:
            return self.texts[declaration.id]
        code = next(c.code for c in COMPANIES if c.name == declaration.enterprise.name)
        n = self.attached[line.category] = self.attached.get(line.category, 0) + 1
        sources = [
            (src_code, lines)
            for decl, src_code, lines in self.firsts.get(line.category, [])
            if decl.status is DeclarationStatus.PUBLISHED
            and decl.enterprise_id != declaration.enterprise_id
        ]
        if PLANTED_COPIES.get(line.category) == n and sources:
            source_code, lines = sources[0]
            own = [ln.replace(source_code, code) for ln in lines]
            own[3] = own[3].replace(" mm.", " millimetres.")  # a light edit
        else:
            own = _own_text(version.std_code, code)
        self.firsts.setdefault(line.category, []).append((declaration, code, own))
        self.texts[declaration.id] = own
        return own

    def _attach(self, version: DeclarationVersion, line: Line, moment: datetime) -> None:
        name = version.std_code.replace("/", "_").replace(" ", "_") + ".pdf"
        pdf = _pdf(line.pdf_title, self._text_for(version, line))
        upload = FileStorage(stream=io.BytesIO(pdf), filename=name, content_type="application/pdf")
        attachment = operations.attach_text(version, upload)
        attachment.created_at = moment

    # -- steps

    def _first_version(self, p: _Plan, moment: datetime, *, publish: bool) -> Declaration:
        enterprise = self.enterprises[p.company_index]
        line = LINES[COMPANIES[p.company_index].line]
        day = queries.local_date(moment)
        version = operations.create_draft(enterprise, self._data(p, day, tier=p.tier))
        version.created_at = version.declaration.created_at = moment
        self.versions += 1
        self.products += len(version.products)
        if p.kind == "enterprise":
            self._attach(version, line, moment)
        if publish:
            operations.publish(version)
        return version.declaration

    def _revise(self, declaration: Declaration, p: _Plan, moment: datetime) -> None:
        line = LINES[COMPANIES[p.company_index].line]
        day = queries.local_date(moment)
        draft = operations.start_revision(declaration)
        draft.created_at = moment
        db.session.flush()  # the back-dated draft is saved: update_draft expects this edit
        better = {"low": "mid", "mid": self.rng.choice(["mid", "top"]), "top": "top"}[p.tier]
        p.tier = better
        company = COMPANIES[p.company_index]
        extra_model, spec = line.model(self.rng, company.code, 90 + p.seq)
        while extra_model in self.models:
            extra_model += "B"
        self.models.add(extra_model)
        p.products = p.products + [
            {**p.products[0], "model": extra_model, "specification": spec, "barcode": ""}
        ]
        data = self._data(p, day, tier=better, revision_note=self.rng.choice(REVISION_NOTES))
        operations.update_draft(draft, data, draft.lock_version)
        self._attach(draft, line, moment)
        operations.publish(draft)
        self.versions += 1
        self.products += len(draft.products)


SPOT_CHECK_LINE = "gas_water_heater"


def _spot_check(
    rng: random.Random, plans: list[_Plan], declarations: dict[int, Declaration], today: date
) -> int:
    """One 双随机 spot check found a water heater below the efficiency its standard declares.

    Recorded through ``operations.record_compliance`` (as supervision does) for the first
    top-tier gas water heater in force long enough: the 领跑者 demo then shows that enterprise
    excluded for a non-conforming inspection instead of leading. Returns the records made.
    """
    for n, p in enumerate(plans):
        declaration = declarations.get(n)
        if (
            COMPANIES[p.company_index].line != SPOT_CHECK_LINE
            or p.tier != "top"
            or p.publish_on is None
            or p.abolish_on is not None
            or declaration is None
            or (today - p.publish_on).days < 90
        ):
            continue
        version = declaration.current_version
        declared = next(
            (i for i in version.indicators if i.benchmark_indicator_id is not None), None
        )
        if declared is None or declared.value is None:
            continue
        day = today - timedelta(days=rng.randint(20, min(200, (today - p.publish_on).days - 60)))
        model = version.products[0].model
        operations.record_compliance(
            declaration.enterprise,
            kind="inspection",
            result="nonconforming",
            occurred_on=day,
            reference=f"市场监管双随机抽查〔{day.year}〕{rng.randint(10, 99)}号",
            details=(
                f"抽检样品 {model}：{declared.name}实测 {declared.value - rng.randint(4, 7):.0f} "
                f"{declared.unit}，低于 {version.std_code} 声明的 {declared.value:.0f} "
                f"{declared.unit}，判定不符合；已责令整改。"
            ),
            declaration=declaration,
        )
        return 1
    return 0


REVISION_NOTES = (
    "提高关键性能指标；新增型号；规范性引用文件更新为现行版本。",
    "按新一代压缩机/光源方案修订技术要求，新增型号。",
    "根据用户反馈修订检验规则，新增型号并更新引用标准。",
)
ABOLISH_REASONS = (
    "相关型号已全部停产，本企业标准废止。",
    "产品线合并，改为执行新的企业标准。",
)


def mingshi_count() -> int:
    """Indicators in force carrying a 明示 statement (used by tests and the CLI summary)."""
    return db.session.scalar(select(func.count(Indicator.id)).where(Indicator.mingshi != ""))
