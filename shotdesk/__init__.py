"""ShotDesk: capture web pages and keep the pictures."""

__version__ = "0.1.0"
APP_NAME = "ShotDesk"
