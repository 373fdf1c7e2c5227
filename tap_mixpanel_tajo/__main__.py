"""Run the tap as ``python -m tap_mixpanel_tajo``."""

from tap_mixpanel_tajo.tap import TapMixpanelTajo

TapMixpanelTajo.cli()
