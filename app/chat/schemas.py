"""Chat binding API shapes (the mini-program's “我的 → 绑定公众号”)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class BindingCodeOut(BaseModel):
    code: str = Field(description="6 位数字绑定码，在公众号里发送“绑定 123456”")
    expires_at: datetime = Field(description="过期时间（10 分钟内有效）")
    instruction: str = Field(description="给用户看的说明")


class BindingOut(BaseModel):
    bound: bool = Field(description="是否已绑定公众号")
    bound_at: datetime | None = Field(None, description="绑定时间")


class LinkCodeOut(BaseModel):
    code: str = Field(description="10 位数字绑定码（24 小时内有效，只能用一次）")
    expires_at: datetime = Field(description="过期时间")
    instruction: str = Field(description="给本人看的说明（可打印在邀请函上或当面读给本人）")
    qr_png: str = Field(description="绑定码的二维码（PNG data URI），在小程序“使用绑定码”页面扫码")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(min_length=1, max_length=40,
                      description="工作人员或召集人给的 10 位绑定码（可带空格）或扫码结果")


class LinkPerson(BaseModel):
    id: int
    name: str
    roles: list[str]


class LinkOut(BaseModel):
    person: LinkPerson = Field(description="关联后的本人（含角色）；当前令牌此后以该人员身份操作")
    merged: bool = Field(description="本微信原来的账号已并入该人员")
