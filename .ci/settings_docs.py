"""docs/settings.md's settings tables, written from each plugin's ``--about`` (``make docs``).

Each table is the settings table of ``<plugin> --about --format=markdown``, every row the SDK
prints (its built-ins included). It is rendered by the SDK's markdown formatter from the JSON
form of ``--about``, so defaults print as their JSON values: the markdown form prints an enum
default as ``TargetLoadMethods.APPEND_ONLY`` on Python 3.11+ and as ``append-only`` on 3.10.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from singer_sdk.about import AboutInfo, MarkdownFormatter

SETTINGS_DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"

# Executable name → the module that runs it.
PLUGINS = {"tap-mixpanel-tajo": "tap_mixpanel_tajo", "target-brevo-tajo": "target_brevo_tajo"}


@cache
def about(plugin: str) -> dict[str, Any]:
    """What ``<plugin> --about --format=json`` prints: capabilities and the full settings."""
    result = subprocess.run(
        [sys.executable, "-m", PLUGINS[plugin], "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def settings_table(plugin: str) -> str:
    """The settings table of the plugin's ``--about --format=markdown``."""
    info = about(plugin)
    markdown = MarkdownFormatter().format_about(
        AboutInfo(
            name=info["name"],
            description=info["description"],
            version=info["version"],
            sdk_version=info["sdk_version"],
            supported_python_versions=info["supported_python_versions"],
            capabilities=info["capabilities"],
            settings=info["settings"],
            env_var_prefix="",  # not part of the markdown
        ),
    )
    return "\n".join(line for line in markdown.splitlines() if line.startswith("|"))


def render(page: str) -> str:
    """The page with each plugin's table rewritten between its marker comments."""
    for plugin in PLUGINS:
        markers = re.compile(
            rf"(<!-- settings:{plugin}:start -->\n).*?(\n<!-- settings:{plugin}:end -->)",
            re.DOTALL,
        )
        if not markers.search(page):
            msg = f"docs/settings.md lacks the markers <!-- settings:{plugin}:start/end -->"
            raise SystemExit(msg)
        table = settings_table(plugin)
        page = markers.sub(lambda match, table=table: match[1] + table + match[2], page)
    return page


def main() -> None:
    """Rewrite docs/settings.md's settings tables."""
    SETTINGS_DOC.write_text(render(SETTINGS_DOC.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
