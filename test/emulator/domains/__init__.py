"""The emulator's endpoint handlers, one module per Wix domain (see endpoints.py)."""
