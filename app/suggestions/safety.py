"""Content safety for every piece of user text (suggestions, comments): WeChat msgSecCheck v2
plus a local word list. One entry point, `check_text`, used by suggestions and comments alike.

Verdicts (the worse of the two checks wins):
- ``pass``   → publish;
- ``review`` → store but hold for moderation (the author is told "已提交，审核通过后公开");
- ``risky``  → refuse (422 ``content_risky``), store nothing.

Fail closed: when WeChat cannot answer (no mini-program openid for the person, WechatError,
timeout, not configured) the WeChat half counts as ``review`` — text is never published
unchecked. A local ``risky`` hit short-cuts the network call.

Who is checked how (docs/moderation.md, issue 10 item 19): residents get both checks. People
holding an active official role (OFFICIAL_ROLES: members, convenors, liaisons, reviewers,
department handlers, staff, admins — named, accountable people, often writing from the console
where there is no openid) are checked against the local word list only: ``pass`` publishes,
``review`` holds, ``risky`` refuses; WeChat is not asked.

The word list (app/suggestions/wordlist.txt, or the file named by the setting
``content_wordlist`` / env CONTENT_WORDLIST_FILE) is matched case- and width-insensitively
(NFKC: 全角 → 半角), ignoring zero-width characters, and for plain terms also ignoring spaces,
punctuation and symbols put between the characters. It is re-read when the file changes.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ValidationFailed
from ..org.models import Person, Role, RoleAssignment, WechatApp, WechatIdentity

log = logging.getLogger(__name__)

PASS, REVIEW, RISKY = "pass", "review", "risky"
_RANK = {PASS: 0, REVIEW: 1, RISKY: 2}

# msgSecCheck v2 scenes.
SCENE_PROFILE = 1
SCENE_COMMENT = 2   # comments
SCENE_FORUM = 3     # suggestions (posts in a public forum)
SCENE_SOCIAL_LOG = 4
_SCENE_NAMES = {"profile": SCENE_PROFILE, "comment": SCENE_COMMENT, "forum": SCENE_FORUM,
                "suggestion": SCENE_FORUM, "social_log": SCENE_SOCIAL_LOG}

RISKY_MESSAGE = "内容含有不当信息，请修改后再提交"
HELD_MESSAGE = "已提交，审核通过后公开"

DEFAULT_WORDLIST = Path(__file__).with_name("wordlist.txt")

_VERDICT_LABELS = {PASS: "通过", REVIEW: "待人工审核", RISKY: "不通过"}

# Roles whose holders are checked against the local word list only (everyone but residents).
OFFICIAL_ROLES = (Role.member, Role.convenor, Role.liaison, Role.reviewer, Role.dept_handler,
                  Role.staff, Role.admin)


class ContentRisky(ValidationFailed):
    status = 422
    code = "content_risky"
    message = RISKY_MESSAGE


# --- normalisation -------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)


def normalise(text: str) -> str:
    """全角 → 半角 and other compatibility forms (NFKC), case-folded, zero-width chars removed."""
    return unicodedata.normalize("NFKC", text or "").casefold().translate(_INVISIBLE)


def compact(text: str) -> str:
    """`normalise`, then without spaces, punctuation, symbols and control characters, so that
    "傻 逼" / "傻*逼" / "ｎ-ｍ-ｓ-ｌ" still match a plain term."""
    return "".join(ch for ch in normalise(text)
                   if unicodedata.category(ch)[0] not in "ZPSC")


# --- the word list -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WordList:
    risky_terms: tuple[str, ...] = ()
    review_terms: tuple[str, ...] = ()
    risky_patterns: tuple[re.Pattern, ...] = ()
    review_patterns: tuple[re.Pattern, ...] = ()

    def match(self, text: str) -> tuple[str, list[str]]:
        """(verdict, hits) for one text: risky hits first; review hits only when none is risky."""
        plain, tight = normalise(text), compact(text)
        for terms, patterns, verdict in ((self.risky_terms, self.risky_patterns, RISKY),
                                         (self.review_terms, self.review_patterns, REVIEW)):
            hits = [t for t in terms if t in tight]
            hits += [p.pattern for p in patterns if p.search(plain)]
            if hits:
                return verdict, hits
        return PASS, []


def parse_wordlist(text: str) -> WordList:
    """The file format: `[risky]` / `[review]` sections, one term per line, `re:` for a regular
    expression, `#` comments. Terms before any section header count as risky."""
    lists: dict[str, tuple[list[str], list[re.Pattern]]] = {RISKY: ([], []), REVIEW: ([], [])}
    section = RISKY
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = line.lower()
        if header in ("[risky]", "[review]"):
            section = header[1:-1]
            continue
        if line.startswith("re:"):
            try:
                lists[section][1].append(re.compile(line[3:].strip()))
            except re.error as exc:
                # A broken line must not disable the whole list; say where it is.
                log.error("word list line %d: bad pattern (%s)", number, exc)
            continue
        term = compact(line)
        if term:
            lists[section][0].append(term)
    return WordList(risky_terms=tuple(dict.fromkeys(lists[RISKY][0])),
                    review_terms=tuple(dict.fromkeys(lists[REVIEW][0])),
                    risky_patterns=tuple(lists[RISKY][1]),
                    review_patterns=tuple(lists[REVIEW][1]))


_cache: dict[str, tuple[tuple[int, int], WordList]] = {}
_cache_lock = threading.Lock()


def wordlist_path() -> Path:
    if has_app_context():
        configured = current_app.config["APP"].content_wordlist
        if configured:
            return Path(configured)
    return DEFAULT_WORDLIST


def load_wordlist(path: Path | str | None = None) -> WordList:
    """The word list at `path` (default: the configured one), re-read when the file changes.
    A missing or unreadable configured file is an operator error: logged, and the bundled list
    is used instead (never an empty list — that would fail open)."""
    path = Path(path) if path is not None else wordlist_path()
    try:
        st = os.stat(path)
    except OSError:
        if path != DEFAULT_WORDLIST:
            log.error("content word list %s not readable; using the bundled list", path)
            return load_wordlist(DEFAULT_WORDLIST)
        raise
    stamp = (st.st_mtime_ns, st.st_size)
    key = str(path)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    words = parse_wordlist(path.read_text(encoding="utf-8"))
    with _cache_lock:
        _cache[key] = (stamp, words)
    return words


# --- the check -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SafetyVerdict:
    verdict: str                       # pass / review / risky (the worse of the two checks)
    wechat: str                        # pass / review / risky / unchecked / failed / skipped /
                                       # official (not asked: the author holds an official role)
    local: str                         # pass / review / risky
    local_hits: tuple[str, ...] = ()
    wechat_error: str | None = None    # the WechatError code when the call failed
    note: str = field(default="")      # Chinese, for moderation_note

    @property
    def is_risky(self) -> bool:
        return self.verdict == RISKY

    @property
    def is_held(self) -> bool:
        return self.verdict == REVIEW

    def refuse_if_risky(self) -> "SafetyVerdict":
        if self.is_risky:
            raise ContentRisky()
        return self


def _worst(*verdicts: str) -> str:
    return max(verdicts, key=lambda v: _RANK[v])


def _scene(scene: int | str) -> int:
    if isinstance(scene, str):
        try:
            return _SCENE_NAMES[scene]
        except KeyError:
            raise ValueError(f"unknown scene {scene!r}") from None
    if scene not in (1, 2, 3, 4):
        raise ValueError("scene must be 1..4")
    return scene


def mp_openid(session: Session | None, person_id: int) -> str | None:
    """The person's mini-program openid (the most recently used one), or None."""
    session = _session_or_current(session)
    if session is None:
        return None
    return session.scalar(
        select(WechatIdentity.openid)
        .where(WechatIdentity.person_id == person_id, WechatIdentity.app == WechatApp.mp)
        .order_by(WechatIdentity.updated_at.desc(), WechatIdentity.id.desc()).limit(1))


