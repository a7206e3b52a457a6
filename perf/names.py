"""Realistic Chinese names for the generated declarations (seeded numpy, vectorised).

Search cost depends on the text: one synthetic word repeated 2 M times makes every query
either hit everything or nothing. These names follow the national platform's shape: enterprise
names by province (省名 + 字号 + 行业词 + 组织形式), brands, product names built from series
words and product nouns, and model numbers with ``-`` and ``/`` (``KFR-35GW/BP3DN1``).
"""

from __future__ import annotations

import numpy as np

PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁",
    "22": "吉林", "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽",
    "35": "福建", "36": "江西", "37": "山东", "41": "河南", "42": "湖北", "43": "湖南",
    "44": "广东", "45": "广西", "46": "海南", "50": "重庆", "51": "四川", "52": "贵州",
    "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏",
    "65": "新疆",
}
TRADE_WORDS = np.array(
    ["海尔", "美的", "格力", "奥克斯", "志高", "长虹", "康佳", "创维", "海信", "九阳", "苏泊尔",
     "方太", "老板", "华帝", "万和", "万家乐", "箭牌", "恒洁", "九牧", "惠达", "法恩莎", "欧普",
     "雷士", "三雄", "阳光", "科龙", "新飞", "容声", "华凌", "小天鹅", "荣事达", "澳柯玛",
     "星星", "新科", "扬子", "春兰", "双鹿", "金羚", "威力", "樱花", "能率", "林内", "德意",
     "帅康", "亿田", "火星人", "浙派", "鸿雁", "公牛", "正泰", "德力西", "飞雕", "西蒙",
     "瑞光", "宏图", "汇源", "金达", "永昌", "兴业", "鑫源", "恒通", "华泰", "中科", "远大"])
INDUSTRY = np.array(["电器", "家电", "空调器", "制冷设备", "照明", "光电", "卫浴", "洁具", "厨具",
                     "热水器", "电子", "科技", "智能科技", "节能科技", "机电", "实业"])
FORMS = np.array(["有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "制造有限公司"])
SERIES = np.array(["云", "风", "静", "悦", "智", "享", "冷", "暖", "睿", "尊", "逸", "星", "锐",
                   "雅", "舒", "畅", "新", "极", "臻", "净"])
SERIES2 = np.array(["佳", "尚", "享", "致", "酷", "凌", "铂", "金", "银", "晶", "光", "影", "韵",
                    "派", "系", "王", "宝", "龙"])
NOUNS = np.array(["挂壁式空调", "柜式空调", "变频空调", "中央空调", "冰箱", "冷柜", "洗衣机",
                  "电热水器", "燃气热水器", "LED筒灯", "LED面板灯", "吸顶灯", "坐便器", "蹲便器",
                  "水嘴", "淋浴花洒", "电饭煲", "电磁炉", "吸油烟机", "燃气灶", "净水器",
                  "空气净化器", "电风扇", "除湿机"])
ADJ = np.array(["", "节能", "一级能效", "静音", "智能", "家用", "商用", "节水", "变频", "高效"])
MODEL_PREFIX = np.array(["KFR", "KF", "BCD", "XQB", "XQG", "JSQ", "DSZF", "CXW", "JZT", "TD",
                         "LED", "WC", "ZJ", "HG", "MR", "RO"])
MODEL_TYPE = np.array(["GW", "LW", "W", "L", "WPZ", "D", "T", "GW/BP", "LW/BP", "WE", "A"])
LETTERS = np.array(list("ABCDEFGHJKLMNPRSTUVWXY"))


def _pick(rng: np.random.Generator, options: np.ndarray, n: int, skew: float = 1.1) -> np.ndarray:
    """Zipf-like choice: a few brands and nouns are very common, most are rare."""
    weights = 1.0 / np.arange(1, len(options) + 1) ** skew
    return options[rng.choice(len(options), size=n, p=weights / weights.sum())]


def enterprise_names(rng: np.random.Generator, regions: np.ndarray) -> np.ndarray:
    n = len(regions)
    province = np.array([PROVINCES.get(str(r)[:2], "") for r in regions], dtype=object)
    trade = _pick(rng, TRADE_WORDS, n, 0.6).astype(object)
    extra = np.where(rng.random(n) < 0.7,
                     _pick(rng, SERIES, n, 0.3).astype(object) + _pick(rng, SERIES2, n, 0.3), "")
    serial = np.where(rng.random(n) < 0.5, rng.integers(1, 99, n).astype(str), "").astype(object)
    return province + trade + extra + serial + _pick(rng, INDUSTRY, n, 0.5) + _pick(rng, FORMS, n, 0.8)


def product_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """name, brand, model and the standard's name of ``n`` declarations' products."""
    noun = _pick(rng, NOUNS, n, 0.9).astype(object)
    series = _pick(rng, SERIES, n, 0.7).astype(object) + _pick(rng, SERIES2, n, 0.7)
    adj = _pick(rng, ADJ, n, 0.5).astype(object)
    brand = _pick(rng, TRADE_WORDS, n, 1.0).astype(object)
    model = (
        _pick(rng, MODEL_PREFIX, n, 0.8).astype(object) + "-"
        + rng.integers(10, 999, n).astype(str).astype(object)
        + _pick(rng, MODEL_TYPE, n, 0.9)
        + np.where(rng.random(n) < 0.6, "/" + LETTERS[rng.integers(0, len(LETTERS), n)].astype(object)
                   + rng.integers(1, 9, n).astype(str), "")
    )
    return {
        "name": series + adj + noun,
        "brand": brand,
        "model": model,
        "std_name": adj + noun,
    }
