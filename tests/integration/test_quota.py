"""Quota reservations are atomic in PostgreSQL: 50 concurrent requests, room for 10."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from lakeport import accounts
from lakeport.db import quota, tenancy
from lakeport.db.models import Org, User
from lakeport.errors import LakeportError


def _ids(runtime):
    with runtime.sessions() as session:
        org = tenancy.get_org_by_name(session, "default")
        user = tenancy.get_user_by_name(session, org.id, "admin")
        return org.id, user.id


def test_fifty_concurrent_reservations_admit_exactly_ten(runtime, admin_token):
    org_id, user_id = _ids(runtime)
    accounts.set_quota(runtime, "default", None, 10 * 1000)

    def attempt(_: int) -> bool:
        try:
            with runtime.sessions.begin() as session:
                quota.reserve(session, org_id, user_id, 1000)
            return True
        except LakeportError as exc:
            assert exc.code == "quota_exceeded"
            return False

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(attempt, range(50)))
    assert results.count(True) == 10
    with runtime.sessions() as session:
        assert quota.usage_of(session, Org, org_id).reserved_bytes == 10 * 1000


def test_rejection_reports_usage_and_settle_release_never_go_negative(runtime, admin_token):
    org_id, user_id = _ids(runtime)
    accounts.set_quota(runtime, "default", "admin", 5000)
    with runtime.sessions.begin() as session:
        quota.reserve(session, org_id, user_id, 4000)
    with pytest.raises(LakeportError) as info, runtime.sessions.begin() as session:
        quota.reserve(session, org_id, user_id, 2000)
    assert info.value.details == {
        "account": "user",
        "used_bytes": 0,
        "reserved_bytes": 4000,
        "limit_bytes": 5000,
        "rejected_bytes": 2000,
    }
    with runtime.sessions.begin() as session:
        quota.settle(session, org_id, user_id, reserved=4000, actual=3000)
    with runtime.sessions.begin() as session:
        usage = quota.usage_of(session, User, user_id)
        assert (usage.used_bytes, usage.reserved_bytes) == (3000, 0)
        quota.release_used(session, org_id, user_id, 999_999)
    with runtime.sessions() as session:
        assert quota.usage_of(session, User, user_id).used_bytes == 0
