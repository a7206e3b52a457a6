"""The labelled set for copy detection (``supervision.flags.copying``): planted copies with light
edits among independent standards of the same product category.

How it is built (deterministic for a seed; ``python -m tests.supervision.copy_corpus`` writes
``tests/supervision/data/copy_labelled_set.json``):

* 6 product categories, each with its forced part: the benchmark indicators (name, unit, the
  national test method), the cited national standards and the section headings and
  boilerplate sentences every enterprise standard of the category uses (each standard takes
  about 70 % of them, as real standards copy the national one's phrasing);
* 22 independent standards per category, each by its own enterprise: the boilerplate, plus
  12–18 sentences of its own assembled from the category's vocabulary (parts, materials,
  checks, figures: each fragment is shared by many standards, a whole sentence rarely), a
  table of the benchmark rows (values drawn around the grade thresholds) and 4–6 own rows
  picked from a common pool of indicator names with values from short lists and test methods
  from a common pool or the enterprise's own (``按企业标准 7.x``);
* 8 more independent standards per category with nothing of their own (the hardest
  negatives, like most demo declarations): the boilerplate and the rows everybody declares,
  with the usual values and methods;
* 6 planted copies per category: another enterprise takes an independent standard and edits
  it lightly: its own name and model codes, 10–25 % of the sentences reworded (a word
  swapped, a figure changed), one sentence dropped and one added, rows reordered, one or two
  values changed, sometimes a test method reworded.

A pair (original, copy) is positive; every other pair of different enterprises of a category
is negative (the hard ones: same boilerplate, same benchmark rows, same common rows). In all:
216 standards, 36 positive pairs, 6 × C(36, 2) − 36 = 3,744 negative pairs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261207
PATH = Path(__file__).with_name("data") / "copy_labelled_set.json"
INDEPENDENT = 22
MINIMAL = 8
COPIES = 6

CATEGORIES = {
    "room_ac": {
        "product": "房间空气调节器",
        "refs": ["GB 21455-2019", "GB/T 7725-2022", "GB 4706.32-2012", "GB/T 191-2008"],
        "bench": [("全年能源消耗效率 APF", "W/W", "ge", [4.5, 4.8, 5.0, 5.1, 5.3, 5.5],
                   "按 GB/T 7725-2022 附录 C"),
                  ("制冷季节能源消耗效率 SEER", "W·h/(W·h)", "ge", [5.0, 5.4, 5.8, 6.1],
                   "按 GB 21455-2019 附录 A")],
        "parts": ["室内机", "室外机", "蒸发器", "冷凝器", "压缩机", "电控盒", "导风板", "过滤网",
                  "排水管", "遥控器", "面板", "风扇电机"],
    },
    "led": {
        "product": "LED 筒灯",
        "refs": ["GB 30255-2019", "GB 7000.1-2015", "GB/T 24824-2009", "GB 17625.1-2022"],
        "bench": [("光效", "lm/W", "ge", [80, 90, 95, 100, 110], "按 GB 30255-2019 附录 A"),
                  ("功率因数", "", "ge", [0.5, 0.7, 0.9, 0.95], "按 GB/T 24824-2009")],
        "parts": ["灯体", "散热器", "驱动电源", "透镜", "反光杯", "弹簧卡扣", "接线端子", "面环",
                  "LED 模组", "导热垫", "扩散板", "电源线"],
    },
    "gas_heater": {
        "product": "家用燃气快速热水器",
        "refs": ["GB 6932-2015", "GB 20665-2015", "GB 16410-2020", "GB/T 191-2008"],
        "bench": [("热效率 η1", "%", "ge", [89, 92, 96, 98, 100], "按 GB 6932-2015 7.10"),
                  ("NOx 排放等级", "级", "ge", [3, 4, 5], "按 GB 6932-2015 7.7")],
        "parts": ["燃烧器", "热交换器", "比例阀", "风机", "点火器", "火焰探针", "水流传感器",
                  "控制器", "烟管", "温度传感器", "显示屏", "壳体"],
    },
    "toilet": {
        "product": "坐便器",
        "refs": ["GB 25502-2024", "GB/T 6952-2015", "GB/T 26730-2011", "GB/T 191-2008"],
        "bench": [("平均用水量", "L", "le", [3.5, 4.0, 4.5, 5.0], "按 GB 25502-2024 附录 A"),
                  ("冲洗功能", "", "eq", None, "按 GB/T 6952-2015 8.8")],
        "parts": ["陶瓷体", "釉面", "冲水阀", "进水阀", "盖板", "缓降铰链", "排污口", "水箱",
                  "密封圈", "按键", "安装螺栓", "存水弯"],
    },
    "fridge": {
        "product": "家用电冰箱",
        "refs": ["GB 12021.2-2025", "GB/T 8059-2016", "GB 4706.13-2014", "GB/T 191-2008"],
        "bench": [("能效指数", "%", "le", [35, 40, 45, 50, 55], "按 GB 12021.2-2025 附录 B"),
                  ("冷冻能力", "kg/12h", "ge", [4.5, 6.0, 8.0, 10.0], "按 GB/T 8059-2016")],
        "parts": ["箱体", "门封条", "压缩机", "蒸发器", "冷凝器", "温控器", "搁架", "抽屉",
                  "风道", "化霜加热器", "门铰链", "照明灯"],
    },
    "faucet": {
        "product": "水嘴",
        "refs": ["GB 25501-2019", "QB/T 1334-2013", "GB/T 18145-2014", "GB/T 191-2008"],
        "bench": [("流量", "L/min", "le", [5.0, 6.0, 7.5, 9.0], "按 GB 25501-2019 附录 A"),
                  ("阀芯寿命", "次", "ge", [200000, 300000, 500000], "按 QB/T 1334-2013 7.9")],
        "parts": ["阀体", "阀芯", "起泡器", "手柄", "软管", "密封垫", "底座", "冷热水隔墙",
                  "出水嘴", "连接螺母", "镀层", "固定件"],
    },
}

BOILERPLATE = [
    "本标准规定了{p}的术语和定义、要求、试验方法、检验规则、标志、包装、运输和贮存。",
    "本标准适用于本公司生产的{p}。",
    "下列文件对于本文件的应用是必不可少的。",
    "凡是注日期的引用文件，仅注日期的版本适用于本文件。",
    "凡是不注日期的引用文件，其最新版本（包括所有的修改单）适用于本文件。",
    "产品应符合本标准的要求，并按经规定程序批准的图样及技术文件制造。",
    "产品的安全性能应符合相关强制性国家标准的规定。",
    "检验分为出厂检验和型式检验。",
    "每台产品应经制造厂质量检验部门检验合格后方能出厂，并附有产品合格证。",
    "有下列情况之一时，应进行型式检验：新产品试制定型鉴定；正式生产后结构、材料、工艺有较大改变；停产一年以上恢复生产。",
    "型式检验的样品应从出厂检验合格的产品中随机抽取。",
    "产品应在明显位置固定铭牌，铭牌内容应清晰、耐久。",
    "包装箱上应标明产品名称、型号、制造厂名称和地址、净重、毛重及储运图示标志。",
    "产品在运输过程中应避免剧烈碰撞、雨淋和暴晒。",
    "产品应贮存在通风良好、无腐蚀性气体的仓库内。",
    "本标准按照 GB/T 1.1-2020《标准化工作导则 第1部分：标准化文件的结构和起草规则》的规定起草。",
]

VERBS = ["应采用", "宜选用", "应使用", "须选用"]
MATERIALS = ["阻燃 ABS 工程塑料", "SUS304 不锈钢", "铝合金压铸件", "冷轧镀锌钢板", "无铅黄铜",
             "耐候 PC 材料", "食品级硅橡胶", "高密度聚乙烯", "玻璃纤维增强尼龙", "紫铜管",
             "陶瓷阀片", "改性 PP 材料", "环氧粉末涂层钢板", "镀镍铜件"]
CHECKS = ["经 {n} 次开关循环后无裂纹、无变形", "在 {n} ℃ 环境中连续运行 {m} h 后功能正常",
          "表面经 {n} h 中性盐雾试验后无锈蚀", "承受 {n} N 静载荷 {m} min 后无永久变形",
          "在 {n} % 相对湿度下存放 {m} h 后绝缘电阻不低于 {k} MΩ",
          "从 {n} mm 高度跌落 {m} 次后无影响使用的损坏", "装配间隙不大于 {n} mm 且无松动",
          "表面色差 ΔE 不大于 {n}", "噪声不大于 {n} dB(A)，无异常振动",
          "连续工作 {n} 个循环后密封处无渗漏", "温升不超过 {n} K", "外观无划伤、无毛刺、无缩孔"]
CLAUSES = ["出厂前应逐台检查。", "由质检部门按批次抽检。", "应在装配线上全数检测。",
           "首件检验合格后方可批量生产。", "检验记录应保存不少于三年。", "不合格品应隔离并追溯原因。",
           "供方应提供材质证明。", "每批次抽取 {n} 件进行验证。"]
OWN_ROWS = ["待机功率", "噪声", "外壳防护等级", "绝缘电阻", "泄漏电流", "表面耐磨性",
            "启动时间", "质保期", "包装跌落", "耐盐雾", "色温偏差", "遥控距离", "抗菌率",
            "耐压强度", "密封性", "防护涂层厚度"]
OWN_UNITS = {"待机功率": "W", "噪声": "dB(A)", "外壳防护等级": "", "绝缘电阻": "MΩ",
             "泄漏电流": "mA", "表面耐磨性": "转", "启动时间": "s", "质保期": "年", "包装跌落": "mm",
             "耐盐雾": "h", "色温偏差": "K", "遥控距离": "m", "抗菌率": "%", "耐压强度": "MPa",
             "密封性": "", "防护涂层厚度": "μm"}
OWN_VALUES = [[0.5, 1.0, 2.0], [36, 38, 40, 42], ["IPX4", "IP44", "IP54"], [2, 5, 10],
              [0.25, 0.5, 0.75], [100, 300, 500], [1, 2, 3], [1, 2, 3, 6], [500, 750, 1000],
              [24, 48, 96], [150, 200, 300], [8, 10, 12], [90, 95, 99], [0.6, 1.0, 1.6],
              ["无渗漏", "无泄漏"], [40, 60, 80]]
COMMON_METHODS = ["按 GB 4706.1-2005 试验", "按 GB/T 4208-2017 试验", "按 GB/T 2423.17 试验",
                  "目测检查", "按 GB/T 4857.5 试验", "用卡尺测量"]


WORDS = ("精密 冲压 注塑 焊接 喷涂 装配 校准 老化 烘干 清洗 钝化 电镀 阳极 氧化 退火 淬火 研磨 抛光 "
         "激光 切割 折弯 铆接 灌封 固化 贴片 回流 波峰 点胶 检漏 充注 抽真空 保压 时效 整形 "
         "去毛刺 攻丝 铣削 车削 镗孔 滚压 压装 热熔 超声 振动 称重 扫码 追溯 批号 工位 夹具 "
         "模具 治具 量规 塞尺 卡规 样板 首检 巡检 终检 复判 隔离 返工 报废 评审 确认 记录 "
         "放行 冷却 预热 恒温 恒湿 密闭 通风 除尘 防静电 接地 屏蔽 滤波 稳压 限流 保护 "
         "自检 联锁 复位 报警 显示 存储 上传 比对 判定 分级 标识 包覆 缠绕 捆扎 封箱 码垛").split()


def _own_paragraph(rng: random.Random, parts: list[str]) -> str:
    """A sentence only this enterprise writes: its own process, in its own words."""
    words = rng.sample(WORDS, 9)
    return (f"{rng.choice(parts)}经{words[0]}{words[1]}{words[2]}后进行{words[3]}{words[4]}，"
            f"再按{words[5]}{words[6]}要求完成{words[7]}{words[8]}。")


def _sentence(rng: random.Random, parts: list[str]) -> str:
    n, m, k = rng.randint(2, 60) * 5, rng.randint(1, 48), rng.choice([2, 5, 10, 20, 50])
    check = rng.choice(CHECKS).format(n=n, m=m, k=k)
    first = rng.choice(parts)
    second = rng.choice([p for p in parts if p != first])
    options = [
        f"{first}{rng.choice(VERBS)}{rng.choice(MATERIALS)}，{check}。",
        f"{first}与{second}的连接处{check}，{rng.choice(CLAUSES).format(n=rng.randint(2, 20))}",
        f"{first}在额定工况下{check}。",
        f"{first}的{rng.choice(['尺寸', '重量', '厚度', '外观', '结构'])}应符合图样要求，{check}。",
    ]
    return rng.choice(options)


def _company(rng: random.Random, n: int) -> tuple[str, str]:
    first = "华中东南西北金银恒泰瑞康安盛达鑫宏隆源丰晨星"
    name = "".join(rng.sample(first, 2)) + rng.choice(["电器", "科技", "实业", "智能", "家电"])
    return f"{name}有限公司（{n:03d}）", "".join(rng.sample("ABCDEFGHJKLMNPQRSTUVWXYZ", 3))


def _minimal(rng: random.Random, cat: dict, company: str, code: str) -> dict:
    """A standard with nothing of its own: the boilerplate and the rows everybody declares,
    with the usual values and methods (what the demo's declarations look like, and what the
    whole-document comparison took for copies)."""
    p = cat["product"]
    lines = [f"Q/{code} {rng.randint(1, 30):04d}-{rng.choice([2023, 2024, 2025])} {p}",
             f"本标准由{company}提出并起草。", f"规范性引用文件：{'；'.join(cat['refs'])}。"]
    lines += [b.format(p=p) for b in BOILERPLATE if rng.random() < 0.9]
    rows = []
    for name, unit, op, values, method in cat["bench"]:
        if values is None:
            rows.append({"name": name, "op": "eq", "text_value": "洗净、排放、水封回复均符合要求",
                         "unit": unit, "test_method": method, "benchmark_code": name})
        else:
            rows.append({"name": name, "op": op, "value": rng.choice(values[:2]), "unit": unit,
                         "test_method": method, "benchmark_code": name})
    for i in (0, 1, 2):
        name = OWN_ROWS[i]
        value = OWN_VALUES[i][0]
        row = {"name": name, "op": "le" if i == 0 else "ge", "unit": OWN_UNITS[name],
               "test_method": COMMON_METHODS[i]}
        row.update(op="eq", text_value=value) if isinstance(value, str) else row.update(value=value)
        rows.append(row)
    return {"text": "\n".join(lines), "rows": rows, "company": company, "code": code}


def _standard(rng: random.Random, cat: dict, company: str, code: str) -> dict:
    p = cat["product"]
    refs = "；".join(cat["refs"])
    lines = [f"Q/{code} {rng.randint(1, 30):04d}-{rng.choice([2023, 2024, 2025])} {p}",
             f"本标准由{company}提出并起草。"]
    lines += [b.format(p=p) for b in BOILERPLATE if rng.random() < 0.7]
    lines.insert(3, f"规范性引用文件：{refs}。")
    own = [_sentence(rng, cat["parts"]) for _ in range(rng.randint(8, 12))]
    own += [_own_paragraph(rng, cat["parts"]) for _ in range(rng.randint(4, 8))]
    rng.shuffle(own)
    models = [f"{code}-{rng.randint(10, 99)}{rng.choice('ABCDEF')}{rng.randint(1, 9)}"
              for _ in range(rng.randint(2, 4))]
    own.insert(0, f"本标准适用的型号为 {'、'.join(models)}。")
    text_lines = lines[:4] + own + lines[4:]
    rows = []
    for name, unit, op, values, method in cat["bench"]:
        if values is None:
            rows.append({"name": name, "op": "eq", "text_value": "洗净、排放、水封回复均符合要求",
                         "unit": unit, "test_method": method, "benchmark_code": name})
        else:
            rows.append({"name": name, "op": op, "value": rng.choice(values), "unit": unit,
                         "test_method": method, "benchmark_code": name})
    for i in rng.sample(range(len(OWN_ROWS)), rng.randint(4, 6)):
        name, value = OWN_ROWS[i], rng.choice(OWN_VALUES[i])
        method = (rng.choice(COMMON_METHODS) if rng.random() < 0.6
                  else f"按企业标准 {rng.randint(5, 8)}.{rng.randint(1, 12)} 规定的方法")
        row = {"name": name, "op": "le" if i in (0, 4, 6) else "ge", "unit": OWN_UNITS[name],
               "test_method": method}
        if isinstance(value, str):
            row.update(op="eq", text_value=value)
        else:
            row["value"] = value
        rows.append(row)
    return {"text": "\n".join(text_lines), "rows": rows, "company": company, "code": code}


def _reword(rng: random.Random, sentence: str) -> str:
    swaps = [("应", "须"), ("不大于", "不超过"), ("无", "不得有"), ("连接处", "结合部位"),
             ("符合", "满足"), ("额定工况", "标称工况"), ("检查", "检验"), ("采用", "选用")]
    rng.shuffle(swaps)
    for old, new in swaps:
        if old in sentence:
            return sentence.replace(old, new, 1)
    digits = [i for i, c in enumerate(sentence) if c.isdigit()]
    if digits:
        i = rng.choice(digits)
        return sentence[:i] + str((int(sentence[i]) + 1) % 10) + sentence[i + 1:]
    return sentence + "（修改）"


def _copy(rng: random.Random, original: dict, cat: dict, company: str, code: str) -> dict:
    lines = original["text"].split("\n")
    lines = [ln.replace(original["company"], company).replace(original["code"], code)
             for ln in lines]
    body = list(range(2, len(lines)))
    for i in rng.sample(body, max(1, int(len(body) * rng.uniform(0.10, 0.25)))):
        lines[i] = _reword(rng, lines[i])
    del lines[rng.choice(body[1:])]
    lines.insert(rng.randint(3, len(lines)), _sentence(rng, cat["parts"]))
    rows = [dict(r) for r in original["rows"]]
    rng.shuffle(rows)
    numeric = [r for r in rows if isinstance(r.get("value"), (int, float))
               and not r.get("benchmark_code")]
    for row in rng.sample(numeric, min(len(numeric), rng.randint(1, 2))):
        row["value"] = round(row["value"] * rng.choice([0.9, 1.1, 1.2]), 3)
    if rng.random() < 0.4:
        row = rng.choice(rows)
        row["test_method"] = row["test_method"].replace("按", "依据", 1)
    return {"text": "\n".join(lines), "rows": rows, "company": company, "code": code}


def build(seed: int = SEED) -> dict:
    rng = random.Random(seed)
    documents, positives = [], []
    n = 0
    for key, cat in CATEGORIES.items():
        made, plain = [], []
        for _ in range(INDEPENDENT):
            n += 1
            company, code = _company(rng, n)
            doc = _standard(rng, cat, company, code)
            made.append({"id": n, "enterprise": n, "category": key, **doc})
        for _ in range(MINIMAL):
            n += 1
            company, code = _company(rng, n)
            plain.append({"id": n, "enterprise": n, "category": key,
                          **_minimal(rng, cat, company, code)})
        originals = rng.sample(made, COPIES)
        made += plain
        copies = []
        for original in originals:
            n += 1
            company, code = _company(rng, n)
            doc = _copy(rng, original, cat, company, code)
            copies.append({"id": n, "enterprise": n, "category": key, **doc})
            positives.append([original["id"], n])
        documents += made + copies
    for d in documents:
        d.pop("company"), d.pop("code")
    forced = {key: " ".join([cat["product"], *cat["refs"], *(b[0] for b in cat["bench"])])
              for key, cat in CATEGORIES.items()}
    return {"seed": seed, "documents": documents, "positives": positives, "forced": forced}


def load() -> dict:
    return json.loads(PATH.read_text(encoding="utf-8"))


if __name__ == "__main__":
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PATH}")
