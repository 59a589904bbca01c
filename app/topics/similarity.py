"""Similar suggestions (issue 3, item 3): rank existing open suggestions that look like a new title.

Pure functions, no database: the caller loads the open suggestions of the same platform and
passes them in as ``(id, title, description)`` tuples; :func:`rank_similar` returns the best
``(id, score)`` pairs, :func:`similarity` scores two texts in ``[0, 1]``.

Method, and why
---------------
Resident titles are short (5–30 characters), colloquial and full of paraphrase: "停车难" and
"车位紧张" share no character but are the same complaint, while "路灯太亮影响休息" and "路灯不亮"
share most of their characters and are opposite complaints. Neither plain string similarity nor
plain word overlap handles both, so each text is analysed into two views:

1. **Concepts** (the main signal). The text is normalised (NFKC, lower case, symbols and emoji
   dropped) and cut with jieba (precise mode, with the thesaurus words added to its dictionary so
   that 路灯 / 不亮 / 广场舞 stay whole; thesaurus words hidden inside longer words are added too:
   "停车位" → 停车 / 车位). Stop words are dropped and every remaining word is mapped through a
   small civic thesaurus (:data:`_CONCEPT_GROUPS`) to a concept: 路灯 / 街灯 / 照明 →
   "streetlight", 停车 / 车位 → "parking", 坏 / 损毁 / 不亮 / 失灵 → "broken", 少 / 紧张 / 不足 →
   "shortage" … A civic suggestion is mostly *an object plus a problem*, so the thesaurus has object
   groups (weight 1) and problem-kind groups (lower weight, they recur across objects); generic
   words (小区, 社区, 门口 …) get a low weight and unknown words take part as themselves. Two texts
   are compared by the weighted cosine of their concept sets.
2. **Character bigrams** of each run of letters/digits, compared by the Dice coefficient. This
   view ignores segmentation entirely, so it catches what jieba cut differently or what the
   thesaurus does not know ("窨井盖" / "井盖").

``score = 0.75 * concept_cosine + 0.25 * bigram_dice``, halved when both texts name a problem and
the problems differ (:data:`_PROBLEM_FAMILIES`: "停车位太少" vs "停车收费太高", "加装电梯" vs
"电梯故障困人" share the object but are different suggestions). The concept view dominates because
it is the one that can tell paraphrases from hard negatives; the bigram view is a safety net. An
embedding model would do better on open-ended paraphrase but needs model weights and CPU per
keystroke; this is deterministic, explainable, and extended by adding words to the thesaurus.
Its known weakness: a problem phrased in words the thesaurus lacks ("停车太难了": 太难) gets no
problem kind, so the conflict rule cannot fire.

Measured on 62 hand-made labelled pairs plus 12 ranking groups in
``tests/unit/data/similar_pairs.json`` (``tests/unit/test_similarity.py`` prints the numbers). At
``DEFAULT_THRESHOLD = 0.40`` (chosen on the 36 dev pairs; recall is preferred because an extra
suggestion shown costs the resident a glance, a missed one costs a duplicate): dev precision 0.90 /
recall 0.95; held-out pairs (26, scored once after the method was fixed) precision 0.92 / recall
0.86; the true duplicate ranks first among 6 distractors in 11 of 12 groups. The same person wrote
the pairs and the thesaurus, so expect lower figures on real traffic.

Speed: analysing a short title costs tens of microseconds after jieba is loaded, and analyses are
memoised (:func:`_analyse` is an LRU cache), so the same few hundred candidates re-scored on every
keystroke cost only the set arithmetic. jieba itself is loaded lazily, once, quietly (its log goes
to the ``jieba`` logger at WARNING level; its dictionary cache file is jieba's default one in the
system temp dir); call :func:`warm_up` at process start to pay that cost (~1 s) up front.
"""
from __future__ import annotations

import logging
import math
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Score at or above which two texts count as "look alike" (chosen on the dev pairs; see the test).
DEFAULT_THRESHOLD = 0.40
DEFAULT_LIMIT = 5
# Long input is truncated before analysis: titles are short, descriptions only add context.
MAX_TITLE_CHARS = 120
MAX_DESCRIPTION_CHARS = 400
# A description can only lift a candidate to this fraction of what the same words in its title give.
_DESCRIPTION_FACTOR = 0.8

