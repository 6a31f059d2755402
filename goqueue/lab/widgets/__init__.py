"""Widgets: notebook panels, the stepper's buttons, diagrams and source listings.

The only wing that builds ipywidgets (imported lazily, when a widget is made). No other
wing imports this one.
"""
