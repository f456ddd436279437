"""Exceptions that carry a message meant for the person running mirjax."""


class MirjaxError(Exception):
  """Base class: the message says what went wrong and what to do about it."""


class DataError(MirjaxError, ValueError):
  """An input file is missing, corrupt, or does not match its registered checksum."""


class ConfigError(MirjaxError, ValueError):
  """A config value is out of range or inconsistent with another value."""


class SetupError(MirjaxError, RuntimeError):
  """Something the chosen config needs is not installed on this machine."""