_CONCEPT_WEIGHT = 0.75
_BIGRAM_WEIGHT = 0.25

# Weights of the token kinds in the concept cosine.
_W_OBJECT = 1.0
_W_OTHER = 0.8        # a content word that the thesaurus does not know
_W_SINGLE = 0.5       # an unknown single character (often a segmentation leftover)
_W_GENERIC = 0.3      # generic civic words that say little about the problem

# Words dropped entirely: function words, request phrasing, pronouns, fillers.
_STOP_WORDS = frozenset("""
的 了 是 在 有 和 与 及 或 也 都 就 还 很 太 又 再 被 把 给 让 向 对 从 到 为 以 而 且 但 却 并 等
这 那 这个 那个 这里 那里 这些 那些 这边 我 我们 你 你们 他 他们 她 它 咱们 大家 自己 本 该
请 建议 希望 能否 能不能 可以 可否 是否 要 想 需要 应该 尽快 赶紧 马上 一下 一个 一些 有些 有点
个 一 些 里 上 下 中 内 外 前 后 边 呢 吗 吧 啊 呀 哦 嘛 么 着 过 得 地 之 其 所 于 则 即 如
关于 问题 情况 现象 方面 事情 事 怎么 怎么办 什么 如何 为什么 谢谢 感谢 麻烦 呼吁 反映 反应
不 没 很多 非常 特别 比较 十分 经常 总是 一直 老是 已经 还是 就是 都是 真的 实在 确实 好
""".split())

_GENERIC_WORDS = frozenset("""
小区 社区 居民 群众 业主 住户 村民 附近 周边 周围 门口 家门口 路段 地方 区域 一带 这块
没有 晚上 夜里 白天 每天 天天 几天 好几天 最近 现在 时候 时段 出行 生活 影响 存在 严重 管理 处理
解决 整治 清理 维修 修理 修 改善 加强 规范 落实 问题 人 大 小 多 新 老
""".split())

