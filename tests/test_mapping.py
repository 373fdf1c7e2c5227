"""The mapping file: the seed's YAML as it stands, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixpanel_brevo_mapping import (
    CohortRef,
    CohortSelection,
    MappingError,
    list_id_of,
    load_mapping,
    mapped_cohorts,
    slug,
    sync_mode_of,
)

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


def test_a_duplicate_key_names_file_line_and_key(tmp_path):
    path = write(
        tmp_path,
        'event_mapping:\n  "Purchase": "order_completed"\n  "Sign Up": "customer_created"\n'
        '  "Sign Up": "signed_up"\n',
    )

    with pytest.raises(MappingError) as error:
        load_mapping(path)

    assert str(error.value) == f'{path}:4: event_mapping."Sign Up": duplicate key'


def test_a_duplicate_section_is_refused_too(tmp_path):
    path = write(tmp_path, "property_mapping:\n  plan: PLAN\nproperty_mapping:\n  plan: TIER\n")

    with pytest.raises(MappingError, match=r":3: property_mapping: duplicate key$"):
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


COHORTS = [
    CohortRef(101, "Engaged Users (Last 7 Days)"),
    CohortRef(102, "At Risk"),
    CohortRef(103, "Power Users"),
]


def test_lists_keys_name_cohorts_by_slug_and_all_users_is_not_a_cohort(mapping_file):
    mapping = load_mapping(mapping_file)
    selected = mapped_cohorts(mapping, COHORTS)

    assert [(s.cohort.id, s.key, list_id_of(mapping, s)) for s in selected] == [
        (101, "engaged_users", 16),
        (102, "at_risk", 17),
    ]


def test_a_lists_key_may_be_a_cohort_id_or_its_exact_name(tmp_path):
    path = write(
        tmp_path, 'connectors:\n  mixpanel:\n    lists:\n      "103": 20\n      At Risk: 21\n'
    )

    mapping = load_mapping(path)
    selected = mapped_cohorts(mapping, COHORTS)

    assert {s.cohort.id: list_id_of(mapping, s) for s in selected} == {103: 20, 102: 21}


def test_an_ambiguous_key_is_an_error_listing_the_candidates(tmp_path):
    cohorts = [*COHORTS, CohortRef(104, "Engaged Users (Last 30 Days)")]
    path = write(tmp_path, "connectors:\n  mixpanel:\n    lists:\n      engaged_users: 16\n")

    with pytest.raises(MappingError) as error:
        mapped_cohorts(load_mapping(path), cohorts)

    message = str(error.value)
    assert "lists.engaged_users: names several cohorts" in message
    assert "(id 101)" in message
    assert "(id 104)" in message


def test_a_key_naming_no_cohort_is_an_error(tmp_path):
    path = write(tmp_path, "connectors:\n  mixpanel:\n    lists:\n      churned: 30\n")

    with pytest.raises(MappingError, match=r"lists\.churned: names no Mixpanel cohort"):
        mapped_cohorts(load_mapping(path), COHORTS)


def test_cohort_lists_and_sync_modes_extend_the_seed_format(tmp_path):
    path = write(
        tmp_path,
        "cohort_lists:\n  103: 40\n"
        "cohort_sync_modes:\n  default: additive\n  Power Users: mirror\n",
    )

    mapping = load_mapping(path)
    (selected,) = mapped_cohorts(mapping, COHORTS)

    assert (selected.cohort.id, selected.key) == (103, "103")
    assert (list_id_of(mapping, selected), sync_mode_of(mapping, selected)) == (40, "mirror")
    assert sync_mode_of(mapping, CohortSelection(COHORTS[0], None)) == "additive"
    assert list_id_of(mapping, CohortSelection(COHORTS[0], None)) is None


def test_names_slug_to_snake_case():
    assert slug("Engaged Users (Last 7 Days)") == "engaged_users_last_7_days"


def test_group_mapping_names_the_group_key_its_name_attributes_and_member_link(tmp_path):
    mapping = load_mapping(
        write(
            tmp_path,
            "group_mapping:\n"
            "  group_key: account_id\n"
            "  name: account_name\n"
            "  attributes: {industry: Industry, seats: Seats}\n"
            "  member_property: account\n",
        )
    )

    rules = mapping.company_group("account_id")
    assert rules is not None
    assert (rules.name, rules.link_property) == ("account_name", "account")
    assert rules.group_properties() == ["account_name", "industry", "seats"]
    assert mapping.company_group("team_id") is None
    assert "account" in mapping.profile_properties()


def test_without_group_mapping_sync_groups_alone_makes_every_group_key_companies(tmp_path):
    mapping = load_mapping(
        write(tmp_path, "connectors:\n  mixpanel:\n    sync:\n      groups: true\n")
    )

    rules = mapping.company_groups(["company_id", "team_id"])
    assert [(r.group_key, r.name, r.link_property, r.attributes) for r in rules] == [
        ("company_id", "$name", "company_id", {}),
        ("team_id", "$name", "team_id", {}),
    ]


def test_groups_make_no_companies_unless_sync_groups_or_group_mapping_says_so(mapping_file):
    assert load_mapping(mapping_file).company_groups(["company_id"]) == []


def test_a_group_mapping_mistake_names_file_line_and_key(tmp_path):
    path = write(tmp_path, "event_mapping: {}\ngroup_mapping:\n  group_key: company_id\n  nme: x\n")

    with pytest.raises(MappingError, match=r"mapping.yml:4: group_mapping.nme: unknown key"):
        load_mapping(path)


def test_a_group_mapping_without_group_key_is_refused(tmp_path):
    path = write(tmp_path, "group_mapping:\n  name: company_name\n")

    with pytest.raises(MappingError, match=r"mapping.yml:1: group_mapping.group_key: Field req"):
        load_mapping(path)


LOOKUPS = """property_mapping:
  plan: PLAN_TYPE
