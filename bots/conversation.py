"""The chatbot's conversation: one inbound Official Account message or event → one reply.

Interface used by the webhook (bots/webhook.py) and the sandbox chat page:

    reply = answer(session, Inbound(openid=…, kind="text", content="参加"))

``answer`` records the inbound (chat_accounts: the 48-hour customer-service window, follow /
unfollow), works out the intent and calls the same services as the API. It writes through
``session`` but never commits: the caller commits once. It returns the reply text for the
person (Chinese), or None when there is nothing to say.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Inbound:
    openid: str               # FromUserName
    kind: str                 # "text", "event", or another MsgType ("image", "voice"…)
    content: str = ""         # text messages
    event: str = ""           # events, lower case: subscribe, unsubscribe, click, scan…
    event_key: str = ""       # menu key (click) or scene (scan)
    msg_id: int = 0           # MsgId; 0 for events
    create_time: int = 0      # CreateTime (seconds)


@dataclass(frozen=True)
class Reply:
    text: str
    person_id: int | None = None  # the bound person, when known (a late reply goes via the outbox)


def answer(session: Session, inbound: Inbound) -> Reply | None:
    """Placeholder until the intents land: always the help text."""
    return Reply("您好，这里是“有事好商量”协商平台。回复“帮助”查看可以办理的事项。")
