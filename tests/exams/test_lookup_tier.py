"""The look-up tier's settings: the base settings without session, log-in and page middleware,
and the public look-up page and API still answer there (in a process of their own)."""

import os
import subprocess
import sys

SCRIPT = """
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
assert not any("Session" in m or "Authentication" in m for m in settings.MIDDLEWARE)
call_command("check")
call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
assert client.get("/exams/results/").status_code == 200
answer = client.get("/exams/results/api/2026/12345")
assert answer.status_code == 422 and answer.json()["message_vi"], answer.content
print("ok")
"""


def test_the_lookup_tier_serves_the_page_and_the_api_without_session_middleware(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "vnemis.config.settings.lookup",
        "VNEMIS_LOOKUP_BASE_SETTINGS": "vnemis.config.settings.test",
        "VNEMIS_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lookup.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
