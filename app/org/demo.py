"""Demo data: a believable city for `make run`, the sandbox and the console (`flask seed-demo`).

Idempotent and deterministic: every row is looked up by its natural key (region code, names,
the phone number derived from a stable person key, usernames) and created only when missing;
existing rows are left as they are, so a second run changes nothing. The tables are in
demo_data.py. Deliberate gaps (D2 uncovered villages, D29 a platform without a member, D28 a
convenor mismatch, some of the six musts unmet, D3) give the reports something to show.
"""
from __future__ import annotations

import functools
import hashlib
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..audit.services import record
from ..auth.models import StaffAccount
from ..consultations.models import Consultation
from ..crypto import PersonalDataCipher, get_cipher
from ..suggestions.models import Suggestion
from ..topics.models import Topic
from . import demo_data as D
from . import factories as f
from .services import today_local
from .models import (
    Body, BodyKind, DutyGroup, Enterprise, HostType, MemberLevel, Person, Platform, PlatformCheck,
    PlatformKind, PlatformMember, PlatformServedUnit, Region, RegionKind, Role, RoleAssignment,
    Sector, SixMust, WechatIdentity,
)

# Demo six-musts checks are dated two months before the day the demo is seeded, so a fresh
# sandbox shows them as current (they turn stale after rules.SIX_MUSTS_STALE_MONTHS).
CHECK_AGE = timedelta(days=60)
_PHONE_PREFIXES = ("139", "138", "137", "136", "135", "158", "159", "151", "152", "187", "188",
                   "183", "182", "157", "150", "189", "181", "177", "180", "199")
_BASE_LAT, _BASE_LON = 34.596, 119.221
_COUNTY_OFFSET = {"329901": (0.0, 0.0), "329902": (0.12, 0.21), "329903": (0.0, -0.45),
                  "329904": (0.18, -0.32)}

COUNTED = {"regions": Region, "enterprises": Enterprise, "sectors": Sector, "bodies": Body,
           "duty_groups": DutyGroup, "platforms": Platform, "platform_checks": PlatformCheck,
           "platform_served_units": PlatformServedUnit, "platform_members": PlatformMember,
           "people": Person, "role_assignments": RoleAssignment, "staff_accounts": StaffAccount,
           "suggestions": Suggestion, "topics": Topic, "consultations": Consultation,
           "wechat_identities": WechatIdentity}


@functools.lru_cache(maxsize=1)
def _demo_password_hash() -> str:
    # One (salted) hash per process: the demo password is public anyway, and hashing is slow
    # by design.
    return generate_password_hash(D.DEMO_PASSWORD)


def _digest(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16)


