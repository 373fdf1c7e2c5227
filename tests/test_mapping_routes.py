"""`routes` in the mapping file: the short form as before, the long form, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixpanel_brevo_mapping import MappingError, Route, load_mapping

ISSUE_EXAMPLE = """\
routes:
  web_events: events
  jql_buyers: {to: list, list: 42, id_field: distinct_id, mode: mirror}
  orders:     {to: events, event: order_completed, id_field: customer_email, key: order_id,
               time: created_at, fields: {total: amount, currency: currency}}
  crm_accounts: {to: contacts, id_field: email, fields: {first_name: FIRSTNAME, plan: plan_type}}
  accounts: {to: companies, id_field: account_id, name_field: account_name,
             fields: {industry: Industry}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yml"
    path.write_text(text)
    return path


def test_the_short_form_still_names_a_resource_of_the_taps_shapes(tmp_path):
    mapping = load_mapping(write(tmp_path, ISSUE_EXAMPLE))

    assert mapping.resource_of("web_events") == "events"
    assert mapping.route_of("web_events") is None
    assert mapping.resource_of("profiles") == "contacts"  # the tap's own streams route themselves
    assert mapping.resource_of("orders") is None  # a long route is not of the tap's shapes


def test_the_long_form_reads_each_resources_keys(tmp_path):
    mapping = load_mapping(write(tmp_path, ISSUE_EXAMPLE))

    orders, buyers = mapping.route_of("orders"), mapping.route_of("jql_buyers")
    contacts, accounts = mapping.route_of("crm_accounts"), mapping.route_of("accounts")
    assert isinstance(orders, Route)
    assert (orders.to, orders.event, orders.key, orders.time) == (
        "events",
        "order_completed",
        "order_id",
        "created_at",
    )
    assert [field for _, field in orders.stream_fields()] == [
        "customer_email",
        "order_id",
        "created_at",
        "total",
        "currency",
    ]
    assert buyers is not None
    assert (buyers.to, buyers.list_id, buyers.mode) == ("list", 42, "mirror")
    assert contacts is not None
    assert contacts.attributes() == {"first_name": "FIRSTNAME", "plan": "PLAN_TYPE"}
    assert accounts is not None
    assert (accounts.name_field, accounts.fields) == ("account_name", {"industry": "Industry"})


def test_an_identifier_is_an_email_address_or_an_ext_id_unless_id_type_says():
    route = Route(to="contacts", id_field="who")
    assert route.identifier(" Ada@Example.com ") == ("email", "ada@example.com")
    assert route.identifier("u-42") == ("ext_id", "u-42")
    assert route.identifier(42) == ("ext_id", "42")
    by_ext_id = Route(to="contacts", id_field="who", id_type="ext_id")
    assert by_ext_id.identifier("ada@example.com") == ("ext_id", "ada@example.com")


@pytest.mark.parametrize(
    ("route", "error"),
    [
        ("orders: warehouse", "routes.orders: Input should be 'events', 'contacts'"),
        ("orders: {to: warehouse, id_field: id}", "routes.orders.to: Input should be 'events'"),
        ("orders: {to: events, id_field: e, event: x, key: k}", "routes.orders.time: required"),
        ("orders: {to: events, id_field: e, key: k, time: t}", "routes.orders.event: required"),
        ("orders: {to: events, id_field: e, event: x, time: t}", "routes.orders.key: required"),
        ("orders: {to: list, id_field: e}", "routes.orders.list: required for a route to list"),
        ("orders: {to: contacts}", "routes.orders.id_field: Field required"),
        (
            "orders: {to: companies, id_field: e, id_type: email}",
            "routes.orders.id_type: a company is identified by its id_field's value alone",
        ),
        (
            "orders: {to: list, list: 4, id_field: e, id_type: email}",
            "routes.orders.id_type: a list's members are matched by EXT_ID",
        ),
        ("orders: {to: contacts, id_field: e, colour: red}", "routes.orders.colour: unknown key"),
        (
            "orders: {to: contacts, id_field: e, mode: mirror}",
            "routes.orders.mode: a route to contacts does not take mode",
        ),
        (
            "orders: {to: list, list: 4, id_field: e, fields: {a: B}}",
            "routes.orders.fields: a route to list does not take fields",
        ),
        (
            "orders: {to: contacts, id_field: e, fields: {plan: PLAN TYPE}}",
            "routes.orders.fields.plan: Brevo contact attribute 'PLAN TYPE' must be",
        ),
        (
            "orders: {to: events, id_field: e, event: x, key: k, time: t, fields: {a: b c}}",
            "routes.orders.fields.a: Brevo event property 'b c' must be",
        ),
        (
            "orders: {to: events, id_field: e, event: order completed, key: k, time: t}",
            "routes.orders.event: Brevo event name 'order completed' must be",
        ),
    ],
)
def test_a_route_mistake_is_one_line_with_file_line_and_key(tmp_path, route, error):
    path = write(tmp_path, f"event_mapping: {{}}\nroutes:\n  {route}\n")

    with pytest.raises(MappingError) as raised:
        load_mapping(path)

    (problem,) = raised.value.problems
    assert problem.startswith(f"{path}:3: {error}")


def test_two_routes_to_one_list_are_refused(tmp_path):
    path = write(
        tmp_path,
        "routes:\n  a: {to: list, list: 7, id_field: u}\n  b: {to: list, list: 7, id_field: u}\n",
    )

    with pytest.raises(MappingError) as raised:
        load_mapping(path)

    assert raised.value.problems == [
        f"{path}:3: routes.b.list: list 7 is already the list of routes.a"
    ]
