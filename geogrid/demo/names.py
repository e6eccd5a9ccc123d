"""Syllables and word lists from which the demo county draws its names.

Every list here is made up for the synthetic county 青溪县: common surnames
with weights typical of coastal Zhejiang, given-name characters by gender and
generation, and the pieces of town, village, community, estate and street
names. None of the combinations is meant to name a real place or person.
"""

from __future__ import annotations

PROVINCE = "浙江省"
CITY = "台州市"
COUNTY_NAME = "青溪县"
COUNTY_SHORT = "青溪"
BANK_NAME = "青溪县农商银行"

# surname and its relative weight (frequent in Taizhou, made-up proportions)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("陈", 9.0),
    ("王", 7.0),
    ("林", 6.0),
    ("李", 5.0),
    ("张", 5.0),
    ("徐", 3.5),
    ("金", 3.0),
    ("周", 3.0),
    ("郑", 3.0),
    ("吴", 2.5),
    ("叶", 2.5),
    ("潘", 2.2),
    ("黄", 2.2),
    ("蒋", 2.0),
    ("杨", 2.0),
    ("应", 1.8),
    ("赵", 1.5),
    ("朱", 1.5),
    ("胡", 1.5),
    ("刘", 1.5),
    ("何", 1.3),
    ("许", 1.2),
    ("梁", 1.0),
    ("项", 1.0),
    ("卢", 1.0),
    ("章", 1.0),
    ("罗", 0.8),
    ("阮", 0.8),
    ("丁", 0.8),
    ("方", 0.8),
    ("孙", 0.8),
    ("高", 0.8),
    ("戴", 0.7),
    ("谢", 0.7),
    ("管", 0.6),
    ("颜", 0.6),
    ("洪", 0.6),
    ("江", 0.6),
    ("马", 0.6),
    ("柯", 0.5),
    ("牟", 0.5),
    ("钱", 0.5),
    ("冯", 0.5),
    ("邵", 0.5),
    ("汪", 0.5),
    ("娄", 0.4),
    ("梅", 0.4),
    ("池", 0.4),
    ("陶", 0.4),
    ("姜", 0.4),
)

# given-name characters: (male, female) for people born before 1975 and after
GIVEN_OLDER_MALE = "国建明华伟军平德福荣林根富生海良忠志卫东强勇春文兴祥金法永才昌友"
GIVEN_OLDER_FEMALE = "秀英兰芳珍玉凤娟梅花琴红萍霞美丽素月菊仙云香翠莲桂彩娥妹"
GIVEN_YOUNGER_MALE = "浩宇杰涛磊俊鹏超斌晨阳博然轩泽睿航昊天子一哲烨凯豪嘉家晟铭"
GIVEN_YOUNGER_FEMALE = "婷欣怡佳雯琳静颖倩悦涵萱诗雨晴梦婧蕾思可妍馨瑶彤菲露琪慧丹"

# subdistricts (街道) of the county seat, in the order of their codes
SUBDISTRICT_NAMES = ("城关", "城东", "城西")

# two-character names of towns (镇) and townships (乡)
TOWN_NAMES = (
    "白水",
    "石门",
    "桐岭",
    "大洋",
    "龙溪",
    "杨府",
    "横山",
    "黄坦",
    "上洋",
    "湖头",
    "花桥",
    "凤阳",
    "松岙",
    "梅林",
    "竹溪",
    "岩下",
)
TOWNSHIP_NAMES = ("岭头", "高坪", "云岭")

# village names: a prefix and a landform, a clan name and a landform, or one of
# the names merged villages took
VILLAGE_PREFIXES = (
    "上下东西南北前后大小新老高中里外黄白青石竹松梅桃杨柳枫樟桐荷金龙凤马"
)
VILLAGE_LANDFORMS = "塘山溪岙坑岭桥湾头洋坪垟墩宅园浦港埠店庄岸口坎田畈岩门坞"
CLAN_NAMES = "王李陈张林徐周郑叶潘蒋杨吴黄应金朱胡何许"
MERGED_VILLAGE_NAMES = (
    "联合",
    "新光",
    "永丰",
    "长丰",
    "胜利",
    "红星",
    "光明",
    "团结",
    "幸福",
    "兴旺",
    "富民",
    "前进",
    "东方",
    "新民",
    "联丰",
    "同心",
    "建新",
    "向阳",
)

# urban communities (社区)
COMMUNITY_NAMES = (
    "新华",
    "人民",
    "长安",
    "解放",
    "文化",
    "振兴",
    "和平",
    "建设",
    "城中",
    "江滨",
    "溪滨",
    "锦绣",
    "阳光",
    "康乐",
    "望江",
    "新城",
    "景园",
    "东湖",
    "南苑",
    "北苑",
    "金桥",
    "银河",
    "学府",
    "朝阳",
    "青云",
    "丽景",
    "桂花",
    "东门",
    "西门",
    "南门",
    "北门",
    "府前",
    "商贸",
    "翠竹",
    "春晖",
    "紫荆",
    "香樟",
    "滨江",
    "玉泉",
    "清风",
    "南湖",
    "北湖",
    "东升",
    "城北",
    "城南",
    "文昌",
    "兴华",
    "华丰",
    "永安",
    "安居",
    "福星",
    "聚贤",
    "龙泉",
    "凤凰",
    "百花",
    "明珠",
    "天宁",
    "泰和",
    "嘉禾",
    "锦江",
)

# housing estates (小区) take a community's name and one of these endings
ESTATE_SUFFIXES = ("小区", "花园", "家园", "苑", "新村", "公寓")

# streets of the county seat and the town centres
STREET_NAMES = (
    "人民路",
    "解放路",
    "中山路",
    "新华路",
    "环城东路",
    "环城西路",
    "迎宾大道",
    "站前路",
    "青溪大道",
    "府前街",
    "文化路",
    "建设路",
    "学院路",
    "东门街",
    "西门街",
    "开发大道",
    "商贸街",
    "工业路",
)

# mobile prefixes of the three carriers (all valid 1[3-9]x)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "157",
    "158",
    "159",
    "166",
    "173",
    "177",
    "180",
    "181",
    "183",
    "187",
    "188",
    "189",
    "198",
    "199",
)

# labels a household file carries, as account managers write them
LABEL_MIGRANT = "外出务工"
LABEL_RETURNS_AT_SPRING_FESTIVAL = "春节返乡"
LABEL_BUSINESS = "个体工商户"
LABEL_FARMER = "种养殖户"
LABEL_CIVIL_SERVANT = "公职人员"
LABEL_ELDERLY = "老年人"
LABEL_STUDENT = "学生"
LABEL_NEWCOMER = "新市民"
