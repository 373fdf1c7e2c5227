"""The mapping file: the seed's YAML as it stands, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from target_brevo_tajo.mapping import MappingError, load_mapping

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "mixpanel-connector.en.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yml"
    path.write_text(text)
    return path


def test_the_shipped_mapping_file_reads_every_seed_block(mapping_file):
    mapping = load_mapping(mapping_file)

    assert mapping.mixpanel.project_id == "12345"
    assert mapping.mixpanel.data_residency == "US"
    assert mapping.mixpanel.sync.events is True
    assert mapping.mixpanel.sync.groups is False
    assert mapping.mixpanel.lists == {"all_users": 15, "engaged_users": 16, "at_risk": 17}
    assert mapping.brevo_event_name("Purchase") == "order_completed"
    assert mapping.brevo_event_name("$experiment_started") == "experiment_started"
    assert mapping.brevo_event_name("Session Start") is None
    assert mapping.property_mapping["$phone"] == "SMS"
    assert len(mapping.mapped_event_names()) == 7


@pytest.mark.skipif(not SEED.exists(), reason="../shared/seed is not beside this checkout")
def test_the_seed_documents_yaml_blocks_work_as_they_stand(tmp_path):
    blocks = SEED.read_text().split("```yaml")[1:]
    text = "\n".join(block.split("```")[0] for block in blocks)

    mapping = load_mapping(write(tmp_path, text))

    assert mapping.event_mapping["Feature Activated"] == "feature_used"
    assert mapping.property_mapping["total_revenue"] == "LTV"


def test_an_invalid_brevo_event_name_names_file_line_and_key(tmp_path):
    path = write(
        tmp_path, 'event_mapping:\n  "Purchase": "order_completed"\n  "Sign Up": "sign up!"\n'
    )

    with pytest.raises(MappingError) as error:
        load_mapping(path)

    message = str(error.value)
    assert message.startswith(f"{path}:3: event_mapping")
    assert "sign up!" in message
    assert "\n" not in message


def test_an_unknown_key_is_an_error_not_ignored(tmp_path):
    path = write(tmp_path, "connectors:\n  mixpanel:\n    enabeld: true\n")

    with pytest.raises(MappingError, match=r":3: connectors\.mixpanel\.enabeld: unknown key"):
        load_mapping(path)


def test_a_list_id_must_be_a_number(tmp_path):
    path = write(tmp_path, "connectors:\n  mixpanel:\n    lists:\n      all_users: fifteen\n")

    with pytest.raises(MappingError, match=r":4: connectors\.mixpanel\.lists\.all_users: "):
        load_mapping(path)


def test_broken_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "event_mapping:\n  Purchase: order_completed\n   bad: [unclosed\n")

    with pytest.raises(MappingError, match=r":3: invalid YAML"):
        load_mapping(path)


def test_a_missing_file_says_which_setting_to_check(tmp_path):
    with pytest.raises(MappingError, match="check mapping_file"):
        load_mapping(tmp_path / "nope.yml")
