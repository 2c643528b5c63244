"""Accounts through the Python layer: empty passwords, disabled accounts and password resets."""
import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, TECH, TECH_PW, ctm_open


def test_empty_password_is_invalid_and_not_counted(db, db_path):
    db.user_add(TECH, "technician", TECH_PW)
    size = db.size
    other = ctm_open(db_path)
    with pytest.raises(ctm.InvalidError, match="password"):
        other.login(TECH, "")
    other.close()
    assert db.size == size
    assert {u["user"]: u for u in db.users()}[TECH]["failed_logins"] == 0


def test_disabled_account_answers_disabled_whatever_the_password(db, db_path):
    db.user_add(TECH, "technician", TECH_PW)
    db.user_disable(TECH, "on leave")
    size = db.size
    for password in (TECH_PW, "a-wrong-guess"):
        with pytest.raises(ctm.DisabledError):
            ctm_open(db_path, user=TECH, password=password)
    assert db.size == size


def test_reset_password_must_be_replaced_before_anything_else(db, db_path):
    db.user_add(TECH, "technician", TECH_PW)
    db.user_passwd("reset-by-alice-1", user=TECH)
    assert list(db.events())[-1]["action"] == "user.reset"
    assert {u["user"]: u for u in db.users()}[TECH]["must_change"] == 1
    assert not db.must_change_password
    with ctm_open(db_path, user=TECH, password="reset-by-alice-1") as t:
        assert t.must_change_password
        with pytest.raises(ctm.PermissionDenied, match="password"):
            t.note("signed with a key the administrator could know", meaning="checked")
        with pytest.raises(ctm.PermissionDenied):
            t.users()
        t.user_passwd("tom-own-password-3")
        assert not t.must_change_password
        t.note("signed with tom's own new key", meaning="checked")
    own = list(db.events())[-2]
    assert own["action"] == "user.passwd" and own["esig_user"] == TECH
    assert own["esig_meaning"] == "password changed"
    db.verify()
