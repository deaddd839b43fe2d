"""Dialogs: settings, plugins, about. All are shown non-modally (``show``/``open``)."""