def _session_or_current(session: Session | None) -> Session | None:
    if session is None and has_app_context():
        from ..db import get_session

        return get_session()
    return session


def holds_official_role(session: Session | None, person_id: int) -> bool:
    """Whether the person holds an active official role (OFFICIAL_ROLES). Any failure → False:
    the stricter resident rule applies (fail closed)."""
    try:
        session = _session_or_current(session)
        if session is None:
            return False
        return session.scalar(select(RoleAssignment.id).where(
            RoleAssignment.person_id == person_id, RoleAssignment.is_active.is_(True),
            RoleAssignment.role.in_(OFFICIAL_ROLES)).limit(1)) is not None
    except Exception:
        log.exception("content check: role lookup failed")
        return False


def _wechat_check(session: Session | None, person_id: int, openid: str | None, content: str,
                  scene: int) -> tuple[str, str, str | None]:
    """(verdict used, what happened, error code). Anything but an answer counts as review."""
    from ..wechat.errors import WechatError

    if openid is None:
        try:
            openid = mp_openid(session, person_id)
        except Exception:  # fail closed, whatever went wrong
            log.exception("content check: openid lookup failed")
            return REVIEW, "failed", "openid_lookup_failed"
    if not openid:
        return REVIEW, "unchecked", None
    try:
        from ..wechat import get_wechat

        answer = get_wechat().mp.msg_sec_check(openid, content, scene)
    except WechatError as exc:
        log.warning("content check unavailable", extra={"fields": {
            "error": exc.code, "errcode": exc.errcode}})
        return REVIEW, "failed", exc.code
    except Exception as exc:  # fail closed: never publish unchecked
        log.exception("content check failed")
        return REVIEW, "failed", type(exc).__name__
    if answer not in _RANK:
        return REVIEW, "failed", "unexpected_answer"
    return answer, answer, None


