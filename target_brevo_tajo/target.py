"""target-brevo-tajo: the composition root's Singer SDK target and its command line.

:mod:`.wiring` builds one run's objects from the settings. Sinks route each stream to its
writer; at the end of the input the target applies what only a complete run may (removals,
deletions), prunes the ledger and writes the sync report.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import IO, Any, cast

import click
from singer_sdk import Target
from singer_sdk.sinks import BatchSink

from mixpanel_brevo_mapping.settings_names import (
    object_settings,
    plugin_settings,
    unknown_setting,
)
from target_brevo_tajo import dry_run
from target_brevo_tajo.brevo.client import log_calls_at_debug
from target_brevo_tajo.companies.sink import CompaniesSink
from target_brevo_tajo.contacts.sink import ContactsSink
from target_brevo_tajo.events.ledger import EventLedger
from target_brevo_tajo.events.sink import EventsSink
from target_brevo_tajo.lists.sink import CohortMembersSink, CohortsSink
from target_brevo_tajo.lookups.sink import LookupTablesSink
from target_brevo_tajo.malloc_arenas import limit_malloc_arenas
from target_brevo_tajo.progress import ProgressLog
from target_brevo_tajo.redaction import install_log_redaction
from target_brevo_tajo.report import utc_now
from target_brevo_tajo.routing import ROUTED_SINKS
from target_brevo_tajo.run_failed import end_run, unread_stdin
from target_brevo_tajo.settings import (
    CONFIG_SCHEMA,
    Settings,
    SettingsError,
    bound_problem,
    environment_problem,
)
from target_brevo_tajo.singer_input import InputCut, SingerInput
from target_brevo_tajo.sinks.checkpoints import SyncCheckpointsSink
from target_brevo_tajo.sinks.unrouted import UnroutedSink
from target_brevo_tajo.startup import USER_ERRORS, one_line, user_message
from target_brevo_tajo.wiring import Run, Writers, build_run

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

SINKS_BY_RESOURCE: dict[str, type[BatchSink]] = {
    "events": EventsSink,
    "contacts": ContactsSink,
    "cohorts": CohortsSink,
    "cohort_members": CohortMembersSink,
    "sync_checkpoints": SyncCheckpointsSink,
    "companies": CompaniesSink,
    "lookup_tables": LookupTablesSink,
}


class TargetBrevoTajo(Target):
    """Loads Mixpanel data (events first) into Brevo with the fewest calls."""

    name = "target-brevo-tajo"
    package_name = "tajo-mixpanel-brevo"
    message_reader_class = SingerInput
    # Sinks share one Brevo rate budget and one ledger: draining them in parallel gains nothing.
    max_parallelism = 1

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        limit_malloc_arenas()  # before the call workers start
        install_log_redaction()
        log_calls_at_debug(self.logger)
        # Also without --config=ENV: Meltano reads DRY_RUN=maybe as false and writes for real.
        problem = environment_problem(self.config_jsonschema, os.environ, self._env_var_prefix)
        if problem:
            raise SettingsError(problem)
        super().__init__(*args, **kwargs)
        problem = unknown_setting(
            self.config,
            self.setting_names(),
            environ=os.environ,
            env_prefix=self._env_var_prefix,
            objects=self.object_setting_names(),
        )
        if problem:
            raise SettingsError(problem)
        self._finished = False
        self._state_passed = False
        # Fail at start (bad settings, a mapping error with file and line), not at a record.
        _ = self.run
        self.singer_input.reject = self._reject_unreadable
        self.progress = ProgressLog(
            self.logger, self.run.report.events, calls_waiting=self.writers.events.calls_waiting
        )

    @classmethod
    def setting_names(cls) -> set[str]:
        """Every setting the target reads: its own and the SDK's built-ins, as ``--about`` lists."""
        return set(plugin_settings(cls))

    @classmethod
    def dry_run_var(cls) -> str:
        """The variable that sets ``dry_run`` with ``--config=ENV``."""
        return f"{cls._env_var_prefix}DRY_RUN"

    @classmethod
    def object_setting_names(cls) -> set[str]:
        """The settings whose value is an object (Meltano exports each key as a variable)."""
        return object_settings(plugin_settings(cls))

    @cached_property
    def run(self) -> Run:
        """The run's objects, built once from the validated config."""
        return build_run(Settings.from_config(self.config))

    @property
    def singer_input(self) -> SingerInput:
        """The reader of the input, which rejects the records it cannot read."""
        return cast(SingerInput, self.message_reader)

    @property
    def writers(self) -> Writers:
        """What the sinks hand their records to."""
        return self.run.writers

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """A setting out of bounds is one line saying what to write, not the schema's number."""
        problem = bound_problem(self.config)
        if problem and raise_errors:
            raise SettingsError(problem)
        return super()._validate_config(raise_errors=raise_errors)

    @override
    def get_sink_class(self, stream_name: str) -> type[BatchSink]:
        route = self.run.mapping.route_of(stream_name)
        if route is not None:
            return ROUTED_SINKS[route.to]
        resource = self.run.mapping.resource_of(stream_name)
        return SINKS_BY_RESOURCE.get(resource or "", UnroutedSink)

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        """Records follow: from now on a long run logs its progress."""
        self.progress.start()
        super()._process_schema_message(message_dict)

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        """A STATE closes the routed list rows read before it (a cut-short tap sends none)."""
        self.writers.lists.state_read()
        super()._process_state_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        """A BATCH file's records take the RECORD path: same sinks, rejects and ledger."""
        for message in self.singer_input.batch_records(message_dict):
            self._process_record_message(message)

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Pass STATE on, except in a dry run: Meltano would store it and move the bookmark.

        The SDK (0.54) offers no public hook for this. Every STATE it emits goes through
        ``_write_state_message`` (called by ``drain_all``), which is the one place overridden;
        ``test_target_dry_run.py`` pins both branches, so an SDK change that bypasses it fails.
        Event and list calls still in flight are settled first: a STATE follows what Brevo
        accepted.
        """
        events = self.writers.events
        events.wait_for_calls()
        self.writers.lists.wait_for_calls()
        if not self.run.settings.dry_run and events.incomplete is None:
            super()._write_state_message(state)
            self._state_passed = True

    def end_at_cut(self, cut: InputCut) -> InputCut:
        """A cut last line is the end of the input: the last complete STATE still passes on.

        The SDK emits STATE only when it drains: the records read are sent first, then the last
        STATE read is written, through ``_write_state_message``, once Brevo has them.
        """
        self.drain_all()
        kept = (
            "the state was kept up to the last complete STATE; rerun once the tap is fixed"
            if self._state_passed
            else "no STATE was passed on (none came before the cut with its records sent); rerun "
            "once the tap is fixed"
        )
        return InputCut(f"{cut}; {kept}")

    def _reject_unreadable(self, stream: str, reason: str, record: dict[str, Any]) -> None:
        """A record the reader could not read: received by its stream's sink, then rejected."""
        if self.sink_exists(stream):
            count_rejected = getattr(self.get_sink(stream), "count_rejected", None)
            if count_rejected is not None:
                count_rejected()
        self.run.report.reject(stream, reason, record)

    @override
    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        """End the run: what only a complete run may do, then the report, whatever happened.

        Removals and deletions act on what a complete input proved missing, so a failed run
        skips them; its report still says what was sent before the failure.
        """
        if self._finished:
            return
        run, writers, report = self.run, self.run.writers, self.run.report
        if error is None:
            writers.events.wait_for_calls()
            writers.contacts.resend_left_out()
            writers.deletions.apply(writers.checkpoints.full_refreshes)
            writers.lists.finish(writers.checkpoints.cohort_snapshots)
            writers.companies.recreate_deleted(writers.checkpoints.group_refreshes)
            writers.companies.link_members()
            EventLedger(run.ledger).prune_sent_events(self._prune_cutoff())
        writers.events.stop()  # after a failure, the calls in flight settle before the report
        writers.lists.stop()
        self.progress.stop()
        self._finished = True
        writers.lookups.finish(complete=error is None)
        report.cohorts = writers.lists.report()
        report.companies.hourly_budget = run.client.budgets.buckets["other"].limit
        report.api_calls.update(run.client.calls)
        report.rate_budgets = run.client.budgets.report()
        report.retries = run.client.retries
        report.status = "failed" if error else "dry_run" if run.settings.dry_run else "succeeded"
        if report.status == "succeeded" and writers.events.incomplete:
            report.status, report.incomplete = "incomplete", writers.events.incomplete
        report.error = one_line(error) if error else None
        report.finished_at = utc_now()
        run.client.close()
        EventLedger(run.ledger).release_claims()
        run.ledger.close()
        for line in report.render().splitlines():
            self.logger.info(line)
        if run.settings.report_file:
            report.write(Path(run.settings.report_file), keep=run.settings.report_keep)
        if run.settings.dry_run:
            self.logger.warning(dry_run.last_line(os.environ))

    def _prune_cutoff(self) -> dt.datetime:
        """Events older than this are forgotten: never one this run's input held.

        The tap re-exports its lookback every run: an event forgotten within it would be sent
        again by the next run, so a retention shorter than the lookback is stretched, and said.
        """
        retention = self.run.settings.ledger_retention_days
        cutoff, oldest = _days_ago(retention), self.writers.events.oldest_time
        if oldest is None or oldest >= cutoff:
            return cutoff
        self.logger.warning(
            "ledger_retention_days (%d) is shorter than the input reaches back (%s): the "
            "ledger keeps its events, so that the next run does not send them again; raise "
            "ledger_retention_days above the tap's lookback_days and any backfill's age",
            retention,
            oldest.date().isoformat(),
        )
        return oldest

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: IO[str] | None = None,
        check: bool = False,
    ) -> None:
        """Run the target: a failed run still reports, and errors end in one line.

        The SDK's ``Target.invoke`` is repeated here (build the target, then listen) so that a
        failure after the target exists can still write its report.
        """
        if about:
            super().invoke(about=about, about_format=about_format)
            return
        if check:
            cls.check(config)
            return
        parse_env = bool(config and config.parse_env)
        environ = os.environ if parse_env else {}
        if dry_run.dry_run_requested(config.config if config else {}, environ, cls.dry_run_var()):
            cls.logger.warning(dry_run.first_line(os.environ))
        cls.print_version(print_fn=cls.logger.info)
        target = None
        try:
            target = cls(
                config=config.config if config else {},
                validate_config=True,
                parse_env_config=config.parse_env if config else False,
            )
            try:
                target.listen(file_input)
            except InputCut as cut:
                raise target.end_at_cut(cut) from None
        except Exception as exc:
            if target is not None:
                target.finish(error=exc)
            if isinstance(exc, USER_ERRORS):
                # Stopped at start: the input the tap is still writing is read to its end.
                unread = unread_stdin() if target is None and file_input is None else None
                end_run(user_message(exc), cls.logger, drain=unread)
            raise

    @classmethod
    def check(cls, config: Any) -> None:
        """Check the settings, the mapping file, the ledger and the credentials; read no input.

        ``meltano test target-brevo-tajo`` runs it (meltano.yml's ``test`` command). Meltano's
        own ``meltano config test`` cannot end cleanly for any loader: Meltano 4.4 terminates
        the loader after it has exited, which raises ``ProcessLookupError`` in Meltano itself.
        """
        try:
            target = cls(
                config=config.config if config else {},
                validate_config=True,
                parse_env_config=config.parse_env if config else False,
            )
            run = target.run
            try:
                run.client.call("GET", "/account")
            finally:
                run.client.close()
                run.ledger.close()
        except USER_ERRORS as exc:
            raise SystemExit(user_message(exc)) from None
        mapping = run.settings.mapping_file or "none"
        cls.logger.info(
            "configuration OK: Brevo accepted the %s at %s; mapping file %s maps %d events "
            "and %d contact attributes; ledger open",
            "OAuth client's token" if run.client.tokens else "API key",
            run.settings.base_url,
            mapping,
            len(run.mapping.event_mapping),
            len(run.mapping.property_mapping),
        )

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The CLI, whose unreadable ``--config`` files end in one line, with ``--check``."""
        command = super().get_singer_command()
        for param in command.params:
            if param.name == "config" and param.callback is not None:
                param.callback = _config_files_or_exit(param.callback)
        command.params.append(
            click.Option(
                ["--check"],
                is_flag=True,
                help=(
                    "Check the settings, the mapping file, the ledger and the Brevo API key or "
                    "OAuth client (GET /account), then exit: reads no input, sends nothing."
                ),
            )
        )
        return command


def _config_files_or_exit(read: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the SDK's reading of ``--config`` files: a missing or broken file is one line."""

    def read_or_exit(*args: Any) -> Any:
        try:
            return read(*args)
        except (OSError, ValueError, TypeError) as exc:
            # A file holding a JSON array or number fails the SDK's merge with a TypeError.
            reason = "it holds no JSON object" if isinstance(exc, TypeError) else one_line(exc)
            msg = (
                f"target-brevo-tajo: cannot read the --config file: {reason}; pass a "
                "JSON file of settings (or --config=ENV)"
            )
            end_run(msg, TargetBrevoTajo.logger, drain=unread_stdin())

    return read_or_exit


def _days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
