"""Supervision figures for the perf harness: risk flags, text similarity and the spot-check draw.

``measure(args, report)`` adds four rows to ``perf.run``'s report (``perf.run`` calls it at
the end of a run, with its dataset); ``python -m perf.supervision [--quick]`` measures them
alone, without the database, and prints the same table, so the supervision goals can be
checked without the hour-long ranking run.

==============================  ================================================  ========
row                             what is timed                                     goal
==============================  ================================================  ========
``supervision_flags``           ``supervision.flags.risk.compute_flags`` on one row     ≤ 15 s
                                per declared indicator of every declaration
                                (every check but text similarity)
``supervision_similarity``      one new declaration against the largest           ≤ 50 ms
                                category: ``signature`` of its text,
                                ``SimilarityIndex.from_arrays`` over the
                                category's stored signatures, ``query``
``supervision_similarity_``     the same against the category of median size      ≤ 50 ms
``median``
``supervision_draw``            ``supervision.sampling.method.stratified_draw`` over     ≤ 5 s
                                every declaration, strata province × category,
                                risk-weighted, with exclusions and complaint-
                                triggered objects; every re-run must give the
                                identical sample (checked, shown in the note)
==============================  ================================================  ========

The inputs come from ``perf.generate``'s dataset (the same declarations, categories,
enterprises, regions and indicator values as the ranking figures; imported, not changed) and
a seeded generator here for what the ranking data does not carry: the risk causes, the
standard texts and the draw's population. Generating them is not timed. Every timing is a
wall-clock median after a warm-up run (``perf.run.bench``); the note of each row says what
the data held, so a figure can be judged against what it had to do.

All generated declarations are treated as the current published version of their standard:
the status mix of the ranking data matters to rankings (exclusion reasons), not to these
figures, and it keeps the population at exactly ``--declarations``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perf.generate import DEFAULT_SEED, PROVINCES, Dataset, generate

__all__ = [
    "GOALS",
    "Corpus",
    "flag_frame",
    "main",
    "measure",
    "population",
    "standard_texts",
]

GOALS = {  # seconds
    "supervision_flags": 15.0,
    "supervision_similarity": 0.050,
    "supervision_draw": 5.0,
}

# Shares of the risk causes, chosen from what the domain says about them (the row's note
# gives the flags found): rare hard violations, a few legacy declarations without 明示 or
# test methods, the generator's 0.5 % withdrawn references, a few typing errors.
BELOW_MANDATORY_SHARE = 0.0002  # indicator values worse than the mandatory limit
MINGSHI_DROPPED_SHARE = 0.05  # of the values below the recommended value: no 明示 statement
MISSING_TEST_METHOD_SHARE = 0.01  # indicator rows without a test method
DECIMAL_SLIP_SHARE = 0.0005  # values off by a factor of 10 (unit or decimal-point error)
OVERSTATED_SHARE = 0.0005  # values claimed far beyond grade 1
TWO_WITHDRAWN_SHARE = 0.1  # of the declarations citing a withdrawn standard: two of them
COMPLAINT_SHARE = 0.003  # declarations with open complaints (举报)
LEADER_SHARE = 0.001  # 领跑者 declarations (about 2,900 of 3.2 M standards nationally)
COMPLAINT_CHECK_SHARE = 0.2  # of the complained-about declarations: a complaint-triggered check

# The draw: the plan a provincial regulator would use, applied to the whole population.
DRAW_SEED_TEXT = "2026-11-22 双色球 第2026135期 03 07 12 19 25 31 + 09"
DRAW_RATIO = 0.05
DRAW_RISK_FACTOR = 1.0
DRAW_RISK_CAP = 5.0

SIMILARITY_THRESHOLD = 0.8
COPY_SHARE = 0.03  # declarations of a category that are near-copies of another enterprise's
COPY_EDIT_SHARE = 0.08  # clauses of a copy whose figures the copier changed


def _log(msg: str) -> None:
    # perf.run is imported where it is used, never at import time: perf.run imports this
    # module (its hook), and ``python -m perf.run`` runs as __main__, not as perf.run
    from perf.harness import log

    log(msg)


# ============================================================================ S1 flag frame


def _withdrawn_pairs() -> list[str]:
    """``"old -> new"`` for every withdrawn standard of the seed catalogue with a successor."""
    from perf.generate import SEED_INDICATORS

    path = SEED_INDICATORS.parent / "standards.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    gone = table[(table["status"] == "废止") & (table["replaced_by"] != "")]
    return [f"{c} -> {r}" for c, r in zip(gone["code"], gone["replaced_by"])]


def _categorical(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    """A categorical from per-row label positions, duplicates among ``labels`` merged."""
    uniques, inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    mapped = np.where(codes >= 0, inverse[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(mapped.astype(np.int32), categories=list(uniques))


@dataclass
class FlagData:
    """The frame ``compute_flags`` reads, and what was planted in it (for the row's note)."""

    frame: pd.DataFrame
    planted: dict[str, int]
    complaints: np.ndarray  # (n,) open complaints of declaration i + 1


def flag_frame(ds: Dataset, seed: int) -> FlagData:
    """One row per declared indicator of every declaration, as the nightly job loads them.

    Columns as documented in ``supervision.flags.risk``; string columns are ``category`` dtype and
    rows are sorted by ``version_id`` (what the docstring asks of the job's query). Values are
    the ranking data's (undeclared ones dropped); on top of them the risk causes are planted
    with the shares above. A revised declaration's current version is numbered after all
    first versions, as a database sequence would.
    """
    rng = np.random.default_rng([seed, 0x5E1])
    n, k = ds.n, ds.k
    templates = ds.templates
    version = np.arange(1, n + 1, dtype=np.int64)
    version[ds.revised] = n + 1 + np.arange(int(ds.revised.sum()))
    by_version = np.argsort(version, kind="stable")  # declaration positions in version order

    tmpl_of = np.array([[p.indicators[j].template for j in range(k)] for p in ds.plans])
    decl = np.repeat(by_version, k)
    pos = np.tile(np.arange(k), n)
    value = ds.values[decl, pos]
    keep = np.isfinite(value)
    decl, pos, value = decl[keep], pos[keep], value[keep].copy()
    tmpl = tmpl_of[ds.category_family[ds.category[decl]], pos]
    mingshi = ds.mingshi[decl, pos].copy()
    rows = len(decl)

    def per_template(f, dtype=np.float64) -> np.ndarray:
        return np.array([f(t) for t in templates], dtype=dtype)

    limit = per_template(lambda t: t.mandatory_limit)
    rec = per_template(lambda t: t.recommended_value)
    g1 = per_template(lambda t: t.grade1)
    higher = per_template(lambda t: t.direction == "higher", bool)
    scale = 10.0 ** per_template(lambda t: t.decimals)
    sign = np.where(higher[tmpl], 1.0, -1.0)

    def planted_rows(share: float) -> np.ndarray:
        return np.flatnonzero(rng.random(rows) < share)

    # worse than the mandatory limit: declared under an older edition, or mistyped
    below = planted_rows(BELOW_MANDATORY_SHARE)
    t = tmpl[below]
    gap = 1.0 - sign[below] * rng.uniform(0.01, 0.10, below.size)
    value[below] = np.round(limit[t] * gap * scale[t]) / scale[t]
    # decimal slips (×10 or ÷10) and overstated claims far beyond grade 1
    slip = planted_rows(DECIMAL_SLIP_SHARE)
    value[slip] *= np.where(rng.random(slip.size) < 0.5, 10.0, 0.1)
    over = planted_rows(OVERSTATED_SHARE)
    t = tmpl[over]
    factor = rng.uniform(1.4, 2.5, over.size)
    claimed = np.where(higher[t], g1[t] * factor, g1[t] / factor)
    value[over] = np.round(claimed * scale[t]) / scale[t]
    # 明示: present wherever the published value was worse than the recommended value, except
    # on a few legacy declarations (published before the statement was enforced)
    dropped = np.flatnonzero(mingshi)
    dropped = dropped[rng.random(dropped.size) < MINGSHI_DROPPED_SHARE]
    mingshi[dropped] = False

    worse_m = sign * (value - limit[tmpl]) < 0
    worse_r = sign * (value - rec[tmpl]) < 0
    grade1 = sign * (value - g1[tmpl]) >= 0
    status = np.select([worse_m, worse_r, grade1], [0, 1, 3], default=2)
    status_labels = ["violation", "below_recommended", "meets", "exceeds"]

    # test methods: three wordings per indicator, some rows without one
    method_labels = []
    for t_ in templates:
        method_labels += [f"按{t_.mandatory_source}规定的方法测试",
                          f"{t_.mandatory_source} 附录A",
                          f"按{t_.recommended_source}规定的试验方法进行，"
                          f"结果修约至{t_.decimals}位小数"]  # fmt: skip
    method = tmpl * 3 + rng.integers(0, 3, rows)
    no_method = planted_rows(MISSING_TEST_METHOD_SHARE)
    method[no_method] = -1

    # per declaration, repeated on each of its rows
    withdrawn = _withdrawn_pairs()
    refs = np.full(n, -1, dtype=np.int64)
    cites = np.flatnonzero(ds.withdrawn_reference)
    refs[cites] = rng.integers(0, len(withdrawn), cites.size)
    two = cites[rng.random(cites.size) < TWO_WITHDRAWN_SHARE]
    ref_labels = list(withdrawn)
    combined: dict[tuple[int, int], int] = {}
    second = rng.integers(0, len(withdrawn), two.size)
    for d, i, j in zip(two.tolist(), refs[two].tolist(), second.tolist()):
        if i == j:
            continue
        if (i, j) not in combined:
            combined[(i, j)] = len(ref_labels)
            ref_labels.append(f"{withdrawn[i]}; {withdrawn[j]}")
        refs[d] = combined[(i, j)]
    complaints = np.zeros(n, dtype=np.int16)
    complained = np.flatnonzero(rng.random(n) < COMPLAINT_SHARE)
    complaints[complained] = 1 + rng.poisson(0.8, complained.size).astype(np.int16)
    leader = rng.random(n) < LEADER_SHARE

    codes = [t_.code for t_ in templates]
    frame = pd.DataFrame(
        {
            "declaration_id": (decl + 1).astype(np.int64),
            "version_id": version[decl],
            "enterprise_id": ds.enterprise[decl].astype(np.int64) + 1,
            "category_id": ds.category[decl].astype(np.int64) + 1,
            "benchmark_code": _categorical(tmpl, codes),
            "indicator_name": _categorical(tmpl, [t_.name for t_ in templates]),
            "guaranteed": value,
            "unit": _categorical(tmpl, [t_.unit for t_ in templates]),
            "direction": _categorical(tmpl, [t_.direction for t_ in templates]),
            "mandatory_limit": limit[tmpl],
            "mandatory_source": _categorical(tmpl, [t_.mandatory_source for t_ in templates]),
            "recommended_value": rec[tmpl],
            "recommended_source": _categorical(tmpl, [t_.recommended_source for t_ in templates]),
            "cmp_status": _categorical(status, status_labels),
            "mingshi": mingshi,
            "test_method": _categorical(method, method_labels),
            "open_complaints": complaints[decl],
            "is_leader": leader[decl],
            "withdrawn_references": _categorical(refs[decl], ref_labels),
        }
    )
    planted = {
        "indicator_rows": rows,
        "below_mandatory": int(worse_m.sum()),
        "below_recommended_without_mingshi": int((worse_r & ~worse_m & ~mingshi).sum()),
        "decimal_slips": int(slip.size),
        "overstated": int(over.size),
        "missing_test_method": int(no_method.size),
        "withdrawn_reference_declarations": int(cites.size),
        "complained_declarations": int(complained.size),
        "leaders": int(leader.sum()),
    }
    return FlagData(frame, planted, complaints)


# ============================================================================ S2 standard texts

# A shared vocabulary of clause templates, chapter by chapter, as enterprise standards written
# to GB/T 1.1-2020 use them: every enterprise of a category draws from the same boilerplate,
# so unrelated standards already share many 3-grams, and copies differ only in details.
# Slots: {product} {company} {number} and numbers named by the letters in ``_SLOTS``.
_PREFACE = (
    "本文件按照GB/T 1.1-2020《标准化工作导则 第1部分：标准化文件的结构和起草规则》的规定起草。",
    "请注意本文件的某些内容可能涉及专利。本文件的发布机构不承担识别专利的责任。",
    "本文件由{company}〔提出并归口|提出|技术部提出并归口〕。",
    "本文件起草单位：{company}。",
    "本文件主要起草人：{person}、{person2}、{person3}。",
    "本文件为首次发布。",
    "本文件代替{number_old}，与{number_old}相比，除结构调整和编辑性改动外，主要技术变化如下：提"
    "高了能效指标要求，增加了第{a}章检验规则中的型式检验项目。",
    "本文件自{date}起实施。",
)
_SCOPE = (
    "本文件规定了{product}的〔术语和定义、|〕〔产品分类与型号|分类、型号与基本参数|产品分类〕、"
    "〔技术要求|要求〕、试验方法、检验规则〔、标志、包装、运输和贮存|及标志、包装、运输、贮存要"
    "求|和标志、使用说明、包装、运输、贮存〕。",
    "本文件适用于{company}〔生产的|设计制造的|研制、生产的〕{product}〔（以下简称“产品”）|〕〔"
    "的设计、生产和检验|，作为组织生产和交货检验的依据|〕。",
    "本文件不适用于船用、车载及在腐蚀性、爆炸性气体环境中使用的{product}。",
    "本文件也适用于额定电压不超过{v}V、额定功率不超过{w}W的同类产品。",
)
_REFERENCES_INTRO = (
    "下列文件中的内容通过文中的规范性引用而构成本文件必不可少的条款。其中，注日期的引用文件，"
    "仅该日期对应的版本适用于本文件；不注日期的引用文件，其最新版本（包括所有的修改单）适用于本"
    "文件。"
)
_REFERENCES = (
    "GB/T 191-2008 包装储运图示标志",
    "GB/T 2423.1-2008 电工电子产品环境试验 第2部分：试验方法 试验A：低温",
    "GB/T 2423.2-2008 电工电子产品环境试验 第2部分：试验方法 试验B：高温",
    "GB/T 2828.1-2012 计数抽样检验程序 第1部分：按接收质量限（AQL）检索的逐批检验抽样计划",
    "GB 4343.1-2018 家用电器、电动工具和类似器具的电磁兼容要求 第1部分：发射",
    "GB 4706.1-2005 家用和类似用途电器的安全 第1部分：通用要求",
    "GB/T 4214.1-2017 家用和类似用途电器噪声测试方法 通用要求",
    "GB/T 4857.5-1992 包装 运输包装件 跌落试验方法",
    "GB/T 5296.2-2008 消费品使用说明 第2部分：家用和类似用途电器",
    "GB/T 6388-1986 运输包装收发货标志",
    "GB/T 9969-2008 工业产品使用说明书 总则",
    "GB/T 13384-2008 机电产品包装通用技术条件",
    "GB 17625.1-2022 电磁兼容 限值 第1部分：谐波电流发射限值（设备每相输入电流≤16 A）",
)
_TERMS = (
    "GB 4706.1-2005界定的以及下列术语和定义适用于本文件。",
    "额定{param} rated {param_en}：制造商为产品在规定工作条件下所规定的{param}值。",
    "正常工作 normal operation：产品按使用说明书在额定{param}下连续工作{h}h的状态。",
    "待机状态 standby mode：产品连接电源但未执行主要功能，可由遥控或内部信号激活的状态。",
    "出厂检验 routine test：产品出厂前由制造商质量检验部门逐台或按批进行的检验。",
)
_CLASSES = (
    "产品按安装方式分为{kind}型和{kind2}型。",
    "产品按使用电源分为单相交流型和三相交流型。",
    "产品型号由企业代号、产品类别代号、规格代号和设计序号组成，示例：{model}表示规格代号为{a}的"
    "第{b}次设计产品。",
    "产品的基本参数应符合表{a}的规定，表中未列出的规格由供需双方商定。",
)
_REQUIREMENTS = (
    "〔一般要求|基本要求|总则〕：产品应符合本文件的〔要求|规定〕，并按经〔规定程序|企业规定程序"
    "|本公司〕批准的图样和技术文件制造。",
    "外观〔|和结构〕：产品〔外表面|表面|外壳〕应〔平整光洁|光滑平整|平整、色泽均匀〕，无明显〔"
    "划痕、裂纹、变形|划伤、裂纹、凹凸不平|磕碰、划痕、毛刺〕〔、锈蚀和涂层脱落等缺陷|等缺陷|和"
    "锈蚀〕〔，涂层附着力应不低于{a}级|，紧固件应无松动|〕。",
    "材料：与水接触的材料应无毒、无害、无异味，金属零件应经防锈处理，塑料件应采用阻燃等级不低于"
    "V-{b}级的材料。",
    "〔电气安全|安全要求|安全性能〕：产品的〔电气安全性能|安全性能|电气安全〕应符合GB 4706.1-20"
    "05〔及相关特殊要求|和相应特殊要求|〕的规定。",
    "泄漏电流：在{t}℃工作温度下，产品的泄漏电流应不大于{ma}mA。",
    "电气强度：产品应能承受频率为50Hz、电压为{kv}V的试验电压，历时1min无击穿或闪络。",
    "绝缘电阻：产品带电部件与易触及金属部件之间的绝缘电阻应不小于{mohm}MΩ。",
    "噪声：产品在额定工况下运行时的噪声声功率级应不大于{db}dB(A)。",
    "耐久性：产品经{cycles}次循环寿命试验后应能正常工作，各项性能指标仍应符合本文件的规定。",
    "环境适应性：产品在{tlow}℃～{thigh}℃环境温度、相对湿度不大于{rh}%的条件下应能正常工作。",
    "电磁兼容：产品的骚扰特性应符合GB 4343.1-2018的规定，谐波电流应符合GB 17625.1-2022的规定。",
    "包装跌落：产品在包装状态下从{cm}cm高度跌落后，应无损坏，功能正常。",
    "待机功率：产品待机状态下的输入功率应不大于{pw}W。",
)
_METHODS = (
    "〔试验条件|试验环境条件|测试条件〕：除另有规定外，〔试验|各项试验|测试〕应在环境温度{t1}℃±"
    "{dt}℃、相对湿度{rh1}%～{rh2}%〔、大气压力86kPa～106kPa|〕的条件下进行。",
    "试验仪器：试验用仪器仪表的准确度应不低于{cls}级，并在检定或校准有效期内。",
    "外观检查：在自然光或照度不低于{lux}lx的光照条件下，距产品{dist}m处目测检查。",
    "电气安全试验按GB 4706.1-2005规定的方法进行。",
    "噪声试验：在半消声室内，按GB/T 4214.1-2017规定的方法测量声功率级，背景噪声应比被测噪声低{b"
    "g}dB(A)以上。",
    "寿命试验：在额定电压下以通{on}s、断{off}s为一个循环，连续进行{cycles}次。",
    "跌落试验按GB/T 4857.5-1992的规定进行，跌落高度{cm}cm，跌落{drops}次。",
    "高低温试验按GB/T 2423.1-2008和GB/T 2423.2-2008的规定进行，试验温度分别为{tlow}℃和{thigh}℃"
    "，持续{h}h。",
)
_INSPECTION = (
    "〔检验分类|检验类别〕：产品〔检验|的检验〕分为出厂检验和型式检验〔|两类〕。",
    "出厂检验：〔每台产品|产品〕应经〔制造厂|本公司|企业〕质量检验部门〔检验合格|逐台检验合格|"
    "检验合格〕〔并附有产品合格证后方可出厂|后方可出厂，并附产品合格证|，并签发合格证后方可出厂"
    "〕。",
    "出厂检验按GB/T 2828.1-2012规定的正常检验一次抽样方案进行，检验水平为{lvl}，接收质量限（AQL"
    "）为{aql}。",
    "型式检验：有下列情况之一时〔应|，应|一般应〕进行型式检验：a)新产品〔试制定型鉴定时|或老产"
    "品转厂生产的试制定型鉴定时|投产前〕；b)正式生产后，如结构、材料、工艺有较大改变，可能影响"
    "产品性能时；c)正常生产时，〔每{years}年进行一次|定期或积累一定产量后，每{years}年至少进行"
    "一次〕；d)产品〔停产{months}个月以上|长期停产后〕恢复生产时；e)出厂检验结果与上次型式检验"
    "有较大差异时〔|；f)国家质量监督机构提出进行型式检验要求时〕。",
    "型式检验样品从出厂检验合格的产品中随机抽取{b}台。",
    "判定规则：型式检验项目全部合格〔，判定|时，判定|，则判定〕型式检验合格；如有不合格项，应〔"
    "加倍抽样复验|对不合格项目加倍抽样复验|从同批产品中加倍抽样复验〕，复验仍不合格，则判定〔型"
    "式检验|该批产品〕不合格。",
)
_MARKING = (
    "产品应在明显位置〔设置|固定|标有〕铭牌，铭牌内容〔至少包括|应包括〕：产品名称、型号〔、额"
    "定电压、额定功率|、主要技术参数|、额定电压、额定频率、额定输入功率〕、〔制造商名称|制造商"
    "名称和地址|商标和制造商名称〕〔、出厂编号和生产日期|、产品编号、生产日期|、执行标准编号和"
    "生产日期〕。",
    "包装储运图示标志应符合GB/T 191-2008的规定，收发货标志应符合GB/T 6388-1986的规定。",
    "产品使用说明书应符合GB/T 5296.2-2008和GB/T 9969-2008的规定。",
    "产品包装应符合GB/T 13384-2008的规定，包装箱内应附有产品合格证、使用说明书和装箱单。",
    "〔运输过程中|产品在运输过程中|运输时〕应防止〔剧烈振动、撞击和雨淋|雨雪淋袭、太阳暴晒和剧"
    "烈碰撞|受潮、碰撞和挤压〕，装卸时应轻拿轻放〔，严禁倒置和抛掷|，不得倒置|，严禁摔掷〕。",
    "产品应贮存在〔通风良好、干燥、无腐蚀性气体的仓库内|干燥通风、无腐蚀性介质的室内|环境温度-1"
    "0℃～40℃、相对湿度不大于80%的库房内〕〔，堆码层数不应超过{layers}层|，堆码高度不超过{layers"
    "}层|〕〔，贮存期超过{months}个月应重新检验|，超过{months}个月的产品出厂前应重新检验|〕。",
)
_CHAPTERS = (
    ("前言", _PREFACE, 0.75),
    ("1 范围", _SCOPE, 0.8),
    ("2 规范性引用文件", _REFERENCES, 0.6),
    ("3 术语和定义", _TERMS, 0.7),
    ("4 产品分类与型号", _CLASSES, 0.7),
    ("5 技术要求", _REQUIREMENTS, 0.75),
    ("6 试验方法", _METHODS, 0.75),
    ("7 检验规则", _INSPECTION, 0.8),
    ("8 标志、包装、运输和贮存", _MARKING, 0.8),
)
# numeric slots: (low, high, decimals)
_SLOTS = {
    "a": (1, 9, 0), "b": (2, 12, 0), "v": (220, 380, 0), "w": (500, 5000, 0), "h": (2, 72, 0),
    "t": (25, 75, 0), "ma": (0.25, 3.5, 2), "kv": (1000, 3750, 0), "mohm": (2, 100, 0),
    "db": (38, 72, 0), "cycles": (2000, 60000, 0), "tlow": (-25, 5, 0), "thigh": (35, 60, 0),
    "rh": (75, 95, 0), "cm": (30, 120, 0), "pw": (0.3, 2.0, 1), "t1": (15, 30, 0),
    "dt": (1, 5, 0), "rh1": (25, 45, 0), "rh2": (65, 80, 0), "cls": (0.2, 1.5, 1),
    "lux": (300, 1000, 0), "dist": (0.5, 1.5, 1), "bg": (6, 10, 0), "on": (5, 60, 0),
    "off": (5, 60, 0), "drops": (1, 10, 0), "years": (1, 3, 0), "months": (3, 24, 0),
    "layers": (3, 12, 0), "aql": (0.4, 6.5, 1),
}  # fmt: skip
_WORDS = {
    "person": ("张伟 王芳 李娜 刘洋 陈静 杨磊 赵敏 黄强 "
               "周杰 吴霞 徐涛 孙丽 马超 朱琳 胡斌 郭勇").split(),
    "param": "电压 功率 频率 容量 流量 温度 转速 压力".split(),
    "param_en": "voltage power frequency capacity flow temperature speed pressure".split(),
    "kind": "壁挂 落地 嵌入 台式 吊顶 立式".split(),
    "lvl": ["一般检验水平Ⅱ", "特殊检验水平S-3", "一般检验水平Ⅰ"],
}
_CITIES = ("浙江 宁波 佛山 中山 顺德 苏州 无锡 青岛 厦门 温州 台州 东莞 合肥 成都 重庆 "
           "武汉 长沙 郑州 济南 天津 福州 泉州 常州 南京 杭州 珠海 绍兴 嘉兴 石家庄 西安").split()
_NAMES = ("宏达 华美 鑫源 博远 金诚 瑞丰 恒泰 永盛 海川 天成 德力 新锐 汇通 凯旋 富康 "
          "中科 正泰 佳和 兴隆 安捷 美的 顺发 嘉禾 宝龙 星辰 朗科 晨光 瑞祥 百川 益达").split()
_KINDS = ("电器 电子 科技 实业 智能科技 机电 照明 卫浴 厨卫 家电").split()
_PRODUCTS = (
    "房间空气调节器", "LED筒灯", "坐便器", "水嘴", "家用电冰箱", "储水式电热水器", "电热水壶",
    "吸油烟机", "家用洗碗机", "家用净水器", "电动晾衣机", "电饭锅", "空气净化器", "电风扇",
    "燃气灶具", "微波炉", "电磁灶", "除湿机", "新风换气机", "暖风机",
)


def _company(enterprise: int) -> str:
    e = int(enterprise)
    return (f"{_CITIES[e % len(_CITIES)]}{_NAMES[(e // 7) % len(_NAMES)]}"
            f"{_KINDS[(e // 211) % len(_KINDS)]}有限公司")  # fmt: skip


_CHOICE = re.compile(r"〔([^〕]*)〕")  # 〔a|b|c〕: each standard words it its own way
_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random, ctx: dict[str, str]) -> str:
    """The template with its wording chosen and its slots filled: context strings first,
    then random figures and words (``random.Random``: a text has hundreds of draws)."""
    if "〔" in template:
        template = _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    if "{" not in template:
        return template
    values = dict(ctx)
    for name in _SLOT.findall(template):
        if name in values:
            continue
        if name in _SLOTS:
            low, high, decimals = _SLOTS[name]
            x = rng.uniform(low, high)
            values[name] = f"{x:.{decimals}f}" if decimals else str(int(round(x)))
        elif name.rstrip("23") in _WORDS and name != "param_en":
            values[name] = rng.choice(_WORDS[name.rstrip("23")])
    if "param_en" in values or "{param_en}" in template:  # the English term of the Chinese one
        values["param_en"] = _WORDS["param_en"][_WORDS["param"].index(values["param"])]
    return template.format(**values)


