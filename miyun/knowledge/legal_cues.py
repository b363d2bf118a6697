"""Whether a message shows a legal need at all: words of rights, money owed, disputes, authorities.

"Which of these?" is offered from a lower confidence to a message that carries one of these words
than to one that does not: a resident who writes 工资, 离婚 or 赔 wants one of the articles more
often than not, while "柿饼咋做" or "哪只股票好" only shares everyday words with some. Written
from the vocabulary of legal consultation, not from any evaluation set; read on normalised
(simplified, half-width) text.
"""
from __future__ import annotations

from miyun.text import alternation

CUES = (
    # law, courts, the police and other authorities
    "法", "律师", "告", "诉", "官司", "判", "仲裁", "调解", "公证", "鉴定", "证据", "时效", "期限",
    "报警", "派出所", "警察", "公安", "检察", "拘留", "坐牢", "政府", "复议", "信访", "上访", "公开",
    "援助", "执照", "许可", "处分", "处罚", "罚", "违", "犯罪", "侵权", "权利", "权益", "责任", "义务",
    # money owed and contracts
    "赔", "偿", "合同", "协议", "欠条", "借条", "收条", "收据", "欠", "债", "借钱", "借了", "还钱", "利息",
    "高利贷", "贷款", "抵押", "担保", "押金", "定金", "订金", "退款", "退货", "退钱", "假货", "骗", "理赔",
    "投诉", "举报", "维权", "要回", "扣钱", "扣押", "没收", "强制", "执行", "老赖", "失信", "破产", "股东", "合伙",
    # work
    "工资", "工钱", "薪", "辞退", "开除", "解雇", "裁员", "辞职", "补偿", "社保", "医保", "保险", "工伤",
    "厂里", "包工头", "雇主",
    # family and inheritance
    "离婚", "结婚", "彩礼", "抚养", "赡养", "继承", "遗产", "遗嘱", "监护", "家暴", "虐待", "遗弃", "分家",
    # land and housing
    "房本", "房产证", "产权", "过户", "宅基地", "承包", "土地", "征地", "征收", "拆迁", "物业", "房东", "租", "户口",
    # harm
    "偷", "盗", "抢", "打人", "打伤", "被打", "打了我", "伤残", "事故", "撞", "肇事", "逃逸", "酒驾", "醉驾",
    "驾照", "违章", "医疗", "病历", "隐私", "名誉", "肖像", "商标", "专利", "狗咬", "咬伤", "噪音", "霸凌",
)


# Everyday words that hold a cue's characters without its sense (减肥方法, 告诉我, 考驾照): removed first.
NOT_CUES = (
    "办法", "方法", "想法", "做法", "看法", "法子", "告诉", "广告", "报告", "预告", "判断", "考驾照", "学驾照",
    "驾照考试", "租车", "出租车", "撞见", "撞衫", "偷偷", "偷懒", "公开课",
)


def present(text: str) -> bool:
    """The (normalised) message carries a word of legal need."""
    return bool(alternation(CUES).search(alternation(NOT_CUES).sub(" ", text)))
