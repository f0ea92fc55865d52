"""The English of the signing library's translatable labels matches its bilingual tables."""

from django.utils import translation

from vnemis.office.signing.sign import KIND_LABELS, KIND_TEXT
from vnemis.office.signing.verify import OUTCOME_LABELS, OUTCOME_TEXT


def test_every_label_reads_as_its_table_says_in_both_languages():
    for labels, texts in ((OUTCOME_LABELS, OUTCOME_TEXT), (KIND_LABELS, KIND_TEXT)):
        assert set(labels) == set(texts)
        for key, label in labels.items():
            vi, en = texts[key]
            with translation.override("vi"):
                assert str(label) == vi
            with translation.override("en"):
                assert str(label) == en, vi
