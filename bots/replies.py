"""What the chatbot says: short Chinese texts for a phone screen. Passive replies stay short
(REPLY_MAX characters) where the content allows; longer content points to the mini-program. No
reply exceeds TEXT_MAX_BYTES, WeChat's limit for one text (name lists are fitted to it)."""
from __future__ import annotations

from app.consultations.models import Consultation, PlaceKind
from app.workdays import CHINA_TZ

REPLY_MAX = 600
# WeChat's limit for one text message, a passive reply or a customer-service text alike
# (docs/chatbot.md): every reply is cut to it; lists of names are shortened to fit it.
TEXT_MAX_BYTES = 2048
WEEKDAYS = "一二三四五六日"

HELP = (
    "您可以直接回复：\n"
    "· 参加 / 请假 原因 —— 答复会议邀请\n"
    "· 我的会议 —— 查看受邀的会议\n"
    "· 简报 —— 下次会议的会前通报\n"
    "· 提议 + 您的建议 —— 例如：提议 村口路灯坏了\n"
    "· 绑定 + 6位数字 —— 绑定小程序账号\n"
    "召集人还可以回复：出席情况、确认名单、签到\n"
    "有几场会议时，在后面加上序号，例如：参加 2、请假 1 出差"
)
UNKNOWN = "抱歉，没有看懂您的意思。\n" + HELP
WELCOME = "欢迎关注“有事好商量”协商平台！"
# An unbound follower (docs/chatbot.md): how to get a code, whatever they send; 帮助 says what
# binding makes possible; an answer to a meeting says why it cannot be taken yet.
WHERE_CODES_COME_FROM = (
    "· 用小程序的：打开“有事好商量”小程序，进入“我的 → 绑定公众号”，获取6位绑定码（10分钟内有效）；\n"
    "· 没有小程序的：请会议召集人或政协工作人员给您一个10位绑定码（可以当面出示、电话读给您，"
    "或印在邀请函上，24小时内有效）。\n"
    "拿到后在这里发送“绑定”加绑定码，例如：绑定 123456"
)
HOW_TO_BIND = ("您的微信还没有绑定协商平台账号。获取绑定码的办法：\n" + WHERE_CODES_COME_FROM
               + "\n回复“帮助”了解绑定后可以办理的事项。")
UNBOUND_HELP = (
    "绑定后，您可以在这里：\n"
    "· 答复会议邀请：回复“参加”或“请假 原因”\n"
    "· 查看我的会议、会前通报（简报）\n"
    "· 提出建议：提议 + 您的建议\n"
    "召集人还可以查看出席情况、确认名单、取得签到码。\n"
    "您的微信还没有绑定。" + WHERE_CODES_COME_FROM
)
UNBOUND_RSVP = "您的微信还没有绑定协商平台账号，暂时不能替您答复会议。请先绑定：\n" + WHERE_CODES_COME_FROM
BIND_USAGE = ("请发送“绑定”加绑定码：小程序“我的 → 绑定公众号”里的6位数字，或召集人、工作人员给您的"
              "10位数字。例如：绑定 123456")
NOT_TEXT = "目前只能看懂文字消息。" + "回复“帮助”查看可以办理的事项。"
PROPOSE_USAGE = ("请在“提议”后面写上您的建议，例如：提议 村口路灯坏了，晚上出行不方便。"
                 "需要附照片、写明位置的，请在小程序中提出。")
NO_PLATFORM = ("还不知道您所在的村（社区），无法确定交给哪个协商议事平台。"
               "请在小程序中选择平台后提出建议。")
NO_MEETINGS = "您目前没有受邀参加的会议。"
NO_PENDING = "您目前没有需要答复的会议邀请。回复“我的会议”可以查看会议。"
NO_MANAGED = "您目前没有由您召集的、尚未结束的协商会议。"
REASON_NEEDED = "请假请说明原因，例如：请假 家里有事"
DISABLED = "您的账号已停用，如有疑问请联系工作人员。"


def cut(text: str, limit: int = REPLY_MAX, more: str = "……（完整内容请在小程序中查看）") -> str:
    return text if len(text) <= limit else text[:limit - len(more)] + more


def fit(text: str, limit: int = TEXT_MAX_BYTES, more: str = "……（完整内容请在小程序中查看）"
        ) -> str:
    """`text` within `limit` UTF-8 bytes (WeChat counts bytes), cut with `more` if needed."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(more.encode("utf-8"))
    return text.encode("utf-8")[:max(room, 0)].decode("utf-8", "ignore") + more


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def name_line(label: str, names: list[str], shown: int | None = None) -> str:
    """"  参加：张三、李四" — or, with only `shown` of them, "  参加：张三…等 12 人"."""
    shown = len(names) if shown is None else shown
    line = f"  {label}：{'、'.join(names[:shown])}"
    return line if shown >= len(names) else f"{line}…等 {len(names)} 人"


def fit_names(lines: list[str | tuple[str, list[str]]], limit: int) -> str:
    """Lines joined by newlines, some of them lists of names given as (label, names): all the
    names when the whole fits in `limit` UTF-8 bytes, else the longest lists lose names one by
    one, each cut list ending with "…等 N 人" (N: everyone in it), until it fits."""
    lists = [i for i, line in enumerate(lines) if isinstance(line, tuple)]
    shown = {i: len(lines[i][1]) for i in lists}
    size = {i: _size(name_line(*lines[i])) for i in lists}
    total = sum(_size(line) for line in lines if isinstance(line, str)) + sum(size.values()) \
        + max(len(lines) - 1, 0)
    while total > limit:
        candidates = [i for i in lists if shown[i] > 0]
        if not candidates:
            break
        i = max(candidates, key=lambda k: size[k])
        shown[i] -= 1
        new = _size(name_line(*lines[i], shown[i]))
        total += new - size[i]
        size[i] = new
    return "\n".join(line if isinstance(line, str) else name_line(*line, shown[n])
                     for n, line in enumerate(lines))


def when_short(c: Consultation) -> str:
    """11月30日（周一）14:30 — China time."""
    start = c.starts_at.astimezone(CHINA_TZ)
    return f"{start.month}月{start.day}日（周{WEEKDAYS[start.weekday()]}）{start:%H:%M}"


def place_short(c: Consultation) -> str:
    if c.place_kind is PlaceKind.online and not c.place:
        return "网上协商"
    return c.place or ""


def meeting_line(c: Consultation, title: str) -> str:
    """When, where, what: the one line that names a meeting in every reply."""
    return f"{when_short(c)}，{place_short(c)}，议题“{title}”"


def numbered(lines: list[str]) -> str:
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


def choose(lines: list[str], verb_hint: str) -> str:
    """Several meetings and no number: the list, and how to pick one."""
    return cut(f"您有 {len(lines)} 场会议，请在后面加上序号：\n{numbered(lines)}\n{verb_hint}",
               more="……（请先回复“我的会议”查看序号）")


def out_of_range(n: int, count: int) -> str:
    return f"没有第 {n} 场会议（共 {count} 场）。回复“我的会议”查看序号。"