# Civic thesaurus: concept -> (weight, words). Object groups name a thing residents complain
# about; problem groups name what is wrong. Written from common neighbourhood-hotline categories.
_CONCEPT_GROUPS: dict[str, tuple[float, tuple[str, ...]]] = {
    # objects and places
    "streetlight": (_W_OBJECT, ("路灯", "街灯", "照明", "照明设施", "路灯杆", "灯", "灯杆")),
    "stairwell_light": (_W_OBJECT, ("楼道灯", "声控灯", "感应灯")),
    "parking": (_W_OBJECT, ("停车", "车位", "停车位", "停车场", "泊车", "停车难", "车库")),
    "disorderly_parking": (_W_OBJECT, ("乱停乱放", "乱停", "乱放", "随意停放", "乱停车")),
    "ebike": (_W_OBJECT, ("电动车", "电瓶车", "电动自行车", "电单车", "电动")),
    "charging": (_W_OBJECT, ("充电", "充电桩", "充电设施", "充电站", "充电口", "充电柜")),
    "garbage": (_W_OBJECT, ("垃圾", "废弃物", "生活垃圾", "垃圾站", "垃圾房", "垃圾点")),
    "bin": (_W_OBJECT, ("垃圾桶", "垃圾箱", "果皮箱")),
    "collection": (_W_OBJECT, ("清运", "收运", "拉走", "转运")),
    "sorting": (_W_OBJECT, ("分类", "垃圾分类")),
    "lift": (_W_OBJECT, ("电梯", "升降梯", "直梯")),
    "old_building": (_W_OBJECT, ("老旧小区", "老楼", "老小区", "旧楼", "老旧", "老房子")),
    "old_people": (_W_OBJECT, ("老人", "老年", "老年人", "长者", "高龄", "老人家")),
    "meals": (_W_OBJECT, ("食堂", "饭堂", "助餐", "助餐点", "老年餐", "吃饭", "用餐", "就餐",
                          "送餐", "饭菜")),
    "school": (_W_OBJECT, ("学校", "校门", "校门口", "上下学", "放学", "上学", "接送", "小学",
                           "中学", "幼儿园", "学生")),
    "traffic_jam": (_W_OBJECT, ("拥堵", "堵车", "交通拥堵", "塞车", "拥挤", "堵")),
    "square_dance": (_W_OBJECT, ("广场舞", "跳舞", "跳广场舞", "舞")),
    "noise": (_W_OBJECT, ("噪音", "噪声", "吵", "太吵", "吵闹", "声音", "音响", "喇叭", "响声")),
    "construction": (_W_OBJECT, ("施工", "工地", "建筑工地", "夜间施工")),
    "renovation": (_W_OBJECT, ("装修", "装修噪音")),
    "fumes": (_W_OBJECT, ("油烟", "排烟", "烟味", "烧烤")),
    "restaurant": (_W_OBJECT, ("餐馆", "饭店", "饭馆", "餐饮", "烧烤店", "餐厅", "饭店")),
    "stairwell": (_W_OBJECT, ("楼道", "走廊", "过道", "楼梯间", "楼梯")),
    "clutter": (_W_OBJECT, ("杂物", "堆放", "堆满", "堆物", "乱堆", "堆积", "堆", "乱堆放")),
    "fire": (_W_OBJECT, ("消防", "火灾", "着火", "消防通道", "消防栓", "灭火器")),
    "waterlogging": (_W_OBJECT, ("积水", "内涝", "淹", "被淹", "水淹", "排水")),
    "rain": (_W_OBJECT, ("下雨", "雨天", "下雨天", "暴雨", "大雨", "雨")),
    "sewer": (_W_OBJECT, ("下水道", "排水管", "污水管", "污水", "化粪池", "管道")),
    "manhole": (_W_OBJECT, ("井盖", "窨井盖", "窨井", "下水井")),
    "dog": (_W_OBJECT, ("狗", "宠物狗", "遛狗", "犬", "养狗", "宠物", "狗狗")),
    "leash": (_W_OBJECT, ("拴绳", "牵绳", "栓绳", "不拴绳", "不牵绳", "狗绳")),
    "cat": (_W_OBJECT, ("猫", "流浪猫", "野猫")),
    "dog_waste": (_W_OBJECT, ("狗粪", "粪便", "狗屎")),
    "bus": (_W_OBJECT, ("公交", "公交车", "公交线路", "公交线", "巴士", "线路", "班车")),
    "bus_stop": (_W_OBJECT, ("站台", "公交站", "公交站台", "车站", "候车亭")),
    "greenery": (_W_OBJECT, ("绿化", "绿化带", "绿地", "公共绿地", "草坪", "树木", "花坛")),
    "growing_vegetables": (_W_OBJECT, ("种菜", "毁绿", "菜地", "开荒")),
    "street_vending": (_W_OBJECT, ("占道", "摆摊", "小商贩", "摊贩", "流动摊贩", "占道经营",
                                   "地摊", "商贩")),
    "market": (_W_OBJECT, ("菜市场", "农贸市场", "菜场", "市场", "集市", "菜市")),
    "water_pressure": (_W_OBJECT, ("水压", "用不上水", "没水", "上不去水", "水压低")),
    "tap_water": (_W_OBJECT, ("自来水", "供水", "停水", "水管")),
    "playground": (_W_OBJECT, ("游乐", "游乐场", "游乐设施", "儿童乐园", "滑梯", "秋千")),
    "children": (_W_OBJECT, ("儿童", "孩子", "小孩", "孩童", "小朋友", "娃")),
    "cctv": (_W_OBJECT, ("监控", "摄像头", "探头", "监控摄像头")),
    "theft": (_W_OBJECT, ("偷", "盗窃", "被盗", "小偷", "偷盗", "丢失")),
    "clinic": (_W_OBJECT, ("卫生服务站", "社区医院", "卫生院", "诊所", "看病", "就医", "门诊",
                           "医院", "卫生服务中心")),
    "falling_objects": (_W_OBJECT, ("高空抛物", "抛物", "扔东西", "往下扔", "高空坠物", "扔")),
    "property_mgmt": (_W_OBJECT, ("物业", "物业公司", "物业管理", "物业费")),
    "owners_committee": (_W_OBJECT, ("业委会", "业主委员会")),
    "road": (_W_OBJECT, ("道路", "马路", "路面", "路", "街道", "人行道")),
    "potholes": (_W_OBJECT, ("坑洼", "坑", "坑坑洼洼", "不平", "凹凸不平", "坑洼不平")),
    "facade": (_W_OBJECT, ("外墙", "墙皮", "瓷砖", "墙面", "外立面")),
    "falling_off": (_W_OBJECT, ("脱落", "掉落", "掉", "坠落", "剥落")),
    "railing": (_W_OBJECT, ("护栏", "栏杆", "防护栏", "围栏", "防护栏杆")),
    "river": (_W_OBJECT, ("河", "河道", "河边", "河沟", "河流", "水沟")),
    "water_quality": (_W_OBJECT, ("水质", "黑臭", "发黑")),
    "toilet": (_W_OBJECT, ("厕所", "公厕", "公共厕所", "卫生间")),
    "parcels": (_W_OBJECT, ("快递", "快递柜", "驿站", "包裹", "快递点")),
    "takeaway": (_W_OBJECT, ("外卖", "外卖员", "骑手")),
    "fitness": (_W_OBJECT, ("健身", "健身器材", "健身设施", "运动器材")),
    "dust": (_W_OBJECT, ("扬尘", "灰尘", "粉尘")),
    "privacy": (_W_OBJECT, ("隐私", "个人信息")),
    "hygiene_blackspot": (_W_OBJECT, ("卫生死角", "死角")),
    "rain_shelter": (_W_OBJECT, ("遮雨棚", "雨棚", "遮阳棚")),
    # what is wrong, or what is asked for (recur across objects: lower weight)
    "request_add": (0.5, ("增设", "增加", "新增", "安装", "加装", "装", "建", "修建", "建设",
                          "开设", "开通", "办", "设立", "配备", "设置", "多建")),
    "shortage": (0.6, ("少", "太少", "不足", "紧张", "缺少", "缺乏", "难", "不够",
                       "没地方", "缺", "短缺", "严重不足", "太低", "缺失")),
    "inconvenient": (0.5, ("不方便", "不便", "困难", "难走")),
    "broken": (0.6, ("坏", "坏了", "损坏", "损毁", "毁坏", "故障", "失灵", "不亮", "破损",
                     "坏掉", "失修", "报废", "不能用", "困人")),
    "dirty": (0.6, ("脏", "脏乱差", "脏乱", "卫生差", "臭", "异味", "难闻", "臭气", "气味",
                    "臭气熏天", "污染", "卫生太差")),
    "price": (0.6, ("贵", "太贵", "收费", "费用", "价格", "太高", "涨价", "乱收费", "不合理")),
    "quality": (0.6, ("质量差", "太咸", "难吃", "不好吃", "质量", "不新鲜", "态度差")),
    "too_bright": (0.6, ("太亮", "刺眼", "光污染", "晃眼")),
    "occupied": (0.6, ("占用", "占", "堵塞", "堵住", "挡住")),
    "neglect": (0.5, ("不及时", "没人管", "无人管", "没人清理", "无人清扫", "拖延", "不到位",
                      "不作为", "不管")),
    "disturbance": (0.5, ("扰民", "影响休息", "睡不着", "休息", "吵醒")),
    "danger": (0.4, ("危险", "隐患", "安全隐患", "不安全", "风险", "安全")),
    "night": (0.4, ("夜间", "晚上", "夜里", "深夜", "半夜")),
}

