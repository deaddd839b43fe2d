"""The dockable panels and the central canvas."""
