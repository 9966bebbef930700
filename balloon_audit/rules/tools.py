"""Placeholder: rules being written."""
