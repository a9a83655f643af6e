"""Shared test helpers: loopback servers, image makers."""
