"""Command line: ``serve`` runs the sandbox until stopped; ``demo`` is ``make demo``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .brevo_companies import CONTACT_SEPARATORS, DEFAULT_CONTACT_SEPARATOR
from .brevo_limits import DEFAULT_TIER, TIERS
from .brevo_oauth import DEFAULT_LIFETIME_SECONDS, check_lifetime
from .demo import run_demo
from .mixpanel_budget import BudgetLimits
from .server import SandboxServer
from .tenants_demo import run_tenants_demo


def serve(args: argparse.Namespace) -> int:
    """Start the sandbox, announce its URL and block until a stop signal arrives."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = SandboxServer(
        seed=args.seed,
        profiles=args.profiles,
        events=args.events,
        days=args.days,
        port=args.port,
        brevo_rate_tier=args.brevo_rate_tier,
        brevo_contact_separator=args.brevo_associated_contact_separator,
        brevo_token_lifetime_seconds=args.brevo_token_lifetime,
        mixpanel_query_budget=args.mixpanel_query_budget,
    ).start()
    try:
        if args.url_file:
            Path(args.url_file).write_text(server.url + "\n", encoding="utf-8")
        print(server.url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def query_budget(text: str) -> tuple[int, int]:
    """``PER_HOUR,AT_ONCE``, two positive integers."""
    per_hour, _, at_once = text.partition(",")
    try:
        pair = (int(per_hour), int(at_once))
        BudgetLimits.from_pair(pair)
    except ValueError as exc:
        message = "expected two positive integers: PER_HOUR,AT_ONCE"
        raise argparse.ArgumentTypeError(message) from exc
    return pair


def token_lifetime(text: str) -> int:
    """Whole seconds, 1 or more."""
    try:
        return check_lifetime(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected whole seconds, 1 or more") from exc


def demo(_args: argparse.Namespace) -> int:
    """Run ``make demo``'s pipeline from the project root (the working directory)."""
    return run_demo(Path.cwd())


def tenants_demo(_args: argparse.Namespace) -> int:
    """Run ``make tenants-demo``: three tenants through ``all_tenants`` (docs/tenants.md)."""
    return run_tenants_demo()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m mixpanel_brevo_sandbox",
        description="Local stand-in for the Mixpanel and Brevo APIs.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the sandbox HTTP server")
    serve_parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    serve_parser.add_argument("--url-file", help="also write the base URL to this file")
    serve_parser.add_argument("--seed", type=int, default=7)
    serve_parser.add_argument("--events", type=int, default=20000)
    serve_parser.add_argument("--profiles", type=int, default=500)
    serve_parser.add_argument("--days", type=int, default=8)
    serve_parser.add_argument(
        "--brevo-rate-tier",
        choices=list(TIERS),
        default=DEFAULT_TIER,
        help="Brevo plan tier whose rate limits apply (unlimited: none)",
    )
    serve_parser.add_argument(
        "--brevo-associated-contact-separator",
        choices=list(CONTACT_SEPARATORS),
        default=DEFAULT_CONTACT_SEPARATOR,
        help="how the companies import splits contact ids in one cell (Brevo documents none)",
    )
    serve_parser.add_argument(
        "--brevo-token-lifetime",
        type=token_lifetime,
        default=DEFAULT_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="how long a Brevo OAuth token lasts (default: an hour, as Brevo's)",
    )
    serve_parser.add_argument(
        "--mixpanel-query-budget",
        type=query_budget,
        metavar="PER_HOUR,AT_ONCE",
        help="enforce Mixpanel's Query API budget, for example 60,5 (default: off, only counted)",
    )
    serve_parser.set_defaults(func=serve)
    demo_parser = commands.add_parser("demo", help="run the Meltano pipeline against the sandbox")
    demo_parser.set_defaults(func=demo)
    tenants_parser = commands.add_parser(
        "tenants-demo", help="three sandbox tenants through Dagster on one PostgreSQL"
    )
    tenants_parser.set_defaults(func=tenants_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mixpanel_brevo_sandbox`` and of ``mixpanel-brevo-sandbox``."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