@dataclass(frozen=True)
class _Recipe:
    """What a standard text is made of: its seed, enterprise, product and declared values."""

    seed: int
    enterprise: int
    sequence: int
    product: str
    indicators: tuple[tuple[str, str, str, float, int], ...]  # name, op, unit, value, decimals


def _clauses(recipe: _Recipe, edit: random.Random | None = None,
             edit_share: float = 0.0) -> list[str]:
    """The text's clauses. The recipe's seed picks the clauses and their figures; with
    ``edit``, a share of the clauses get new figures (what a copier changes)."""
    rng = random.Random(recipe.seed)
    company = _company(recipe.enterprise)
    initials = "".join(chr(ord("A") + (recipe.enterprise // 26**i) % 26) for i in range(4))
    year = 2019 + recipe.seed % 7
    ctx = {
        "product": recipe.product,
        "company": company,
        "number_old": f"Q/{initials} {recipe.sequence:03d}-{year - 3}",
        "date": f"{year}-{1 + recipe.seed % 12:02d}-01",
        "model": f"{initials[:2]}-{rng.randrange(10, 99)}{initials[2]}",
    }
    out = [f"Q/{initials} {recipe.sequence:03d}-{year}", f"{recipe.product}", f"{company}发布"]
    for title, templates, share in _CHAPTERS:
        out.append(title)
        chosen = [t for t in templates if rng.random() < share]
        if templates is _REFERENCES:
            out.append(_REFERENCES_INTRO)
        for template in chosen:
            text = _fill(template, rng, ctx)
            if edit is not None and edit.random() < edit_share:
                text = _fill(template, edit, ctx)
            out.append(text)
        if templates is _CLASSES:
            out.extend(_parameter_table(rng, ctx["model"], edit, edit_share))
        if templates is _REQUIREMENTS:
            for name, op, unit, value, decimals in recipe.indicators:
                if edit is not None and edit.random() < edit_share:
                    value = value * (1 + edit.uniform(-0.03, 0.03))
                out.append(f"{name}：产品的{name}应{op}{value:.{decimals}f}{unit}。")
        if templates is _METHODS:
            for name, _, _, _, decimals in recipe.indicators:
                out.append(f"{name}按附录A规定的方法测试，"
                           f"测试结果按GB/T 8170-2008修约至{decimals}位小数。")
    return out


def _parameter_table(rng: random.Random, model: str, edit: random.Random | None,
                     edit_share: float) -> list[str]:
    """表1 产品基本参数: one line per model, figures of the enterprise's own product range."""
    lines = ["表1 产品基本参数", "型号 额定电压(V) 额定功率(W) 额定容量 质量(kg) 外形尺寸(mm)"]
    prefix = model.split("-")[0]
    for _ in range(rng.randrange(4, 13)):
        size = "×".join(str(rng.randrange(120, 1800)) for _ in range(3))
        rest = (f"{rng.choice((220, 230, 380))} {rng.randrange(15, 4800)} "
                f"{rng.uniform(0.5, 80):.1f} {rng.uniform(0.8, 95):.1f} {size}")  # fmt: skip
        number = rng.randrange(10, 999)
        if edit is not None and edit.random() < edit_share:
            number = edit.randrange(10, 999)
        lines.append(f"{prefix}-{number} {rest}")
    return lines


def standard_text(recipe: _Recipe, **kwargs) -> str:
    """A standard's full text: its clauses, one per line, under their chapter titles."""
    return "\n".join(_clauses(recipe, **kwargs))


@dataclass
class Corpus:
    """One category's stored signatures (what the service keeps per declaration)."""

    category: int
    ids: np.ndarray  # declaration ids
    enterprises: np.ndarray
    signatures: np.ndarray  # (N, NUM_PERM) uint32
    recipes: list[_Recipe]  # each declaration's own standard
    is_copy: np.ndarray  # (N,) the stored text is a near-copy of another one's standard
    mean_chars: float
    build_seconds: float


def _recipe(ds: Dataset, row: int, seed: int, product: str) -> _Recipe:
    family = int(ds.category_family[ds.category[row]])
    inds = []
    for j, spec in enumerate(ds.plans[family].indicators):
        value = ds.values[row, j]
        if not math.isfinite(value):
            continue
        t = ds.templates[spec.template]
        name = t.name.split("（")[0].split(" ")[0]
        inds.append((name, "不低于" if t.direction == "higher" else "不大于", t.unit,
                     float(value), t.decimals))  # fmt: skip
    return _Recipe(seed=int(seed), enterprise=int(ds.enterprise[row]), sequence=1 + row % 997,
                   product=product, indicators=tuple(inds))  # fmt: skip


def standard_texts(ds: Dataset, category: int, seed: int) -> Corpus:
    """The stored signatures of every declaration of ``category``: each text is generated
    from the shared clause vocabulary with the declaration's own values; ``COPY_SHARE`` of
    them are near-copies of another enterprise's standard (its clauses, figures partly
    changed, the copier's name and number)."""
    from supervision.flags.similarity import NUM_PERM, signature

    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, 0x7E47, category])
    rows = np.flatnonzero(ds.category == category)
    product = _PRODUCTS[category % len(_PRODUCTS)]
    recipes = [_recipe(ds, int(r), rng.integers(2**62), product) for r in rows]
    copy_of = np.full(len(rows), -1)
    copiers = np.flatnonzero(rng.random(len(rows)) < COPY_SHARE)
    copy_of[copiers] = rng.integers(0, len(rows), copiers.size)
    sigs = np.empty((len(rows), NUM_PERM), dtype=np.uint32)
    is_copy = np.zeros(len(rows), dtype=bool)
    chars = 0
    for i in range(len(rows)):
        src = int(copy_of[i])
        if src >= 0 and recipes[src].enterprise != recipes[i].enterprise:
            own = recipes[i]
            recipe = _Recipe(recipes[src].seed, own.enterprise, own.sequence, product,
                             recipes[src].indicators)  # fmt: skip
            text = standard_text(recipe, edit=random.Random(seed * 1_000_003 + i),
                                 edit_share=COPY_EDIT_SHARE)
            is_copy[i] = True
        else:
            text = standard_text(recipes[i])
        chars += len(text)
        sigs[i] = signature(text)
    return Corpus(
        category=category,
        ids=rows.astype(np.int64) + 1,
        enterprises=ds.enterprise[rows].astype(np.int64) + 1,
        signatures=sigs,
        recipes=recipes,
        is_copy=is_copy,
        mean_chars=chars / max(1, len(rows)),
        build_seconds=time.perf_counter() - t0,
    )


# ============================================================================ S3 population


def population(ds: Dataset, risk: pd.Series, complaints: np.ndarray, seed: int) -> pd.DataFrame:
    """The draw's population: every declaration, stratum = province × category.

    ``risk`` is ``supervision.flags.risk.risk_score`` of the flags (absent = 0). Enterprises with an
    inspection in the last 3 years (the generator's, 1.3 %) are excluded with the date;
    ``COMPLAINT_CHECK_SHARE`` of the declarations with open ``complaints`` (per declaration)
    are complaint-triggered checks (``forced``). The province is the first two digits of the
    enterprise's region (行政区划) code.
    """
    rng = np.random.default_rng([seed, 0xD4A7])
    n = ds.n
    ids = np.arange(1, n + 1, dtype=np.int64)
    region = ds.enterprise_region[ds.enterprise]
    province = np.array(PROVINCES)  # sorted: stratum labels in key order
    prov_code = np.searchsorted(province, region.astype("U2"))
    stratum_codes = prov_code.astype(np.int64) * ds.n_categories + ds.category
    labels = [f"{p}-{c + 1:03d}" for p in province for c in range(ds.n_categories)]
    stratum = pd.Categorical.from_codes(stratum_codes.astype(np.int32), categories=labels)
    stratum = stratum.remove_unused_categories()
    risk_arr = np.zeros(n)
    if len(risk):
        risk_arr[risk.index.to_numpy(dtype=np.int64) - 1] = risk.to_numpy(dtype=np.float64)
    inspected = ds.enterprise_inspection[ds.enterprise] > 0
    when = ds.enterprise_inspected_on[ds.enterprise]
    reason = np.full(n, None, dtype=object)
    if inspected.any():
        days = np.unique(when[inspected])
        text = {d: f"enterprise inspected on {d}, within the last 3 years" for d in days.tolist()}
        reason[inspected] = [text[d] for d in when[inspected].tolist()]
    forced = (complaints > 0) & (rng.random(n) < COMPLAINT_CHECK_SHARE)
    return pd.DataFrame({
        "id": ids,
        "stratum": stratum,
        "weight": np.ones(n),
        "risk": risk_arr,
        "excluded": inspected,
        "exclusion_reason": reason,
        "forced": forced,
    })


# ============================================================================ measurements


def _loadavg() -> float:
    import os

    return round(os.getloadavg()[0], 2)


def measure_flags(data: FlagData, n_declarations: int, report, repeat: int) -> pd.Series:
    """S1: ``compute_flags`` over the whole frame; returns the risk per declaration."""
    from perf.harness import Row, bench, stat_text
    from supervision.flags.risk import compute_flags, risk_score

    out: dict[str, pd.DataFrame] = {}

    def run() -> None:
        out["flags"] = compute_flags(data.frame)

    load_before = _loadavg()
    b = bench(run, repeat)
    flags = out["flags"]
    t0 = time.perf_counter()
    risk = risk_score(flags)
    risk_seconds = time.perf_counter() - t0
    by_code = {str(k): int(v) for k, v in flags["code"].value_counts().sort_index().items()}
    flagged = int(flags["declaration_id"].nunique())
    rows = data.planted["indicator_rows"]
    shown = ", ".join(f"{code} {count:,}" for code, count in by_code.items())
    report.add(Row(
        "supervision_flags",
        "risk flags: compute_flags over every declared indicator (no text similarity)",
        f"{n_declarations:,} declarations, {rows:,} indicator rows",
        b["median"], stat_text(b), GOALS["supervision_flags"],
        note=(f"{len(flags):,} flags on {flagged:,} declarations ({flagged / n_declarations:.1%}): "
              f"{shown}; risk_score of all flags {risk_seconds * 1000:.0f} ms more"),
        extra={**b, "flags_by_code": by_code, "declarations_flagged": flagged,
               "planted": data.planted, "skipped_checks": flags.attrs.get("skipped_checks", {}),
               "categories_not_modelled": len(flags.attrs.get("model_notes", {})),
               "risk_score_seconds": risk_seconds, "loadavg_before": load_before,
               "loadavg_after": _loadavg()},
    ))  # fmt: skip
    return risk


def _query_texts(ds: Dataset, corpus: Corpus, count: int, seed: int) -> list[tuple[str, int, int]]:
    """``count`` new declarations for the category: (text, enterprise id, copied id or -1).

    Half are near-copies of a stored original standard (not itself a copy) of another
    enterprise (they must be found), half are the enterprise's own new standard (drawn from the
    same vocabulary)."""
    rng = np.random.default_rng([seed, 0x9E7, corpus.category])
    product = _PRODUCTS[corpus.category % len(_PRODUCTS)]
    out = []
    for q in range(count):
        enterprise = int(rng.integers(ds.n_enterprises))  # 0-based
        row = int(rng.integers(ds.n))
        own = _recipe(ds, row, rng.integers(2**62), product)
        own = _Recipe(own.seed, enterprise, own.sequence, product, own.indicators)
        if q % 2 == 0:
            src = int(rng.integers(len(corpus.recipes)))
            while corpus.is_copy[src] or int(corpus.enterprises[src]) == enterprise + 1:
                src = int(rng.integers(len(corpus.recipes)))
            base = corpus.recipes[src]
            recipe = _Recipe(base.seed, enterprise, own.sequence, product, base.indicators)
            text = standard_text(recipe, edit=random.Random(seed * 1_000_033 + q),
                                 edit_share=COPY_EDIT_SHARE)
            out.append((text, enterprise + 1, int(corpus.ids[src])))
        else:
            out.append((standard_text(own), enterprise + 1, -1))
    return out


def measure_similarity(ds: Dataset, category: int, which: str, report, queries: int,
                       seed: int, key: str) -> None:
    """S2: one new declaration against ``category``'s stored signatures, per query: its
    signature, the index over the category (from the stored arrays, as a job loads them) and
    the query. Each query is a different declaration; 3 warm-up queries are not counted."""
    from perf.harness import Row, fmt_s, p95
    from supervision.flags.similarity import SimilarityIndex, estimate, signature

    _log(f"S2. texts and signatures of the {which} ({int(ds.category_size[category]):,})")
    corpus = standard_texts(ds, category, seed)
    texts = _query_texts(ds, corpus, queries + 3, seed)
    load_before = _loadavg()
    stamps: list[tuple[float, float, float]] = []
    found = planted = false_hits = matches = 0
    for q, (text, enterprise, copied) in enumerate(texts):
        t0 = time.perf_counter()
        sig = signature(text)
        t1 = time.perf_counter()
        index = SimilarityIndex.from_arrays(corpus.ids, corpus.enterprises, corpus.signatures)
        t2 = time.perf_counter()
        hits = index.query(sig, enterprise, SIMILARITY_THRESHOLD)
        t3 = time.perf_counter()
        if q < 3:
            continue  # warm-up
        stamps.append((t1 - t0, t2 - t1, t3 - t2))
        matches += len(hits)
        hit_ids = {h for h, _ in hits}
        if copied >= 0:
            planted += 1
            found += copied in hit_ids
        else:
            false_hits += bool(hit_ids)
    totals = [sum(s) for s in stamps]
    median = float(np.median(totals))
    parts = np.median(np.array(stamps), axis=0)
    # background similarity: MinHash estimate of 200 random pairs of stored standards
    rng = np.random.default_rng([seed, 0xBAC])
    pairs = rng.integers(0, len(corpus.ids), (200, 2))
    background = [estimate(corpus.signatures[a], corpus.signatures[b]) for a, b in pairs if a != b]
    n = len(corpus.ids)
    report.add(Row(
        key,
        f"near-identical text: one new declaration against its category ({which})",
        f"{n:,} stored standards, ~{corpus.mean_chars:,.0f} characters each",
        median,
        f"median of {len(totals)} different declarations after 3 warm-up "
        f"(p95 {fmt_s(p95(totals))}, max {fmt_s(max(totals))})",
        GOALS["supervision_similarity"],
        note=(f"signature {parts[0] * 1000:.1f} ms + index from the stored signatures "
              f"{parts[1] * 1000:.1f} ms + LSH query {parts[2] * 1000:.1f} ms (medians); "
              f"found {found} of {planted} planted copies at ≥ {SIMILARITY_THRESHOLD}, "
              f"{false_hits} of {len(totals) - planted} original texts matched something; "
              f"unrelated standards of the category share a median "
              f"{np.median(background):.2f} of their 3-grams; "
              f"{int(corpus.is_copy.sum())} near-copies among the stored texts; database read "
              f"not included"),
        extra={"runs": totals, "median": median, "p95": p95(totals), "best": min(totals),
               "signature_ms": parts[0] * 1000, "index_ms": parts[1] * 1000,
               "query_ms": parts[2] * 1000, "copies_found": found, "copies_planted": planted,
               "originals_matched": false_hits, "matches": matches,
               "background_similarity_median": float(np.median(background)),
               "category": category + 1, "category_size": n, "mean_chars": corpus.mean_chars,
               "corpus_build_seconds": corpus.build_seconds, "loadavg_before": load_before,
               "loadavg_after": _loadavg()},
    ))  # fmt: skip


def _median_category(ds: Dataset) -> int:
    """The category whose size is nearest the median size (the lowest code on a tie)."""
    sizes = ds.category_size
    return int(np.argmin(np.abs(sizes - np.median(sizes))))


def measure_draw(ds: Dataset, data: FlagData | None, risk: pd.Series, report, repeat: int,
                 seed: int) -> None:
    """S3: the stratified, risk-weighted draw over every declaration, timed; then the proof
    that it is reproducible: every timed run, a redo from the recorded parameters (through
    JSON, as stored) and a draw from the same rows in another order give the same sample."""
    from perf.harness import Row, bench, stat_text
    from supervision.sampling.method import population_hash, redo, stratified_draw

    complaints = data.complaints if data is not None else np.zeros(ds.n, dtype=np.int16)
    pop = population(ds, risk, complaints, seed)
    results = []

    def run() -> None:
        results.append(stratified_draw(pop, seed=DRAW_SEED_TEXT, ratio=DRAW_RATIO,
                                       risk_factor=DRAW_RISK_FACTOR, risk_cap=DRAW_RISK_CAP))

    load_before = _loadavg()
    b = bench(run, repeat)
    first = results[0]
    params = json.loads(json.dumps(first.to_dict()["params"]))
    t0 = time.perf_counter()
    again = redo(pop, params)
    redo_seconds = time.perf_counter() - t0
    shuffled = pop.sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32))
    reordered = stratified_draw(shuffled, seed=DRAW_SEED_TEXT, ratio=DRAW_RATIO,
                                risk_factor=DRAW_RISK_FACTOR, risk_cap=DRAW_RISK_CAP)
    t0 = time.perf_counter()
    digest = population_hash(pop)
    hash_seconds = time.perf_counter() - t0
    ids = first.sample["id"].to_numpy()
    checks = {
        "timed_runs_identical": all(r.equals(first) for r in results[1:]),
        "redo_identical": again.equals(first),
        "shuffled_rows_identical": bool(np.array_equal(reordered.sample["id"].to_numpy(), ids))
        and reordered.population_hash == first.population_hash,
        "population_hash_matches": digest == first.population_hash == again.population_hash,
    }
    identical = all(checks.values())
    sample = first.sample
    reasons = {str(k): int(v) for k, v in sample["reason"].value_counts().sort_index().items()}
    strata = int(pop["stratum"].nunique())
    in_frame = len(pop) - len(first.excluded) - reasons.get("complaint", 0)
    if identical:
        proof = (f"re-run IDENTICAL: {len(results)} runs, a redo from the recorded params "
                 f"({redo_seconds:.2f} s) and the rows shuffled give the same {len(ids):,} ids "
                 f"in the same order and population hash {first.population_hash[:12]}… "
                 f"({hash_seconds:.2f} s alone)")
    else:
        proof = "re-run NOT IDENTICAL: " + ", ".join(k for k, ok in checks.items() if not ok)
    report.add(Row(
        "supervision_draw",
        "spot-check draw: stratified (province × category), risk-weighted, reproducible",
        f"{len(pop):,} declarations, {strata:,} strata",
        b["median"], stat_text(b), GOALS["supervision_draw"],
        note=(f"{first.random_size:,} drawn ({DRAW_RATIO:.0%} of the {in_frame:,} in the frame; "
              f"{reasons.get('risk_weighted', 0):,} risk-weighted, "
              f"{reasons.get('random', 0):,} random) + {reasons.get('complaint', 0):,} "
              f"complaint-triggered, {len(first.excluded):,} excluded (inspected in the last 3 "
              f"years); {proof}"),
        extra={**b, **checks, "identical": identical, "reasons": reasons, "strata": strata,
               "population_hash": first.population_hash, "seed": str(first.seed),
               "seed_text": DRAW_SEED_TEXT, "redo_seconds": redo_seconds,
               "population_hash_seconds": hash_seconds, "sample_size": len(ids),
               "excluded": len(first.excluded), "loadavg_before": load_before,
               "loadavg_after": _loadavg()},
    ))  # fmt: skip


