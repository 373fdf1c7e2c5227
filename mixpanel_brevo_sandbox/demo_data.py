"""The seeded demo Mixpanel project: user profiles, devices and events, all from one seed.

Everything is drawn from ``random.Random(seed)`` relative to a fixed ``now``, so the same arguments
always give the same project. Identity follows Mixpanel's Simplified ID Merge: a device browses
anonymously (``distinct_id = "$device:<id>"``), then an event carrying both ``$device_id`` and
``$user_id`` links it to a user; some devices never identify.
"""

from __future__ import annotations

import random
import string
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

MAPPED_EVENTS = (
    "Purchase",
    "Sign Up",
    "Add to Cart",
    "Page View",
    "$experiment_started",
    "Feature Activated",
    "Subscription Renewed",
)
UNMAPPED_EVENTS = ("Session Start", "Search", "$mp_web_page_view")

# Relative frequency of the events a device emits ("Sign Up" comes from identifications).
EVENT_WEIGHTS = {
    "Page View": 30,
    "Session Start": 22,
    "Search": 9,
    "$mp_web_page_view": 8,
    "Add to Cart": 8,
    "Feature Activated": 7,
    "Purchase": 5,
    "$experiment_started": 4,
    "Subscription Renewed": 2,
    "Sign Up": 1,
}

# (city, region, country code, national phone pattern, international dialling code)
PLACES = (
    ("San Francisco", "California", "US", "(415) 555-0{d3}", "1"),
    ("New York", "New York", "US", "(212) 555-0{d3}", "1"),
    ("Toronto", "Ontario", "CA", "(416) 555-0{d3}", "1"),
    ("London", "England", "GB", "07700 900{d3}", "44"),
    ("Paris", "Île-de-France", "FR", "06 12 34 {d2} {d2b}", "33"),
    ("Berlin", "Berlin", "DE", "0151 2345{d3}", "49"),
    ("Mumbai", "Maharashtra", "IN", "098765 43{d3}", "91"),
    ("Bengaluru", "Karnataka", "IN", "099001 23{d3}", "91"),
    ("São Paulo", "São Paulo", "BR", "(11) 91234-5{d3}", "55"),
    ("Sydney", "New South Wales", "AU", "0412 345 {d3}", "61"),
)
FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Priya", "Arjun", "Chloé", "Lucas", "Emma", "Jonas",
    "Sofia", "Mateo", "Aisha", "Kenji", "Olivia", "Ravi", "Léa", "Hugo", "Zoe", "Ethan",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Patel", "García", "Müller", "Dubois", "Kumar", "Silva", "Brown", "Nguyen",
    "Rossi", "O'Brien", "Khan", "Schmidt", "Martin", "Lee", "Sharma", "Costa", "Wilson",
)  # fmt: skip
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Industries",
             "Wayne Enterprises", "Soylent", "Tyrell", "Cyberdyne")  # fmt: skip
BROWSERS = (("Chrome", "Windows"), ("Chrome", "Mac OS X"), ("Safari", "iOS"),
            ("Firefox", "Linux"), ("Edge", "Windows"), ("Chrome", "Android"))  # fmt: skip
PAGES = ("/", "/pricing", "/features", "/blog/brevo-automation", "/signup", "/docs/getting-started",
         "/cart", "/checkout", "/account/settings")  # fmt: skip
PRODUCTS = (("SKU-1001", "Starter Kit", 19.99), ("SKU-2002", "Pro Bundle", 49.5),
            ("SKU-3003", "Analytics Add-on", 9.0), ("SKU-4004", "Team Seat", 12.75))  # fmt: skip
FEATURES = ("Dashboards", "Cohorts", "Funnels", "Alerts", "Exports")
PLANS = (("free", 60), ("pro", 30), ("enterprise", 10))
UTM_SOURCES = ("google", "newsletter", "twitter", "partner")

DUPLICATE_SHARE = 0.01  # exact re-ingested copies, returned twice by the raw export
LATE_SHARE = 0.02  # visible events processed hours to days after their time
FUTURE_SHARE = 0.01  # extra late events processed after ``now``: hidden until the clock moves


@dataclass(slots=True)
class StoredEvent:
    """An event as ingested; ``distinct_id`` in ``properties`` is the one it was sent with."""

    name: str
    properties: dict[str, Any]
    processing_ms: int
    seq: int

    @property
    def time_seconds(self) -> float:
        """Event time in epoch seconds (``time`` may have been sent in ms)."""
        value = float(self.properties.get("time", 0))
        return value / 1000 if value > 1e11 else value


@dataclass
class Device:
    """A browser or phone; ``identify_at`` is when it was linked to ``user_id`` (None: never)."""

    device_id: str
    browser: str
    os: str
    place: tuple[str, str, str, str, str]
    user_id: str | None = None
    identify_at: int | None = None
    signs_up: bool = False
    active: bool = True


@dataclass
class DemoProject:
    """The generated project: profiles keyed by distinct_id and events in ingestion order."""

    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    # Group profiles by data_group_id, then group id (Engage with data_group_id).
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


