"""Fixtures of the statistics tests: a small generated registry, and its snapshot."""

import os

import pytest
from django.core.management import call_command

from vnemis.registry.generate.population import population_write
from vnemis.registry.loaders import dataset_load

PROVINCES = "01,48"  # two provinces, so an incremental refresh can leave one alone
PUPILS = 2_000  # the fewest for which the generator gives province 48 a school


@pytest.fixture(scope="session")
def generated_dataset(tmp_path_factory):
    """``vnemis generate`` output (pupils of two provinces) with its population.csv."""
    out = tmp_path_factory.mktemp("stats") / "gen"
    with open(os.devnull, "w") as quiet:
        call_command(
            "generate", "--out", str(out), "--provinces", PROVINCES, "--students", str(PUPILS),
            "--seed", "5", "--no-progress", stdout=quiet,
        )  # fmt: skip
    population_write(out)
    return out


@pytest.fixture
def registry_with_data(generated_dataset, db, settings, tmp_path):
    """The generated dataset loaded into the registry (geography and organisation tree first)."""
    settings.VAR_DIR = tmp_path / "var"
    with open(os.devnull, "w") as quiet:
        call_command("geo", "load", verbosity=0, stdout=quiet)
        call_command("orgs", "seed", stdout=quiet)
    result = dataset_load(directory=generated_dataset)
    assert result.rejected == 0, "\n".join(result.summary_lines())
    return generated_dataset


@pytest.fixture
def snapshot_dir(registry_with_data, settings, tmp_path):
    """A full snapshot of the loaded registry in a directory of the test's own."""
    from vnemis.stats.snapshot import snapshot_refresh

    settings.STATS_SNAPSHOT_DIR = tmp_path / "snapshot"
    snapshot_refresh(full=True)
    return settings.STATS_SNAPSHOT_DIR
