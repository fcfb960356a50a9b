"""Renderers: each turns a Capture into text or bytes; none imports torch."""
