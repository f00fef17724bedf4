"""Tests of the Home-Assistant-free Fluvius API client."""
