from vnemis.core.audit import audit_verify
from vnemis.orgs.models import OrgClosure
from vnemis.registry.education_id import is_valid_education_id


def test_tree_and_pupils(users, pupils, tree):
    assert OrgClosure.objects.filter(ancestor=tree["moet"]).count() == 6
    assert is_valid_education_id(pupils["an"].education_id)
    assert pupils["an"].name_search == "nguyen van an"
    assert list(audit_verify()) == []
