"""Chat binding API shapes (the mini-program's “我的 → 绑定公众号”)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class BindingCodeOut(BaseModel):
    code: str = Field(description="6 位数字绑定码，在公众号里发送“绑定 123456”")
    expires_at: datetime = Field(description="过期时间（10 分钟内有效）")
    instruction: str = Field(description="给用户看的说明")


class BindingOut(BaseModel):
    bound: bool = Field(description="是否已绑定公众号")
    bound_at: datetime | None = Field(None, description="绑定时间")