#: The demo project's one group key, as Project Settings > Group Keys would show it.
COMPANY_GROUP_KEY = "company_id"
COMPANY_DATA_GROUP_ID = "-1405123841946871899"
INDUSTRIES = ("Manufacturing", "Retail", "Software", "Biotech", "Media")


def company_id_of(company: str) -> str:
    """The demo group id of one of the demo companies."""
    return f"c-{COMPANIES.index(company) + 1:03d}"


def fmt_datetime(moment: datetime) -> str:
    """Format a naive UTC datetime as Mixpanel does (``YYYY-MM-DDTHH:MM:SS``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class _Generator:
    def __init__(self, seed: int, now: datetime, profiles: int, events: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.now_s = int(now.timestamp())
        self.start_s = self.now_s - days * 86400
        self.n_profiles = profiles
        self.n_events = events
        self.devices: list[Device] = []
        self.project = DemoProject()
        self.seq = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def insert_id(self) -> str:
        if self.rng.random() < 0.5:
            return self.uuid()
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=36))

    def phone(self, place: tuple[str, str, str, str, str]) -> str:
        rng = self.rng
        national = place[3].format(
            d3=f"{rng.randrange(1000):03d}", d2=f"{rng.randrange(100):02d}",
            d2b=f"{rng.randrange(100):02d}",
        )  # fmt: skip
        if rng.random() < 0.15:
            return f"+{place[4]} {national.lstrip('0')}"
        return national

    def build_profiles(self) -> None:
        rng = self.rng
        for i in range(self.n_profiles):
            user_id = f"user-{i + 1:05d}"
            place = rng.choice(PLACES)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            signup = self.now - timedelta(seconds=rng.randrange(2 * 86400, 400 * 86400))
            props: dict[str, Any] = {
                "$first_name": first,
                "$last_name": last,
                "$city": place[0],
                "$region": place[1],
                "$country_code": place[2],
                "plan": rng.choices([p for p, _ in PLANS], [w for _, w in PLANS])[0],
                "company": (company := rng.choice(COMPANIES)),
                COMPANY_GROUP_KEY: company_id_of(company),
                "signup_date": fmt_datetime(signup),
                "$created": fmt_datetime(signup),
            }
            roll = rng.random()
            ascii_last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
            ascii_last = ascii_last.replace("'", "").lower()
            if roll < 0.02:
                props["$email"] = rng.choice(("not-an-email", f"{first.lower()}@", "n/a"))
            elif roll >= 0.05:
                email = f"{first.lower()}.{ascii_last}{i + 1}@example.com"
                props["$email"] = email.title() if rng.random() < 0.05 else email
            if rng.random() < 0.85:
                props["$phone"] = self.phone(place)
            if rng.random() < 0.03:
                del props["$country_code"]
            revenue = round(rng.uniform(0, 2500), 2) if props["plan"] != "free" else 0.0
            props["total_revenue"] = f"{revenue:.2f}" if rng.random() < 0.15 else revenue
            self.project.profiles[user_id] = props
            self.add_devices(user_id, place, signup)

    def add_devices(self, user_id: str, place: tuple, signup: datetime) -> None:
        rng = self.rng
        signup_s = int(signup.timestamp())
        # About a fifth of the users are dormant: no activity in the window, older $last_seen.
        active = signup_s >= self.start_s or rng.random() < 0.8
        for n in range(rng.choice((1, 1, 2, 2, 3))):
            browser, os_name = rng.choice(BROWSERS)
            device = Device(self.uuid(), browser, os_name, place, user_id, active=active)
            if n == 0 and signup_s >= self.start_s:
                device.identify_at, device.signs_up = signup_s, True
            elif n == 0 or not active or rng.random() < 0.3:
                device.identify_at = self.start_s - rng.randrange(3600, 30 * 86400)
            else:
                device.identify_at = rng.randrange(self.start_s + 3600, self.now_s - 600)
            self.devices.append(device)
        for _ in range(rng.choice((0, 0, 1))):
            browser, os_name = rng.choice(BROWSERS)
            self.devices.append(Device(self.uuid(), browser, os_name, place))

    def properties(self, name: str, device: Device, moment: int) -> dict[str, Any]:
        rng = self.rng
        props: dict[str, Any] = {"time": moment, "$device_id": device.device_id}
        if device.identify_at is not None and moment >= device.identify_at:
            props["distinct_id"] = props["$user_id"] = device.user_id
        else:
            props["distinct_id"] = f"$device:{device.device_id}"
        props.update({
            "$insert_id": self.insert_id(),
            "$browser": device.browser,
            "$os": device.os,
            "$city": device.place[0],
            "$region": device.place[1],
            "mp_country_code": device.place[2],
            "mp_lib": "web",
            "$lib_version": "2.55.1",
            "$mp_api_endpoint": "api.mixpanel.com",
        })  # fmt: skip
        if name in ("Page View", "$mp_web_page_view"):
            props["$current_url"] = "https://shop.example.com" + rng.choice(PAGES)
            if rng.random() < 0.3:
                props["utm.source"] = rng.choice(UTM_SOURCES)
        elif name == "Purchase":
            items = [
                {"sku": sku, "name": label, "price": price, "quantity": rng.randint(1, 3)}
                for sku, label, price in rng.sample(PRODUCTS, rng.randint(1, 3))
            ]
            props.update({
                "price": round(sum(i["price"] * i["quantity"] for i in items), 2),
                "currency": rng.choice(("USD", "EUR", "GBP", "INR")),
                "items": items,
                "coupon_applied": rng.random() < 0.2,
                "order_id": f"ord-{rng.getrandbits(32):08x}",
            })  # fmt: skip
        elif name == "Add to Cart":
            sku, label, price = rng.choice(PRODUCTS)
            props.update({"sku": sku, "product name": label, "price": price})
        elif name == "Search":
            props["Search Term"] = rng.choice(("brevo", "pricing", "cohort export", "api"))
        elif name == "Feature Activated":
            props.update({"Feature Name": rng.choice(FEATURES), "Plan Name": "pro"})
        elif name == "Subscription Renewed":
            plan = rng.choice(("pro", "enterprise"))
            props.update({"Plan Name": plan, "amount": 49.0 if plan == "pro" else 499.0})
        elif name == "$experiment_started":
            props.update({"Experiment name": "checkout-v2", "Variant name": rng.choice("AB")})
        elif name == "Sign Up":
            props["signup method"] = rng.choice(("email", "google", "github"))
        return props

    def add_event(self, name: str, device: Device, moment: int, delay_ms: int) -> StoredEvent:
        props = self.properties(name, device, moment)
        processing_ms = moment * 1000 + delay_ms
        props["mp_processing_time_ms"] = processing_ms
        self.seq += 1
        event = StoredEvent(name, props, processing_ms, self.seq)
        self.project.events.append(event)
        return event

    def delay_ms(self, moment: int) -> int:
        rng = self.rng
        if rng.random() < LATE_SHARE:
            late = rng.randrange(3600_000, 72 * 3600_000)
            room = (self.now_s - moment) * 1000 - 1000
            if room > 3600_000:
                return min(late, room)
        return rng.randrange(50, 5000)

    def build_events(self) -> None:
        rng = self.rng
        for device in self.devices:
            if device.identify_at is not None and device.identify_at >= self.start_s:
                name = "Sign Up" if device.signs_up else "Session Start"
                self.add_event(name, device, device.identify_at, self.delay_ms(device.identify_at))
        names, weights = list(EVENT_WEIGHTS), list(EVENT_WEIGHTS.values())
        device_weights = [(3 if d.user_id else 1) if d.active else 0 for d in self.devices]
        last_second = self.now_s - 60
        while len(self.project.events) < self.n_events:
            device = rng.choices(self.devices, device_weights)[0]
            moment = rng.randrange(self.start_s, last_second)
            self.add_event(rng.choices(names, weights)[0], device, moment, self.delay_ms(moment))
        for _ in range(int(self.n_events * FUTURE_SHARE)):
            device = rng.choices(self.devices, device_weights)[0]
            moment = rng.randrange(max(self.start_s, self.now_s - 36 * 3600), last_second)
            delay = (self.now_s - moment) * 1000 + rng.randrange(3600_000, 48 * 3600_000)
            self.add_event(rng.choices(names, weights)[0], device, moment, delay)
        originals = rng.sample(self.project.events, int(self.n_events * DUPLICATE_SHARE))
        for original in originals:
            self.seq += 1
            copy = StoredEvent(
                original.name, dict(original.properties), original.processing_ms, self.seq
            )
            self.project.events.append(copy)

    def build_groups(self) -> None:
        """One group profile per demo company (no randomness: the events stay as they were)."""

        def seen(index: int) -> str:  # the first company was updated last
            moment = self.now_s - 3 * 86400 - index * 3600
            return fmt_datetime(datetime.fromtimestamp(moment, timezone.utc))

        self.project.groups[COMPANY_DATA_GROUP_ID] = {
            company_id_of(name): {
                "$name": name,
                "industry": INDUSTRIES[index % len(INDUSTRIES)],
                "$last_seen": seen(index),
            }
            for index, name in enumerate(COMPANIES)
        }

    def set_last_seen(self) -> None:
        last: dict[str, int] = {}
        for event in self.project.events:
            user = event.properties.get("$user_id")
            if user and event.processing_ms <= self.now_s * 1000:
                last[user] = max(last.get(user, 0), int(event.time_seconds))
        for user_id, props in self.project.profiles.items():
            seen = last.get(user_id) or self.now_s - self.rng.randrange(10 * 86400, 90 * 86400)
            props["$last_seen"] = fmt_datetime(datetime.fromtimestamp(seen, timezone.utc))


def generate(seed: int, now: datetime, profiles: int, events: int, days: int) -> DemoProject:
    """Build the demo project; ``now`` is a naive or aware UTC datetime."""
    gen = _Generator(seed, now, profiles, events, days)
    gen.build_profiles()
    gen.build_events()
    gen.set_last_seen()
    gen.build_groups()
    gen.project.events.sort(key=lambda e: (e.processing_ms, e.seq))
    return gen.project