# Problem kinds that name the same complaint. When both texts state a problem and no family is
# shared, they are about different things even if the object is the same ("停车位太少" vs
# "停车收费太高", "加装电梯" vs "电梯故障困人"): the score is multiplied by _CONFLICT_FACTOR.
# danger / disturbance / night describe consequences or context, not the problem, so they stay out.
_PROBLEM_FAMILIES = {
    "request_add": "need", "shortage": "need", "inconvenient": "need",
    "broken": "broken", "dirty": "dirty", "price": "price", "quality": "quality",
    "too_bright": "too_bright", "occupied": "occupied", "neglect": "neglect",
}
_CONFLICT_FACTOR = 0.5

_CONCEPTS: dict[str, str] = {}
_CONCEPT_WEIGHTS: dict[str, float] = {}
for _name, (_weight, _words) in _CONCEPT_GROUPS.items():
    _CONCEPT_WEIGHTS[_name] = _weight
    for _word in _words:
        # A word listed twice keeps its first group (the groups above are ordered by specificity).
        _CONCEPTS.setdefault(_word, _name)

# Words added to jieba's dictionary so that they are cut whole. Single characters are left out.
_USER_WORDS = tuple(sorted({w for w in _CONCEPTS if len(w) >= 2}))

_tokenizer: Any = None
_tokenizer_lock = threading.Lock()


