"""Request and response models of login, /api/me and the staff people endpoints."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..suggestions.schemas import SingleLine


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------------

class WxLoginRequest(_Strict):
    code: str = Field(min_length=1, max_length=128, description="wx.login() 得到的临时登录凭证 code")


class PhoneBindRequest(_Strict):
    code: str = Field(min_length=1, max_length=128,
                      description="手机号快速验证组件（getPhoneNumber）回调中的 code")


class StaffLoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class MeUpdate(_Strict):
    name: SingleLine | None = Field(default=None, min_length=1, max_length=32, description="称呼/姓名")
    home_region_id: int | None = Field(default=None, ge=1,
                                       description="所在区域（村/社区/乡镇街道等）")

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("姓名不能为空")
        return value


class PeopleQuery(BaseModel):
    region_id: int | None = Field(default=None, ge=1, description="只看该区域（含下级）的人员")
    q: str | None = Field(default=None, max_length=32, description="姓名关键字，或完整手机号")
    page: int = Field(default=1, ge=1, le=10000)
    per_page: int = Field(default=20, ge=1, le=100)


# --- responses ---------------------------------------------------------------------------------

class RegionRef(BaseModel):
    id: int
    name: str


class RoleView(BaseModel):
    role: str = Field(description="角色代码：resident/member/convenor/liaison/reviewer/"
                                  "dept_handler/staff/admin")
    label: str = Field(description="角色中文名")
    scope_type: Literal["region", "body", "platform"] | None = None
    scope_id: int | None = None
    scope_name: str | None = None
    implicit: bool = Field(default=False,
                           description="true：未单独授予，登录用户默认即为群众")


class PlatformLink(BaseModel):
    id: int
    name: str
    relation: Literal["convenor", "member"]
    relation_label: str


class PersonBrief(BaseModel):
    id: int
    name: str
    roles: list[str]


class LoginResponse(BaseModel):
    token: str = Field(description="会话令牌，之后请求放在 Authorization: Bearer 中")
    expires_at: datetime
    is_new: bool = Field(description="是否首次登录（新建了账号）")
    person: PersonBrief


class PhoneBindResponse(BaseModel):
    phone_masked: str
    merged: bool = Field(description="是否已与工作人员预先录入的同一手机号人员合并")
    person: PersonBrief


class StaffLoginResponse(BaseModel):
    csrf_token: str = Field(description="之后的修改类请求放在 X-CSRF-Token 请求头中")
    expires_at: datetime
    person: PersonBrief


class OkResponse(BaseModel):
    ok: bool = True


class SessionInfo(BaseModel):
    kind: Literal["mp", "staff"]
    expires_at: datetime


class MeResponse(BaseModel):
    id: int
    name: str
    phone_masked: str | None
    home_region: RegionRef | None
    roles: list[RoleView]
    platforms: list[PlatformLink]
    session: SessionInfo


class PersonRow(BaseModel):
    id: int
    name: str
    phone_masked: str | None
    is_active: bool
    home_region: RegionRef | None
    roles: list[str]


class PeoplePage(BaseModel):
    items: list[PersonRow]
    total: int
    page: int
    per_page: int


class WechatBinding(BaseModel):
    mp: bool = Field(description="已绑定小程序")
    oa: bool = Field(description="已绑定公众号")


class PersonDetail(BaseModel):
    id: int
    name: str
    phone_masked: str | None
    is_active: bool
    home_region: RegionRef | None
    roles: list[RoleView]
    platforms: list[PlatformLink]
    wechat: WechatBinding
    has_staff_account: bool
