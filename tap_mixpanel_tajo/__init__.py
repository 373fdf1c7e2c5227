"""tap-mixpanel-tajo: Mixpanel to Singer."""
