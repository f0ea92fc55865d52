"""Linkage runs on generated data: verify, link the unverified to the simulator's extracts,
queue what is uncertain, find planted duplicates; decisions checked against the ground truth."""

import os
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command
from registry_sim_support import running_simulator

from vnemis.core.crypto import decrypt_identifier
from vnemis.identity import linkage_runs
from vnemis.identity.models import ReviewItem, Verification
from vnemis.identity.registry_client import ClientConfig, RegistryClient
from vnemis.identity.verification import run_create, run_execute
from vnemis.orgs.models import Organisation
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import Enrolment

PUPILS = 3_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("linkage") / "gen"
    with open(os.devnull, "w") as quiet:
        call_command(
            "generate", "--out", str(out), "--provinces", "01", "--students", str(PUPILS),
            "--seed", "11", "--no-progress", "--noise-missing-citizen-id", "0.15",
            "--noise-wrong-citizen-id", "0.03", "--noise-typo", "0.05",
            "--noise-no-diacritics", "0.05", "--noise-date-swap", "0.02",
            "--noise-duplicate", "0.02", stdout=quiet,
        )  # fmt: skip
    return out


@pytest.fixture
def loaded(generated, db, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    with open(os.devnull, "w") as quiet:
        call_command("geo", "load", verbosity=0, stdout=quiet)
        call_command("orgs", "seed", stdout=quiet)
    result = dataset_load(
        directory=generated, entities=["schools", "staff", "classes", "pupils", "enrolments"]
    )
    assert result.rejected == 0, "\n".join(result.summary_lines())
    return generated


def _truth(generated: Path) -> dict[int, str]:
    """Our person id → the citizen ID that person really has (from the generator)."""
    truth = pl.read_parquet(generated / "ground_truth" / "pupils.parquet")
    citizens = pl.read_parquet(generated / "registry" / "citizens.parquet").select(
        "person_id", pl.col("citizen_id").alias("real_id")
    )
    truth = truth.join(citizens, on="person_id", how="inner")
    ours = {
        (school, code): pid
        for pid, school, code in Enrolment.objects.values_list(
            "pupil_id", "school__code", "pupil_code"
        )
    }
    return {
        ours[(s, c)]: real
        for s, c, real in truth.select("school_code", "pupil_code", "real_id").iter_rows()
        if (s, c) in ours
    }


def test_unmatched_records_are_linked_or_queued_and_links_are_right(loaded, settings):
    with running_simulator(loaded / "registry" / "citizens.parquet") as sim:
        config = ClientConfig(
            base_url=sim.url, client_id=sim.client_id, client_secret=sim.client_secret
        )
        with RegistryClient(config) as client:
            nation = Organisation.objects.get(parent__isnull=True)
            run_execute(run_create(actor=None, scope=nation, enqueue=False).pk, client=client)
            unlinked = linkage_runs.unlinked_persons("01").count()
            assert unlinked > 0.1 * PUPILS  # the IDs left out and mistyped
            counts = linkage_runs.link_run(province_code="01", client=client)
    assert counts["records"] == unlinked
    assert counts["accepted"] > 0.8 * unlinked and counts["review"] > 0
    truth = _truth(loaded)
    linked = ReviewItem.objects.filter(kind="registry_link", status="auto")
    wrong = [
        item.person_id
        for item in linked
        if truth.get(item.person_id) != decrypt_identifier(item.citizen_id_ciphertext)
    ]
    assert len(wrong) <= 0.005 * linked.count() + 1, wrong
    # A linked person now carries the registry's ID and counts as verified by linkage.
    item = linked.first()
    check = Verification.objects.get(person_id=item.person_id)
    assert check.status == "verified" and check.method == "linkage"
    pending = ReviewItem.objects.filter(kind="registry_link", status="pending").first()
    assert pending.candidate["full_name"]
    assert {"field", "level", "weight"} <= set(pending.explanation[0])
    assert 0 < pending.match_probability < 1


def test_planted_duplicates_are_found_for_review(loaded):
    with running_simulator(loaded / "registry" / "citizens.parquet") as sim:
        config = ClientConfig(
            base_url=sim.url, client_id=sim.client_id, client_secret=sim.client_secret
        )
        with RegistryClient(config) as client:
            counts = linkage_runs.duplicates_run(province_code="01", client=client)
    assert counts["review"] > 0
    truth = pl.read_parquet(loaded / "ground_truth" / "pupils.parquet").filter(
        pl.col("duplicate_of_pupil_code").is_not_null()
    )
    ids = {
        (school, code): pid
        for pid, school, code in Enrolment.objects.values_list(
            "pupil_id", "school__code", "pupil_code"
        )
    }
    planted = {
        frozenset((ids[(r[0], r[1])], ids[(r[2], r[3])]))
        for r in truth.select(
            "school_code", "pupil_code", "duplicate_of_school_code", "duplicate_of_pupil_code"
        ).iter_rows()
        if (r[0], r[1]) in ids and (r[2], r[3]) in ids
    }
    found = {
        frozenset((i.person_id, i.other_person_id))
        for i in ReviewItem.objects.filter(kind="duplicate")
    }
    assert len(planted & found) >= 0.9 * len(planted)
    # Run again: nothing is queued twice.
    assert linkage_runs.duplicates_run(province_code="01")["review"] == 0