lookup_enrichment:
  - property: plan
    table: Plans
    attributes: {display_name: plan_name, price: PLAN_PRICE}
  - property: country
    table: "4321"
    attributes:
      label: COUNTRY_LABEL
    apply_to: [events]
"""


def test_lookup_enrichment_names_a_property_a_table_and_upper_cased_attributes(tmp_path):
    mapping = load_mapping(write(tmp_path, LOOKUPS))

    plans, countries = mapping.lookup_enrichment
    assert (plans.source_property, plans.table, plans.apply_to) == (
        "plan",
        "Plans",
        ["profiles", "events"],
    )
    assert plans.attributes == {"display_name": "PLAN_NAME", "price": "PLAN_PRICE"}
    assert mapping.enrichments("profiles") == [plans]
    assert mapping.enrichments("events") == [plans, countries]
    assert "plan" in mapping.profile_properties()
    assert "country" not in mapping.profile_properties()  # events carry their own


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            ("COUNTRY_LABEL", "country label"),
            r"mapping.yml:10: lookup_enrichment.1.attributes.label: attribute 'country label' "
            r"must start with a letter",
        ),
        (
            ("plan_name", "Email"),
            r"mapping.yml:6: lookup_enrichment.0.attributes.display_name: EMAIL identifies the "
            r"contact",
        ),
        (
            ("PLAN_PRICE", "plan_type"),
            r"mapping.yml:6: lookup_enrichment.0.attributes.price: PLAN_TYPE is already filled by "
            r"property_mapping.plan",
        ),
        (
            ("COUNTRY_LABEL", "PLAN_NAME"),
            r"mapping.yml:10: lookup_enrichment.1.attributes.label: PLAN_NAME is already filled "
            r"by lookup_enrichment.0",
        ),
        (
            ("[events]", "[events, events]"),
            r"mapping.yml:11: lookup_enrichment.1.apply_to: names profiles or events twice",
        ),
        (("[events]", "[contacts]"), r"mapping.yml:11: lookup_enrichment.1.apply_to.0: Input"),
        (("    table: Plans\n", ""), r"mapping.yml:4: lookup_enrichment.0.table: Field required"),
        (("    apply_to", "    aply_to"), r"mapping.yml:11: lookup_enrichment.1.aply_to: unknown"),
    ],
)
def test_a_lookup_enrichment_mistake_names_file_line_and_key(tmp_path, change, error):
    path = write(tmp_path, LOOKUPS.replace(*change))

    with pytest.raises(MappingError, match=error):
        load_mapping(path)


def test_the_sandbox_mapping_is_the_shipped_one_with_groups_lookups_and_the_demos_routes(
    mapping_file,
):
    shipped = load_mapping(mapping_file)
    sandbox = load_mapping(mapping_file.with_name("mixpanel-to-brevo.sandbox.yml"))

    assert sandbox.mixpanel.sync.groups is True
    assert [(r.group_key, r.attributes) for r in sandbox.company_groups(["company_id"])] == [
        ("company_id", {"industry": "Industry"})
    ]
    assert [(e.source_property, e.table) for e in sandbox.lookup_enrichment] == [
        ("plan", "Plans"),
        ("Plan Name", "Plans"),
        ("company_id", "Accounts"),
    ]
    assert not shipped.routes
    assert {stream: route.to for stream, route in sandbox.routes.items()} == {  # type: ignore[union-attr]
        "jql_buyers": "list",
        "orders": "events",
        "crm_accounts": "contacts",
    }
    on_again = shipped.model_copy(
        update={
            "connectors": sandbox.connectors,  # compared below without its sync block
            "group_mapping": sandbox.group_mapping,
            "lookup_enrichment": sandbox.lookup_enrichment,
            "routes": sandbox.routes,
        }
    )
    assert on_again == sandbox
    shipped_sync = shipped.mixpanel.sync.model_dump()
    assert {**shipped_sync, "groups": True} == sandbox.mixpanel.sync.model_dump()
    assert shipped.mixpanel.model_dump(exclude={"sync"}) == sandbox.mixpanel.model_dump(
        exclude={"sync"}
    )


def test_every_mistake_in_a_mapping_file_is_shown_one_line_each_in_file_order(tmp_path):
    """Issue 17: only the first mistake was shown, so fixing a file took one run per mistake."""
    path = write(
        tmp_path,
        "event_mapping:\n"
        '  "Purchase": "order completed"\n'
        '  "Sign Up": customer_created\n'
        '  "Sign Up": signed_up\n'
        "property_mapping:\n"
        "  plan: PLAN TYPE\n"
        "  $city: CITY\n"
        "connectors:\n"
        "  mixpanel:\n"
        "    enabeld: true\n",
    )

    with pytest.raises(MappingError) as error:
        load_mapping(path)

    assert [line.split(": ")[0:2] for line in error.value.problems] == [
        [f"{path}:2", "event_mapping.Purchase"],
        [f"{path}:4", 'event_mapping."Sign Up"'],
        [f"{path}:6", "property_mapping.plan"],
        [f"{path}:10", "connectors.mixpanel.enabeld"],
    ]
    assert str(error.value) == "\n".join(error.value.problems)


@pytest.mark.parametrize("name", ["PLAN TYPE", "plan-type", "PLAN.TYPE", "PRÉNOM", " PLAN", ""])
def test_a_contact_attribute_name_brevo_refuses_is_refused_with_file_line_and_key(tmp_path, name):
    """Issue 17: a name with a space passed, and Brevo refused the attribute at run time."""
    path = write(tmp_path, f'property_mapping:\n  $city: CITY\n  plan: "{name}"\n')

    with pytest.raises(MappingError) as error:
        load_mapping(path)

    assert error.value.problems == [
        f"{path}:3: property_mapping.plan: Brevo contact attribute {name!r} must be 1-255 "
        "characters of A-Z, a-z, 0-9 or '_' (no spaces)"
    ]


@pytest.mark.parametrize("name", ["email", "PLAN_TYPE", "plan_type_2", "LTV", "2FA_ENABLED"])
def test_contact_attribute_names_of_letters_digits_and_underscores_are_accepted(tmp_path, name):
    path = write(tmp_path, f"property_mapping:\n  plan: {name}\n")

    assert load_mapping(path).property_mapping["plan"] == name