def demo_name(key: str) -> str:
    """A deterministic Chinese name for a person key."""
    h = _digest("name:" + key)
    surname = D.SURNAMES[h % len(D.SURNAMES)]
    h //= len(D.SURNAMES)
    first = D.GIVEN[h % len(D.GIVEN)]
    h //= len(D.GIVEN)
    if h % 3 == 0:  # a third of the names have one given character
        return surname + first
    return surname + first + D.GIVEN[(h // 3) % len(D.GIVEN)]


def demo_phone(key: str, salt: int = 0) -> str:
    h = _digest(f"phone:{key}:{salt}")
    return _PHONE_PREFIXES[h % len(_PHONE_PREFIXES)] + f"{(h // 20) % 10**8:08d}"


class _Seeder:
    def __init__(self, session: Session, cipher: PersonalDataCipher) -> None:
        self.s, self.cipher, self.created = session, cipher, Counter()
        self.checked_on = today_local() - CHECK_AGE
        self.regions = {r.code: r for r in session.scalars(select(Region))}
        self.people = {p.phone_hash: p for p in session.scalars(
            select(Person).where(Person.phone_hash.is_not(None)))}
        self.bodies = {(b.region_id, b.kind, b.name): b for b in session.scalars(select(Body))}
        self.enterprises = {(e.region_id, e.name): e for e in session.scalars(select(Enterprise))}
        self.sectors = {(x.region_id, x.name): x for x in session.scalars(select(Sector))}
        self.groups = {(g.region_id, g.name): g for g in session.scalars(select(DutyGroup))}
        self.platforms = {(p.region_id, p.name): p for p in session.scalars(select(Platform))}
        self.roles = {(r.person_id, r.role, r.scope_key)
                      for r in session.scalars(select(RoleAssignment))}
        self.checks = set(session.execute(select(PlatformCheck.platform_id, PlatformCheck.must)))
        self.members = set(session.execute(
            select(PlatformMember.platform_id, PlatformMember.person_id)))
        self.served = set(session.execute(select(
            PlatformServedUnit.platform_id, PlatformServedUnit.region_id,
            PlatformServedUnit.enterprise_id)))
        self.accounts = set(session.scalars(select(StaffAccount.username)))
        self.phones_seen: dict[str, str] = {}
        self.staff_people: dict[str | None, Person] = {}

    # --- get-or-create by natural key ---------------------------------------------------------

    def region(self, code: str, name: str, kind: str, parent: Region | None = None,
               eligible: bool = True) -> Region:
        if code not in self.regions:
            self.regions[code] = f.create_region(self.s, code=code, name=name, kind=kind,
                                                 parent=parent, is_room_eligible=eligible)
            self.created["regions"] += 1
        return self.regions[code]

    def person(self, key: str, home: Region | None) -> Person:
        salt, phone = 0, demo_phone(key)
        while self.phones_seen.get(phone, key) != key:  # a clash with another demo key
            salt += 1
            phone = demo_phone(key, salt)
        self.phones_seen[phone] = key
        digest = self.cipher.lookup_hash(phone)
        if digest not in self.people:
            self.people[digest] = f.create_person(self.s, name=demo_name(key), phone=phone,
                                                  home_region=home, cipher=self.cipher)
            self.created["people"] += 1
        return self.people[digest]

    def role(self, person: Person, role: Role, **kw) -> None:
        scope = {k: kw.pop(k) for k in ("region", "body", "platform") if k in kw}
        key = (person.id, role, f.scope_key_of(**scope))
        if key not in self.roles:
            f.assign_role(self.s, person, role, **scope, **kw)
            self.roles.add(key)
            self.created["role_assignments"] += 1

    def body(self, name: str, kind: BodyKind, region: Region, *, head: Person | None = None,
             parent: Body | None = None, enterprise: Enterprise | None = None,
             head_role: Role | None = None) -> Body:
        key = (region.id, kind, name)
        if key not in self.bodies:
            self.bodies[key] = f.create_body(self.s, name=name, kind=kind, region=region, head=head,
                                             parent=parent, enterprise=enterprise)
            self.created["bodies"] += 1
        if head is not None and head_role is not None:
            self.role(head, head_role, body=self.bodies[key])
        return self.bodies[key]

    def enterprise(self, name: str, region: Region, eligible: bool) -> Enterprise:
        key = (region.id, name)
        if key not in self.enterprises:
            self.enterprises[key] = f.create_enterprise(self.s, name=name, region=region,
                                                        is_room_eligible=eligible)
            self.created["enterprises"] += 1
        return self.enterprises[key]

    def duty_group(self, name: str, region: Region) -> DutyGroup:
        key = (region.id, name)
        if key not in self.groups:
            self.groups[key] = f.create_duty_group(self.s, name=name, region=region)
            self.created["duty_groups"] += 1
        return self.groups[key]

    def platform(self, key: str, kind: str, host: HostType, region: Region, *, convenor: Person,
                 members: list[Person], checker: Person, enterprise: Enterprise | None = None,
                 sector: Sector | None = None, unit_label: str = "") -> Platform:
        kind = PlatformKind(kind)
        unit = enterprise.name if enterprise else (
            f"{region.name}政协{sector.name}" if sector else region.name)
        name = f.platform_name(kind, unit)
        platform = self.platforms.get((region.id, name))
        if platform is None:
            h = _digest("geo:" + key)
            dlat, dlon = _COUNTY_OFFSET.get(self._county_code(region), (0.0, 0.0))
            platform = f.create_platform(
                self.s, kind=kind, host_type=host, region=region, enterprise=enterprise,
                sector=sector, name=name, secondary_name=D.SECONDARY_NAMES.get(key),
                venue_address=f"{self._address(region)}{unit_label}",
                latitude=round(_BASE_LAT + dlat + (h % 2000 - 1000) / 20000, 6),
                longitude=round(_BASE_LON + dlon + (h // 2000 % 2000 - 1000) / 20000, 6),
                convenor=convenor)
            self.platforms[(region.id, name)] = platform
            self.roles.add((convenor.id, Role.convenor, f"platform:{platform.id}"))
            self.created["platforms"] += 1
            self.created["role_assignments"] += 1
        missing = D.MISSING_CHECKS.get(key, {})
        for must in SixMust:
            if (platform.id, must) not in self.checks:
                evidence = missing.get(must.value) or D.CHECK_EVIDENCE[must.value]
                if (must is SixMust.venue and kind is not PlatformKind.room
                        and not missing.get("venue")):
                    evidence = "依托党群服务中心设立联系点，活动时统一布置"
                # Known to be new (the cache says so): added without the factory's look-up and
                # flush, which would make the seed several times slower.
                self.s.add(PlatformCheck(platform_id=platform.id, must=must,
                                         is_met=must.value not in missing, evidence=evidence,
                                         checked_on=self.checked_on, checked_by_id=checker.id))
                self.checks.add((platform.id, must))
                self.created["platform_checks"] += 1
        if key not in D.NO_MEMBER_PLATFORMS:
            for member in members:
                self.link(platform, member)
        return platform

    def link(self, platform: Platform, member: Person) -> None:
        if (platform.id, member.id) not in self.members:
            self.s.add(PlatformMember(platform_id=platform.id, person_id=member.id))  # as above
            self.members.add((platform.id, member.id))
            self.created["platform_members"] += 1

    def serve(self, platform: Platform, *, region: Region | None = None,
              enterprise: Enterprise | None = None) -> None:
        key = (platform.id, region.id if region else None, enterprise.id if enterprise else None)
        if key not in self.served:
            f.add_served_unit(self.s, platform, region=region, enterprise=enterprise)
            self.served.add(key)
            self.created["platform_served_units"] += 1

    def _county_code(self, region: Region) -> str | None:
        return region.code[:6] if len(region.code) >= 6 else None

    def _address(self, region: Region) -> str:
        parts, r = [], region
        while r is not None:
            parts.append(r.name)
            r = r.parent
        return "".join(reversed(parts))

    # --- the city, top-down ---------------------------------------------------------------------

    def cppcc_bodies(self, region: Region, prefix: str, cppcc_name: str, committees: list[str]
                     ) -> tuple[Body, dict[str, Body]]:
        # The chair acts for the CPPCC on D8 filing steps (a topic is filed with the county CPPCC).
        cppcc = self.body(cppcc_name, BodyKind.cppcc, region,
                          head=self.person(f"{prefix}:cppcc_chair", region),
                          head_role=Role.reviewer)
        self.body(f"{cppcc_name}党组", BodyKind.cppcc_party_group, region, parent=cppcc,
                  head=self.person(f"{prefix}:party_group", region), head_role=Role.reviewer)
        special = {c: self.body(f"{cppcc_name}{c}", BodyKind.cppcc_special_committee, region,
                                parent=cppcc, head=self.person(f"{prefix}:committee:{c}", region),
                                head_role=Role.reviewer)
                   for c in committees}
        return cppcc, special

    def party_and_government(self, region: Region, prefix: str, departments: list[str]) -> None:
        self.body(f"中共{region.name}委员会", BodyKind.party_committee, region,
                  head=self.person(f"{prefix}:party_secretary", region), head_role=Role.reviewer)
        # D18: the city and county governments receive opinion lists, so they need a reader.
        gov = self.body(f"{region.name}人民政府", BodyKind.government, region,
                        head=self.person(f"{prefix}:government_head", region),
                        head_role=Role.reviewer)
        for dept in departments:
            self.body(f"{region.name}{dept}", BodyKind.department, region, parent=gov,
                      head=self.person(f"{prefix}:dept:{dept}", region),
                      head_role=Role.dept_handler)

    def sector_units(self, region: Region, prefix: str, table: dict, special: dict[str, Body],
                level: MemberLevel, checker: Person, groups: list[DutyGroup]) -> dict[str, list]:
        members_by_sector = {}
        for i, (name, (committee, kind)) in enumerate(table.items()):
            members = [self.person(f"{prefix}:sector:{name}:member:{n}", region) for n in range(2)]
            key = (region.id, name)
            if key not in self.sectors:  # D28: the sector's convenor convenes its room
                self.sectors[key] = f.create_sector(self.s, name=name, region=region,
                                                    convenor=members[0],
                                                    special_committee=special[committee],
                                                    is_room_eligible=kind == "room")
                self.created["sectors"] += 1
            sector = self.sectors[key]
            for n, m in enumerate(members):  # D29: every member belongs to a sector
                extra = {"duty_group": groups[(i + n) % len(groups)]} if groups else {}
                self.role(m, Role.member, region=region, sector=sector, member_level=level,
                          **extra)
            if kind:  # (every demo sector has one; the table allows None)
                self.platform(f"sector:{region.code}:{name}", kind, HostType.sector, region,
                              sector=sector, convenor=members[0], members=members,
                              checker=checker, unit_label="政协委员活动室")
            members_by_sector[name] = members
        return members_by_sector

    def run(self) -> None:
        city = self.region(D.CITY["code"], D.CITY["name"], "city")
        self.party_and_government(city, "city", D.CITY_DEPARTMENTS)
        cppcc_name = f"政协{city.name}委员会"
        _, special = self.cppcc_bodies(city, "city", cppcc_name, D.CITY_COMMITTEES)
        staff = self.person("city:staff", city)
        self.role(staff, Role.staff, region=city)
        self.staff_people[None] = staff
        admin = self.person("city:admin", city)
        self.role(admin, Role.admin, region=city)
        self.staff_people["admin"] = admin
        self.sector_units(city, "city", D.CITY_SECTORS, special, MemberLevel.city, staff, [])
        # D29: a provincial member living locally, invited to a town room.
        self.provincial = self.person("city:provincial_member", city)
        self.role(self.provincial, Role.member, region=city, member_level=MemberLevel.provincial,
                  sector=self.sectors[(city.id, "经济界")])
        for county in D.COUNTIES:
            self.county(city, county)
        for username, role, slug, _label in D.DEMO_ACCOUNTS:
            person = self.staff_people["admin" if role == "admin" else slug]
            if username not in self.accounts:
                self.s.add(StaffAccount(person_id=person.id, username=username,
                                        password_hash=_demo_password_hash()))
                self.accounts.add(username)
                self.created["staff_accounts"] += 1
        self.s.flush()
        from .demo_activity import seed_activity
        from .demo_followthrough import seed_followthrough

        seed_activity(self)
        self.s.flush()
        seed_followthrough(self)  # issue 11: a topic at every stage of the follow-through
        self.s.flush()

    def county(self, city: Region, data: dict) -> None:
        county = self.region(data["code"], data["name"], data["kind"], city)
        prefix = f"county:{county.code}"
        self.party_and_government(county, prefix, D.COUNTY_DEPARTMENTS)
        cppcc, special = self.cppcc_bodies(county, prefix, f"政协{city.name}{county.name}委员会",
                                           D.COUNTY_COMMITTEES)
        staff = self.person(f"{prefix}:staff", county)
        self.role(staff, Role.staff, region=county)
        self.staff_people[data["slug"]] = staff
        groups = [self.duty_group(f"{county.name}政协{n}履职小组", county) for n in ("第一", "第二")]
        sector_members = self.sector_units(county, prefix, D.COUNTY_SECTORS, special,
                                      MemberLevel.county, staff, groups)
        sectors = [self.sectors[(county.id, name)] for name in D.COUNTY_SECTORS]
        for t, town in enumerate(data["towns"]):
            self.town(county, town, cppcc, sectors, groups[t % len(groups)], staff)
        for county_code, town_code, name, plat in D.ENTERPRISES:
            if county_code == county.code and town_code is None:
                self.enterprise_unit(county, name, plat, sector_members["经济界"][:1], staff, None)

    def town(self, county: Region, data: dict, cppcc: Body, sectors: list[Sector],
             group: DutyGroup, checker: Person) -> None:
        kind = RegionKind(data["kind"])
        town = self.region(data["code"], data["name"], kind, county)
        prefix = f"town:{town.code}"
        committee_name = (f"中共{town.name}委员会" if kind is RegionKind.township
                          else f"中共{town.name}工作委员会")  # 党委 / 党工委
        secretary = self.person(f"{prefix}:party_secretary", town)
        party = self.body(committee_name, BodyKind.party_committee, town, head=secretary,
                          head_role=Role.reviewer)
        gov_name = {RegionKind.township: f"{town.name}人民政府",
                    RegionKind.subdistrict: f"{town.name}办事处",
                    RegionKind.park: f"{town.name}管理委员会"}[kind]
        self.body(gov_name, BodyKind.government, town,
                  head=self.person(f"{prefix}:government_head", town))
        members = [self.person(f"{prefix}:member:{n}", town) for n in range(3)]
        for n, m in enumerate(members):
            self.role(m, Role.member, region=county, sector=sectors[n % len(sectors)],
                      member_level=MemberLevel.county, duty_group=group)
        director = members[0]  # D5: the work committee's director is a CPPCC member
        work = self.body(f"{cppcc.name}{town.name}工作委员会", BodyKind.cppcc_work_committee, town,
                         head=director, parent=cppcc)
        self.role(self.person(f"{prefix}:liaison", town), Role.liaison, body=work)
        # D28: the town room's convenor is the work committee director (one deliberate mismatch).
        convenor = secretary if town.code in D.CONVENOR_MISMATCH_TOWNS else director
        room_members = members[:2] + ([self.provincial] if town.code == "329901001" else [])
        self.platform(prefix, "room", HostType.town, town, convenor=convenor,
                      members=room_members, checker=checker, unit_label="协商议事室")
        joint_host, joint_served, mobile_regions, mobile_enterprises = None, [], [], []
        for n, (suffix, name, vkind, plat) in enumerate(data["villages"]):
            village = self.region(f"{town.code}{suffix}", name, vkind, town,
                                  eligible=plat == "room")
            head = self.person(f"village:{village.code}:secretary", village)
            self.body(f"中共{village.name}委员会", BodyKind.party_org, village, head=head,
                      parent=party, head_role=Role.reviewer)
            for r in range(2):
                self.role(self.person(f"village:{village.code}:resident:{r}", village),
                          Role.resident, region=village)
            host = HostType.community if vkind == "community" else HostType.village
            linked = [members[1 + n % 2]]
            key = f"{host.value}:{village.code}"
            if plat in ("room", "contact"):
                self.platform(key, "room" if plat == "room" else "contact_point", host, village,
                              convenor=head, members=linked, checker=checker,
                              unit_label="党群服务中心")
            elif plat == "joint-host":
                joint_host = self.platform(key, "joint", host, village, convenor=head,
                                           members=linked, checker=checker,
                                           unit_label="党群服务中心")
            elif plat == "joint":
                joint_served.append(village)
            elif plat == "mobile":
                mobile_regions.append(village)
        for v in joint_served:
            self.serve(joint_host, region=v)
        for county_code, town_code, name, plat in D.ENTERPRISES:
            if town_code == town.code:
                ent = self.enterprise_unit(town, name, plat, members[1:2], checker, party)
                if plat == "mobile":
                    mobile_enterprises.append(ent)
        if mobile_regions or mobile_enterprises:
            mobile = self.platform(f"mobile:{town.code}", "mobile", HostType.town, town,
                                   convenor=director, members=members[2:], checker=checker,
                                   unit_label="党群服务中心（流动议事点）")
            for v in mobile_regions:
                self.serve(mobile, region=v)
            for e in mobile_enterprises:
                self.serve(mobile, enterprise=e)

    def enterprise_unit(self, region: Region, name: str, plat: str, members: list[Person],
                        checker: Person, parent: Body | None) -> Enterprise:
        ent = self.enterprise(name, region, eligible=plat == "room")
        secretary = self.person(f"enterprise:{name}:secretary", region)
        self.body(f"中共{name}委员会", BodyKind.party_org, region, head=secretary, parent=parent,
                  enterprise=ent, head_role=Role.reviewer)
        if plat in ("room", "contact"):
            self.platform(f"enterprise:{name}", "room" if plat == "room" else "contact_point",
                          HostType.enterprise, region, enterprise=ent, convenor=secretary,
                          members=members, checker=checker, unit_label=name)
        return ent


def table_counts(session: Session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(model))
            for name, model in COUNTED.items()}


DEMO_REFUSED = ("演示数据含密码公开的演示账号，只能在沙箱模式（未设置任何微信凭据）下载入，"
                "正式环境不得载入")


def check_demo_allowed(config) -> None:
    """The demo city brings console accounts whose password is printed in the docs: refused
    outside sandbox mode (ConfigError with the Chinese reason)."""
    from ..config import ConfigError

    if not config.sandbox:
        raise ConfigError(DEMO_REFUSED)


def seed_demo(session: Session, cipher: PersonalDataCipher | None = None) -> dict:
    """Build (or complete) the demo city; returns the table counts plus `created` (rows added by
    this run: 0 on a second run). Never commits; the caller does."""
    seeder = _Seeder(session, cipher or get_cipher())
    seeder.run()
    from .demo_people import link_demo_logins

    # One demo person per role signs in with the login code user-demo_<key>-… (issue 10 #18).
    linked = link_demo_logins(session)
    if linked:
        seeder.created["wechat_identities"] += linked
    created = sum(seeder.created.values())
    if created:
        record(session, actor_id=None, action="demo.seed", object_type="demo",
               after=dict(sorted(seeder.created.items())))
    return {**table_counts(session), "created": created}
