"""tars: an offline voice assistant built from workers that talk over MQTT."""

__version__ = "0.1.0"
