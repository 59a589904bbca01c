"""D8: the approval chain is derived from the host unit of the platform."""
import pytest

from app.org.models import HostType
from app.topics.approval import Reviewer, approval_chain
from app.topics.models import StepKind

V, A, F, P = StepKind.vet, StepKind.approve, StepKind.file, StepKind.pre_review


@pytest.mark.parametrize("host,expected", [
    # D8 town-level room: same-level Party (working) committee approves, county CPPCC files.
    (HostType.town, [(A, Reviewer.town_party_committee), (F, Reviewer.county_cppcc)]),
    # D8 village / community / enterprise room: own Party organisation vets first.
    (HostType.village, [(V, Reviewer.own_party_org), (A, Reviewer.town_party_committee),
                        (F, Reviewer.county_cppcc)]),
    (HostType.community, [(V, Reviewer.own_party_org), (A, Reviewer.town_party_committee),
                          (F, Reviewer.county_cppcc)]),
    (HostType.enterprise, [(V, Reviewer.own_party_org), (A, Reviewer.town_party_committee),
                           (F, Reviewer.county_cppcc)]),
    # D8 sector room: special committee pre-reviews, CPPCC party group approves (no filing).
    (HostType.sector, [(P, Reviewer.special_committee), (A, Reviewer.cppcc_party_group)]),
])
def test_chain_by_host_unit(host, expected):
    assert [(s.kind, s.reviewer) for s in approval_chain(host)] == expected


def test_every_host_type_has_a_chain_ending_in_approval_or_filing():
    for host in HostType:
        chain = approval_chain(host)
        assert chain, host
        assert chain[-1].kind in (StepKind.file, StepKind.approve)
        assert any(s.kind is StepKind.approve for s in chain)


def test_host_type_given_as_string():
    assert approval_chain("town") == approval_chain(HostType.town)
    with pytest.raises(ValueError):
        approval_chain("county")