# ============================================================================ entry points


def _failed(report, key: str, label: str, error: BaseException) -> None:
    from perf.harness import Row

    traceback.print_exc(file=sys.stderr)
    report.add(Row(key, label, "", goal=GOALS.get(key),
                   error=f"{type(error).__name__}: {error}"))  # fmt: skip


def measure(args: argparse.Namespace, report, ds: Dataset | None = None) -> None:
    """Add the supervision rows to ``report`` (a ``perf.run.Report``).

    ``args`` is ``perf.run``'s namespace (``declarations``, ``indicators``, ``categories``,
    ``seed``, ``repeat``, ``quick``; ``queries`` is optional): the data is the same
    ``perf.generate`` dataset the ranking figures use, regenerated unless ``ds`` is given.
    A measurement that fails becomes a row with its error; the others still run.
    """
    seed = getattr(args, "seed", DEFAULT_SEED)
    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None) or (3 if quick else 5)
    queries = getattr(args, "queries", None) or (20 if quick else 50)
    if ds is None:
        _log(f"supervision: generating {args.declarations:,} × {args.indicators} in "
             f"{args.categories} categories")  # fmt: skip
        ds = generate(args.declarations, args.indicators, args.categories, seed=seed)

    risk = pd.Series(dtype=float)
    data = None
    try:
        _log("S1. building the flag frame")
        data = flag_frame(ds, seed)
        _log(f"S1. compute_flags on {len(data.frame):,} rows ({repeat} timed runs + warm-up)")
        risk = measure_flags(data, ds.n, report, repeat)
    except Exception as error:  # noqa: BLE001 - reported as the row's error
        _failed(report, "supervision_flags", "risk flags", error)
    finally:
        if data is not None:
            data.frame = pd.DataFrame()  # free the 10^7-row frame before the next figures

    largest = int(np.argmax(ds.category_size))
    for key, category, which in (("supervision_similarity", largest, "largest category"),
                                 ("supervision_similarity_median", _median_category(ds),
                                  "median category")):  # fmt: skip
        try:
            measure_similarity(ds, category, which, report, queries, seed, key)
        except Exception as error:  # noqa: BLE001
            _failed(report, key, f"near-identical text ({which})", error)

    try:
        _log(f"S3. stratified draw ({repeat} timed runs + warm-up, redo, shuffled)")
        measure_draw(ds, data, risk, report, repeat, seed)
    except Exception as error:  # noqa: BLE001
        _failed(report, "supervision_draw", "spot-check draw", error)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m perf.supervision",
        description="The supervision figures of the perf harness, alone (no database).",
    )
    p.add_argument("--declarations", type=int, default=2_000_000)
    p.add_argument("--indicators", type=int, default=6)
    p.add_argument("--categories", type=int, default=500)
    p.add_argument("--quick", action="store_true",
                   help="1/20 of the declarations and categories, fewer repetitions")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs of S1 and S3 after one warm-up (default 5, quick 3)")
    p.add_argument("--queries", type=int, default=None,
                   help="timed similarity queries per category (default 50, quick 20)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out"
                   / "supervision.json")  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.declarations = max(1, args.declarations // 20)
        args.categories = max(1, args.categories // 20)
    return args


def main(argv: list[str] | None = None) -> int:
    import os

    from perf.generate import describe
    from perf.harness import Report, machine_info, render, write_json

    args = parse_args(argv)
    command = "python -m perf.supervision " + " ".join(sys.argv[1:] if argv is None else argv)
    report = Report(machine=machine_info(), args={**{k: str(v) for k, v in vars(args).items()},
                                                  "command": command.strip()})  # fmt: skip
    report.machine["postgresql"] = "not used"
    _log(f"generating {args.declarations:,} × {args.indicators} in {args.categories} categories")
    ds = generate(args.declarations, args.indicators, args.categories, seed=args.seed)
    report.dataset = describe(ds)
    measure(args, report, ds=ds)
    report.machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(render(report))
    write_json(report, args.out)
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
