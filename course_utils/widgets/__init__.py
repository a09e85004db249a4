"""Interactive demos built on ipywidgets, one module per topic.

Widgets are created by functions that return the widget (so tests can build and drive
them without a browser) and display nothing themselves.
"""
