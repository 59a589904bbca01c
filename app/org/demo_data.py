"""The demo city's tables (app/org/demo.py turns them into rows). Fictional city and counties with
place names in the style of the seed's city; codes in the style of statistical division codes.

Village `plat` values (D2):
  room        eligible unit with its own room
  contact     member contact point of its own
  joint-host  hosts the town's joint room (serving the `joint` villages)
  joint       served by the town's joint room
  mobile      served by the town's mobile room
  none        deliberately NOT covered (a gap for the coverage report)
"""
from __future__ import annotations

CITY = {"code": "3299", "name": "海州湾市"}

CITY_DEPARTMENTS = ["住房和城乡建设局", "交通运输局", "教育局", "卫生健康委员会", "生态环境局"]
COUNTY_DEPARTMENTS = ["住房和城乡建设局", "农业农村局", "民政局", "交通运输局"]

CITY_COMMITTEES = ["提案委员会", "经济委员会", "教科卫体委员会", "社会和法制委员会",
                   "农业和农村委员会", "文化文史和学习委员会"]
COUNTY_COMMITTEES = ["提案委员会", "经济和农业委员会", "教科卫体委员会", "社会和法制委员会"]

# sector name → (special committee, platform kind); D2: sectors without a room of their own are
# not room-eligible and have a contact point.
CITY_SECTORS = {
    "教育界": ("教科卫体委员会", "room"),
    "医药卫生界": ("教科卫体委员会", "room"),
    "经济界": ("经济委员会", "room"),
    "农业界": ("农业和农村委员会", "contact_point"),
    "社会福利和社会保障界": ("社会和法制委员会", "room"),
    "文化艺术界": ("文化文史和学习委员会", "contact_point"),
}
COUNTY_SECTORS = {
    "教育界": ("教科卫体委员会", "room"),
    "医药卫生界": ("教科卫体委员会", "contact_point"),
    "经济界": ("经济和农业委员会", "room"),
}

COUNTIES = [
    {"code": "329901", "name": "海滨区", "kind": "district", "slug": "haibin", "towns": [
        {"code": "329901001", "name": "新浦街道", "kind": "subdistrict", "villages": [
            ("001", "民主路社区", "community", "room"),
            ("002", "海连路社区", "community", "room"),
            ("003", "新华社区", "community", "contact"),
            ("004", "陇海社区", "community", "room"),
        ]},
        {"code": "329901002", "name": "浦南街道", "kind": "subdistrict", "villages": [
            ("001", "南小区社区", "community", "room"),
            ("002", "凤凰社区", "community", "joint-host"),
            ("003", "盐河社区", "community", "joint"),
            ("004", "朐阳社区", "community", "joint"),
        ]},
        {"code": "329901003", "name": "锦屏镇", "kind": "township", "villages": [
            ("001", "新坝村", "village", "room"),
            ("002", "桃李村", "village", "room"),
            ("003", "孔望村", "village", "mobile"),
            ("004", "岗埠村", "village", "none"),
            ("005", "锦屏社区", "community", "room"),
        ]},
        {"code": "329901004", "name": "海州经济开发区", "kind": "park", "villages": [
            ("001", "开发区第一社区", "community", "room"),
            ("002", "新海社区", "community", "contact"),
            ("003", "洪门社区", "community", "room"),
        ]},
    ]},
    {"code": "329902", "name": "云台区", "kind": "district", "slug": "yuntai", "towns": [
        {"code": "329902001", "name": "墟沟街道", "kind": "subdistrict", "villages": [
            ("001", "港城社区", "community", "room"),
            ("002", "海滨社区", "community", "room"),
            ("003", "渔湾社区", "community", "contact"),
        ]},
        {"code": "329902002", "name": "宿城乡", "kind": "township", "villages": [
            ("001", "宿城村", "village", "room"),
            ("002", "枫树湾村", "village", "mobile"),
            ("003", "留云村", "village", "mobile"),
            ("004", "船山村", "village", "none"),
        ]},
        {"code": "329902003", "name": "朝阳镇", "kind": "township", "villages": [
            ("001", "朝阳村", "village", "room"),
            ("002", "韩李村", "village", "room"),
            ("003", "尹宋村", "village", "joint-host"),
            ("004", "北固山村", "village", "joint"),
        ]},
    ]},
    {"code": "329903", "name": "东沭县", "kind": "county", "slug": "dongshu", "towns": [
        {"code": "329903001", "name": "牛山街道", "kind": "subdistrict", "villages": [
            ("001", "晶都社区", "community", "room"),
            ("002", "和平社区", "community", "room"),
            ("003", "西湖社区", "community", "room"),
            ("004", "青湖社区", "community", "contact"),
        ]},
        {"code": "329903002", "name": "桃林镇", "kind": "township", "villages": [
            ("001", "桃林村", "village", "room"),
            ("002", "北芹村", "village", "room"),
            ("003", "大岭村", "village", "mobile"),
            ("004", "小岭村", "village", "mobile"),
            ("005", "东岭村", "village", "room"),
        ]},
        {"code": "329903003", "name": "驼峰乡", "kind": "township", "villages": [
            ("001", "驼峰村", "village", "room"),
            ("002", "南榴村", "village", "joint-host"),
            ("003", "北榴村", "village", "joint"),
        ]},
        {"code": "329903004", "name": "石湖乡", "kind": "township", "villages": [
            ("001", "石湖村", "village", "room"),
            ("002", "马庄村", "village", "contact"),
            ("003", "林埠村", "village", "room"),
        ]},
    ]},
    {"code": "329904", "name": "灌河县", "kind": "county", "slug": "guanhe", "towns": [
        {"code": "329904001", "name": "新安镇", "kind": "township", "villages": [
            ("001", "新安社区", "community", "room"),
            ("002", "硕湖村", "village", "room"),
            ("003", "三口村", "village", "room"),
            ("004", "小圩村", "village", "contact"),
        ]},
        {"code": "329904002", "name": "堆沟港镇", "kind": "township", "villages": [
            ("001", "堆沟社区", "community", "room"),
            ("002", "六圩村", "village", "joint-host"),
            ("003", "东三圩村", "village", "joint"),
            ("004", "西三圩村", "village", "joint"),
        ]},
        {"code": "329904003", "name": "田楼镇", "kind": "township", "villages": [
            ("001", "田楼村", "village", "room"),
            ("002", "五队村", "village", "room"),
            ("003", "陆口村", "village", "mobile"),
        ]},
    ]},
]