def _jieba() -> Any:
    """The module's own jieba Tokenizer, created and initialised once (thread-safe)."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            with warnings.catch_warnings():
                # jieba 0.42 imports pkg_resources, which newer setuptools deprecates loudly.
                warnings.simplefilter("ignore")
                import jieba  # imported here: the import and dictionary load cost ~1 s

            # jieba logs "Building prefix dict…" at DEBUG on a StreamHandler to stderr.
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()  # default dictionary; cache file in the system temp dir
            tok.initialize()
            for word in _USER_WORDS:
                # A high frequency makes jieba prefer the whole word over its parts.
                tok.add_word(word, freq=max(tok.suggest_freq(word), 50000))
            _tokenizer = tok
    return _tokenizer


def warm_up() -> None:
    """Load jieba now (call at process start so the first keystroke is not slow)."""
    _jieba()
    _analyse("路灯")


def normalise(text: str | None, max_chars: int = MAX_TITLE_CHARS) -> str:
    """NFKC, lower case, symbols/emoji/punctuation/control characters to spaces, truncated."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)[: max_chars * 2])[:max_chars].lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        out.append(ch if cat[0] in "LN" else " ")
    return " ".join("".join(out).split())


@dataclass(frozen=True, eq=False)
class Analysed:
    """A text reduced to weighted concepts, character bigrams and problem kinds (read-only: the
    instances are shared through the memo cache)."""

    concepts: dict[str, float]
    norm: float
    bigrams: frozenset[str]
    problems: frozenset[str]


_EMPTY = Analysed({}, 0.0, frozenset(), frozenset())


def _token_weight(token: str) -> tuple[str, float] | None:
    if token in _STOP_WORDS:
        return None
    concept = _CONCEPTS.get(token)
    if concept is not None:
        return "c:" + concept, _CONCEPT_WEIGHTS[concept]
    if token in _GENERIC_WORDS:
        return "w:" + token, _W_GENERIC
    if token.isdigit():
        return None  # house numbers and dates say nothing about the problem
    return "w:" + token, (_W_SINGLE if len(token) == 1 else _W_OTHER)


@lru_cache(maxsize=8192)
def _analyse(text: str) -> Analysed:
    """Analyse an already normalised text (memoised: candidates recur on every keystroke)."""
    if not text:
        return _EMPTY
    concepts: dict[str, float] = {}
    bigrams: set[str] = set()
    tok = _jieba()
    for run in text.split(" "):
        if len(run) == 1:
            bigrams.add(run)
        bigrams.update(run[i:i + 2] for i in range(len(run) - 1))
        for token in _tokens(tok, run):
            kw = _token_weight(token)
            if kw is None:
                continue
            key, weight = kw
            if weight > concepts.get(key, 0.0):
                concepts[key] = weight
    norm = math.sqrt(sum(w * w for w in concepts.values()))
    problems = frozenset(_PROBLEM_FAMILIES[k[2:]] for k in concepts
                         if k[2:] in _PROBLEM_FAMILIES and k.startswith("c:"))
    return Analysed(concepts, norm, frozenset(bigrams), problems)