def _note(verdict: str, wechat: str, wechat_error: str | None, local: str,
          hits: Iterable[str]) -> str:
    wechat_text = {
        PASS: "通过", REVIEW: "建议人工审核", RISKY: "判定有风险",
        "unchecked": "未检测（该用户没有小程序身份），按待审处理",
        "failed": f"检测失败（{wechat_error}），按待审处理",
        "skipped": "未调用（本地词库已判定不通过）",
        "official": "未调用（作者有工作身份，只按本地词库审核）",
    }[wechat]
    hits = list(hits)
    local_text = ("未命中" if not hits else
                  f"命中（{_VERDICT_LABELS[local]}）：" + "、".join(hits[:10]))
    return (f"自动审核：{_VERDICT_LABELS[verdict]}（{verdict}）。"
            f"微信内容安全：{wechat_text}；本地词库：{local_text}。")


def check_text(session: Session | None, *, person: Person | int, texts: list[str],
               scene: int | str, openid: str | None = None) -> SafetyVerdict:
    """Check the texts one person is about to publish.

    `person`: the author (a Person or an id) — WeChat needs their mini-program openid; `scene`:
    1..4 or "comment" / "suggestion" ("forum"). `openid`, when given, skips the look-up.
    Returns a SafetyVerdict; call `.refuse_if_risky()` to turn `risky` into the 422 error.
    Never raises for a failing WeChat (fail closed → review).
    """
    scene_no = _scene(scene)
    person_id = person if isinstance(person, int) else person.id
    pieces = [t for t in (texts or []) if t and t.strip()]

    words = load_wordlist()
    local, hits = PASS, []
    for text in pieces:
        v, h = words.match(text)
        hits += [x for x in h if x not in hits]
        local = _worst(local, v)

    wechat_error = None
    if not pieces:
        wechat = wechat_used = PASS  # nothing to check
    elif local == RISKY:
        wechat, wechat_used = "skipped", PASS
    elif holds_official_role(session, person_id):
        wechat, wechat_used = "official", PASS
    else:
        wechat_used, wechat, wechat_error = _wechat_check(session, person_id, openid,
                                                          "\n".join(pieces), scene_no)
    verdict = _worst(local, wechat_used)
    return SafetyVerdict(verdict=verdict, wechat=wechat, local=local, local_hits=tuple(hits),
                         wechat_error=wechat_error,
                         note=_note(verdict, wechat, wechat_error, local, hits))