# (county code, town code or None for a county-level unit, name, plat): plat is room / contact /
# mobile (served by the town's mobile room).
ENTERPRISES = [
    ("329901", None, "海州湾港口集团有限公司", "room"),
    ("329901", "329901001", "新浦纺织有限公司", "contact"),
    ("329902", "329902002", "云台山旅游发展有限公司", "room"),
    ("329903", "329903001", "东沭晶都水晶制品有限公司", "room"),
    ("329903", "329903002", "桃林果蔬专业合作社", "mobile"),
    ("329904", None, "灌河县人民医院", "room"),
    ("329904", "329904002", "堆沟港海产品加工有限公司", "contact"),
]

# Towns with a mobile room of their own even without `mobile` villages (none here); a town gets
# one automatically when any of its villages or enterprises is `mobile`.

# Deliberate gaps and faults for the reports (keys: platform keys built in demo.py).
NO_MEMBER_PLATFORMS = {"village:329903004003"}       # D29: no linked member
CONVENOR_MISMATCH_TOWNS = {"329902003"}              # D28: town room run by the Party secretary

# Older local brands kept as secondary names (D4).
SECONDARY_NAMES = {
    "town:329902003": "百姓议事厅",
    "village:329901003001": "板凳议事会",
    "village:329903002001": "桃林连心议事堂",
    "community:329901001001": "民主路说事点",
}

# Six musts not (yet) met, with realistic evidence (D3): platform key → {must: evidence}.
MISSING_CHECKS = {
    "town:329902003": {"signage": "仍使用“百姓议事厅”旧牌，统一标识尚未更换"},
    "village:329901003002": {"activities": "本年度仅开展协商议事活动1次，未达到每年不少于2次的要求"},
    "community:329901001003": {"venue": "暂无固定场所，借用社区居委会会议室"},
    "enterprise:东沭晶都水晶制品有限公司": {"results": "协商成果尚未形成书面意见建议清单"},
    "mobile:329902002": {"rules": "流动议事规则正在制定，尚未印发"},
    "village:329904001003": {"organisation": "召集人调整后议事会成员尚未补齐",
                             "results": "上次协商意见尚无承办部门反馈"},
    "sector:3299:农业界": {"venue": "联系点设在市农科院会议室，尚未挂牌专用"},
}

CHECK_EVIDENCE = {
    "organisation": "成立协商议事会，明确召集人、联络员和联系委员",
    "rules": "制定议题征集、审定、协商、反馈等议事制度并上墙公示",
    "venue": "依托党群服务中心设立固定议事场所",
    "signage": "悬挂“有事好商量”统一标识牌",
    "activities": "本年度已开展协商议事活动3次",
    "results": "形成协商意见建议清单，承办部门已反馈落实情况",
}

# Demo console logins (username, password, role, county slug or None for the city). Demo only:
# printed by `flask seed-demo` and documented in docs/imports.md.
DEMO_PASSWORD = "demo2024pass"  # meets the console policy (app.auth.services)
DEMO_ACCOUNTS = [
    ("admin", "admin", None, "系统管理员"),
    ("city_staff", "staff", None, "市政协工作人员"),
    ("haibin_staff", "staff", "haibin", "海滨区政协工作人员"),
    ("yuntai_staff", "staff", "yuntai", "云台区政协工作人员"),
    ("dongshu_staff", "staff", "dongshu", "东沭县政协工作人员"),
    ("guanhe_staff", "staff", "guanhe", "灌河县政协工作人员"),
]

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕"
            "苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力永健世广志义兴良海"
         "山仁波宁贵福生龙元全胜学祥才发成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心"
         "邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨"
         "辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘")