def _tokens(tok: Any, run: str) -> Iterable[str]:
    """jieba's precise cut, plus the thesaurus words hidden inside longer words ("停车位" →
    停车, 车位; "宠物狗" → 宠物). Unlike jieba's search mode this does not emit arbitrary
    dictionary sub-words ("电动车" → "动车"), which would only add noise."""
    for token in tok.cut(run, HMM=True):
        token = token.strip()
        if not token:
            continue
        yield token
        n = len(token)
        if n < 3:
            continue
        own = _CONCEPTS.get(token)
        for size in range(n - 1, 1, -1):
            for i in range(n - size + 1):
                sub = token[i:i + size]
                if sub in _CONCEPTS and _CONCEPTS[sub] != own:
                    yield sub


def analyse(text: str | None, max_chars: int = MAX_TITLE_CHARS) -> Analysed:
    """Public entry: normalise, truncate and analyse ``text``."""
    return _analyse(normalise(text, max_chars))


def _concept_cosine(a: Analysed, b: Analysed) -> float:
    if not a.norm or not b.norm:
        return 0.0
    small, large = (a, b) if len(a.concepts) <= len(b.concepts) else (b, a)
    dot = sum(w * large.concepts[k] for k, w in small.concepts.items() if k in large.concepts)
    return dot / (a.norm * b.norm)


def _bigram_dice(a: Analysed, b: Analysed) -> float:
    if not a.bigrams or not b.bigrams:
        return 0.0
    return 2 * len(a.bigrams & b.bigrams) / (len(a.bigrams) + len(b.bigrams))


def _score(a: Analysed, b: Analysed) -> float:
    s = _CONCEPT_WEIGHT * _concept_cosine(a, b) + _BIGRAM_WEIGHT * _bigram_dice(a, b)
    if a.problems and b.problems and not (a.problems & b.problems):
        s *= _CONFLICT_FACTOR
    return max(0.0, min(1.0, s))


def _coverage(query: Analysed, doc: Analysed) -> float:
    """Share of the query's concept weight found in ``doc`` (asymmetric; for descriptions)."""
    if not query.norm:
        return 0.0
    hit = sum(w * w for k, w in query.concepts.items() if k in doc.concepts)
    return hit / (query.norm * query.norm)


def similarity(a: str | None, b: str | None) -> float:
    """How alike two short texts (titles) are, in ``[0, 1]``; symmetric; 0 for empty input."""
    return _score(analyse(a), analyse(b))


Candidate = Sequence[Any]  # (id, title) or (id, title, description)


def rank_similar(query: str | None, candidates: Iterable[Candidate], *,
                 limit: int = DEFAULT_LIMIT,
                 threshold: float = DEFAULT_THRESHOLD) -> list[tuple[Any, float]]:
    """The candidates that look like ``query``, best first: ``[(id, score), …]``.

    ``candidates`` are ``(id, title)`` or ``(id, title, description)``; the description may be
    None. A candidate's score is its title's :func:`similarity` to the query, or — when the query
    has at least two concepts — ``0.8 ×`` the share of the query's concepts found in title plus
    description, whichever is higher (a terse title with a telling description still shows up,
    but never above an equally good title). Only scores ``>= threshold`` are returned, at most
    ``limit``, ties broken by input order. Empty or meaningless queries return ``[]``.
    """
    if limit <= 0:
        return []
    q = analyse(query)
    if not q.concepts and not q.bigrams:
        return []
    use_description = len(q.concepts) >= 2
    scored: list[tuple[float, int, Any]] = []
    for index, cand in enumerate(candidates):
        cid, title = cand[0], cand[1]
        description = cand[2] if len(cand) > 2 else None
        t = analyse(title)
        score = _score(q, t)
        if use_description and description:
            both = _analyse(normalise(title) + " " + normalise(description, MAX_DESCRIPTION_CHARS))
            score = max(score, _DESCRIPTION_FACTOR * _coverage(q, both))
        if score >= threshold:
            scored.append((score, index, cid))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(cid, round(score, 4)) for score, _, cid in scored[:limit]]
